/* The masked row softmax of the blas backend, in plain C written so that GCC
 * and Clang vectorise it without -ffast-math, instantiated per ISA with
 * target attributes and picked at run time.
 *
 * Why not glibc's expf: it does not vectorise without -ffast-math, and at
 * ~3.3 ns per call it made the softmax as slow as both sgemm calls together
 * (h=16 lq=lk=4096 d=128), so the baseline would mostly measure libm. A whole
 * row pass below (max, exp, sum) costs ~0.3 ns per score with AVX-512 and
 * ~1.5 ns with the baseline's SSE2, hence the per-ISA instances.
 *
 * Why integer masks and an integer max: under the default -ftrapping-math,
 * GCC does not if-convert a select in a loop that also does float arithmetic
 * ("could trap") unless the target has mask registers, and it never turns
 * `a > b ? a : b` on floats into a vector max without -ffinite-math-only;
 * and-or masks and integer max vectorise everywhere. */
#include "blas/softmax.h"

#include <limits.h>
#include <string.h>

#include "attnbench/cpu.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* exp(x) for x <= 0: Cody-Waite reduction x = k ln2 + r with |r| <= ln2/2,
 * then Cephes' degree-6 polynomial for e^r, scaled by 2^k built in the
 * exponent bits. Bound: BLAS_EXPF_U10_REL_ERR (softmax.h). */
static ALWAYS_INLINE float expf_u10(float x) {
  /* Clamp [-inf, -88) to -88 (bit patterns 0xc2b00000 < xb <= 0xff800000)
   * so that k stays in range; NaN, which a non-finite input can make, stays
   * NaN and poisons the row as it should. */
  uint32_t xb;
  memcpy(&xb, &x, sizeof xb);
  const uint32_t below = -(uint32_t)(xb - 0xc2b00001u < 0xff800001u - 0xc2b00001u);
  xb = (xb & ~below) | (0xc2b00000u & below);
  memcpy(&x, &xb, sizeof x);
  /* Round x / ln2 to nearest by adding 1.5 * 2^23: k lands in the low
   * mantissa bits of t (read as an integer: no float-to-int conversion,
   * which would be undefined for a NaN score). */
  const float shifter = 0x1.8p23f;
  const float t = x * 1.44269504f + shifter;
  uint32_t tb;
  memcpy(&tb, &t, sizeof tb);
  const int32_t k = (int32_t)(tb - 0x4b400000u);
  const float kf = t - shifter;
  /* ln2 split so that kf * 0.693359375 is exact: 9 significant bits times
   * |k| <= 127. */
  float r = x - kf * 0.693359375f;
  r = r - kf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  /* 2^k for k >= -126 (a normal float); k = -127 only happens below
   * exp(-87.3) < 2^-126, which the tolerance model lets us flush to zero. */
  uint32_t bits = ((uint32_t)k + 127u) << 23;
  bits &= -(uint32_t)(k >= -126);
  float two_k;
  memcpy(&two_k, &bits, sizeof two_k);
  return p * two_k;
}

/* The exact maximum of s[0, n), n >= 1: the float bit patterns mapped to
 * integers of the same order (negative floats have their magnitude bits
 * flipped), reduced with an integer max, mapped back. */
static ALWAYS_INLINE float row_max(const float *s, int64_t n) {
  int32_t m = INT32_MIN;
  for (int64_t j = 0; j < n; j++) {
    int32_t b;
    memcpy(&b, s + j, sizeof b);
    b ^= -(int32_t)((uint32_t)b >> 31) & 0x7fffffff;
    m = b > m ? b : m;
  }
  m ^= -(int32_t)((uint32_t)m >> 31) & 0x7fffffff;
  float f;
  memcpy(&f, &m, sizeof f);
  return f;
}

/* s[j] = exp(s[j] - m) in place; returns the sum, kept in 16 lanes so that
 * the loop vectorises without reassociating a single accumulator. */
static ALWAYS_INLINE float row_exp_sum(float *s, int64_t n, float m) {
  float acc[16] = {0};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int l = 0; l < 16; l++) {
      const float e = expf_u10(s[j + l] - m);
      s[j + l] = e;
      acc[l] += e;
    }
  float z = 0;
  for (; j < n; j++) {
    const float e = expf_u10(s[j] - m);
    s[j] = e;
    z += e;
  }
  for (int l = 0; l < 16; l++) z += acc[l];
  return z;
}

static ALWAYS_INLINE void band_body(float *s, int64_t rows, int64_t n, const int64_t *starts,
                                    const int64_t *ends, float *inv) {
  for (int64_t r = 0; r < rows; r++) {
    float *row = s + r * n;
    const int64_t start = starts ? starts[r] : 0, end = ends[r] > start ? ends[r] : start;
    if (end > start) {
      /* z >= 1: the maximum contributes exp(0). */
      inv[r] = 1.0f / row_exp_sum(row + start, end - start, row_max(row + start, end - start));
    } else {
      inv[r] = 0;
    }
    /* Keys this row may not see: only the chunk's diagonal block (and a
     * local-m band's edges) has any. */
    if (start > 0) memset(row, 0, (size_t)start * sizeof *row);
    if (end < n) memset(row + end, 0, (size_t)(n - end) * sizeof *row);
  }
}

static ALWAYS_INLINE void rows_body(float *s, int64_t rows, int64_t n, const int64_t *ends, float *inv) {
  band_body(s, rows, n, NULL, ends, inv);
}

/* The maximum by row_max's vectorised pass, then the first key equal to it
 * (as a float: -0 ties with +0, like any other equal scores). */
static ALWAYS_INLINE void argmax_body(const float *s, int64_t rows, int64_t n, const int64_t *starts,
                                      const int64_t *ends, int64_t *idx) {
  for (int64_t r = 0; r < rows; r++) {
    const float *row = s + r * n;
    const int64_t start = starts ? starts[r] : 0, end = ends[r];
    idx[r] = -1;
    if (end <= start) continue;
    const float m = row_max(row + start, end - start);
    int64_t j = start;
    while (j < end - 1 && !(row[j] == m)) j++;
    idx[r] = j;
  }
}

static ALWAYS_INLINE void exp_body(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = expf_u10(x[i]);
}

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define AVX2   __attribute__((target("avx2,fma")))

/* One instance of every body per ISA. */
#define INSTANCES(isa, attr)                                                                                 \
  attr static void rows_##isa(float *s, int64_t rows, int64_t n, const int64_t *ends, float *inv) {          \
    rows_body(s, rows, n, ends, inv);                                                                        \
  }                                                                                                          \
  attr static void band_##isa(float *s, int64_t rows, int64_t n, const int64_t *starts, const int64_t *ends, \
                              float *inv) {                                                                  \
    band_body(s, rows, n, starts, ends, inv);                                                                \
  }                                                                                                          \
  attr static void argmax_##isa(const float *s, int64_t rows, int64_t n, const int64_t *starts,              \
                                const int64_t *ends, int64_t *idx) {                                         \
    argmax_body(s, rows, n, starts, ends, idx);                                                              \
  }                                                                                                          \
  attr static void exp_##isa(const float *x, float *y, int64_t n) { exp_body(x, y, n); }

INSTANCES(avx512, AVX512)
INSTANCES(avx2, AVX2)
INSTANCES(generic, )

static int always(void) { return 1; }

#define ENTRY(name, test)                                                                                    \
  {                                                                                                          \
    .isa = #name, .usable = test, .rows = rows_##name, .band = band_##name, .argmax = argmax_##name,         \
    .exp = exp_##name                                                                                        \
  }
const blas_softmax_impl blas_softmax_impls[] = {
    ENTRY(avx512, attn_cpu_has_avx512),
    ENTRY(avx2, attn_cpu_has_avx2),
    ENTRY(generic, always),
};
#undef ENTRY
const size_t blas_softmax_nimpls = sizeof blas_softmax_impls / sizeof blas_softmax_impls[0];

const blas_softmax_impl *blas_softmax_best(void) {
  for (size_t i = 0; i < blas_softmax_nimpls; i++)
    if (blas_softmax_impls[i].usable()) return &blas_softmax_impls[i];
  return &blas_softmax_impls[blas_softmax_nimpls - 1];
}
