/* The avx512 backend's GEMM micro-kernel for op=mha's projections: a 12 x 32
 * register tile (24 zmm accumulators, 2 for the B row, 1 broadcast of A),
 * one fused multiply-add per accumulator per step of k. The loops and the
 * packing are common/gemm_blocked.c. */
#ifndef __AVX512F__
#error "avx512_gemm.c needs -mavx512f (impls/CMakeLists.txt gives it)"
#endif
#include <immintrin.h>

#include "avx512/avx512_kernels.h"

#define MR 12

static __mmask16 lanes(int64_t n) {
  return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

static void avx512_sgemm_12x32_fn(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc,
                                  int64_t mr, int64_t nr, int accumulate) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t t = 0; t < kc; t++) {
    const __m512 b0 = _mm512_load_ps(bp + t * 32), b1 = _mm512_load_ps(bp + t * 32 + 16);
    for (int r = 0; r < MR; r++) {
      const __m512 a = _mm512_set1_ps(ap[t * MR + r]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  const __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
  for (int r = 0; r < MR; r++) {
    if (r >= mr) break;
    float *row = c + r * ldc;
    if (accumulate) {
      acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_maskz_loadu_ps(m0, row));
      acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, acc[r][0]);
    _mm512_mask_storeu_ps(row + 16, m1, acc[r][1]);
  }
}

const gemm_kernel avx512_sgemm_12x32 = {"avx512_sgemm_12x32", MR, 32, avx512_sgemm_12x32_fn};
