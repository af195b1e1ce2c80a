/* Narrow micro-kernels (keys in lanes, for jobs of < 16 query rows) and the
 * output kernels shared by both paths (avx512_kernels.h).
 *
 * Decode reads every key and value once per group of query heads, so these
 * kernels only have to outrun memory, and must leave it room: a score is a
 * dot product over d in lanes, the partial sums of 16 keys are reduced
 * together by a shuffle tree (45 shuffles and adds per 16 keys and row,
 * against d FMAs), up to 4 rows share each key load, and values are FMAed as
 * whole rows into accumulators that stay in L1. About 45 cycles per key for a
 * group of 4 query heads at d = dv = 128, against ~140 for its 1 KiB of keys
 * and values at one core's share of DRAM bandwidth. */
#ifndef __AVX512F__
#error "avx512_narrow.c needs the avx512 ISA flags (see impls/CMakeLists.txt)"
#endif

#include <immintrin.h>
#include <math.h>

#include "avx512/avx512_exp.h"
#include "avx512/avx512_hsum.h"
#include "avx512/avx512_kernels.h"
#include "avx512/avx512_prefetch.h"

static inline __mmask16 lanes_below(int64_t n) {
  return n <= 0 ? 0 : n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* One query row against 16 keys (rows k + j * ldk; rows at or past nk repeat
 * row nk - 1 so that nothing past the block is read; their lanes are masked
 * by the caller). */
INLINE __m512 qk_1x16_body(const int nk, int64_t d, const float *restrict k, int64_t ldk,
                           const float *restrict q, pf_stream *pf) {
  const int64_t dfull = d & ~(int64_t)15;
  __m512 a[16];
  UNROLL
  for (int j = 0; j < 16; j++) a[j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < dfull; c += 16) {
    pf_step(pf);
    const __m512 qv = _mm512_load_ps(q + c);
    UNROLL
    for (int j = 0; j < 16; j++) {
      const float *row = k + (j < nk ? j : nk - 1) * ldk;
      a[slot_of_key[j]] = _mm512_fmadd_ps(_mm512_loadu_ps(row + c), qv, a[slot_of_key[j]]);
    }
  }
  if (dfull < d) {
    const __mmask16 tail = lanes_below(d - dfull);
    const __m512 qv = _mm512_load_ps(q + dfull);
    UNROLL
    for (int j = 0; j < 16; j++) {
      const float *row = k + (j < nk ? j : nk - 1) * ldk;
      a[slot_of_key[j]] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, row + dfull), qv, a[slot_of_key[j]]);
    }
  }
  return hsum16(a);
}

NOINLINE __m512 avx512_qk_1x16(int64_t d, const float *k, const float *q, pf_stream *pf) {
  return qk_1x16_body(16, d, k, d, q, pf);
}

NOINLINE __m512 qk_1x16_partial(int nk, int64_t d, const float *k, const float *q, pf_stream *pf) {
  return qk_1x16_body(nk, d, k, d, q, pf);
}

/* rt rows x 16 keys: the 16 slots of hsum16 in four passes of 4 slots
 * (p, p+4, p+8, p+12), which are exactly the inputs of its second-level
 * output p; so each pass keeps rt x 4 accumulators, loads 4 key and rt query
 * vectors per 16 dims for rt x 4 FMAs, and folds into one vector per row. */
INLINE void qk_rx16_body(const int rt, const int nk, int64_t d, const float *restrict k,
                         const float *restrict q, int64_t ldq, __m512 *out, pf_stream *pf) {
  const int64_t dfull = d & ~(int64_t)15;
  const __mmask16 tail = lanes_below(d - dfull);
  __m512 w4[4][4];
  UNROLL
  for (int pass = 0; pass < 4; pass++) {
    const float *row[4];
    UNROLL
    for (int i = 0; i < 4; i++) {
      const int key = slot_of_key[pass + 4 * i];
      row[i] = k + (key < nk ? key : nk - 1) * d;
    }
    __m512 a[4][4];
    UNROLL
    for (int r = 0; r < rt; r++) {
      UNROLL
      for (int i = 0; i < 4; i++) a[r][i] = _mm512_setzero_ps();
    }
    for (int64_t c = 0; c < dfull; c += 16) {
      pf_step(pf);
      __m512 kv[4];
      UNROLL
      for (int i = 0; i < 4; i++) kv[i] = _mm512_loadu_ps(row[i] + c);
      UNROLL
      for (int r = 0; r < rt; r++) {
        const __m512 qv = _mm512_load_ps(q + r * ldq + c);
        UNROLL
        for (int i = 0; i < 4; i++) a[r][i] = _mm512_fmadd_ps(kv[i], qv, a[r][i]);
      }
    }
    if (dfull < d) {
      __m512 kv[4];
      UNROLL
      for (int i = 0; i < 4; i++) kv[i] = _mm512_maskz_loadu_ps(tail, row[i] + dfull);
      UNROLL
      for (int r = 0; r < rt; r++) {
        const __m512 qv = _mm512_load_ps(q + r * ldq + dfull);
        UNROLL
        for (int i = 0; i < 4; i++) a[r][i] = _mm512_fmadd_ps(kv[i], qv, a[r][i]);
      }
    }
    UNROLL
    for (int r = 0; r < rt; r++) {
      const __m512 u0 = _mm512_add_ps(_mm512_shuffle_f32x4(a[r][0], a[r][2], 0x44),
                                      _mm512_shuffle_f32x4(a[r][0], a[r][2], 0xee));
      const __m512 u1 = _mm512_add_ps(_mm512_shuffle_f32x4(a[r][1], a[r][3], 0x44),
                                      _mm512_shuffle_f32x4(a[r][1], a[r][3], 0xee));
      w4[r][pass] = _mm512_add_ps(_mm512_shuffle_f32x4(u0, u1, 0x88), _mm512_shuffle_f32x4(u0, u1, 0xdd));
    }
  }
  UNROLL
  for (int r = 0; r < rt; r++) {
    __m512 w2[2];
    UNROLL
    for (int i = 0; i < 2; i++) {
      const __m512d x = _mm512_castps_pd(w4[r][i]), y = _mm512_castps_pd(w4[r][i + 2]);
      w2[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                            _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    out[r] = _mm512_add_ps(_mm512_shuffle_ps(w2[0], w2[1], 0x88), _mm512_shuffle_ps(w2[0], w2[1], 0xdd));
  }
}

NOINLINE void avx512_qk_4x16(int64_t d, const float *k, const float *q, int64_t ldq, __m512 *out,
                             pf_stream *pf) {
  qk_rx16_body(4, 16, d, k, q, ldq, out, pf);
}

/* The remainders: fewer rows, or fewer than 16 keys at the end of a block. */
NOINLINE void qk_rx16_any(int rt, int nk, int64_t d, const float *k, const float *q, int64_t ldq, __m512 *out,
                          pf_stream *pf) {
  if (nk == 16) {
    switch (rt) {
    case 3: qk_rx16_body(3, 16, d, k, q, ldq, out, pf); break;
    case 2: qk_rx16_body(2, 16, d, k, q, ldq, out, pf); break;
    default: out[0] = avx512_qk_1x16(d, k, q, pf); break;
    }
    return;
  }
  for (int r = 0; r < rt; r++) out[r] = qk_1x16_partial(nk, d, k, q + r * ldq, pf);
}

void avx512_qk_rows_block(int rows, int64_t nb, int64_t d, const float *k, const float *q, int64_t ldq,
                          const int64_t *vis, float *s, int64_t lds, const float *next_k, int64_t next_nb) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  const int64_t steps_per_group = (rows / 4 * 4 + (rows % 4 > 1 ? 4 : rows % 4)) * ((d + 15) / 16);
  pf_stream pf = pf_make(next_k, next_nb * d, (nb + 15) / 16 * steps_per_group);
  for (int64_t g = 0; g < nb; g += 16) {
    const int64_t nk = nb - g < 16 ? nb - g : 16;
    for (int r0 = 0; r0 < rows; r0 += 4) {
      const int rt = rows - r0 < 4 ? rows - r0 : 4;
      __m512 sc[4];
      if (rt == 4 && nk == 16)
        avx512_qk_4x16(d, k + g * d, q + r0 * ldq, ldq, sc, &pf);
      else
        qk_rx16_any(rt, (int)nk, d, k + g * d, q + r0 * ldq, ldq, sc, &pf);
      for (int r = 0; r < rt; r++) {
        const __mmask16 keep = lanes_below(vis[r0 + r] - g) & lanes_below(nk);
        _mm512_store_ps(s + (r0 + r) * lds + g, _mm512_mask_blend_ps(keep, ninf, sc[r]));
      }
    }
  }
  pf_rest(&pf);
}

void avx512_softmax_rows_block(int rows, int64_t nbp, float *s, int64_t lds, float *m, float *l,
                               float *alpha) {
  for (int r = 0; r < rows; r++) {
    float *sr = s + r * lds;
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < nbp; j += 16) mx = _mm512_max_ps(mx, _mm512_load_ps(sr + j));
    const float bm = _mm512_reduce_max_ps(mx), mo = m[r];
    const float mn = bm > mo ? bm : mo;
    /* See avx512_softmaxt_block: 0 stands in for a maximum of -inf. */
    const float mu = mn == -INFINITY ? 0.0f : mn;
    const float a = _mm512_cvtss_f32(avx512_exp2_u1(_mm512_set1_ps(mo - mu)));
    const __m512 muv = _mm512_set1_ps(mu);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < nbp; j += 16) {
      const __m512 p = avx512_exp2_u1(_mm512_sub_ps(_mm512_load_ps(sr + j), muv));
      sum = _mm512_add_ps(sum, p);
      _mm512_store_ps(sr + j, p);
    }
    l[r] = a * l[r] + _mm512_reduce_add_ps(sum);
    m[r] = mn;
    alpha[r] = a;
  }
}

/* rt rows x cv vectors of value dims over nb keys; the last vector is
 * masked to the value dims that exist. masked (edge blocks only): row r sums
 * only keys lo[r] <= j < hi[r], so that a masked key's value row, NaN or
 * infinite, cannot reach it through its weight of 0. */
INLINE void pv_tile(const int rt, const int cv, const int masked, int64_t nb, int64_t dv,
                    const float *restrict v, const float *restrict p, int64_t ldp, float *restrict acc,
                    int64_t lda, const float *restrict alpha, int first, __mmask16 last, const int64_t *lo,
                    const int64_t *hi, pf_stream *pf) {
  __m512 a[4][4];
  UNROLL
  for (int r = 0; r < rt; r++) {
    const __m512 al = _mm512_set1_ps(alpha[r]);
    UNROLL
    for (int x = 0; x < cv; x++)
      a[r][x] = first ? _mm512_setzero_ps() : _mm512_mul_ps(_mm512_load_ps(acc + r * lda + 16 * x), al);
  }
  for (int64_t j = 0; j < nb; j++) {
    pf_step(pf);
    __m512 vv[4];
    UNROLL
    for (int x = 0; x < cv; x++)
      vv[x] = x == cv - 1 ? _mm512_maskz_loadu_ps(last, v + j * dv + 16 * x)
                          : _mm512_loadu_ps(v + j * dv + 16 * x);
    UNROLL
    for (int r = 0; r < rt; r++) {
      const __m512 pb = _mm512_set1_ps(p[r * ldp + j]);
      const __mmask16 see = masked ? (__mmask16)(j >= lo[r] && j < hi[r] ? 0xffff : 0) : 0xffff;
      UNROLL
      for (int x = 0; x < cv; x++)
        a[r][x] =
            masked ? _mm512_mask3_fmadd_ps(pb, vv[x], a[r][x], see) : _mm512_fmadd_ps(pb, vv[x], a[r][x]);
    }
  }
  UNROLL
  for (int r = 0; r < rt; r++) {
    UNROLL
    for (int x = 0; x < cv; x++) _mm512_store_ps(acc + r * lda + 16 * x, a[r][x]);
  }
}

NOINLINE void avx512_pv_4x64(int64_t nb, int64_t dv, const float *v, const float *p, int64_t ldp, float *acc,
                             int64_t lda, const float *alpha, int first, pf_stream *pf) {
  pv_tile(4, 4, 0, nb, dv, v, p, ldp, acc, lda, alpha, first, 0xffff, NULL, NULL, pf);
}

#define PV_CASE(RT, CV)                                                                                      \
  case RT * 8 + CV:                                                                                          \
    if (lo)                                                                                                  \
      pv_tile(RT, CV, 1, nb, dv, vc, pr, ldp, ar, lda, al, first, last, lo + r, hi + r, &pf);                \
    else                                                                                                     \
      pv_tile(RT, CV, 0, nb, dv, vc, pr, ldp, ar, lda, al, first, last, NULL, NULL, &pf);                    \
    break

void avx512_pv_rows_block(int rows, int64_t nb, int64_t dv, const float *v, const float *p, int64_t ldp,
                          float *acc, int64_t lda, const float *alpha, int first, const int64_t *lo,
                          const int64_t *hi, const float *next_v, int64_t next_nb) {
  pf_stream pf = pf_make(next_v, next_nb * dv, (dv + 63) / 64 * ((rows + 3) / 4) * nb);
  for (int64_t c = 0; c < dv; c += 64) {
    const int64_t left = dv - c;
    const int cv = left >= 64 ? 4 : (int)((left + 15) / 16);
    const __mmask16 last = lanes_below(left - 16 * (cv - 1));
    for (int r = 0; r < rows; r += 4) {
      const int rt = rows - r < 4 ? rows - r : 4;
      const float *vc = v + c, *pr = p + r * ldp, *al = alpha + r;
      float *ar = acc + r * lda + c;
      if (!lo && rt == 4 && cv == 4 && last == 0xffff) {
        avx512_pv_4x64(nb, dv, vc, pr, ldp, ar, lda, al, first, &pf);
        continue;
      }
      switch (rt * 8 + cv) {
        PV_CASE(1, 1);
        PV_CASE(1, 2);
        PV_CASE(1, 3);
        PV_CASE(1, 4);
        PV_CASE(2, 1);
        PV_CASE(2, 2);
        PV_CASE(2, 3);
        PV_CASE(2, 4);
        PV_CASE(3, 1);
        PV_CASE(3, 2);
        PV_CASE(3, 3);
        PV_CASE(3, 4);
        PV_CASE(4, 1);
        PV_CASE(4, 2);
        PV_CASE(4, 3);
        PV_CASE(4, 4);
      default: break;
      }
    }
  }
  pf_rest(&pf);
}

void avx512_finish_rows(int rows, int64_t dv, const float *acc, int64_t lda, const float *l,
                        float *const *o) {
  for (int r = 0; r < rows; r++) {
    const __m512 lv = _mm512_set1_ps(l[r]);
    for (int64_t c = 0; c < dv; c += 16) {
      const __mmask16 keep = lanes_below(dv - c);
      const __m512 x = l[r] == 0 ? _mm512_setzero_ps() : _mm512_div_ps(_mm512_load_ps(acc + r * lda + c), lv);
      _mm512_mask_storeu_ps(o[r] + c, keep, x);
    }
  }
}

void avx512_merge_rows(int parts, int rows, int64_t pstride, int64_t dv, const float *m, const float *l,
                       const float *acc, int64_t lda, float *const *o) {
  for (int r = 0; r < rows; r++) {
    /* A NaN score must make the row NaN, as it does without the split. It
     * leaves a NaN maximum or, where the kernels' max skipped it (a part
     * whose maximum stays -inf), a NaN sum: either makes mx NaN, so every
     * weight is NaN. `>` alone would skip both and read the parts as "no
     * key", a zero row. */
    float mx = -INFINITY;
    for (int t = 0; t < parts; t++) {
      const float mt = m[t * pstride + r], lt = l[t * pstride + r];
      if (mt != mt || lt != lt) {
        mx = NAN;
        break;
      }
      if (mt > mx) mx = mt;
    }
    float *out = o[r];
    if (mx == -INFINITY) {
      for (int64_t c = 0; c < dv; c += 16)
        _mm512_mask_storeu_ps(out + c, lanes_below(dv - c), _mm512_setzero_ps());
      continue;
    }
    /* The weights first, then each vector of the row summed over the parts in
     * a register and stored once: a masked store reloaded per part would
     * stall on store forwarding. A part that saw no visible key has m =
     * -inf, weight 0 and a zero accumulator. */
    float wt[AVX512_MERGE_MAX_PARTS], sum = 0;
    for (int t = 0; t < parts; t++) {
      wt[t] = _mm512_cvtss_f32(avx512_exp2_u1(_mm512_set1_ps(m[t * pstride + r] - mx)));
      sum += wt[t] * l[t * pstride + r];
    }
    const __m512 sv = _mm512_set1_ps(sum);
    for (int64_t c = 0; c < dv; c += 16) {
      __m512 x = _mm512_setzero_ps();
      for (int t = 0; t < parts; t++)
        x = _mm512_fmadd_ps(_mm512_set1_ps(wt[t]), _mm512_load_ps(acc + (t * pstride + r) * lda + c), x);
      _mm512_mask_storeu_ps(out + c, lanes_below(dv - c), _mm512_div_ps(x, sv));
    }
  }
}
