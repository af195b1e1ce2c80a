/* The avx2 backend's GEMM micro-kernel for op=mha's projections: a 6 x 16
 * register tile (12 ymm accumulators, 2 for the B row, 1 broadcast of A).
 * The loops and the packing are common/gemm_blocked.c. */
#ifndef __AVX2__
#error "avx2_gemm.c needs -mavx2 -mfma (impls/CMakeLists.txt gives them)"
#endif
#include <immintrin.h>
#include <string.h>

#include "avx2/avx2_kernels.h"

#define MR 6

static void avx2_sgemm_6x16_fn(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc,
                               int64_t mr, int64_t nr, int accumulate) {
  __m256 acc[MR][2];
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t t = 0; t < kc; t++) {
    const __m256 b0 = _mm256_load_ps(bp + t * 16), b1 = _mm256_load_ps(bp + t * 16 + 8);
    for (int r = 0; r < MR; r++) {
      const __m256 a = _mm256_broadcast_ss(ap + t * MR + r);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  /* A partial tile (the last columns of C) goes through a row buffer: AVX2
   * has no cheap masked store for an arbitrary column count. */
  float tile[16];
  for (int r = 0; r < MR; r++) {
    if (r >= mr) break;
    float *row = c + r * ldc, *dst = nr == 16 ? row : tile;
    if (nr < 16) memcpy(tile, row, (size_t)nr * sizeof(float));
    if (accumulate) {
      acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(dst));
      acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(dst + 8));
    }
    _mm256_storeu_ps(dst, acc[r][0]);
    _mm256_storeu_ps(dst + 8, acc[r][1]);
    if (nr < 16) memcpy(row, tile, (size_t)nr * sizeof(float));
  }
}

const gemm_kernel avx2_sgemm_6x16 = {"avx2_sgemm_6x16", MR, 16, avx2_sgemm_6x16_fn};
