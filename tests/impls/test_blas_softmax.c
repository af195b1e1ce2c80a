/* The blas backend's softmax (impls/blas/softmax.c), every code path this CPU
 * runs: its exp lane by lane against exp in double, within the bound the
 * backend declares (BLAS_EXPF_U10_REL_ERR), and whole masked rows against a
 * double-precision softmax. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blas/softmax.h"
#include "lane_verdict.h"

#define CHUNK 4096

/* What softmax.h promises for input x <= 0 (or NaN), given output y. */
static int acceptable(float x, float y, double *rel) {
  *rel = 0;
  if (isnan(x)) return isnan(y);
  if (isnan(y) || y < 0) return 0;
  const double ref = exp((double)x);
  if (ref >= FLT_MIN) {
    *rel = fabs((double)y / ref - 1);
    return *rel <= BLAS_EXPF_U10_REL_ERR;
  }
  return fabs((double)y - ref) <= 0x1p-126; /* may be flushed to zero */
}

static void judge(const float *x, const float *y, size_t n, verdict *v) {
  for (size_t i = 0; i < n; i++) {
    double rel;
    const int ok = acceptable(x[i], y[i], &rel);
    verdict_add(v, x[i], y[i], ok, rel);
  }
}

/* Every stride-th bit pattern in [lo, hi] through impl's vectorised exp. */
static void sweep(const blas_softmax_impl *im, uint32_t lo, uint32_t hi, uint32_t stride, verdict *v) {
  float x[CHUNK], y[CHUNK];
  size_t n = 0;
  for (uint64_t u = lo; u <= hi; u += stride) {
    x[n++] = from_bits((uint32_t)u);
    if (n == CHUNK) {
      im->exp(x, y, (int64_t)n);
      judge(x, y, n, v);
      n = 0;
    }
  }
  im->exp(x, y, (int64_t)n);
  judge(x, y, n, v);
}

static void report(const char *isa, const verdict *v) {
  cr_expect(v->bad == 0, "%s: %llu of %llu inputs out of bound, first x=%.20g y=%.20g (exp=%.20g)", isa,
            (unsigned long long)v->bad, (unsigned long long)v->checked, (double)v->bad_x, (double)v->bad_y,
            exp((double)v->bad_x));
  cr_log_info("%s: %llu inputs, max rel err %.4g = %.3f * 2^-23 at x=%.20g", isa,
              (unsigned long long)v->checked, v->max_rel, v->max_rel / 0x1p-23, (double)v->worst_x);
}

Test(blas_softmax, exp_within_bound_on_every_code_path) {
  int ran = 0;
  for (size_t i = 0; i < blas_softmax_nimpls; i++) {
    const blas_softmax_impl *im = &blas_softmax_impls[i];
    if (!im->usable()) continue;
    ran++;
    verdict v = {0};
    /* -0 .. -88.5 (sign bit set: larger patterns are more negative), every
     * 61st float; and every float around the flush-to-zero edge. */
    sweep(im, 0x80000000u, 0xc2b10000u, 61, &v);
    sweep(im, 0xc2ae0000u, 0xc2b00100u, 1, &v);
    /* Special inputs the softmax can see. */
    const float special[] = {-0.0f, 0.0f, -INFINITY, -FLT_MAX, -FLT_MIN, NAN, -NAN, -88.0f, -87.33654f};
    float y[sizeof special / sizeof special[0]];
    const size_t ns = sizeof special / sizeof special[0];
    im->exp(special, y, (int64_t)ns);
    judge(special, y, ns, &v);
    cr_expect(y[2] == 0 && y[3] == 0, "%s: exp(-inf)=%g exp(-FLT_MAX)=%g, want 0", im->isa, (double)y[2],
              (double)y[3]);
    cr_expect(y[0] == 1 && y[1] == 1, "%s: exp(+-0) = %.20g, %.20g", im->isa, (double)y[0], (double)y[1]);
    report(im->isa, &v);
  }
  cr_expect(ran >= 1, "no usable code path");
}

/* The judge is not vacuous: an exp off by 2^-22 relative fails it. */
Test(blas_softmax, judge_rejects_a_two_ulp_exp) {
  float x[CHUNK], y[CHUNK];
  for (int i = 0; i < CHUNK; i++) x[i] = -(float)i / 64.0f;
  blas_softmax_best()->exp(x, y, CHUNK);
  for (int i = 0; i < CHUNK; i++) y[i] *= 1.0f + 0x1p-22f;
  verdict v = {0};
  judge(x, y, CHUNK, &v);
  cr_expect(v.bad > CHUNK / 2, "a 2^-22 relative error went unnoticed (%llu bad)", (unsigned long long)v.bad);
}

/* Masked rows against softmax in double: weights w_j * inv = a_j within a
 * few units of 2^-23 relative to the largest weight, exact zeros beyond each
 * row's end, inv = 0 for an empty row. */
Test(blas_softmax, rows_match_double_softmax) {
  enum { ROWS = 7, N = 301 };
  static const int64_t ends[ROWS] = {0, 1, 2, 17, 150, 300, 301};
  uint64_t state = 12345;
  float src[ROWS * N];
  for (int i = 0; i < ROWS * N; i++) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    src[i] = (float)((double)(state >> 40) / (double)(1ull << 24) * 40.0 - 20.0); /* [-20, 20) */
  }
  for (size_t k = 0; k < blas_softmax_nimpls; k++) {
    const blas_softmax_impl *im = &blas_softmax_impls[k];
    if (!im->usable()) continue;
    float s[ROWS * N], inv[ROWS];
    memcpy(s, src, sizeof s);
    im->rows(s, ROWS, N, ends, inv);
    for (int r = 0; r < ROWS; r++) {
      const float *in = src + r * N, *w = s + r * N;
      double m = -INFINITY, z = 0;
      for (int64_t j = 0; j < ends[r]; j++) m = fmax(m, in[j]);
      for (int64_t j = 0; j < ends[r]; j++) z += exp((double)in[j] - m);
      if (ends[r] == 0) cr_expect(inv[r] == 0, "%s: row %d has no key, inv=%g", im->isa, r, (double)inv[r]);
      for (int64_t j = 0; j < N; j++) {
        if (j >= ends[r]) {
          cr_expect(w[j] == 0, "%s: row %d key %lld is masked but has weight %g", im->isa, r, (long long)j,
                    (double)w[j]);
          continue;
        }
        const double want = exp((double)in[j] - m) / z, got = (double)w[j] * inv[r];
        /* exp, the subtraction s - m (|s - m| <= 40: 40 * 2^-24 relative of
         * the argument), the sum of up to 301 terms, the reciprocal, the product. */
        const double bound = (BLAS_EXPF_U10_REL_ERR + 40 * 0x1p-24 + 301 * 0x1p-24 + 3 * 0x1p-24) * want;
        cr_expect(fabs(got - want) <= bound, "%s: row %d key %lld: got %.20g want %.20g", im->isa, r,
                  (long long)j, got, want);
      }
    }
  }
}
