/* Wide micro-kernels: query rows in vector lanes (avx512_kernels.h).
 *
 * Each tile keeps 24 zmm accumulators live across its whole reduction loop
 * (2 FMA pipes x 4-cycle latency needs >= 8 independent chains; 24 leave
 * room for the operand registers within 32). Per reduction step a tile loads
 * nv query vectors and broadcasts jt key (or value) elements: about 10-14
 * loads per 24 FMAs, well inside what the load pipes sustain.
 *
 * Tiles are written once as always-inline bodies whose sizes are compile-time
 * constants at every call site, so the accumulator arrays become registers;
 * the named wrappers are what a profile shows. */
#ifndef __AVX512F__
#error "avx512_wide.c needs the avx512 ISA flags (see impls/CMakeLists.txt)"
#endif

#include <immintrin.h>
#include <math.h>

#include "avx512/avx512_exp.h"
#include "avx512/avx512_kernels.h"
#include "avx512/avx512_prefetch.h"

#define TILE_MAX 12

/* S^T tile: jt keys x nv*16 queries; d steps of one broadcast key element
 * against nv contiguous query vectors. */
INLINE void qkt_tile(const int jt, const int nv, int64_t d, const float *restrict k, const float *restrict qt,
                     float *restrict st, __m512 *bm, pf_stream *pk, pf_stream *pv) {
  const int64_t ld = 16 * nv;
  __m512 acc[TILE_MAX][4];
  UNROLL
  for (int j = 0; j < jt; j++) {
    UNROLL
    for (int v = 0; v < nv; v++) acc[j][v] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < d; c++) {
    pf_step(pk);
    pf_step(pv);
    __m512 q[4];
    UNROLL
    for (int v = 0; v < nv; v++) q[v] = _mm512_load_ps(qt + c * ld + 16 * v);
    UNROLL
    for (int j = 0; j < jt; j++) {
      const __m512 kb = _mm512_set1_ps(k[j * d + c]);
      UNROLL
      for (int v = 0; v < nv; v++) acc[j][v] = _mm512_fmadd_ps(kb, q[v], acc[j][v]);
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

#define QKT_TILE(JT, NV, NAME)                                                                               \
  NOINLINE void NAME(int64_t d, const float *k, const float *qt, float *st, __m512 *bm, pf_stream *pk,       \
                     pf_stream *pv) {                                                                        \
    qkt_tile(JT, NV, d, k, qt, st, bm, pk, pv);                                                              \
  }
QKT_TILE(6, 4, avx512_qkt_6x64)
QKT_TILE(8, 3, avx512_qkt_8x48)
QKT_TILE(12, 2, avx512_qkt_12x32)
QKT_TILE(12, 1, avx512_qkt_12x16)

/* A key block: full tiles, then the remainder in tiles of 8, 4, 2, 1 keys;
 * meanwhile the next block's keys and values are prefetched. */
INLINE void qkt_run(const int nv, int64_t nb, int64_t d, const float *k, const float *qt, float *st,
                    float *bmax, const float *next_k, const float *next_v, int64_t next_nb, int64_t dv) {
  const int jt = avx512_wide_tile(nv);
  const int64_t ld = 16 * nv, steps = (nb / jt + 3) * d;
  pf_stream pk = pf_make(next_k, next_nb * d, steps), pv = pf_make(next_v, next_nb * dv, steps);
  __m512 bm[4];
  for (int v = 0; v < 4; v++) bm[v] = _mm512_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + jt <= nb; j += jt) {
    const float *kj = k + j * d;
    float *sj = st + j * ld;
    switch (nv) {
    case 4: avx512_qkt_6x64(d, kj, qt, sj, bm, &pk, &pv); break;
    case 3: avx512_qkt_8x48(d, kj, qt, sj, bm, &pk, &pv); break;
    case 2: avx512_qkt_12x32(d, kj, qt, sj, bm, &pk, &pv); break;
    default: avx512_qkt_12x16(d, kj, qt, sj, bm, &pk, &pv); break;
    }
  }
  if (jt > 8 && j + 8 <= nb) qkt_tile(8, nv, d, k + j * d, qt, st + j * ld, bm, &pk, &pv), j += 8;
  if (j + 4 <= nb) qkt_tile(4, nv, d, k + j * d, qt, st + j * ld, bm, &pk, &pv), j += 4;
  if (j + 2 <= nb) qkt_tile(2, nv, d, k + j * d, qt, st + j * ld, bm, &pk, &pv), j += 2;
  if (j < nb) qkt_tile(1, nv, d, k + j * d, qt, st + j * ld, bm, &pk, &pv);
  pf_rest(&pk);
  pf_rest(&pv);
  for (int v = 0; v < nv; v++) _mm512_store_ps(bmax + 16 * v, bm[v]);
}

void avx512_qkt_block(int nv, int64_t nb, int64_t d, const float *k, const float *qt, float *st, float *bmax,
                      const float *next_k, const float *next_v, int64_t next_nb, int64_t dv) {
  switch (nv) {
  case 4: qkt_run(4, nb, d, k, qt, st, bmax, next_k, next_v, next_nb, dv); break;
  case 3: qkt_run(3, nb, d, k, qt, st, bmax, next_k, next_v, next_nb, dv); break;
  case 2: qkt_run(2, nb, d, k, qt, st, bmax, next_k, next_v, next_nb, dv); break;
  default: qkt_run(1, nb, d, k, qt, st, bmax, next_k, next_v, next_nb, dv); break;
  }
}

void avx512_maskt_block(int nv, int64_t nb, int64_t j0, const int32_t *ends, float *st, float *bmax) {
  const int64_t ld = 16 * nv;
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (int v = 0; v < nv; v++) {
    const __m512i e = _mm512_load_si512((const void *)(ends + 16 * v));
    __m512 bm = ninf;
    for (int64_t j = 0; j < nb; j++) {
      const __mmask16 vis = _mm512_cmpgt_epi32_mask(e, _mm512_set1_epi32((int)(j0 + j)));
      const __m512 s = _mm512_mask_blend_ps(vis, ninf, _mm512_load_ps(st + j * ld + 16 * v));
      _mm512_store_ps(st + j * ld + 16 * v, s);
      bm = _mm512_max_ps(bm, s);
    }
    _mm512_store_ps(bmax + 16 * v, bm);
  }
}

INLINE void softmaxt_run(const int nv, int64_t nb, float *st, const float *bmax, float *m, float *l,
                         float *alpha) {
  const int64_t ld = 16 * nv;
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 mu[4], sum[4], lo[4];
  UNROLL
  for (int v = 0; v < nv; v++) {
    const __m512 mo = _mm512_load_ps(m + 16 * v);
    const __m512 mn = _mm512_max_ps(mo, _mm512_load_ps(bmax + 16 * v));
    /* A row with nothing visible yet keeps m = -inf; 0 as its reference
     * turns its -inf scores into p = 0 instead of exp2(-inf + inf). */
    mu[v] = _mm512_mask_mov_ps(mn, _mm512_cmp_ps_mask(mn, ninf, _CMP_EQ_OQ), _mm512_setzero_ps());
    const __m512 a = avx512_exp2_u1(_mm512_sub_ps(mo, mu[v]));
    _mm512_store_ps(alpha + 16 * v, a);
    _mm512_store_ps(m + 16 * v, mn);
    lo[v] = _mm512_mul_ps(a, _mm512_load_ps(l + 16 * v));
    sum[v] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < nb; j++) {
    UNROLL
    for (int v = 0; v < nv; v++) {
      float *s = st + j * ld + 16 * v;
      const __m512 p = avx512_exp2_u1(_mm512_sub_ps(_mm512_load_ps(s), mu[v]));
      sum[v] = _mm512_add_ps(sum[v], p);
      _mm512_store_ps(s, p);
    }
  }
  UNROLL
  for (int v = 0; v < nv; v++) _mm512_store_ps(l + 16 * v, _mm512_add_ps(lo[v], sum[v]));
}

void avx512_softmaxt_block(int nv, int64_t nb, float *st, const float *bmax, float *m, float *l,
                           float *alpha) {
  switch (nv) {
  case 4: softmaxt_run(4, nb, st, bmax, m, l, alpha); break;
  case 3: softmaxt_run(3, nb, st, bmax, m, l, alpha); break;
  case 2: softmaxt_run(2, nb, st, bmax, m, l, alpha); break;
  default: softmaxt_run(1, nb, st, bmax, m, l, alpha); break;
  }
}

/* O^T tile: ct value dims x nv*16 queries, over nb keys; per key one
 * broadcast value element per dim against nv contiguous weight vectors.
 * masked (edge blocks only): key j updates only the lanes km[j * nv + x] of
 * rows that see it. A masked key's weight is 0, but 0 * NaN or 0 * inf in its
 * value row would reach the row all the same (the numerics policy: a row
 * the query does not see changes nothing). */
INLINE void pvt_tile(const int ct, const int nv, const int masked, int64_t nb, int64_t dv,
                     const float *restrict v, const float *restrict pt, float *restrict ot,
                     const float *restrict alpha, int first, const __mmask16 *restrict km) {
  const int64_t ld = 16 * nv;
  __m512 acc[TILE_MAX][4];
  if (first) {
    UNROLL
    for (int i = 0; i < ct; i++) {
      UNROLL
      for (int x = 0; x < nv; x++) acc[i][x] = _mm512_setzero_ps();
    }
  } else {
    UNROLL
    for (int i = 0; i < ct; i++) {
      UNROLL
      for (int x = 0; x < nv; x++)
        acc[i][x] = _mm512_mul_ps(_mm512_load_ps(ot + i * ld + 16 * x), _mm512_load_ps(alpha + 16 * x));
    }
  }
  for (int64_t j = 0; j < nb; j++) {
    __m512 p[4];
    UNROLL
    for (int x = 0; x < nv; x++) p[x] = _mm512_load_ps(pt + j * ld + 16 * x);
    UNROLL
    for (int i = 0; i < ct; i++) {
      const __m512 vb = _mm512_set1_ps(v[j * dv + i]);
      UNROLL
      for (int x = 0; x < nv; x++)
        acc[i][x] = masked ? _mm512_mask3_fmadd_ps(vb, p[x], acc[i][x], km[j * nv + x])
                           : _mm512_fmadd_ps(vb, p[x], acc[i][x]);
    }
  }
  UNROLL
  for (int i = 0; i < ct; i++) {
    UNROLL
    for (int x = 0; x < nv; x++) _mm512_store_ps(ot + i * ld + 16 * x, acc[i][x]);
  }
}

#define PVT_TILE(CT, NV, NAME)                                                                               \
  NOINLINE void NAME(int64_t nb, int64_t dv, const float *v, const float *pt, float *ot, const float *alpha, \
                     int first) {                                                                            \
    pvt_tile(CT, NV, 0, nb, dv, v, pt, ot, alpha, first, NULL);                                              \
  }
PVT_TILE(6, 4, avx512_pvt_6x64)
PVT_TILE(8, 3, avx512_pvt_8x48)
PVT_TILE(12, 2, avx512_pvt_12x32)
PVT_TILE(12, 1, avx512_pvt_12x16)

/* Value dims in full tiles, then the remainder in tiles of 8, 4, 2, 1. */
INLINE void pvt_run(const int nv, int64_t nb, int64_t dv, const float *v, const float *pt, float *ot,
                    const float *alpha, int first) {
  const int ct = avx512_wide_tile(nv);
  const int64_t ld = 16 * nv;
  int64_t c = 0;
  for (; c + ct <= dv; c += ct) {
    switch (nv) {
    case 4: avx512_pvt_6x64(nb, dv, v + c, pt, ot + c * ld, alpha, first); break;
    case 3: avx512_pvt_8x48(nb, dv, v + c, pt, ot + c * ld, alpha, first); break;
    case 2: avx512_pvt_12x32(nb, dv, v + c, pt, ot + c * ld, alpha, first); break;
    default: avx512_pvt_12x16(nb, dv, v + c, pt, ot + c * ld, alpha, first); break;
    }
  }
  if (ct > 8 && c + 8 <= dv) pvt_tile(8, nv, 0, nb, dv, v + c, pt, ot + c * ld, alpha, first, NULL), c += 8;
  if (c + 4 <= dv) pvt_tile(4, nv, 0, nb, dv, v + c, pt, ot + c * ld, alpha, first, NULL), c += 4;
  if (c + 2 <= dv) pvt_tile(2, nv, 0, nb, dv, v + c, pt, ot + c * ld, alpha, first, NULL), c += 2;
  if (c < dv) pvt_tile(1, nv, 0, nb, dv, v + c, pt, ot + c * ld, alpha, first, NULL);
}

/* The masked form, for the few blocks that cross a row's window edge: tiles
 * of 8, 4, 2, 1 value dims (16 accumulators at most beside the masks). */
INLINE void pvt_run_masked(const int nv, int64_t nb, int64_t dv, const float *v, const float *pt, float *ot,
                           const float *alpha, int first, const __mmask16 *km) {
  const int64_t ld = 16 * nv;
  int64_t c = 0;
  if (nv <= 2)
    for (; c + 8 <= dv; c += 8) pvt_tile(8, nv, 1, nb, dv, v + c, pt, ot + c * ld, alpha, first, km);
  for (; c + 4 <= dv; c += 4) pvt_tile(4, nv, 1, nb, dv, v + c, pt, ot + c * ld, alpha, first, km);
  if (c + 2 <= dv) pvt_tile(2, nv, 1, nb, dv, v + c, pt, ot + c * ld, alpha, first, km), c += 2;
  if (c < dv) pvt_tile(1, nv, 1, nb, dv, v + c, pt, ot + c * ld, alpha, first, km);
}

NOINLINE void pvt_block_masked(int nv, int64_t nb, int64_t dv, const float *v, const float *pt, float *ot,
                               const float *alpha, int first, int64_t j0, const int32_t *starts,
                               const int32_t *ends) {
  /* Which rows see each key: one compare pair per key and vector, kept for
   * every value tile of the block. */
  __mmask16 km[AVX512_PVT_MAX_KEYS * 4];
  for (int64_t j = 0; j < nb; j++) {
    const __m512i key = _mm512_set1_epi32((int)(j0 + j));
    for (int x = 0; x < nv; x++)
      km[j * nv + x] = _mm512_cmple_epi32_mask(_mm512_load_si512((const void *)(starts + 16 * x)), key) &
                       _mm512_cmpgt_epi32_mask(_mm512_load_si512((const void *)(ends + 16 * x)), key);
  }
  switch (nv) {
  case 4: pvt_run_masked(4, nb, dv, v, pt, ot, alpha, first, km); break;
  case 3: pvt_run_masked(3, nb, dv, v, pt, ot, alpha, first, km); break;
  case 2: pvt_run_masked(2, nb, dv, v, pt, ot, alpha, first, km); break;
  default: pvt_run_masked(1, nb, dv, v, pt, ot, alpha, first, km); break;
  }
}

void avx512_pvt_block(int nv, int64_t nb, int64_t dv, const float *v, const float *pt, float *ot,
                      const float *alpha, int first, int64_t j0, const int32_t *starts, const int32_t *ends) {
  if (starts) {
    pvt_block_masked(nv, nb, dv, v, pt, ot, alpha, first, j0, starts, ends);
    return;
  }
  switch (nv) {
  case 4: pvt_run(4, nb, dv, v, pt, ot, alpha, first); break;
  case 3: pvt_run(3, nb, dv, v, pt, ot, alpha, first); break;
  case 2: pvt_run(2, nb, dv, v, pt, ot, alpha, first); break;
  default: pvt_run(1, nb, dv, v, pt, ot, alpha, first); break;
  }
}

void avx512_merget_block(int nv, int parts, int64_t dv, const float *m, const float *l, int64_t pstride,
                         const float *acc, int64_t astride, float *ot, float *lsum) {
  const int64_t ld = 16 * nv;
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (int v = 0; v < nv; v++) {
    /* The maximum over the parts; a NaN m or l makes it NaN (the vector max
     * alone may drop a NaN, and a part whose kernels skipped a NaN score
     * still carries it in l), and so every weight of the row. */
    __m512 mx = ninf;
    __mmask16 nan = 0;
    for (int t = 0; t < parts; t++) {
      const __m512 mt = _mm512_load_ps(m + t * pstride + 16 * v),
                   lt = _mm512_load_ps(l + t * pstride + 16 * v);
      nan |= _mm512_cmp_ps_mask(mt, mt, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(lt, lt, _CMP_UNORD_Q);
      mx = _mm512_max_ps(mx, mt);
    }
    mx = _mm512_mask_mov_ps(mx, nan, _mm512_set1_ps(NAN));
    /* No part saw a key: 0 as the reference makes every weight exp2(-inf) = 0. */
    mx = _mm512_mask_mov_ps(mx, _mm512_cmp_ps_mask(mx, ninf, _CMP_EQ_OQ), _mm512_setzero_ps());
    __m512 wt[AVX512_MERGE_MAX_PARTS], s = _mm512_setzero_ps();
    for (int t = 0; t < parts; t++) {
      wt[t] = avx512_exp2_u1(_mm512_sub_ps(_mm512_load_ps(m + t * pstride + 16 * v), mx));
      s = _mm512_fmadd_ps(wt[t], _mm512_load_ps(l + t * pstride + 16 * v), s);
    }
    _mm512_store_ps(lsum + 16 * v, s);
    for (int64_t c = 0; c < dv; c++) {
      __m512 x = _mm512_setzero_ps();
      for (int t = 0; t < parts; t++)
        x = _mm512_fmadd_ps(wt[t], _mm512_load_ps(acc + t * astride + c * ld + 16 * v), x);
      _mm512_store_ps(ot + c * ld + 16 * v, x);
    }
  }
}

void avx512_scalet_block(int nv, int64_t dv, float *ot, const float *l) {
  const int64_t ld = 16 * nv;
  for (int v = 0; v < nv; v++) {
    const __m512 lv = _mm512_load_ps(l + 16 * v);
    /* Rows that saw no visible key have l == 0 and give exact zeros. */
    const __mmask16 seen = _mm512_cmp_ps_mask(lv, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    for (int64_t c = 0; c < dv; c++) {
      float *x = ot + c * ld + 16 * v;
      _mm512_store_ps(x, _mm512_maskz_div_ps(seen, _mm512_load_ps(x), lv));
    }
  }
}
