/* The double-precision oracle, the seeded fills and the tolerance model. */
#ifndef ATTNBENCH_REFERENCE_H
#define ATTNBENCH_REFERENCE_H

#include "attnbench/attn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A row may have more than one right answer (README.md, "Alternatives"): a
 * hard row whose runner-up keys score within the score error of the best, a
 * local-p row whose window edge lies within the position error of a key. The
 * oracle holds, besides each row's exact answer, its admissible alternatives:
 * at most ATTN_ORACLE_MAX_ALT answers per row in all, the exact one first. */
#define ATTN_ORACLE_MAX_ALT 64
/* The alternatives are gathered for backends whose exp_rel_err and
 * tanh_abs_err are at most this; a backend declaring more is checked against
 * those only (no backend comes near it). */
#define ATTN_ORACLE_ACC_CAP 0x1p-16

/* One alternative answer of a held row; its output is alt_out/alt_absw. */
typedef struct attn_oracle_alt {
  int64_t slot; /* the held row it belongs to */
  int64_t key;  /* hard: the key whose value row it copies; local-p: the window edges that
                   change sides, bit 0 the left, bit 1 the right */
  double need;  /* the slack it needs to be admissible: hard (max_j e_j - e_key) / 2, against
                   the score error; local-p the largest distance of a changed edge key from the
                   window's boundary, against the position error */
  int64_t nvis; /* as the row's fields below, for this answer's keys */
  double vmax, range;
} attn_oracle_alt;

/* The oracle's answer for one problem: the exact output in double and the
 * quantities the tolerance model (tolerance.c, README.md) is built from. */
typedef struct attn_oracle {
  attn_problem p;
  int64_t nrows;      /* rows held: all b*h*lq, or a sample */
  int64_t *rows;      /* flat query-row index of each held row; NULL: all rows in order */
  double *out;        /* [nrows][dv]: sum_j a_j v_j (mode=local-p: sum_j a_j g_j v_j) */
  double *absw;       /* [nrows][dv]: the same sum of |v_j|, the scale of each output's error */
  double *vmax;       /* [nrows]: max |v_jc| over visible keys j and all c */
  double *dscore;     /* [nrows]: bound on |computed e_j - exact e_j| over visible keys, by score
                         function, without tanh's own error */
  double dscore_tanh; /* per unit of the backend's tanh_abs_err, added to every dscore */
  double *dz;         /* mode=local-p, [nrows]: bound on the error of the centre's argument
                         vp . tanh(Wp s) without tanh's own error; NULL otherwise */
  double dz_tanh;     /* per unit of tanh_abs_err, added to every dz */
  double *range;      /* [nrows]: max_j e_j - min_j e_j over visible keys */
  int64_t *nvis;      /* [nrows]: visible keys */
  /* Alternatives, ordered by slot, nearest first within a row; only rows
   * that have some pay for them. */
  int64_t nalt, alt_cap;
  attn_oracle_alt *alt;       /* [nalt] */
  double *alt_out, *alt_absw; /* [nalt][dv] */
} attn_oracle;

/* Computes every problem the descriptor can describe, in double with a
 * max-subtracted softmax. Returns ATTN_EINVAL for a problem that does not
 * validate or a weight its score or mode needs that is NULL, ATTN_ENOMEM if
 * its buffers cannot be had. */
attn_status attn_oracle_compute(const attn_problem *p, const attn_tensors *t, attn_oracle *o);
/* The same for a sample of query rows (flat indices into [b][h][lq]), so that
 * large benchmarked problems can be verified after timing in little time. */
attn_status attn_oracle_compute_rows(const attn_problem *p, const attn_tensors *t, const int64_t *rows,
                                     int64_t nrows, attn_oracle *o);
void attn_oracle_free(attn_oracle *o);

/* Fills q, k, v (and lens for mask=pad) as p->fill and p->seed say. */
void attn_fill_inputs(const attn_problem *p, float *q, float *k, float *v, int32_t *lens);
/* The weights of p's score and mode, from their own streams of p->seed (q, k
 * and v are the same with or without them): W, W1, W2, Wp uniform in
 * [-1, 1] / sqrt(d), u uniform in [-1, 1], vp uniform in [-1, 1] * 4 /
 * sqrt(da) (centres spread over the keys). Sizes as attn_w_elems and the
 * like; a NULL pointer skips that weight. */
void attn_fill_weights(const attn_problem *p, float *w, float *w1, float *w2, float *u, float *wp, float *vp);
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

/* The error bound of element elem of held row slot's exact answer for a
 * backend of accuracy acc. */
double attn_tolerance(const attn_oracle *o, const attn_accuracy *acc, int64_t slot, int64_t elem);

/* Compares a backend's fp32 output (the whole [b][h][lq][dv] tensor) with the
 * oracle on the rows it holds, element by element. A row passes if it is
 * within bounds of any of its admissible answers; the ratios reported for it
 * are those of its best one. */
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
