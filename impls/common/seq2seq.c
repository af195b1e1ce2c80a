#include "common/seq2seq.h"

#include <math.h>

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

void attn_transpose(const float *src, float *dst, int64_t rows, int64_t cols) {
  enum { TILE = 32 }; /* a tile's source and destination rows stay in L1 */
  for (int64_t r0 = 0; r0 < rows; r0 += TILE)
    for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
      const int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows, c1 = c0 + TILE < cols ? c0 + TILE : cols;
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
    }
}
