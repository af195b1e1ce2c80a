/* y[i] = avx2_tanh_a3(x[i]), eight lanes at a time; n a multiple of 8. Only
 * callable when attn_cpu_has_avx2(). */
#ifndef ATTNBENCH_TEST_TANH_AVX2_EVAL_H
#define ATTNBENCH_TEST_TANH_AVX2_EVAL_H

#include <stddef.h>

/* AVX2_TANH_ABS_ERR, the bound tanh_avx2.h states. */
extern const double tanh_avx2_stated_bound;

void tanh_avx2_eval(const float *x, float *y, size_t n);

#endif
