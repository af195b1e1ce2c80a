/* y[i] = avx512_tanh_a22(x[i]) for i < n, 16 lanes at a time with a masked
 * tail. Only callable when attn_cpu_has_avx512(). */
#ifndef ATTNBENCH_TEST_TANH_AVX512_EVAL_H
#define ATTNBENCH_TEST_TANH_AVX512_EVAL_H

#include <stddef.h>

/* AVX512_TANH_ABS_ERR, the bound avx512/avx512_tanh.h states. */
extern const double tanh_avx512_stated_bound;

void tanh_avx512_eval(const float *x, float *y, size_t n);

#endif
