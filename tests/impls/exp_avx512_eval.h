/* y[i] = avx512_exp2_u1(x[i]) for i < n, 16 lanes at a time with a masked
 * tail. Only callable when attn_cpu_has_avx512(). */
#ifndef ATTNBENCH_TEST_EXP_AVX512_EVAL_H
#define ATTNBENCH_TEST_EXP_AVX512_EVAL_H

#include <stddef.h>

/* AVX512_EXP2_REL_ERR, the bound avx512/avx512_exp.h states. */
extern const double exp_avx512_stated_bound;

void exp_avx512_eval(const float *x, float *y, size_t n);

#endif
