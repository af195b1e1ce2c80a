/* exp2 on 8 floats (AVX2 + FMA), for the softmax of the avx2 backend.
 *
 * avx2_exp2_u3(x) returns 2^x with
 *   |avx2_exp2_u3(x) / 2^x - 1| <= AVX2_EXP2_REL_ERR = 3 * 2^-24
 * for every float x in [-126, 127] (results that are normal floats). The
 * bound is the one tests/impls/test_exp_avx2.c asserts; an exhaustive sweep
 * of the reduced argument f in [-0.5, 0.5], which covers every input because
 * the scaling by 2^n is exact, measured 2.88 * 2^-24.
 * Below the normal range: x in [-126.5, -126) gives a subnormal within
 * 2^-149 + 2^-126 * AVX2_EXP2_REL_ERR of 2^x; x < -126.5 and -inf give
 * exactly 0, which the tolerance model's flush-to-zero term covers and which
 * makes masked (-inf) scores vanish without a branch. x > 127 gives 2^127:
 * finite, never Inf. NaN gives NaN, so that a NaN score reaches the output
 * rows it belongs to (the numerics policy, reference/README.md) instead of
 * being dropped as a zero weight. The softmax only ever passes x <= 0.
 *
 * Method: 2^x = 2^n * 2^f, n = rint(x), f = x - n in [-0.5, 0.5] (exact);
 * 2^f by a degree-5 polynomial with constant term exactly 1 (so 2^0 == 1 and
 * an unchanged running max rescales by exactly 1). The coefficients minimise
 * the maximum relative error on [-0.5, 0.5] (Lawson's iteratively reweighted
 * least squares in 40-digit arithmetic): 1.53 * 2^-24 before fp32 rounding;
 * Horner in fp32 adds the rest. Degree 6 would give 1.34 * 2^-24 for one more
 * FMA per 8 exponentials, which the port-bound softmax pays for. */
#ifndef ATTNBENCH_AVX2_EXP2_AVX2_H
#define ATTNBENCH_AVX2_EXP2_AVX2_H

#if !defined(__AVX2__) || !defined(__FMA__)
#error "exp2_avx2.h needs -mavx2 -mfma"
#endif

#include <immintrin.h>

#include "avx2_kernels.h" /* AVX2_EXP2_REL_ERR */

static inline __m256 avx2_exp2_u3(__m256 x) {
  /* vmaxps/vminps return their second operand when either is NaN: x goes
   * second so that a NaN argument survives the clamp (and every later step,
   * whatever its exponent bits become) instead of turning into 0. */
  x = _mm256_max_ps(_mm256_set1_ps(-127.0f), x);
  x = _mm256_min_ps(_mm256_set1_ps(127.0f), x);
  /* Adding 1.5 * 2^23 rounds to an integer in the low mantissa bits, which
   * then are the exponent field once shifted: no float->int conversion. */
  const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
  const __m256 t = _mm256_add_ps(x, shifter);
  const __m256 n = _mm256_sub_ps(t, shifter);
  const __m256 f = _mm256_sub_ps(x, n);
  __m256 p = _mm256_set1_ps(0x1.5bba0ep-10f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.3cea88p-7f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.c6b752p-5f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.ebf9bcp-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.62e42ap-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  /* n = -127 gives a zero exponent field: the result is exactly +0. */
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

#endif
