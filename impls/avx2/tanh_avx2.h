/* tanh on 8 floats (AVX2 + FMA), for score=additive of the avx2 backend.
 *
 * avx2_tanh_a3(x) returns tanh(x) with an absolute error
 *   |avx2_tanh_a3(x) - tanh(x)| <= AVX2_TANH_ABS_ERR = 3 * 2^-24
 * for every float x: an exhaustive sweep of the non-negative floats against
 * tanh in double measured 2.69 * 2^-24 (at x = 0.1735), and a negative x
 * gives the mirror image bit for bit. tests/impls/test_tanh_avx2.c asserts
 * the bound lane by lane. An absolute bound is what the additive score's
 * tolerance takes (accuracy.tanh_abs_err): each tanh is weighted by u_a.
 * NaN gives NaN; +-Inf give +-1.
 *
 * Method: tanh|x| = 1 - 2 / (1 + e^(2|x|)), e^(2|x|) by avx2_exp2_u3, then
 * the sign of x. For |x| > 44 the exponential saturates at 2^127 and the
 * result is exactly 1. Why the error stays small, with u = 2^-24 and
 * E = e^(2|x|) >= 1: E's relative error (the exp's 3u, and the rounding of
 * 2 log2(e) |x|, which moves E by 2|x| u relative) reaches the result damped
 * by 2E / (1 + E)^2 <= 1/2 (and |x| / cosh^2(x) <= 0.45 for the latter);
 * 1 + E and the quotient q <= 1 add u each; 1 - q is exact for q >= 1/2
 * (Sterbenz) and otherwise rounds a value in [1/2, 1): u/2. No cancellation
 * hurts an absolute bound near 0. */
#ifndef ATTNBENCH_AVX2_TANH_AVX2_H
#define ATTNBENCH_AVX2_TANH_AVX2_H

#if !defined(__AVX2__) || !defined(__FMA__)
#error "tanh_avx2.h needs -mavx2 -mfma"
#endif

#include <immintrin.h>

#include "avx2_kernels.h" /* AVX2_TANH_ABS_ERR */
#include "exp2_avx2.h"

static inline __m256 avx2_tanh_a3(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 e = avx2_exp2_u3(_mm256_mul_ps(ax, _mm256_set1_ps(0x1.715476p+1f))); /* 2 log2(e) */
  const __m256 q = _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one));
  return _mm256_or_ps(_mm256_sub_ps(one, q), _mm256_and_ps(sign, x));
}

#endif
