/* avx2_tanh_a3 (impls/avx2/tanh_avx2.h) against tanh in double, lane by
 * lane: its stated absolute bound (the avx2 backend's accuracy.tanh_abs_err
 * builds on it), NaN for NaN, +-1 for +-Inf, odd symmetry bit for bit. The
 * evaluation is AVX2 code in tanh_avx2_eval.c; this file is baseline code so
 * that it can skip on CPUs without AVX2. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attnbench/cpu.h"
#include "lane_verdict.h"
#include "tanh_avx2_eval.h"

/* What tanh_avx2.h promises for one input, given its output; err is the
 * absolute error (verdict's max_rel field carries it). */
static int acceptable(float x, float y, double bound, double *err) {
  *err = 0;
  if (isnan(x)) return isnan(y);
  if (isnan(y) || fabsf(y) > 1) return 0;
  *err = fabs((double)y - tanh((double)x));
  return *err <= bound;
}

static void sweep_bits(uint32_t lo, uint32_t hi, uint32_t stride, verdict *v) {
  lane_sweep_bits(tanh_avx2_eval, acceptable, lo, hi, stride, tanh_avx2_stated_bound, v);
}

static void report(const char *what, const verdict *v) {
  cr_log_info("%s: %llu inputs, max abs err %.4g = %.3f * 2^-24 at x = %.20g", what,
              (unsigned long long)v->checked, v->max_rel, v->max_rel / 0x1p-24, (double)v->worst_x);
  cr_expect_eq(v->bad, 0,
               "%s: %llu inputs violate the stated bound; first x = %.20g gave %.20g (tanh(x) = %.20g)", what,
               (unsigned long long)v->bad, (double)v->bad_x, (double)v->bad_y, tanh((double)v->bad_x));
}

static void require_avx2(void) {
  if (!attn_cpu_has_avx2()) cr_skip_test("this CPU or OS lacks AVX2/FMA");
}

/* Where the error peaks (an exhaustive sweep of the non-negative floats put
 * the maximum at x = 0.1735): every float in [1/16, 1], both signs. */
Test(tanh_avx2, peak_range_meets_bound) {
  require_avx2();
  verdict v = {0};
  for (int sign = 0; sign < 2; sign++) {
    const uint32_t s = sign ? 0x80000000u : 0;
    sweep_bits(s | lane_bits_of(0.0625f), s | lane_bits_of(1.0f), 1, &v);
  }
  report("|x| in [1/16, 1]", &v);
}

/* The whole float range by bit pattern, both signs: NaNs, infinities,
 * saturation, subnormals. */
Test(tanh_avx2, whole_float_range) {
  require_avx2();
  verdict v = {0};
  sweep_bits(0, 0xffffffffu, 97, &v);
  report("every 97th float", &v);
  float x[8] = {INFINITY, -INFINITY, 0.0f, -0.0f, 45.0f, -1e30f, NAN, 0x1p-140f}, y[8];
  tanh_avx2_eval(x, y, 8);
  cr_expect(y[0] == 1 && y[1] == -1, "tanh(+-inf) = %g, %g", y[0], y[1]);
  cr_expect(y[2] == 0 && y[3] == 0, "tanh(+-0) = %g, %g", y[2], y[3]);
  cr_expect(y[4] == 1 && y[5] == -1, "saturation: %g, %g", y[4], y[5]);
  cr_expect(isnan(y[6]), "tanh(NaN) = %g", y[6]);
  double err;
  /* A subnormal argument: within the bound, and between 0 and x as tanh is (no sign flip, no growth). */
  cr_expect(acceptable(x[7], y[7], tanh_avx2_stated_bound, &err) && !signbit(y[7]) && y[7] <= x[7],
            "tanh(2^-140) = %.9g (error %.3g)", y[7], err);
}

/* tanh(-x) == -tanh(x) bit for bit: the sign is applied last. x runs
 * from 5e-10 to 48 in even steps of bit pattern. */
Test(tanh_avx2, odd_symmetry) {
  require_avx2();
  float x[LANE_CHUNK], y[LANE_CHUNK], z[LANE_CHUNK];
  for (int i = 0; i < LANE_CHUNK; i++) x[i] = from_bits(0x30000000u + (uint32_t)i * 0x12400u);
  tanh_avx2_eval(x, y, LANE_CHUNK);
  for (int i = 0; i < LANE_CHUNK; i++) x[i] = -x[i];
  tanh_avx2_eval(x, z, LANE_CHUNK);
  for (int i = 0; i < LANE_CHUNK; i++)
    cr_expect(z[i] == -y[i], "tanh(%.9g) = %.9g, tanh(-x) = %.9g", -x[i], y[i], z[i]);
}

/* The comparison has teeth: an output off by twice the bound fails it. */
Test(tanh_avx2, checker_rejects_a_worse_tanh) {
  double err;
  const double b = tanh_avx2_stated_bound;
  cr_expect(!acceptable(0.25f, (float)(tanh(0.25) + 2 * b), b, &err));
  cr_expect(!acceptable(3.0f, 1.5f, b, &err));
  cr_expect(!acceptable(NAN, 0.0f, b, &err));
  cr_expect(!acceptable(1.0f, NAN, b, &err));
  cr_expect(acceptable(0.25f, (float)tanh(0.25), b, &err));
}
