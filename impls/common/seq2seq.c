#include "common/seq2seq.h"

#include <math.h>

#include "attnbench/cpu.h"
#include "common/seq2seq_avx2.h"

void attn_normalize_rows(const float *x, float *y, int64_t r0, int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * d;
    float *yr = y + r * d;
    float ss = 0;
    for (int64_t c = 0; c < d; c++) ss += xr[c] * xr[c];
    const float inv = ss > 0 ? 1.0f / sqrtf(ss) : 0.0f;
    for (int64_t c = 0; c < d; c++) yr[c] = xr[c] * inv;
  }
}

void attn_local_p_centres(const float *proj, const float *vp, int64_t r0, int64_t r1, int64_t da, int64_t lk,
                          float *centres) {
  if (attn_cpu_has_avx2()) {
    attn_local_p_centres_avx2(proj, vp, r0, r1, da, lk, centres);
    return;
  }
  for (int64_t r = r0; r < r1; r++) {
    float z = 0;
    for (int64_t a = 0; a < da; a++) z += vp[a] * tanhf(proj[r * da + a]);
    centres[r] = (float)lk / (1.0f + expf(-z));
  }
}

float attn_local_p_gauss(int64_t j, float c, int64_t window) {
  const float x = ((float)j - c) / (float)window;
  return expf(-2.0f * x * x);
}

float attn_exp2_shifted(float *s, int64_t n, float m) {
  if (attn_cpu_has_avx2()) return attn_exp2_shifted_avx2(s, n, m);
  float z = 0;
  for (int64_t j = 0; j < n; j++) z += s[j] = exp2f(s[j] - m);
  return z;
}

void attn_local_p_gauss_row(float *w, int64_t n, int64_t key0, float c, int64_t window) {
  if (attn_cpu_has_avx2() && key0 + n <= ((int64_t)1 << 24)) {
    attn_local_p_gauss_row_avx2(w, n, key0, c,
                                (float)(-2 * 1.4426950408889634074 / ((double)window * (double)window)));
    return;
  }
  for (int64_t j = 0; j < n; j++) w[j] *= attn_local_p_gauss(key0 + j, c, window);
}

int32_t attn_row_max_ordered(const float *s, int32_t n) {
  if (attn_cpu_has_avx2()) return attn_row_max_ordered_avx2(s, n);
  int32_t m = INT32_MIN;
  for (int32_t j = 0; j < n; j++) {
    const int32_t b = attn_float_ordered(s[j]);
    m = b > m ? b : m;
  }
  return m;
}

int32_t attn_count_at_least_ordered(const float *s, int32_t n, int32_t thr, int32_t *first) {
  if (attn_cpu_has_avx2()) return attn_count_at_least_ordered_avx2(s, n, thr, first);
  int32_t count = 0, f = n;
  for (int32_t j = 0; j < n; j++) {
    const int32_t ge = attn_float_ordered(s[j]) >= thr, at = ge ? j : n;
    count += ge;
    f = at < f ? at : f;
  }
  *first = f;
  return count;
}

float attn_dot8(const float *a, const float *b, int64_t n) {
  float acc[8] = {0};
  int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int l = 0; l < 8; l++) acc[l] += a[c + l] * b[c + l];
  float z = 0;
  for (; c < n; c++) z += a[c] * b[c];
  for (int l = 0; l < 8; l++) z += acc[l];
  return z;
}

double attn_max_row_norm(const float *k, int64_t n, int64_t d) {
  float m = 0;
  for (int64_t j = 0; j < n; j++) {
    const float k2 = attn_dot8(k + j * d, k + j * d, d);
    m = k2 > m ? k2 : m;
  }
  return sqrt((double)m);
}

static double dot_double(const float *a, const float *b, int64_t n) {
  double z = 0;
  for (int64_t c = 0; c < n; c++) z += (double)a[c] * b[c];
  return z;
}

int64_t attn_hard_pick(const float *s, int64_t lo, int64_t hi, float smax, const float *q, const float *k,
                       int64_t d, double scale, double kmax) {
  const double u = 0x1p-24, gamma = (double)(d + 2) * u / (1 - (double)(d + 2) * u);
  const double tol = 2.5 * gamma * fabs(scale) * sqrt((double)attn_dot8(q, q, d)) * kmax + 0x1p-140;
  /* The threshold rounded down to a float, so that no float score above the
   * exact threshold is left out. */
  const double want = (double)smax - tol;
  float thr = (float)want;
  if ((double)thr > want) thr = nextafterf(thr, -INFINITY);
  const int32_t n = (int32_t)(hi - lo);
  int32_t first;
  if (attn_count_at_least_ordered(s + lo, n, attn_float_ordered(thr), &first) <= 1)
    return lo + (first < n ? first : 0);
  int64_t best = lo + first;
  double bestv = -INFINITY;
  for (int64_t j = lo + first; j < hi; j++) {
    if (!(s[j] >= thr)) continue;
    const double e = scale * dot_double(q, k + j * d, d);
    if (e > bestv) bestv = e, best = j;
  }
  return best;
}

void attn_transpose(const float *src, float *dst, int64_t rows, int64_t cols) {
  enum { TILE = 32 }; /* a tile's source and destination rows stay in L1 */
  for (int64_t r0 = 0; r0 < rows; r0 += TILE)
    for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
      const int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows, c1 = c0 + TILE < cols ? c0 + TILE : cols;
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
    }
}
