/* avx512_tanh_a22 (impls/avx512/avx512_tanh.h) against tanh in double, lane
 * by lane: the absolute bound it states for every float (the tolerance model
 * takes tanh's error as absolute, attn_accuracy.tanh_abs_err), results within
 * [-1, 1] with x's sign, exact +-1 for large |x| and +-inf, +-0 kept, NaN
 * only from NaN. The evaluation is AVX-512 code in tanh_avx512_eval.c; this
 * file is baseline code so that it can skip on CPUs without AVX-512. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attnbench/attn.h"
#include "attnbench/cpu.h"
#include "attnbench/problem.h"
#include "lane_verdict.h"
#include "tanh_avx512_eval.h"

/* What avx512_tanh.h promises for input x, given output y; *err is the
 * absolute error against tanh in double. */
static int acceptable(float x, float y, double bound, double *err) {
  *err = 0;
  if (isnan(x)) return isnan(y);
  if (isnan(y) || fabsf(y) > 1) return 0;
  /* Odd symmetry: the sign is x's, zeros included. */
  if (signbit(y) != signbit(x)) return 0;
  if (x == 0) return y == 0;
  if (isinf(x)) return fabsf(y) == 1;
  *err = fabs((double)y - tanh((double)x));
  return *err <= bound;
}

/* Every stride-th bit pattern from lo to hi inclusive (as uint32). */
static void sweep_bits(uint32_t lo, uint32_t hi, uint32_t stride, verdict *v) {
  lane_sweep_bits(tanh_avx512_eval, acceptable, lo, hi, stride, tanh_avx512_stated_bound, v);
}

/* Both signs of sweep_bits over [lo, hi] (non-negative bit patterns). */
static void sweep_both(float lo, float hi, uint32_t stride, verdict *v) {
  sweep_bits(lane_bits_of(lo), lane_bits_of(hi), stride, v);
  sweep_bits(lane_bits_of(-lo), lane_bits_of(-hi), stride, v);
}

static void report(const char *what, const verdict *v) {
  cr_log_info("%s: %llu inputs, max abs err %.4g (%.3f * 2^-24) at x = %.20g", what,
              (unsigned long long)v->checked, v->max_rel, v->max_rel / 0x1p-24, (double)v->worst_x);
  cr_expect_eq(v->bad, 0,
               "%s: %llu inputs break the stated bound; first x = %.20g gave %.20g (tanh(x) = %.20g)", what,
               (unsigned long long)v->bad, (double)v->bad_x, (double)v->bad_y, tanh((double)v->bad_x));
  cr_expect_leq(v->max_rel, tanh_avx512_stated_bound);
}

static void require_avx512(void) {
  if (!attn_cpu_has_avx512()) cr_skip_test("this CPU or OS lacks AVX-512 F/BW/VL/DQ");
}

/* Where the error peaks: the cancellation in 1 - 2 / (e^{2|x|} + 1) towards
 * 0 (the exhaustive maximum, 3.12 * 2^-24, is at |x| = 0.0727) and the
 * steepest part of tanh. Every 7th float of [-1, 1] with |x| >= 2^-30 (about
 * 7.2e7 inputs), and every 101st below. */
Test(tanh_avx512, unit_interval_meets_bound) {
  require_avx512();
  verdict v = {0};
  sweep_both(0x1p-30f, 1.0f, 7, &v);
  sweep_both(0.0f, 0x1p-30f, 101, &v);
  report("x in [-1, 1]", &v);
}

/* On to saturation: every 3rd float with 1 <= |x| <= 20 (tanh rounds to 1
 * from |x| = 9.01; the argument is clamped at |x| = 10.05). */
Test(tanh_avx512, up_to_twenty) {
  require_avx512();
  verdict v = {0};
  sweep_both(1.0f, 20.0f, 3, &v);
  report("1 <= |x| <= 20", &v);
}

/* The whole float range by bit pattern, both signs: NaNs, infinities, large
 * arguments, the normal range and denormals. */
Test(tanh_avx512, whole_float_range) {
  require_avx512();
  verdict v = {0};
  sweep_bits(0, 0xffffffffu, 97, &v);
  report("every 97th float", &v);
}

/* Every denormal of either sign at a stride, and the smallest normals: tanh
 * is x there, and the result is within the bound of it (in fact +-0). */
Test(tanh_avx512, denormals) {
  require_avx512();
  verdict v = {0};
  sweep_bits(1, lane_bits_of(FLT_MIN), 13, &v);
  sweep_bits(0x80000001u, lane_bits_of(-FLT_MIN), 13, &v);
  report("denormals", &v);
}

Test(tanh_avx512, special_values) {
  require_avx512();
  float x[12] = {0.0f,    -0.0f,    INFINITY, -INFINITY, NAN,       -NAN,
                 FLT_MAX, -FLT_MAX, 10.05f,   -30.0f,    0x1p-149f, -0x1p-149f},
        y[12];
  tanh_avx512_eval(x, y, 12);
  cr_expect(y[0] == 0 && !signbit(y[0]), "tanh(+0) = %g, not +0", y[0]);
  cr_expect(y[1] == 0 && signbit(y[1]), "tanh(-0) = %g, not -0", y[1]);
  cr_expect(y[2] == 1 && y[3] == -1, "tanh(+-inf) = %g, %g, not +-1", y[2], y[3]);
  cr_expect(isnan(y[4]) && isnan(y[5]), "NaN in, NaN out");
  cr_expect(y[6] == 1 && y[7] == -1 && y[8] == 1 && y[9] == -1, "saturation gives exactly +-1");
  cr_expect(fabsf(y[10]) <= 0x1p-149f && fabsf(y[11]) <= 0x1p-149f, "tanh of the smallest denormals");
}

/* tanh(-x) == -tanh(x) bit for bit: the magnitude never depends on the sign. */
Test(tanh_avx512, odd_symmetry) {
  require_avx512();
  float x[LANE_CHUNK], nx[LANE_CHUNK], y[LANE_CHUNK], ny[LANE_CHUNK];
  uint64_t broken = 0;
  size_t n = 0;
  for (uint32_t u = 0; u < 0x7f800000u; u += 1009) {
    x[n] = from_bits(u);
    nx[n] = -x[n];
    if (++n < LANE_CHUNK && u + 1009 < 0x7f800000u) continue;
    tanh_avx512_eval(x, y, n);
    tanh_avx512_eval(nx, ny, n);
    for (size_t i = 0; i < n; i++) broken += lane_bits_of(ny[i]) != (lane_bits_of(y[i]) ^ 0x80000000u);
    n = 0;
  }
  cr_expect_eq(broken, 0, "%llu finite inputs break odd symmetry", (unsigned long long)broken);
}

/* The comparison has teeth: outputs off by twice the bound, with the wrong
 * sign or magnitude above 1, a NaN from a number, or a lost zero sign all
 * fail it. */
Test(tanh_avx512, checker_rejects_a_worse_tanh) {
  double err;
  const double b = tanh_avx512_stated_bound;
  cr_expect(!acceptable(0.5f, (float)(tanh(0.5) + 2 * b), b, &err));
  cr_expect(!acceptable(-3e-4f, (float)(tanh(-3e-4) - 2 * b), b, &err));
  cr_expect(!acceptable(1e-30f, -0.0f, b, &err));
  cr_expect(!acceptable(-0.0f, 0.0f, b, &err));
  cr_expect(!acceptable(30.0f, 1.0000001f, b, &err));
  cr_expect(!acceptable(INFINITY, 0.99999994f, b, &err));
  cr_expect(!acceptable(2.0f, NAN, b, &err));
  cr_expect(acceptable(0.5f, (float)tanh(0.5), b, &err));
}

/* The backend declares at least the bound verified here (and libm tanhf's,
 * which the tolerance assumes for 0), and takes every score and mode. */
Test(tanh_avx512, backend_declares_the_bound) {
  const attn_backend *be = NULL;
  for (size_t i = 0; i < attn_backend_count(); i++)
    if (!strcmp(attn_backend_get(i)->name, "avx512")) be = attn_backend_get(i);
  cr_assert_not_null(be, "the avx512 backend is not compiled in");
  cr_expect_geq(be->accuracy.tanh_abs_err, tanh_avx512_stated_bound);
  cr_expect_geq(be->accuracy.tanh_abs_err, ATTN_TANHF_ABS_ERR);
  const char *problems[] = {"b=2,h=4,hkv=2,lq=7,lk=13,d=3,dv=5,da=6,score=additive,mask=causal",
                            "b=1,h=2,lq=5,lk=9,d=4,score=general,mode=hard",
                            "b=1,h=2,lq=5,lk=9,d=4,score=cosine,mode=local-m,window=2",
                            "b=1,h=2,lq=5,lk=9,d=4,da=3,score=additive,mode=local-p,window=1"};
  for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++) {
    attn_problem p;
    char err[256];
    cr_assert_eq(attn_problem_parse(problems[i], &p, err, sizeof err), ATTN_OK, "%s: %s", problems[i], err);
    cr_expect_eq(be->supports(&p, err, sizeof err), ATTN_OK, "%s: %s", problems[i], err);
  }
}
