/* The seq2seq micro-kernels (avx512_kernels.h): additive score tiles, window
 * masks, the local-p Gaussian, the hard-mode argmax and the cosine row
 * normaliser.
 *
 * Additive scores (e_j = sum_a u_a tanh(A[j][a] + B[r][a]), A = K W1^T and
 * B = Q W2^T from the backend's GEMM) cost a tanh per term, 18 vector
 * instructions with the add and the multiply-add against one FMA for a
 * dot-product term, so these tiles are built for tanh throughput: each keeps
 * 8 independent tanh chains in flight (a chain is 16 dependent instructions
 * of 3-4 cycles' latency; 2-4 vector pipes need about 8 of them to stay
 * busy; 16 in the narrow tile) and the reduction over a is the only loop. The wide tile mirrors avx512_qkt:
 * query rows in lanes (B packed transposed per query block, like Q^T), one broadcast element of A per key;
 * the narrow one (jobs of fewer than 16 rows) mirrors avx512_qk_1x16: a in
 * lanes, 16 keys' accumulators reduced together. u arrives pre-multiplied by
 * log2(e) so that the scores come out in the log2 units of the softmax. */
#ifndef __AVX512F__
#error "avx512_seq2seq.c needs the avx512 ISA flags (see impls/CMakeLists.txt)"
#endif

#include <immintrin.h>
#include <math.h>

#include "avx512/avx512_exp.h"
#include "avx512/avx512_hsum.h"
#include "avx512/avx512_kernels.h"
#include "avx512/avx512_tanh.h"

static inline __mmask16 lanes_below(int64_t n) {
  return n <= 0 ? 0 : n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* ---- additive, wide: S^T[j][:] = sum_a u2[a] tanh(A[j][a] + B^T[a][:]) ---- */

/* jt keys x nv*16 rows. a: jt rows of da floats; bt: [da][nv*16]. */
INLINE void addt_tile(const int jt, const int nv, int64_t da, const float *restrict a,
                      const float *restrict bt, const float *restrict u2, float *restrict st, __m512 *bm) {
  const int64_t ld = 16 * nv;
  __m512 acc[8][4];
  UNROLL
  for (int j = 0; j < jt; j++) {
    UNROLL
    for (int v = 0; v < nv; v++) acc[j][v] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < da; c++) {
    const __m512 uc = _mm512_set1_ps(u2[c]);
    __m512 b[4];
    UNROLL
    for (int v = 0; v < nv; v++) b[v] = _mm512_load_ps(bt + c * ld + 16 * v);
    UNROLL
    for (int j = 0; j < jt; j++) {
      const __m512 aj = _mm512_set1_ps(a[j * da + c]);
      UNROLL
      for (int v = 0; v < nv; v++)
        acc[j][v] = _mm512_fmadd_ps(uc, avx512_tanh_a22(_mm512_add_ps(aj, b[v])), acc[j][v]);
    }
  }
  UNROLL
  for (int j = 0; j < jt; j++) {
    UNROLL
    for (int v = 0; v < nv; v++) {
      _mm512_store_ps(st + j * ld + 16 * v, acc[j][v]);
      bm[v] = _mm512_max_ps(bm[v], acc[j][v]);
    }
  }
}

#define ADDT_TILE(JT, NV, NAME)                                                                              \
  NOINLINE void NAME(int64_t da, const float *a, const float *bt, const float *u2, float *st, __m512 *bm) {  \
    addt_tile(JT, NV, da, a, bt, u2, st, bm);                                                                \
  }
ADDT_TILE(8, 1, avx512_addt_8x16)
ADDT_TILE(4, 2, avx512_addt_4x32)
ADDT_TILE(3, 3, avx512_addt_3x48)
ADDT_TILE(2, 4, avx512_addt_2x64)

/* Keys per full tile for nv row vectors: 8 chains (9 for nv = 3). */
static inline int addt_keys(int nv) { return nv == 1 ? 8 : nv == 2 ? 4 : nv == 3 ? 3 : 2; }

INLINE void addt_run(const int nv, int64_t nb, int64_t da, const float *a, const float *bt, const float *u2,
                     float *st, float *bmax) {
  const int jt = addt_keys(nv);
  const int64_t ld = 16 * nv;
  __m512 bm[4];
  for (int v = 0; v < 4; v++) bm[v] = _mm512_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + jt <= nb; j += jt) {
    const float *aj = a + j * da;
    float *sj = st + j * ld;
    switch (nv) {
    case 1: avx512_addt_8x16(da, aj, bt, u2, sj, bm); break;
    case 2: avx512_addt_4x32(da, aj, bt, u2, sj, bm); break;
    case 3: avx512_addt_3x48(da, aj, bt, u2, sj, bm); break;
    default: avx512_addt_2x64(da, aj, bt, u2, sj, bm); break;
    }
  }
  if (jt > 4 && j + 4 <= nb) addt_tile(4, nv, da, a + j * da, bt, u2, st + j * ld, bm), j += 4;
  if (jt > 2 && j + 2 <= nb) addt_tile(2, nv, da, a + j * da, bt, u2, st + j * ld, bm), j += 2;
  for (; j < nb; j++) addt_tile(1, nv, da, a + j * da, bt, u2, st + j * ld, bm);
  for (int v = 0; v < nv; v++) _mm512_store_ps(bmax + 16 * v, bm[v]);
}

void avx512_addt_block(int nv, int64_t nb, int64_t da, const float *a, const float *bt, const float *u2,
                       float *st, float *bmax) {
  switch (nv) {
  case 4: addt_run(4, nb, da, a, bt, u2, st, bmax); break;
  case 3: addt_run(3, nb, da, a, bt, u2, st, bmax); break;
  case 2: addt_run(2, nb, da, a, bt, u2, st, bmax); break;
  default: addt_run(1, nb, da, a, bt, u2, st, bmax); break;
  }
}

/* ---- additive, narrow: s[r][j] = sum_a u2[a] tanh(A[j][a] + B[r][a]) ---- */

/* One row against 16 keys with a in lanes, as avx512_qk_1x16 does for dot
 * products: each key keeps its own accumulator (16 independent tanh chains),
 * and hsum16 reduces them into one vector with key j in lane j, so A is read
 * in the GEMM's [key][a] layout and never transposed. Rows of a past nk
 * repeat row nk - 1 (their lanes are masked by the caller). b holds da
 * floats padded with zeros to a multiple of 16. */
INLINE __m512 add_1x16_body(const int nk, int64_t da, const float *restrict a, const float *restrict b,
                            const float *restrict u2) {
  const int64_t full = da & ~(int64_t)15;
  __m512 acc[16];
  UNROLL
  for (int j = 0; j < 16; j++) acc[j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < full; c += 16) {
    const __m512 bv = _mm512_load_ps(b + c), uv = _mm512_loadu_ps(u2 + c);
    UNROLL
    for (int j = 0; j < 16; j++) {
      const float *row = a + (j < nk ? j : nk - 1) * da;
      const __m512 x = _mm512_add_ps(_mm512_loadu_ps(row + c), bv);
      acc[slot_of_key[j]] = _mm512_fmadd_ps(uv, avx512_tanh_a22(x), acc[slot_of_key[j]]);
    }
  }
  if (full < da) {
    /* u reads 0 past da: those lanes add nothing. */
    const __mmask16 tail = lanes_below(da - full);
    const __m512 bv = _mm512_load_ps(b + full), uv = _mm512_maskz_loadu_ps(tail, u2 + full);
    UNROLL
    for (int j = 0; j < 16; j++) {
      const float *row = a + (j < nk ? j : nk - 1) * da;
      const __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(tail, row + full), bv);
      acc[slot_of_key[j]] = _mm512_fmadd_ps(uv, avx512_tanh_a22(x), acc[slot_of_key[j]]);
    }
  }
  return hsum16(acc);
}

NOINLINE __m512 avx512_add_1x16(int64_t da, const float *a, const float *b, const float *u2) {
  return add_1x16_body(16, da, a, b, u2);
}

NOINLINE __m512 add_1x16_partial(int nk, int64_t da, const float *a, const float *b, const float *u2) {
  return add_1x16_body(nk, da, a, b, u2);
}

void avx512_add_rows_block(int rows, int64_t nb, int64_t da, const float *a, const float *bs, int64_t ldb,
                           const float *u2, const int64_t *lo, const int64_t *hi, float *s, int64_t lds) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (int r = 0; r < rows; r++) {
    for (int64_t g = 0; g < nb; g += 16) {
      const int64_t nk = nb - g < 16 ? nb - g : 16;
      const __mmask16 keep = lanes_below(hi[r] - g) & ~lanes_below(lo[r] - g);
      /* Whole vectors of keys outside the row's window cost no tanh. */
      const __m512 sc = !keep      ? ninf
                        : nk == 16 ? avx512_add_1x16(da, a + g * da, bs + r * ldb, u2)
                                   : add_1x16_partial((int)nk, da, a + g * da, bs + r * ldb, u2);
      _mm512_store_ps(s + r * lds + g, _mm512_mask_blend_ps(keep, ninf, sc));
    }
  }
}

/* ---- window masks ---- */

void avx512_maskt_range_block(int nv, int64_t nb, int64_t j0, const int32_t *starts, const int32_t *ends,
                              float *st, float *bmax) {
  const int64_t ld = 16 * nv;
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (int v = 0; v < nv; v++) {
    const __m512i lo = _mm512_load_si512((const void *)(starts + 16 * v));
    const __m512i hi = _mm512_load_si512((const void *)(ends + 16 * v));
    __m512 bm = ninf;
    for (int64_t j = 0; j < nb; j++) {
      const __m512i jj = _mm512_set1_epi32((int)(j0 + j));
      const __mmask16 vis = _mm512_cmpgt_epi32_mask(hi, jj) & _mm512_cmple_epi32_mask(lo, jj);
      const __m512 s = _mm512_mask_blend_ps(vis, ninf, _mm512_load_ps(st + j * ld + 16 * v));
      _mm512_store_ps(st + j * ld + 16 * v, s);
      bm = _mm512_max_ps(bm, s);
    }
    _mm512_store_ps(bmax + 16 * v, bm);
  }
}

void avx512_mask_rows_lo(int rows, const int64_t *lo, float *s, int64_t lds) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (int r = 0; r < rows; r++) {
    float *sr = s + r * lds;
    for (int64_t j = 0; j < lo[r]; j += 16) {
      const __mmask16 drop = lanes_below(lo[r] - j);
      _mm512_store_ps(sr + j, _mm512_mask_blend_ps(drop, _mm512_load_ps(sr + j), ninf));
    }
  }
}

/* ---- local-p: weights times exp(-2 (j - c)^2 / window^2) ---- */

/* exp(-2 x^2 / w^2) = exp2(x^2 * k), k = -2 log2(e) / w^2 rounded once; x =
 * fl(j - c). Relative error of the factor: the argument's roundings (x: 1,
 * x^2: 2 more, k: 1, the product: 1, so 5 u of an argument of magnitude at
 * most 2 log2(e) inside the window) cost ln 2 * 2.89 * 5 u ~ 10 u, plus the
 * exp2's own; within the 3 (e + 4 u) the tolerance allows. */
static float gauss_k(int64_t window) {
  return (float)(-2.0 * 1.4426950408889634 / ((double)window * window));
}

INLINE __m512 gauss(__m512 j, __m512 c, __m512 k) {
  const __m512 x = _mm512_sub_ps(j, c);
  return avx512_exp2_u1(_mm512_mul_ps(_mm512_mul_ps(x, x), k));
}

void avx512_gausst_block(int nv, int64_t nb, int64_t j0, const float *cent, int64_t window, float *st) {
  const int64_t ld = 16 * nv;
  const __m512 k = _mm512_set1_ps(gauss_k(window));
  for (int v = 0; v < nv; v++) {
    const __m512 c = _mm512_load_ps(cent + 16 * v);
    for (int64_t j = 0; j < nb; j++) {
      float *sj = st + j * ld + 16 * v;
      const __m512 g = gauss(_mm512_set1_ps((float)(j0 + j)), c, k);
      _mm512_store_ps(sj, _mm512_mul_ps(_mm512_load_ps(sj), g));
    }
  }
}

void avx512_gauss_rows_block(int rows, int64_t nbp, int64_t j0, const float *cent, int64_t window, float *s,
                             int64_t lds) {
  const __m512 k = _mm512_set1_ps(gauss_k(window));
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int r = 0; r < rows; r++) {
    const __m512 c = _mm512_set1_ps(cent[r]);
    float *sr = s + r * lds;
    for (int64_t j = 0; j < nbp; j += 16) {
      const __m512 jv = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_set1_epi32((int)(j0 + j)), iota));
      _mm512_store_ps(sr + j, _mm512_mul_ps(_mm512_load_ps(sr + j), gauss(jv, c, k)));
    }
  }
}

/* ---- hard: running argmax, ties to the lowest index ---- */

void avx512_argmaxt_block(int nv, int64_t nb, int64_t j0, const float *st, float *best, int32_t *idx) {
  const int64_t ld = 16 * nv;
  for (int v = 0; v < nv; v++) {
    __m512 b = _mm512_load_ps(best + 16 * v);
    __m512i ix = _mm512_load_si512((const void *)(idx + 16 * v));
    for (int64_t j = 0; j < nb; j++) {
      const __m512 s = _mm512_load_ps(st + j * ld + 16 * v);
      /* Strictly greater: an equal score later in the row never wins. */
      const __mmask16 gt = _mm512_cmp_ps_mask(s, b, _CMP_GT_OQ);
      b = _mm512_mask_mov_ps(b, gt, s);
      ix = _mm512_mask_mov_epi32(ix, gt, _mm512_set1_epi32((int)(j0 + j)));
    }
    _mm512_store_ps(best + 16 * v, b);
    _mm512_store_si512((void *)(idx + 16 * v), ix);
  }
}

void avx512_argmax_rows_block(int rows, int64_t nbp, int64_t j0, const float *s, int64_t lds, float *best,
                              int32_t *idx) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int r = 0; r < rows; r++) {
    const float *sr = s + r * lds;
    __m512 b = _mm512_set1_ps(-INFINITY);
    __m512i ix = _mm512_set1_epi32(-1);
    for (int64_t j = 0; j < nbp; j += 16) {
      const __m512 x = _mm512_load_ps(sr + j);
      const __mmask16 gt = _mm512_cmp_ps_mask(x, b, _CMP_GT_OQ);
      b = _mm512_mask_mov_ps(b, gt, x);
      ix = _mm512_mask_mov_epi32(ix, gt, _mm512_add_epi32(_mm512_set1_epi32((int)j), iota));
    }
    /* Each lane holds the first key of its maximum; of the lanes that hold
     * the block's maximum, the lowest key is the block's first. */
    const float m = _mm512_reduce_max_ps(b);
    if (m > best[r]) {
      const __mmask16 at = _mm512_cmp_ps_mask(b, _mm512_set1_ps(m), _CMP_EQ_OQ);
      best[r] = m;
      idx[r] = (int32_t)j0 + _mm512_mask_reduce_min_epi32(at, ix);
    }
  }
}

/* ---- cosine: unit rows, or per-key norms ---- */

/* |x| of a row of d floats, rounded once to float: the squares summed in
 * double (exact for d = 1, within d 2^-53 otherwise), a double sqrt. Then a
 * component x_c / |x| (one correctly rounded division) is within 2 u of the
 * exact unit vector's, inside the gamma(d + 4) the tolerance assumes, and a
 * vector with one nonzero component normalises to exactly +-1: at d = 1
 * every cosine score is exactly +-scale, so mode=hard's exact ties stay ties
 * and go to the lowest key. */
static float norm_of(const float *x, int64_t d) {
  __m512d acc = _mm512_setzero_pd();
  for (int64_t c = 0; c < d; c += 8) {
    const __mmask8 m = (__mmask8)lanes_below(d - c);
    const __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + c));
    acc = _mm512_fmadd_pd(v, v, acc);
  }
  return (float)sqrt(_mm512_reduce_add_pd(acc));
}

void avx512_normalize_rows(const float *x, float *y, int64_t r0, int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; r++) {
    const float n = norm_of(x + r * d, d);
    /* A zero row stays zero; 1 keeps it from becoming 0 / 0. */
    const __m512 nv = _mm512_set1_ps(n > 0 ? n : 1.0f);
    for (int64_t c = 0; c < d; c += 16) {
      const __mmask16 m = lanes_below(d - c);
      _mm512_mask_storeu_ps(y + r * d + c, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + r * d + c), nv));
    }
  }
}

void avx512_key_norms(const float *x, float *norm, int64_t r0, int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; r++) {
    const float n = norm_of(x + r * d, d);
    /* A zero key's scores are exactly 0 and stay so divided by 1; so do a
     * masked -inf (-inf / inf would be NaN for a norm that overflows, a
     * case outside the tolerance model anyway). */
    norm[r] = n > 0 && n < INFINITY ? n : 1.0f;
  }
}

/* (s / |k_j|) * qscale: the division first, so that equal cosines give
 * equal scores whatever the key's length. A -inf stands for a key the row
 * does not see and stays -inf: a negative scale would turn it into +inf, a
 * maximum that makes the row NaN. */
static inline __m512 scale_by_key(__m512 s, __m512 norm, __m512 qs) {
  const __mmask16 hidden = _mm512_cmp_ps_mask(s, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
  return _mm512_mask_mov_ps(_mm512_mul_ps(_mm512_div_ps(s, norm), qs), hidden, s);
}

void avx512_scale_keyst(int nv, int64_t nb, const float *norm, float qscale, float *st, float *bmax) {
  const int64_t ld = 16 * nv;
  const __m512 qs = _mm512_set1_ps(qscale);
  for (int v = 0; v < nv; v++) {
    __m512 bm = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < nb; j++) {
      float *s = st + j * ld + 16 * v;
      const __m512 x = scale_by_key(_mm512_load_ps(s), _mm512_set1_ps(norm[j]), qs);
      _mm512_store_ps(s, x);
      bm = _mm512_max_ps(bm, x);
    }
    _mm512_store_ps(bmax + 16 * v, bm);
  }
}

void avx512_scale_keys_rows(int rows, int64_t nb, const float *norm, float qscale, float *s, int64_t lds) {
  const __m512 qs = _mm512_set1_ps(qscale);
  for (int64_t j = 0; j < nb; j += 16) {
    /* Lanes past nb keep their -inf. */
    const __mmask16 m = lanes_below(nb - j);
    const __m512 n = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, norm + j);
    for (int r = 0; r < rows; r++) {
      float *sr = s + r * lds + j;
      _mm512_store_ps(sr, scale_by_key(_mm512_load_ps(sr), n, qs));
    }
  }
}

/* ---- local-p: centres ---- */

void avx512_local_p_centres(const float *proj, const float *vp, int64_t r0, int64_t r1, int64_t da,
                            int64_t lk, float *centres) {
  for (int64_t r = r0; r < r1; r++) {
    const float *pr = proj + r * da;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t a = 0; a < da; a += 16) {
      const __mmask16 m = lanes_below(da - a);
      const __m512 t = avx512_tanh_a22(_mm512_maskz_loadu_ps(m, pr + a));
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, vp + a), t, acc);
    }
    centres[r] = (float)lk / (1.0f + expf(-_mm512_reduce_add_ps(acc)));
  }
}
