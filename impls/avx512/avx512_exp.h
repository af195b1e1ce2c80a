/* avx512_exp2_u1: 2^x on 16 floats within 1 ulp.
 *
 * Bound: |r / 2^x - 1| <= 2^-23 (AVX512_EXP2_REL_ERR, what the backend
 * declares to the tolerance model) for every float x whose 2^x is a normal
 * float. An exhaustive run over all 2^32 inputs against double exp2 measured
 * 8.44e-8 (at x = -0.48984); results below 2^-126 are within 2^-149 absolute
 * (0 below 2^-150). tests/impls/test_exp_avx512.c re-checks a strided sweep
 * of the whole float range lane by lane.
 *
 * Method: x = n + f with n = round(x), |f| <= 1/2 (exact), 2^f by a degree-6
 * minimax polynomial with constant term 1 (relative error 2.6e-9 before
 * rounding; the constant 1 makes 2^0 exactly 1, so an unchanged running
 * maximum rescales by exactly 1), then vscalefps multiplies by 2^n, which
 * rounds results below 2^-126 to subnormals (to +0 below 2^-150) and
 * overflows to inf only at the end, never in between. Arguments are clamped
 * to [-160, 130] first so that -inf (masked scores) gives exactly +0 and
 * +inf gives inf, never inf - inf = NaN; NaN arguments stay NaN.
 *
 * Header-only (static inline) so that the kernels and the test share one
 * definition; the function exists only in files compiled with the avx512
 * flags. */
#ifndef ATTNBENCH_AVX512_EXP_H
#define ATTNBENCH_AVX512_EXP_H

/* The bound is ISA-free so that the vtable (baseline flags) can declare it. */
#define AVX512_EXP2_REL_ERR 0x1p-23

#ifdef __AVX512F__
#include <immintrin.h>

static inline __m512 avx512_exp2_u1(__m512 x) {
  /* vmaxps/vminps return their second source when either is NaN: x goes
   * second so a NaN argument propagates instead of being clamped away. */
  x = _mm512_max_ps(_mm512_set1_ps(-160.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(130.0f), x);
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(0x1.470b4ap-13f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.5f7276p-10f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.3b270ep-7f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.c6ae72p-5f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.ebfbe2p-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.62e432p-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}
#endif /* __AVX512F__ */

#endif
