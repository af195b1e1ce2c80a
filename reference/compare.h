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

#endif
