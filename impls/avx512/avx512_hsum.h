/* hsum16: 16 vectors' horizontal sums in one vector, for the kernels that
 * keep a reduction dimension in lanes and 16 keys in registers (the narrow
 * dot products, the narrow additive scores). Shared by the avx512 kernel
 * files, which are compiled with the avx512 flags. */
#ifndef ATTNBENCH_AVX512_HSUM_H
#define ATTNBENCH_AVX512_HSUM_H

#ifndef __AVX512F__
#error "avx512_hsum.h is for the avx512 kernel files"
#endif

#include <immintrin.h>

#include "avx512/avx512_kernels.h"

/* The shuffle tree of hsum16 interleaves halves, quarters and pairs, so the
 * total of input slot s lands in lane slot_of_key[s]. The kernels accumulate
 * key j in slot slot_of_key[j]; the permutation is its own inverse, so lane j
 * ends up holding key j without a final vpermps. */
static const int slot_of_key[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};

INLINE __m512 hsum16(const __m512 *a) {
  __m512 u[8], w4[4], w2[2];
  UNROLL
  for (int i = 0; i < 8; i++)
    u[i] =
        _mm512_add_ps(_mm512_shuffle_f32x4(a[i], a[i + 8], 0x44), _mm512_shuffle_f32x4(a[i], a[i + 8], 0xee));
  UNROLL
  for (int i = 0; i < 4; i++)
    w4[i] =
        _mm512_add_ps(_mm512_shuffle_f32x4(u[i], u[i + 4], 0x88), _mm512_shuffle_f32x4(u[i], u[i + 4], 0xdd));
  UNROLL
  for (int i = 0; i < 2; i++) {
    const __m512d x = _mm512_castps_pd(w4[i]), y = _mm512_castps_pd(w4[i + 2]);
    w2[i] =
        _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  return _mm512_add_ps(_mm512_shuffle_ps(w2[0], w2[1], 0x88), _mm512_shuffle_ps(w2[0], w2[1], 0xdd));
}

#endif
