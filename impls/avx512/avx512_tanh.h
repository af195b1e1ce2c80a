/* avx512_tanh_a22: tanh on 16 floats within 2^-22 absolute.
 *
 * Bound: |r - tanh(x)| <= 2^-22 (AVX512_TANH_ABS_ERR) for every float x. An
 * exhaustive run over all 2^32 inputs against double tanh measured
 * 1.858e-7 = 3.12 * 2^-24 (at |x| = 0.0726656); the only instruction whose
 * result is not fully specified, vrcp14ps, is refined by a Newton step whose
 * result depends on it only below 2^-28 relative, so the measurement holds
 * on any AVX-512 CPU. tests/impls/test_tanh_avx512.c re-checks dense sweeps
 * lane by lane. (A first-order budget in units of u = 2^-24, every rounding
 * at its worst at once: the argument's two roundings 0.9 (x tanh'(x) <=
 * 0.45), E's relative error 3.5 of which half reaches the result, E + 1's
 * rounding 1, the refined reciprocal 1.1, the final 1 - 2r 0.5: 5.3 u; the
 * bound rests on the exhaustive run, like avx512_exp.h's.)
 *
 * The bound is absolute, as the tolerance model uses it (attn_accuracy.
 * tanh_abs_err): near 0 the result is 1 - 2r with r close to 1/2, so its
 * relative error grows like u / |x| (tanh of |x| < 2^-25 is +-0). Odd
 * symmetry is exact: the magnitude is computed from |x| and x's sign put
 * back, zeros included.
 *
 * Method: tanh|x| = 1 - 2 / (E + 1), E = e^{2|x|} = 2^y with y = |x| * 2 log2(e)
 * clamped to 29 (tanh(10.05) rounds to 1; E stays far from overflow, so E + 1
 * and its reciprocal stay finite and inf gives 1). 2^y = 2^f * 2^floor(y) with
 * f = y - floor(y) in [0, 1) exactly (vreduceps), 2^f by a degree-5 minimax
 * polynomial with constant term 1 (relative error 1.5e-7 before rounding; a
 * degree-6 one, 3.9e-9, measured 2.01 * 2^-24 overall for 6% more time in
 * the additive kernels), 2^floor(y) by vscalefps. The reciprocal of E + 1 >= 2
 * is vrcp14ps plus one Newton step. NaN propagates (vminps returns its second
 * source when either is NaN, and x goes second). 16 instructions per 16 lanes.
 *
 * Header-only (static inline) so that the kernels and the test share one
 * definition; the function exists only in files compiled with the avx512
 * flags. */
#ifndef ATTNBENCH_AVX512_TANH_H
#define ATTNBENCH_AVX512_TANH_H

/* The bound is ISA-free so that the vtable (baseline flags) can declare it. */
#define AVX512_TANH_ABS_ERR 0x1p-22

#ifdef __AVX512F__
#include <immintrin.h>
#include <stdint.h>

static inline __m512 avx512_tanh_a22(__m512 x) {
  const __m512 ax =
      _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MAX)));
  const __m512 y = _mm512_min_ps(_mm512_set1_ps(29.0f), _mm512_mul_ps(ax, _mm512_set1_ps(0x1.715476p+1f)));
  const __m512 f = _mm512_reduce_ps(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 p = _mm512_set1_ps(0x1.f0ca80p-10f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.2598fep-7f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.c968a0p-5f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.ebd7d2p-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.62e4b8p-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  const __m512 den = _mm512_add_ps(_mm512_scalef_ps(p, y), _mm512_set1_ps(1.0f));
  __m512 r = _mm512_rcp14_ps(den);
  r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(den, r, _mm512_set1_ps(1.0f)), r);
  const __m512 t = _mm512_fnmadd_ps(r, _mm512_set1_ps(2.0f), _mm512_set1_ps(1.0f));
  /* t >= 0: OR-ing in x's sign bit (ternary 0xf8 = a | (b & c)) restores odd
   * symmetry, and keeps a NaN a NaN. */
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(t), _mm512_castps_si512(x),
                                                       _mm512_set1_epi32(INT32_MIN), 0xf8));
}
#endif /* __AVX512F__ */

#endif
