/* AVX2 + FMA instances of common/seq2seq.h's local-p routines: glibc's tanhf
 * and expf per element made local-p slower than soft attention in the
 * backends that share these helpers (blas, onednn). Compiled with -mavx2
 * -mfma (impls/CMakeLists.txt) and called only after attn_cpu_has_avx2(). */
#include "common/seq2seq_avx2.h"

#include "common/seq2seq.h"

#include <immintrin.h>
#include <math.h>

#include "avx2/exp2_avx2.h" /* avx2_exp2_u3 */
#include "avx2/tanh_avx2.h" /* avx2_tanh_a3 */

/* Lanes [0, n) of a vector set, n in [0, 8]: a maskload/maskstore mask. */
static inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hsum8(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

void attn_local_p_centres_avx2(const float *proj, const float *vp, int64_t r0, int64_t r1, int64_t da,
                               int64_t lk, float *centres) {
  /* Lanes past da load zeros: tanh(0) * 0 adds nothing. */
  const __m256i tail = first_lanes(da % 8);
  const int64_t full = da - da % 8;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = proj + r * da;
    __m256 z = _mm256_setzero_ps();
    for (int64_t a = 0; a < full; a += 8)
      z = _mm256_fmadd_ps(_mm256_loadu_ps(vp + a), avx2_tanh_a3(_mm256_loadu_ps(x + a)), z);
    if (full < da)
      z = _mm256_fmadd_ps(_mm256_maskload_ps(vp + full, tail),
                          avx2_tanh_a3(_mm256_maskload_ps(x + full, tail)), z);
    /* One expf per row: not worth a vector sigmoid. */
    centres[r] = (float)lk / (1.0f + expf(-hsum8(z)));
  }
}

float attn_exp2_shifted_avx2(float *s, int64_t n, float m) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 sum = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = avx2_exp2_u3(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    _mm256_storeu_ps(s + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (j < n) {
    /* Lanes past n would hold 2^-m: keep them out of the sum and the row. */
    const __m256i tail = first_lanes(n - j);
    const __m256 e = _mm256_and_ps(avx2_exp2_u3(_mm256_sub_ps(_mm256_maskload_ps(s + j, tail), vm)),
                                   _mm256_castsi256_ps(tail));
    _mm256_maskstore_ps(s + j, tail, e);
    sum = _mm256_add_ps(sum, e);
  }
  return hsum8(sum);
}

void attn_local_p_gauss_row_avx2(float *w, int64_t n, int64_t key0, float c, float k2) {
  const __m256 step = _mm256_set1_ps(8.0f), k = _mm256_set1_ps(k2), vc = _mm256_set1_ps(c);
  /* Key indices below 2^24 are exact in float: t = j - c is one rounding,
   * as in the scalar attn_local_p_gauss. */
  __m256 keys = _mm256_add_ps(_mm256_set1_ps((float)key0), _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7));
  for (int64_t j = 0; j < n; j += 8) {
    const __m256i lanes = first_lanes(n - j < 8 ? n - j : 8);
    const __m256 t = _mm256_sub_ps(keys, vc);
    const __m256 g = avx2_exp2_u3(_mm256_mul_ps(_mm256_mul_ps(t, t), k));
    _mm256_maskstore_ps(w + j, lanes, _mm256_mul_ps(_mm256_maskload_ps(w + j, lanes), g));
    keys = _mm256_add_ps(keys, step);
  }
}

static inline __m256i ordered8(__m256 x) {
  const __m256i b = _mm256_castps_si256(x);
  return _mm256_xor_si256(b, _mm256_and_si256(_mm256_srai_epi32(b, 31), _mm256_set1_epi32(0x7fffffff)));
}

int32_t attn_row_max_ordered_avx2(const float *s, int32_t n) {
  __m256i m0 = _mm256_set1_epi32(INT32_MIN), m1 = m0;
  int32_t j = 0;
  for (; j + 16 <= n; j += 16) { /* two chains: max latency, not throughput, bounds one */
    m0 = _mm256_max_epi32(m0, ordered8(_mm256_loadu_ps(s + j)));
    m1 = _mm256_max_epi32(m1, ordered8(_mm256_loadu_ps(s + j + 8)));
  }
  for (; j + 8 <= n; j += 8) m0 = _mm256_max_epi32(m0, ordered8(_mm256_loadu_ps(s + j)));
  int32_t lane[8], m = INT32_MIN;
  _mm256_storeu_si256((__m256i *)lane, _mm256_max_epi32(m0, m1));
  for (int l = 0; l < 8; l++) m = lane[l] > m ? lane[l] : m;
  for (; j < n; j++) {
    const int32_t b = attn_float_ordered(s[j]);
    m = b > m ? b : m;
  }
  return m;
}

int32_t attn_count_at_least_ordered_avx2(const float *s, int32_t n, int32_t thr, int32_t *first) {
  if (thr == INT32_MIN) { /* everything is at least the least integer */
    *first = 0;
    return n;
  }
  const __m256i above = _mm256_set1_epi32(thr - 1);
  __m256i cnt = _mm256_setzero_si256();
  int32_t f = n, j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256i ge = _mm256_cmpgt_epi32(ordered8(_mm256_loadu_ps(s + j)), above);
    cnt = _mm256_sub_epi32(cnt, ge);
    if (f == n) {
      const int mask = _mm256_movemask_ps(_mm256_castsi256_ps(ge));
      if (mask) f = j + __builtin_ctz((unsigned)mask);
    }
  }
  int32_t lane[8], count = 0;
  _mm256_storeu_si256((__m256i *)lane, cnt);
  for (int l = 0; l < 8; l++) count += lane[l];
  for (; j < n; j++) {
    const int32_t ge = attn_float_ordered(s[j]) >= thr;
    count += ge;
    if (ge && f == n) f = j;
  }
  *first = f;
  return count;
}
