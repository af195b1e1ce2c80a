/* The zmm FMA peak loop (peak_kernels.h). */
#ifndef __AVX512F__
#error "peak_avx512.c needs -mavx512f -mfma (see bench/CMakeLists.txt)"
#endif

#include <immintrin.h>

#include "peak_kernels.h"

#define CHAINS 16

#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

double bench_peak_fma_avx512_zmm16(int64_t iters, float seed) {
  /* acc = acc * a + b contracts towards b / (1 - a) = 1 from any start, so
   * the values never overflow nor become subnormal (which some cores run
   * slowly), however long the loop. */
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
  __m512 acc[CHAINS];
  /* Distinct run-time starting values: chains with equal inputs could be
   * merged into one by the compiler, which would leave the loop bound by
   * latency instead of throughput. */
  UNROLL
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps(seed + (float)c);
  for (int64_t i = 0; i < iters; i++) {
    UNROLL
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  UNROLL
  for (int c = 1; c < CHAINS; c++) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  return (double)_mm512_reduce_add_ps(acc[0]);
}
