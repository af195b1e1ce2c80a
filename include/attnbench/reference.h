/* The double-precision oracle, the seeded fills and the tolerance model. */
#ifndef ATTNBENCH_REFERENCE_H
#define ATTNBENCH_REFERENCE_H

#include "attnbench/attn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The oracle's answer for one problem: the exact output in double and the
 * quantities the tolerance model (tolerance.c, README.md) is built from. */
typedef struct attn_oracle {
  attn_problem p;
  int64_t nrows; /* rows held: all b*h*lq, or a sample */
  int64_t *rows; /* flat query-row index of each held row; NULL: all rows in order */
  double *out;   /* [nrows][dv]: sum_j a_j v_j */
  double *absw;  /* [nrows][dv]: sum_j a_j |v_j|, the scale of each output's error */
  double *vmax;  /* [nrows]: max |v_jc| over visible keys j and all c */
  double *amax;  /* [nrows]: max_j scale * sum_k |q_k k_jk| over visible keys */
  double *range; /* [nrows]: max_j s_j - min_j s_j over visible keys */
  int64_t *nvis; /* [nrows]: visible keys */
} attn_oracle;

/* Computes every problem the descriptor can describe, in double with a
 * max-subtracted softmax. Returns ATTN_ENOMEM if its buffers cannot be had. */
attn_status attn_oracle_compute(const attn_problem *p, const attn_tensors *t, attn_oracle *o);
/* The same for a sample of query rows (flat indices into [b][h][lq]), so that
 * large benchmarked problems can be verified after timing in little time. */
attn_status attn_oracle_compute_rows(const attn_problem *p, const attn_tensors *t, const int64_t *rows,
                                     int64_t nrows, attn_oracle *o);
void attn_oracle_free(attn_oracle *o);

/* Fills q, k, v (and lens for mask=pad) as p->fill and p->seed say. */
void attn_fill_inputs(const attn_problem *p, float *q, float *k, float *v, int32_t *lens);
/* op=mha: X_q [b][lq][dm], X_kv [b][lk][dm] (NULL for self=1: X_kv is X_q),
 * W_q [dm][h*d], W_k [dm][hkv*d], W_v [dm][hkv*dv], W_o [h*dv][dm], lens. */
void attn_fill_mha(const attn_problem *p, float *xq, float *xkv, float *wq, float *wk, float *wv, float *wo,
                   int32_t *lens);

typedef enum attn_verdict {
  ATTN_PASSED,
  ATTN_FAILED,
  ATTN_MISTRUSTED, /* within bounds, but most outputs of rows with visible keys are zero:
                      the inputs could not expose an error */
} attn_verdict;

const char *attn_verdict_name(attn_verdict v);

typedef struct attn_compare {
  attn_verdict verdict;
  double max_abs_err; /* max |out - ref| */
  double max_ratio;   /* max |out - ref| / bound; > 1 fails; inf for NaN/Inf or a nonzero masked row */
  int64_t worst;      /* flat output index where max_ratio occurs */
  double worst_out, worst_ref, worst_bound;
  int64_t nonfinite; /* outputs that are NaN or Inf */
} attn_compare;

/* The error bound of element elem of held row slot for a backend of accuracy acc. */
double attn_tolerance(const attn_oracle *o, const attn_accuracy *acc, int64_t slot, int64_t elem);

/* Compares a backend's fp32 output (the whole [b][h][lq][dv] tensor) with the
 * oracle on the rows it holds, element by element. */
void attn_oracle_check(const attn_oracle *o, const attn_accuracy *acc, const float *out, attn_compare *res);

/* op=mha is checked in stages (README.md), each stage exact in double on the
 * float tensors the backend actually produced before it, each with its own
 * bound, so that an error is pinned to the stage that made it.
 *
 * A projection: got [b][heads][len][dim] against the columns of X W split
 * into heads (columns [i*dim, (i+1)*dim) are head i), X [b][len][dm], W
 * [dm][heads*dim]. rows: which of the b*len rows of X to compare (NULL: all).
 * The worst index is into got. */
attn_status attn_check_projection(int64_t b, int64_t len, int64_t dm, int64_t heads, int64_t dim,
                                  const float *x, const float *w, const float *got, const int64_t *rows,
                                  int64_t nrows, attn_compare *res);
/* The output projection: y [b][lq][dm] against Concat(heads of o) W_o, o
 * [b][h][lq][dv] the backend's attention output, W_o [h*dv][dm]. */
attn_status attn_check_out_projection(const attn_problem *p, const float *o, const float *wo, const float *y,
                                      const int64_t *rows, int64_t nrows, attn_compare *res);

/* op=han's stages (README.md, "op=han"). A GEMM against a weight stored
 * [out][in]: got [m][n] against A W^T, A [m][k], W [n][k], with the bound of
 * the projections above. */
attn_status attn_check_gemm_wt(int64_t m, int64_t n, int64_t k, const float *a, const float *w,
                               const float *got, const int64_t *rows, int64_t nrows, attn_compare *res);
/* The bias and tanh pass: got [m][n] against tanh(g[i][c] + bias[c]) in
 * double, g the backend's float GEMM output, for an fp32 add followed by a
 * tanhf within ATTN_TANHF_ULP units in the last place. */
attn_status attn_check_bias_tanh(int64_t m, int64_t n, const float *g, const float *bias, const float *got,
                                 const int64_t *rows, int64_t nrows, attn_compare *res);
/* glibc's documented worst case for tanhf on x86_64 (the manual's "Known
 * Maximum Errors in Math Functions"): the harness's bias+tanh pass uses it. */
#define ATTN_TANHF_ULP 2

/* op=han: X [b][s][t][d] uniform in [-1, 1]; W_w, W_s [da][d] uniform in
 * [-1, 1] / sqrt(d); b_w, b_s in [-1/2, 1/2]; c_w, c_s in [-1, 1] / sqrt(da);
 * with pad=1 word counts [b*s] and sentence counts [b] from the seed (0 and
 * full lengths among them), else all t and all s. */
void attn_fill_han(const attn_problem *p, float *x, float *ww, float *bw, float *cw, float *ws, float *bs,
                   float *cs, int32_t *words, int32_t *sents);

#ifdef __cplusplus
}
#endif
#endif
