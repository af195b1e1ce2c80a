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

/* full: nc == 16, plain loads; otherwise masked loads, which never fault on
 * the lanes they skip, so a row's last columns can sit at the end of v. */
AVX2_INLINE void pv_tile(const int mr, const int full, int64_t nc, int64_t nk, const float *p, int64_t ldp,
                         const float *v, int64_t ldv, float *o, int64_t ldo, const float *alpha) {
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
  for (int64_t j = 0; j < nk; j++) {
    const float *vj = v + j * ldv;
    const __m256 v0 = full ? _mm256_loadu_ps(vj) : _mm256_maskload_ps(vj, m0);
    const __m256 v1 = full ? _mm256_loadu_ps(vj + 8) : _mm256_maskload_ps(vj + 8, m1);
#define PV_ROW(i)                                                                                            \
  if (mr > i) {                                                                                              \
    const __m256 pi = _mm256_broadcast_ss(p + i * ldp + j);                                                  \
    a##i##0 = _mm256_fmadd_ps(pi, v0, a##i##0);                                                              \
    a##i##1 = _mm256_fmadd_ps(pi, v1, a##i##1);                                                              \
  }
    AVX2_FOR_ROWS(PV_ROW)
#undef PV_ROW
  }
#define STORE_ROW(i)                                                                                         \
  if (mr > i) {                                                                                              \
    _mm256_store_ps(o + i * ldo, a##i##0);                                                                   \
    _mm256_store_ps(o + i * ldo + 8, a##i##1);                                                               \
  }
  AVX2_FOR_ROWS(STORE_ROW)
#undef STORE_ROW
}

void avx2_pv_6x16(int64_t nk, const float *p, int64_t ldp, const float *v, int64_t ldv, float *o, int64_t ldo,
                  const float *alpha) {
  pv_tile(6, 1, 16, nk, p, ldp, v, ldv, o, ldo, alpha);
}

#define PV_EDGE(MR)                                                                                          \
  case MR:                                                                                                   \
    if (nc == 16)                                                                                            \
      pv_tile(MR, 1, 16, nk, p, ldp, v, ldv, o, ldo, alpha);                                                 \
    else                                                                                                     \
      pv_tile(MR, 0, nc, nk, p, ldp, v, ldv, o, ldo, alpha);                                                 \
    break;

void avx2_pv_mxn(int64_t mr, int64_t nc, int64_t nk, const float *p, int64_t ldp, const float *v, int64_t ldv,
                 float *o, int64_t ldo, const float *alpha) {
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

void avx2_softmax_block(int64_t rows, int64_t nkp, float *s, int64_t lds, const int64_t *cnt, float *m,
                        float *l, float *alpha) {
  for (int64_t r = 0; r < rows; r++) {
    float *sr = s + r * lds;
    const int64_t c = cnt ? cnt[r] : nkp;
    if (c <= 0) {
      /* Nothing visible yet may mean m == -inf: exp2(s - m) would be NaN. */
      for (int64_t j = 0; j < nkp; j += 8) _mm256_store_ps(sr + j, _mm256_setzero_ps());
      alpha[r] = 1;
      continue;
    }
    for (int64_t j = c; j < nkp; j++) sr[j] = -INFINITY;
    __m256 mx0 = _mm256_load_ps(sr), mx1 = _mm256_load_ps(sr + 8);
    for (int64_t j = 16; j < nkp; j += 16) {
      mx0 = _mm256_max_ps(mx0, _mm256_load_ps(sr + j));
      mx1 = _mm256_max_ps(mx1, _mm256_load_ps(sr + j + 8));
    }
    const float mold = m[r], bmax = hmax8(_mm256_max_ps(mx0, mx1));
    const float mnew = bmax > mold ? bmax : mold;
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
