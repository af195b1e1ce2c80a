/* A blocked fp32 GEMM (C = A B, row-major, contiguous) in the BLIS
 * arrangement: the loops and the packing here, in plain C, and a register
 * micro-kernel per ISA in that backend's kernel file. A backend's gemm_plan,
 * gemm_run and gemm_destroy are these three with its kernel bound in. */
#ifndef ATTNBENCH_GEMM_BLOCKED_H
#define ATTNBENCH_GEMM_BLOCKED_H

#include "attnbench/attn.h"

/* C[0..mr)[0..nr) (=, or += when accumulate) the product of a packed A
 * micro-panel (kc x MR, MR floats per step of k) and a packed B micro-panel
 * (kc x NR, NR floats per step); mr <= MR, nr <= NR mark the tile's valid part. */
typedef void (*gemm_kernel_fn)(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc,
                               int64_t mr, int64_t nr, int accumulate);

typedef struct gemm_kernel {
  const char *name; /* "avx512_sgemm_12x32": ISA and tile */
  int mr, nr;       /* the register tile; mr divides GEMM_MC */
  gemm_kernel_fn fn;
} gemm_kernel;

/* Block sizes: a kc x MR panel of A and kc x NR of B stay in L1 across a
 * micro-kernel call (12 x 256 + 32 x 256 floats = 44 KiB on avx512), an
 * MC x kc block of A in L2 (120 KiB), a kc x NC panel of B in L3 (4 MiB). */
#define GEMM_KC 256
#define GEMM_MC 120
#define GEMM_NC 4096

attn_status gemm_blocked_plan(const gemm_kernel *kern, const attn_gemm_shape *g, const attn_config *cfg,
                              void **plan, char *why, size_t n);
attn_status gemm_blocked_run(void *plan, const float *a, const float *b, float *c);
void gemm_blocked_destroy(void *plan);

#endif
