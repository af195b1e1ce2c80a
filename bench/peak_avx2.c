/* The ymm FMA peak loop (peak_kernels.h). */
#if !defined(__AVX2__) || !defined(__FMA__)
#error "peak_avx2.c needs -mavx2 -mfma (see bench/CMakeLists.txt)"
#endif

#include <immintrin.h>

#include "peak_kernels.h"

#define CHAINS 12

#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

double bench_peak_fma_avx2_ymm12(int64_t iters, float seed) {
  /* Contracts towards 1 from any start: no overflow, no subnormals. */
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
  __m256 acc[CHAINS];
  /* Distinct run-time starting values keep the compiler from merging chains. */
  UNROLL
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps(seed + (float)c);
  for (int64_t i = 0; i < iters; i++) {
    UNROLL
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  UNROLL
  for (int c = 1; c < CHAINS; c++) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  /* Horizontal sum of the eight lanes. */
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[0]), _mm256_extractf128_ps(acc[0], 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return (double)_mm_cvtss_f32(s);
}
