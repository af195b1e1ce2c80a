/* y[i] = avx2_exp2_u3(x[i]), eight lanes at a time; n a multiple of 8. Only
 * callable when attn_cpu_has_avx2(). */
#ifndef ATTNBENCH_TEST_EXP_AVX2_EVAL_H
#define ATTNBENCH_TEST_EXP_AVX2_EVAL_H

#include <stddef.h>

/* AVX2_EXP2_REL_ERR, the bound exp2_avx2.h states. */
extern const double exp_avx2_stated_bound;

void exp_avx2_eval(const float *x, float *y, size_t n);

#endif
