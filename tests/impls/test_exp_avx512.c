/* avx512_exp2_u1 (impls/avx512/avx512_exp.h) against exp2 in double, lane by
 * lane: the relative bound it states wherever 2^x is a normal float, at most
 * one subnormal step of absolute error below that and exactly +0 far below
 * (masked scores are -inf), inf at overflow, NaN only from NaN. The
 * evaluation is AVX-512 code in exp_avx512_eval.c; this file is baseline code
 * so that it can skip on CPUs without AVX-512. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attnbench/attn.h"
#include "attnbench/cpu.h"
#include "attnbench/problem.h"
#include "exp_avx512_eval.h"
#include "lane_verdict.h"

/* What avx512_exp.h promises for input x, given output y; *rel is the
 * relative error where the bound applies. */
static int acceptable(float x, float y, double bound, double *rel) {
  *rel = 0;
  if (isnan(x)) return isnan(y);
  if (isnan(y) || y < 0) return 0;
  const double ref = exp2((double)x);
  if (ref > FLT_MAX) return isinf(y);
  if (isinf(y)) return 0;
  if (ref >= FLT_MIN) {
    *rel = fabs((double)y / ref - 1);
    return *rel <= bound;
  }
  /* Subnormal results: within one subnormal step, and +0 once 2^x is below
   * a quarter of the smallest subnormal. */
  if (ref < 0x1p-151) return y == 0 && !signbit(y);
  return fabs((double)y - ref) <= 0x1p-149;
}

/* Every stride-th bit pattern from lo to hi inclusive (as uint32). */
static void sweep_bits(uint32_t lo, uint32_t hi, uint32_t stride, verdict *v) {
  lane_sweep_bits(exp_avx512_eval, acceptable, lo, hi, stride, exp_avx512_stated_bound, v);
}

static void report(const char *what, const verdict *v) {
  cr_log_info("%s: %llu inputs, max rel err %.4g (%.3f * 2^-23) at x = %.20g", what,
              (unsigned long long)v->checked, v->max_rel, v->max_rel / 0x1p-23, (double)v->worst_x);
  cr_expect_eq(v->bad, 0, "%s: %llu inputs break the stated bound; first x = %.20g gave %.20g (2^x = %.20g)",
               what, (unsigned long long)v->bad, (double)v->bad_x, (double)v->bad_y, exp2((double)v->bad_x));
}

static void require_avx512(void) {
  if (!attn_cpu_has_avx512()) cr_skip_test("this CPU or OS lacks AVX-512 F/BW/VL/DQ");
}

/* Every input reduces to f = x - rint(x) in [-0.5, 0.5] exactly and the
 * scaling by 2^rint(x) is exact in the normal range, so this interval holds
 * the whole relative error; it peaks near |x| = 0.49. Every float with
 * 1/4 <= |x| <= 1/2 is checked, every 61st below. */
Test(exp_avx512, reduced_range_meets_bound) {
  require_avx512();
  verdict v = {0};
  for (int sign = 0; sign < 2; sign++) {
    const uint32_t s = sign ? 0x80000000u : 0;
    sweep_bits(s | lane_bits_of(0.25f), s | lane_bits_of(0.5f), 1, &v);
    sweep_bits(s, s | lane_bits_of(0.25f), 61, &v);
  }
  report("x in [-0.5, 0.5]", &v);
  cr_expect_leq(v.max_rel, exp_avx512_stated_bound);
}

/* The whole float range by bit pattern, both signs: NaNs, infinities,
 * overflow, the normal range and underflow. */
Test(exp_avx512, whole_float_range) {
  require_avx512();
  verdict v = {0};
  sweep_bits(0, 0xffffffffu, 97, &v);
  report("every 97th float", &v);
}

/* Densely across the subnormal results and on to +0; then the masked-score
 * and extreme inputs the kernels meet. */
Test(exp_avx512, underflow_to_zero) {
  require_avx512();
  verdict v = {0};
  sweep_bits(lane_bits_of(-125.0f), lane_bits_of(-152.0f), 1, &v);
  sweep_bits(lane_bits_of(-152.0f), lane_bits_of(-FLT_MAX), 251, &v);
  report("x in [-FLT_MAX, -125]", &v);
  float x[8] = {-INFINITY, -FLT_MAX, -1e30f, -200, -160, -151, -150.5f, -1000}, y[8];
  exp_avx512_eval(x, y, 8);
  for (int i = 0; i < 8; i++) cr_expect(y[i] == 0 && !signbit(y[i]), "exp2(%g) = %g, not +0", x[i], y[i]);
}

/* Integers give exact powers of two, subnormal ones included; 2^0 == 1, so
 * an unchanged running maximum rescales by exactly 1. */
Test(exp_avx512, integers_exact) {
  require_avx512();
  float x[277], y[277];
  for (int i = 0; i < 277; i++) x[i] = (float)(i - 149);
  exp_avx512_eval(x, y, 277);
  for (int i = 0; i < 277; i++)
    cr_expect(y[i] == ldexpf(1, (int)x[i]), "exp2(%g) = %.9g, not 2^%g", x[i], y[i], x[i]);
  cr_expect(y[149] == 1.0f);
}

Test(exp_avx512, special_values) {
  require_avx512();
  float x[6] = {INFINITY, 128, FLT_MAX, -0.0f, NAN, -NAN}, y[6];
  exp_avx512_eval(x, y, 6);
  cr_expect(isinf(y[0]) && y[0] > 0 && isinf(y[1]) && isinf(y[2]), "overflow gives +inf");
  cr_expect(y[3] == 1.0f);
  cr_expect(isnan(y[4]) && isnan(y[5]), "NaN in, NaN out");
}

/* The comparison has teeth: outputs off by twice the bound, a subnormal
 * left unflushed far below, or a NaN from a number all fail it. */
Test(exp_avx512, checker_rejects_a_worse_exp) {
  double rel;
  const double b = exp_avx512_stated_bound;
  cr_expect(!acceptable(0.25f, (float)(exp2(0.25) * (1 + 2 * b)), b, &rel));
  cr_expect(!acceptable(-0.49f, (float)(exp2(-0.49) * (1 - 2 * b)), b, &rel));
  cr_expect(!acceptable(-155.0f, 0x1p-149f, b, &rel));
  cr_expect(!acceptable(-INFINITY, NAN, b, &rel));
  cr_expect(!acceptable(-1.0f, NAN, b, &rel));
  cr_expect(acceptable(0.25f, (float)exp2(0.25), b, &rel));
}

/* The backend declares at least the bound verified here, and takes problems
 * of any shape. */
Test(exp_avx512, backend_declares_the_bound) {
  const attn_backend *be = NULL;
  for (size_t i = 0; i < attn_backend_count(); i++)
    if (!strcmp(attn_backend_get(i)->name, "avx512")) be = attn_backend_get(i);
  cr_assert_not_null(be, "the avx512 backend is not compiled in");
  cr_expect_geq(be->accuracy.exp_rel_err, exp_avx512_stated_bound);
  cr_expect_gt(be->accuracy.key_block, 0);
  attn_problem p;
  char err[256];
  cr_assert_eq(attn_problem_parse("b=3,h=6,hkv=2,lq=7,lk=13,d=3,dv=5,mask=causal", &p, err, sizeof err),
               ATTN_OK);
  cr_expect_eq(be->supports(&p, err, sizeof err), ATTN_OK);
}
