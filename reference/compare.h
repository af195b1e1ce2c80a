/* The element-by-element comparison every check shares (tolerance.c): the
 * worst error as a fraction of its bound, non-finite outputs, and the
 * MISTRUSTED test (most judged references exactly zero). */
#ifndef ATTNBENCH_REFERENCE_COMPARE_H
#define ATTNBENCH_REFERENCE_COMPARE_H

#include "attnbench/reference.h"

typedef struct compare_state {
  int64_t zeros, judged;
} compare_state;

void compare_begin(compare_state *st, attn_compare *res);
/* One output element at flat index at; judged: it counts for the trust test. */
void compare_add(compare_state *st, attn_compare *res, int64_t at, double got, double ref, double bound,
                 int judged);
void compare_end(const compare_state *st, attn_compare *res);

/* Higham's gamma_n for fp32 (tolerance.c). */
double compare_gamma32(double n);

/* The tolerance model's pieces the oracle needs too (tolerance.c), for a
 * backend whose exp has relative error e and whose tanh absolute error t.
 * The bound on held row slot's score error (dscore, README.md): */
double oracle_score_error(const attn_oracle *o, int64_t slot, double t);
/* mode=local-p: the bound dp on the error of the row's centre p_t. */
double oracle_position_error(const attn_oracle *o, int64_t slot, double e, double t);
/* The slack an alternative of the row may need (attn_oracle_alt.need) and
 * still be admissible: hard the score error, local-p the distance by which a
 * key's side of the window boundary may differ; 0 for other modes. */
double oracle_alt_slack(const attn_oracle *o, int64_t slot, double e, double t);

#endif
