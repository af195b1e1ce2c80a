/* avx2 backend: register-blocked micro-kernels and the softmax step.
 * Compiled with -mavx2 -mfma only; reached only after attn_cpu_has_avx2().
 *
 * The tile is 6 rows x 16 columns (two ymm) for both products: 12
 * accumulators, two loaded vectors and one broadcast fill 15 of the 16 ymm
 * registers, and each step issues 12 FMAs against 8 loads, within what
 * two FMA pipes and three load ports sustain. Edge tiles (fewer rows, or
 * fewer columns for P.V) are the same code instantiated with constants. */
#if !defined(__AVX2__) || !defined(__FMA__)
#error "avx2_kernels.c must be compiled with -mavx2 -mfma"
#endif

#include <immintrin.h>
#include <math.h>

#include "avx2_kernels.h"
#include "exp2_avx2.h"
#include "tanh_avx2.h"

#define AVX2_INLINE static inline __attribute__((always_inline))

/* Accumulators are named scalars, not an array: gcc 12 keeps a [6][2]
 * array on the stack across the loop. Rows past mr compile away. */
#define AVX2_ACC_DECL                                                                                        \
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,        \
         a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00
#define AVX2_FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

AVX2_INLINE void qk_tile(const int mr, int64_t d, const float *q, int64_t ldq, const float *kt, int64_t ldk,
                         float *s, int64_t lds) {
  AVX2_ACC_DECL;
  for (int64_t c = 0; c < d; c++) {
    const __m256 k0 = _mm256_load_ps(kt + c * ldk), k1 = _mm256_load_ps(kt + c * ldk + 8);
#define QK_ROW(i)                                                                                            \
  if (mr > i) {                                                                                              \
    const __m256 qi = _mm256_broadcast_ss(q + i * ldq + c);                                                  \
    a##i##0 = _mm256_fmadd_ps(qi, k0, a##i##0);                                                              \
    a##i##1 = _mm256_fmadd_ps(qi, k1, a##i##1);                                                              \
  }
    AVX2_FOR_ROWS(QK_ROW)
#undef QK_ROW
  }
#define STORE_ROW(i)                                                                                         \
  if (mr > i) {                                                                                              \
    _mm256_store_ps(s + i * lds, a##i##0);                                                                   \
    _mm256_store_ps(s + i * lds + 8, a##i##1);                                                               \
  }
  AVX2_FOR_ROWS(STORE_ROW)
#undef STORE_ROW
}

void avx2_qk_6x16(int64_t d, const float *q, int64_t ldq, const float *kt, int64_t ldk, float *s,
                  int64_t lds) {
  qk_tile(6, d, q, ldq, kt, ldk, s, lds);
}

void avx2_qk_mx16(int64_t mr, int64_t d, const float *q, int64_t ldq, const float *kt, int64_t ldk, float *s,
                  int64_t lds) {
  switch (mr) {
  case 1: qk_tile(1, d, q, ldq, kt, ldk, s, lds); break;
  case 2: qk_tile(2, d, q, ldq, kt, ldk, s, lds); break;
  case 3: qk_tile(3, d, q, ldq, kt, ldk, s, lds); break;
  case 4: qk_tile(4, d, q, ldq, kt, ldk, s, lds); break;
  case 5: qk_tile(5, d, q, ldq, kt, ldk, s, lds); break;
  default: qk_tile(6, d, q, ldq, kt, ldk, s, lds); break;
  }
}

/* tanh-bound (about 20 instructions per 8 terms against one FMA), so one
 * row at a time: two accumulators, and the K panel's rows reloaded from L1. */
void avx2_additive_mx16(int64_t mr, int64_t da, const float *qa, int64_t ldq, const float *kat, int64_t ldk,
                        const float *ul, float *s, int64_t lds) {
  for (int64_t i = 0; i < mr; i++) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    for (int64_t a = 0; a < da; a++) {
      const __m256 qi = _mm256_broadcast_ss(qa + i * ldq + a), ua = _mm256_broadcast_ss(ul + a);
      const float *ka = kat + a * ldk;
      a0 = _mm256_fmadd_ps(ua, avx2_tanh_a3(_mm256_add_ps(qi, _mm256_load_ps(ka))), a0);
      a1 = _mm256_fmadd_ps(ua, avx2_tanh_a3(_mm256_add_ps(qi, _mm256_load_ps(ka + 8))), a1);
    }
    _mm256_store_ps(s + i * lds, a0);
    _mm256_store_ps(s + i * lds + 8, a1);
  }
}

/* full: nc == 16, plain loads; otherwise masked loads, which never fault on
 * the lanes they skip, so a row's last columns can sit at the end of v.
 * blo, bhi (NULL: every row sees every key): row i sums only keys
 * blo[i] <= j < bhi[i]. A masked key's weight is 0, but 0 * NaN or 0 * inf
 * in its value row would still reach the row (the numerics policy: a row
 * the query does not see changes nothing). The keys every row sees run the
 * plain loop; only the ragged ends test each row. */
AVX2_INLINE void pv_tile(const int mr, const int full, int64_t nc, int64_t nk, const float *p, int64_t ldp,
                         const float *v, int64_t ldv, float *o, int64_t ldo, const float *alpha,
                         const int64_t *blo, const int64_t *bhi) {
  AVX2_ACC_DECL;
  __m256i m0 = _mm256_setzero_si256(), m1 = _mm256_setzero_si256();
  if (!full) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), n = _mm256_set1_epi32((int)nc);
    m0 = _mm256_cmpgt_epi32(n, lane);
    m1 = _mm256_cmpgt_epi32(n, _mm256_add_epi32(lane, _mm256_set1_epi32(8)));
  }
#define LOAD_ROW(i)                                                                                          \
  if (mr > i) {                                                                                              \
    const __m256 ai = _mm256_broadcast_ss(alpha + i);                                                        \
    a##i##0 = _mm256_mul_ps(_mm256_load_ps(o + i * ldo), ai);                                                \
    a##i##1 = _mm256_mul_ps(_mm256_load_ps(o + i * ldo + 8), ai);                                            \
  }
  AVX2_FOR_ROWS(LOAD_ROW)
#undef LOAD_ROW
  /* [all_lo, all_hi): the keys every row sees. */
  int64_t all_lo = 0, all_hi = nk;
  if (blo)
    for (int i = 0; i < mr; i++) {
      all_lo = blo[i] > all_lo ? blo[i] : all_lo;
      all_hi = bhi[i] < all_hi ? bhi[i] : all_hi;
    }
  if (all_hi < all_lo) all_hi = all_lo;
#define PV_LOAD                                                                                              \
  const float *vj = v + j * ldv;                                                                             \
  const __m256 v0 = full ? _mm256_loadu_ps(vj) : _mm256_maskload_ps(vj, m0);                                 \
  const __m256 v1 = full ? _mm256_loadu_ps(vj + 8) : _mm256_maskload_ps(vj + 8, m1);
#define PV_ROW(i)                                                                                            \
  if (mr > i) {                                                                                              \
    const __m256 pi = _mm256_broadcast_ss(p + i * ldp + j);                                                  \
    a##i##0 = _mm256_fmadd_ps(pi, v0, a##i##0);                                                              \
    a##i##1 = _mm256_fmadd_ps(pi, v1, a##i##1);                                                              \
  }
#define PV_ROW_SEEN(i)                                                                                       \
  if (mr > i && j >= blo[i] && j < bhi[i]) {                                                                 \
    const __m256 pi = _mm256_broadcast_ss(p + i * ldp + j);                                                  \
    a##i##0 = _mm256_fmadd_ps(pi, v0, a##i##0);                                                              \
    a##i##1 = _mm256_fmadd_ps(pi, v1, a##i##1);                                                              \
  }
  for (int64_t j = 0; j < all_lo; j++) {
    PV_LOAD
    AVX2_FOR_ROWS(PV_ROW_SEEN)
  }
  for (int64_t j = all_lo; j < all_hi; j++) {
    PV_LOAD
    AVX2_FOR_ROWS(PV_ROW)
  }
  for (int64_t j = all_hi; j < nk; j++) {
    PV_LOAD
    AVX2_FOR_ROWS(PV_ROW_SEEN)
  }
#undef PV_ROW_SEEN
#undef PV_ROW
#undef PV_LOAD
#define STORE_ROW(i)                                                                                         \
  if (mr > i) {                                                                                              \
    _mm256_store_ps(o + i * ldo, a##i##0);                                                                   \
    _mm256_store_ps(o + i * ldo + 8, a##i##1);                                                               \
  }
  AVX2_FOR_ROWS(STORE_ROW)
#undef STORE_ROW
}

void avx2_pv_6x16(int64_t nk, const float *p, int64_t ldp, const float *v, int64_t ldv, float *o, int64_t ldo,
                  const float *alpha, const int64_t *blo, const int64_t *bhi) {
  pv_tile(6, 1, 16, nk, p, ldp, v, ldv, o, ldo, alpha, blo, bhi);
}

#define PV_EDGE(MR)                                                                                          \
  case MR:                                                                                                   \
    if (nc == 16)                                                                                            \
      pv_tile(MR, 1, 16, nk, p, ldp, v, ldv, o, ldo, alpha, blo, bhi);                                       \
    else                                                                                                     \
      pv_tile(MR, 0, nc, nk, p, ldp, v, ldv, o, ldo, alpha, blo, bhi);                                       \
    break;

void avx2_pv_mxn(int64_t mr, int64_t nc, int64_t nk, const float *p, int64_t ldp, const float *v, int64_t ldv,
                 float *o, int64_t ldo, const float *alpha, const int64_t *blo, const int64_t *bhi) {
  switch (mr) {
    PV_EDGE(1)
    PV_EDGE(2)
    PV_EDGE(3)
    PV_EDGE(4)
    PV_EDGE(5)
  default: PV_EDGE(6)
  }
}

/* 8x8 transpose in three shuffle stages: 24 shuffles for 64 elements. */
AVX2_INLINE void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; i++) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

void avx2_pack_kt(int64_t nk, int64_t nkp, int64_t d, const float *k, float *kt, int64_t ldk) {
  int64_t j = 0;
  for (; j + 8 <= nk; j += 8) {
    const float *kj = k + j * d;
    int64_t c = 0;
    for (; c + 8 <= d; c += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(kj + i * d + c);
      transpose8(r);
      for (int i = 0; i < 8; i++) _mm256_store_ps(kt + (c + i) * ldk + j, r[i]);
    }
    for (; c < d; c++)
      for (int i = 0; i < 8; i++) kt[c * ldk + j + i] = kj[i * d + c];
  }
  for (; j < nk; j++)
    for (int64_t c = 0; c < d; c++) kt[c * ldk + j] = k[j * d + c];
  for (; j < nkp; j++)
    for (int64_t c = 0; c < d; c++) kt[c * ldk + j] = 0;
}

AVX2_INLINE float hmax8(__m256 v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  x = _mm_max_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

AVX2_INLINE float hsum8(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

/* Masked columns become -inf, which every later step reads as "no key":
 * max ignores them and exp2 turns them into exact zeros. Returns the row's
 * maximum over all nkp columns (-inf if none is visible). */
AVX2_INLINE float mask_and_max(float *sr, int64_t nkp, int64_t lo, int64_t hi) {
  for (int64_t j = 0; j < lo; j++) sr[j] = -INFINITY;
  for (int64_t j = hi; j < nkp; j++) sr[j] = -INFINITY;
  __m256 mx0 = _mm256_load_ps(sr), mx1 = _mm256_load_ps(sr + 8);
  for (int64_t j = 16; j < nkp; j += 16) {
    mx0 = _mm256_max_ps(mx0, _mm256_load_ps(sr + j));
    mx1 = _mm256_max_ps(mx1, _mm256_load_ps(sr + j + 8));
  }
  return hmax8(_mm256_max_ps(mx0, mx1));
}

AVX2_INLINE int has_nan(const float *x, int64_t n) {
  for (int64_t j = 0; j < n; j++)
    if (x[j] != x[j]) return 1;
  return 0;
}

/* A row that has no key (yet): zero weights, accumulator kept as it is. */
AVX2_INLINE void zero_row(float *sr, int64_t nkp, float *alpha) {
  for (int64_t j = 0; j < nkp; j += 8) _mm256_store_ps(sr + j, _mm256_setzero_ps());
  *alpha = 1;
}

void avx2_softmax_block(int64_t rows, int64_t nkp, float *s, int64_t lds, const int64_t *lo,
                        const int64_t *hi, float *m, float *l, float *alpha) {
  for (int64_t r = 0; r < rows; r++) {
    float *sr = s + r * lds;
    const int64_t a0 = lo ? lo[r] : 0, a1 = hi ? hi[r] : nkp;
    if (a1 <= a0) {
      /* Nothing visible yet may mean m == -inf: exp2(s - m) would be NaN. */
      zero_row(sr, nkp, alpha + r);
      continue;
    }
    const float mold = m[r], bmax = mask_and_max(sr, nkp, a0, a1);
    /* A NaN score must make the row NaN (the numerics policy). With a
     * finite maximum its weight does; the vector max may drop a NaN, so a
     * maximum of -inf so far (no key yet) is trusted only after a look for
     * NaN, which then becomes the maximum. */
    float mnew = bmax > mold || bmax != bmax ? bmax : mold;
    if (mnew == -INFINITY) {
      if (!has_nan(sr + a0, a1 - a0)) {
        zero_row(sr, nkp, alpha + r);
        continue;
      }
      mnew = NAN;
    }
    const __m256 base = _mm256_set1_ps(mnew);
    /* mold == -inf on a row's first visible block: alpha = 0 exactly. */
    const float a = _mm256_cvtss_f32(avx2_exp2_u3(_mm256_set1_ps(mold - mnew)));
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    for (int64_t j = 0; j < nkp; j += 16) {
      const __m256 p0 = avx2_exp2_u3(_mm256_sub_ps(_mm256_load_ps(sr + j), base));
      const __m256 p1 = avx2_exp2_u3(_mm256_sub_ps(_mm256_load_ps(sr + j + 8), base));
      _mm256_store_ps(sr + j, p0);
      _mm256_store_ps(sr + j + 8, p1);
      sum0 = _mm256_add_ps(sum0, p0);
      sum1 = _mm256_add_ps(sum1, p1);
    }
    l[r] = l[r] * a + hsum8(_mm256_add_ps(sum0, sum1));
    m[r] = mnew;
    alpha[r] = a;
  }
}

void avx2_argmax_block(int64_t rows, int64_t nkp, float *s, int64_t lds, const int64_t *lo, const int64_t *hi,
                       int64_t base, float *m, int64_t *arg) {
  for (int64_t r = 0; r < rows; r++) {
    float *sr = s + r * lds;
    const int64_t a0 = lo ? lo[r] : 0, a1 = hi ? hi[r] : nkp;
    if (a1 <= a0) continue;
    const float bmax = mask_and_max(sr, nkp, a0, a1);
    if (!(bmax > m[r]) && arg[r] >= 0) continue;
    /* The vector max found the value; the first column holding it is the
     * lowest index. A block's best that only ties the running best loses. */
    int64_t j = a0;
    while (j < a1 - 1 && sr[j] != bmax) j++;
    m[r] = bmax;
    arg[r] = base + j;
  }
}

void avx2_gauss_block(int64_t rows, int64_t ncols, float *s, int64_t lds, const float *c, int64_t key0,
                      float k2) {
  const __m256 step = _mm256_set1_ps(8.0f), k = _mm256_set1_ps(k2);
  const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t r = 0; r < rows; r++) {
    float *sr = s + r * lds;
    /* Key indices below 2^24 are exact in float: t = j - c is one rounding. */
    __m256 keys = _mm256_add_ps(_mm256_set1_ps((float)key0), lane);
    const __m256 cr = _mm256_set1_ps(c[r]);
    for (int64_t j = 0; j < ncols; j += 8) {
      const __m256 t = _mm256_sub_ps(keys, cr);
      const __m256 g = avx2_exp2_u3(_mm256_mul_ps(_mm256_mul_ps(t, t), k));
      _mm256_store_ps(sr + j, _mm256_mul_ps(_mm256_load_ps(sr + j), g));
      keys = _mm256_add_ps(keys, step);
    }
  }
}

void avx2_merge_row(int64_t ns, const float *m, const float *l, int64_t stride, const float *acc,
                    int64_t astride, int64_t dv, float *dst) {
  /* The weights first, 8 at a time through the vector exp2 (exp2f per split
   * and row cost as much as the rest of the merge), then each 8 columns
   * summed over the splits that saw a key in a register and stored once
   * (plain stores: a masked store is microcoded on some cores). */
  float mmax = -INFINITY, f[AVX2_MERGE_MAX_SPLITS + 8], lsum = 0;
  int64_t seen[AVX2_MERGE_MAX_SPLITS], n = 0;
  for (int64_t s = 0; s < ns; s++) {
    const float ms = m[s * stride], ls = l[s * stride];
    if (ls == 0) continue;
    seen[n++] = s;
    if (ms != ms || ls != ls) mmax = NAN;
    if (ms > mmax) mmax = ms;
  }
  if (n == 0) {
    for (int64_t c = 0; c < dv; c++) dst[c] = 0;
    return;
  }
  for (int64_t i = 0; i < n; i++) f[i] = m[seen[i] * stride] - mmax;
  for (int64_t i = n; i % 8; i++) f[i] = 0;
  for (int64_t i = 0; i < n; i += 8) _mm256_storeu_ps(f + i, avx2_exp2_u3(_mm256_loadu_ps(f + i)));
  for (int64_t i = 0; i < n; i++) lsum += l[seen[i] * stride] * f[i];
  const __m256 lv = _mm256_set1_ps(lsum);
  for (int64_t c = 0; c < dv; c += 8) {
    __m256 x = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i++)
      x = _mm256_fmadd_ps(_mm256_set1_ps(f[i]), _mm256_loadu_ps(acc + seen[i] * astride + c), x);
    x = _mm256_div_ps(x, lv);
    if (c + 8 <= dv) {
      _mm256_storeu_ps(dst + c, x);
    } else {
      float tail[8];
      _mm256_storeu_ps(tail, x);
      for (int64_t k = c; k < dv; k++) dst[k] = tail[k - c];
    }
  }
}
