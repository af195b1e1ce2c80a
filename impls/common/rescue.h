/* A finite answer where only a kernel's accumulation overflowed.
 *
 * Kernels sum unnormalised weights times values and divide by the weights'
 * sum at the end (online softmax: acc = sum_j exp(s_j - m) v_j, every weight
 * at most 1). Their accumulators hold up to n max|v| for n visible keys, so
 * values above FLT_MAX / n overflow to inf (and inf - inf to NaN in a merge)
 * although the answer, a weighted mean of value rows, is at most max|v|.
 * Scaling every weight by 2^-k in every run would make each run safe but
 * cost k bits at the bottom of the range: subnormal values would no longer
 * meet the numerics policy. So a run stays as it is, and only an output with
 * a non-finite element pays: the run is repeated on V * 2^-k (2^k >= 2 lk,
 * so no accumulator can reach FLT_MAX), and each element that was non-finite
 * and is finite now takes that result times 2^k. The output is linear in V
 * for every score and mode (V enters only through sum_j a_j v_j), and both
 * scalings are by powers of two, so a rescued element carries the kernel's
 * ordinary rounding and bound. An element that is non-finite on both runs
 * (a NaN or infinite input, or scores beyond the fp32 range) stays as the
 * first run left it, and every finite element of the first run is kept bit
 * for bit.
 *
 * The copies of V and O are reserved when a plan is made but not touched:
 * runs that never overflow neither fault their pages in nor count them as
 * workspace. A run costs one read of its output to look for non-finite
 * elements. */
#ifndef ATTNBENCH_IMPLS_RESCUE_H
#define ATTNBENCH_IMPLS_RESCUE_H

#include <stddef.h>

#include "attnbench/attn.h"

typedef struct attn_rescue {
  float *v, *o; /* reserved copies: V * 2^-k, and the second run's output */
  size_t v_elems, o_elems;
  int k; /* the scaling's exponent */
} attn_rescue;

/* The forward a backend's run() wraps: the same signature. */
typedef attn_status (*attn_forward_fn)(void *plan, const attn_tensors *t);

/* Reserves the copies for problem p (its V and O as the plan sees them).
 * ATTN_ENOMEM if the address space is not there. */
attn_status attn_rescue_plan(attn_rescue *r, const attn_problem *p);
void attn_rescue_free(attn_rescue *r);
/* forward(plan, t), then the rescue above when t->o holds a non-finite
 * element. Returns forward's status. */
attn_status attn_run_rescued(const attn_rescue *r, attn_forward_fn forward, void *plan,
                             const attn_tensors *t);
/* Whether any of x[0..n) is infinite or NaN (one pass, vectorisable). */
int attn_any_nonfinite(const float *x, size_t n);

#endif
