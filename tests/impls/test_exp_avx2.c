/* avx2_exp2_u3 (impls/avx2/exp2_avx2.h) against exp2 in double, lane by
 * lane: its stated relative bound over the normal range, its underflow to
 * exactly 0 (masked scores are -inf), NaN for NaN, and no NaN or Inf for any
 * other input. The evaluation is AVX2 code in exp_avx2_eval.c; this file is
 * baseline code so that it can skip on CPUs without AVX2. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attnbench/attn.h"
#include "attnbench/cpu.h"
#include "attnbench/problem.h"
#include "exp_avx2_eval.h"
#include "lane_verdict.h"

/* What exp2_avx2.h promises for one input, given its output. */
static int acceptable(float x, float y, double bound, double *rel) {
  *rel = 0;
  /* NaN in, NaN out: a NaN score must reach its output row (reference/README.md). */
  if (isnan(x)) return isnan(y);
  if (isnan(y) || isinf(y) || y < 0) return 0;
  if (x > 127) return y == 0x1p127f;
  const double ref = exp2((double)x);
  if (x >= -126) {
    *rel = fabs((double)y / ref - 1);
    return *rel <= bound;
  }
  if (x >= -126.5f) return fabs((double)y - ref) <= 0x1p-149 + 0x1p-126 * bound;
  return y == 0;
}

/* Every stride-th bit pattern in [lo, hi] (inclusive, as uint32). */
static void sweep_bits(uint32_t lo, uint32_t hi, uint32_t stride, double bound, verdict *v) {
  lane_sweep_bits(exp_avx2_eval, acceptable, lo, hi, stride, bound, v);
}

static void report(const char *what, const verdict *v) {
  cr_log_info("%s: %llu inputs, max rel err %.4g = %.3f * 2^-24 at x = %.20g", what,
              (unsigned long long)v->checked, v->max_rel, v->max_rel / 0x1p-24, (double)v->worst_x);
  cr_expect_eq(v->bad, 0,
               "%s: %llu inputs violate the stated bound; first x = %.20g gave %.20g (2^x = %.20g)", what,
               (unsigned long long)v->bad, (double)v->bad_x, (double)v->bad_y, exp2((double)v->bad_x));
}

static void require_avx2(void) {
  if (!attn_cpu_has_avx2()) cr_skip_test("this CPU or OS lacks AVX2/FMA");
}

/* Every input reduces to f = x - rint(x) in [-0.5, 0.5] and the scaling by
 * 2^rint(x) is exact, so this range carries the whole relative error. All
 * floats with |f| >= 2^-12 are checked (the error peaks near |f| = 0.5),
 * every 61st below. */
Test(exp_avx2, reduced_range_meets_bound) {
  require_avx2();
  verdict v = {0};
  const double bound = exp_avx2_stated_bound;
  for (int sign = 0; sign < 2; sign++) {
    const uint32_t s = sign ? 0x80000000u : 0;
    sweep_bits(s | lane_bits_of(0x1p-12f), s | lane_bits_of(0.5f), 1, bound, &v);
    sweep_bits(s, s | lane_bits_of(0x1p-12f), 61, bound, &v);
  }
  report("f in [-0.5, 0.5]", &v);
  cr_expect_leq(v.max_rel, bound);
}

/* The whole float range by bit pattern, both signs: NaNs, infinities,
 * overflow clamps, the normal range and underflow. */
Test(exp_avx2, whole_float_range) {
  require_avx2();
  verdict v = {0};
  sweep_bits(0, 0xffffffffu, 97, exp_avx2_stated_bound, &v);
  report("every 97th float", &v);
}

/* Densely where the result leaves the normal range and flushes to 0. */
Test(exp_avx2, underflow_to_zero) {
  require_avx2();
  verdict v = {0};
  sweep_bits(lane_bits_of(-125.0f), lane_bits_of(-128.0f), 1, exp_avx2_stated_bound, &v);
  sweep_bits(lane_bits_of(-128.0f), lane_bits_of(-1e30f), 251, exp_avx2_stated_bound, &v);
  report("x in [-1e30, -125]", &v);
  float x[8] = {-INFINITY, -126.5000153f, -127, -150, -1e38f, -FLT_MAX, -126.75f, -200}, y[8];
  exp_avx2_eval(x, y, 8);
  for (int i = 0; i < 8; i++) cr_expect(y[i] == 0 && !signbit(y[i]), "exp2(%g) = %g, not +0", x[i], y[i]);
}

/* Powers of two are exact, and 2^0 == 1: an unchanged running max must
 * rescale the accumulator by exactly 1. */
Test(exp_avx2, integers_exact) {
  require_avx2();
  float x[256], y[256];
  for (int i = 0; i < 256; i++) x[i] = (float)(i - 126 < 128 ? i - 126 : 127);
  exp_avx2_eval(x, y, 256);
  for (int i = 0; i < 256; i++)
    cr_expect(y[i] == ldexpf(1, (int)x[i]), "exp2(%g) = %.9g, not 2^%g", x[i], y[i], x[i]);
  cr_expect(y[126] == 1.0f);
}

/* The comparison has teeth: an output off by twice the bound fails it. */
Test(exp_avx2, checker_rejects_a_worse_exp) {
  double rel;
  cr_expect(
      !acceptable(0.25f, (float)(exp2(0.25) * (1 + 2 * exp_avx2_stated_bound)), exp_avx2_stated_bound, &rel));
  cr_expect(!acceptable(-130.0f, 0x1p-130f, exp_avx2_stated_bound, &rel));
  cr_expect(!acceptable(-1.0f, NAN, exp_avx2_stated_bound, &rel));
  cr_expect(!acceptable(NAN, 0.0f, exp_avx2_stated_bound, &rel));
  cr_expect(acceptable(0.25f, (float)exp2(0.25), exp_avx2_stated_bound, &rel));
}

/* The backend declares at least the bound that this file verifies, and
 * takes problems of any shape. */
Test(exp_avx2, backend_declares_the_bound) {
  const attn_backend *be = NULL;
  for (size_t i = 0; i < attn_backend_count(); i++)
    if (!strcmp(attn_backend_get(i)->name, "avx2")) be = attn_backend_get(i);
  cr_assert_not_null(be, "the avx2 backend is not compiled in");
  cr_expect_geq(be->accuracy.exp_rel_err, exp_avx2_stated_bound);
  cr_expect_gt(be->accuracy.key_block, 0);
  attn_problem p;
  char err[256];
  cr_assert_eq(attn_problem_parse("b=3,h=6,hkv=2,lq=7,lk=13,d=3,dv=5,mask=causal", &p, err, sizeof err),
               ATTN_OK);
  cr_expect_eq(be->supports(&p, err, sizeof err), ATTN_OK);
}
