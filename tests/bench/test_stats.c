/* The statistics behind bench's ci95 column and `attnbench compare`, against
 * values worked out by hand (and, where noted, cross-checked with
 * scipy.stats.mannwhitneyu 1.10). */
#include <criterion/criterion.h>
#include <math.h>

#include "stats.h"

/* Median CI: [X_(k), X_(n+1-k)] covers with 1 - 2 P(B <= k-1), B ~ Bin(n, 1/2). */
Test(stats, median_ci_n9) {
  /* P(B <= 1) = (1 + 9) / 512, so k=2 covers 1 - 20/512 = 0.9609375; k=3
   * would cover 1 - 2 * 46/512 = 0.8203 < 0.95. */
  int lo, hi;
  double cov;
  cr_expect_eq(stats_median_ci(9, 0.95, &lo, &hi, &cov), 0);
  cr_expect_eq(lo, 1);
  cr_expect_eq(hi, 7);
  cr_expect_float_eq(cov, 492.0 / 512.0, 1e-12);
}

Test(stats, median_ci_n20_table) {
  /* The textbook table gives (6, 15) for n = 20: P(B <= 5) = (1 + 20 + 190
   * + 1140 + 4845 + 15504) / 2^20 = 21700 / 1048576. */
  int lo, hi;
  double cov;
  cr_expect_eq(stats_median_ci(20, 0.95, &lo, &hi, &cov), 0);
  cr_expect_eq(lo, 5);
  cr_expect_eq(hi, 14);
  cr_expect_float_eq(cov, 1 - 2 * 21700.0 / 1048576.0, 1e-12);
}

Test(stats, median_ci_small_n) {
  /* n = 6 is the first with a 95% interval: [min, max] covers 1 - 2/64. */
  int lo, hi;
  double cov;
  cr_expect_eq(stats_median_ci(6, 0.95, &lo, &hi, &cov), 0);
  cr_expect_eq(lo, 0);
  cr_expect_eq(hi, 5);
  cr_expect_float_eq(cov, 0.96875, 1e-12);
  /* n = 5: even [min, max] covers only 1 - 2/32 = 0.9375: say so. */
  cr_expect_eq(stats_median_ci(5, 0.95, &lo, &hi, &cov), -1);
  cr_expect_eq(lo, 0);
  cr_expect_eq(hi, 4);
  cr_expect_float_eq(cov, 0.9375, 1e-12);
  cr_expect_eq(stats_median_ci(1, 0.95, &lo, &hi, &cov), -1);
  cr_expect_eq(hi, 0);
  cr_expect_float_eq(cov, 0, 1e-12);
}

Test(stats, median_ci_large_n) {
  /* 2^-n underflows here: the sums must be done from logs. The interval is
   * about n/2 -+ 1.96 sqrt(n)/2 and still nests inside [0, n-1]. */
  int lo, hi;
  double cov;
  cr_assert_eq(stats_median_ci(100000, 0.95, &lo, &hi, &cov), 0);
  cr_expect(lo > 49600 && lo < 49700, "lo %d", lo);
  cr_expect_eq(hi, 100000 - 1 - lo);
  cr_expect(cov >= 0.95 && cov < 0.951, "coverage %g", cov);
}

Test(stats, quantile_interpolates) {
  const double xs[] = {1, 2, 4, 8};
  cr_expect_float_eq(stats_quantile(xs, 4, 0.5), 3, 1e-12);
  cr_expect_float_eq(stats_quantile(xs, 4, 0.25), 1.75, 1e-12);
  cr_expect_float_eq(stats_quantile(xs, 4, 1), 8, 1e-12);
}

Test(stats, mann_whitney_exact_separated) {
  /* Every x below every y: U = 0, the one arrangement of C(6,3) = 20 that
   * extreme in each tail, p = 2/20. With 4 and 4, p = 2/C(8,4) = 2/70. */
  const double x[] = {1, 2, 3}, y[] = {4, 5, 6};
  stats_mw r;
  cr_assert_eq(stats_mann_whitney(x, 3, y, 3, &r), 0);
  cr_expect_eq(r.exact, 1);
  cr_expect_float_eq(r.u, 0, 1e-12);
  cr_expect_float_eq(r.p, 0.1, 1e-12);
  const double x4[] = {1, 2, 3, 4}, y4[] = {5, 6, 7, 8};
  cr_assert_eq(stats_mann_whitney(y4, 4, x4, 4, &r), 0);
  cr_expect_float_eq(r.u, 16, 1e-12); /* from the other side: all 16 pairs */
  cr_expect_float_eq(r.p, 2.0 / 70.0, 1e-12);
}

Test(stats, mann_whitney_exact_by_hand) {
  /* Pooled: 1.1x 2.2x 3.3x 4.4y 5.5x 6.6y 7.7y; only 5.5 > 4.4, so U = 1.
   * Of the C(7,3) = 35 arrangements one has U = 0 and one U = 1, so
   * P(U <= 1) = 2/35 (the table for n1=3, n2=4 gives 0.057) and p = 4/35.
   * scipy: 0.11428571428571428. */
  const double x[] = {5.5, 1.1, 3.3, 2.2}, y[] = {7.7, 4.4, 6.6};
  stats_mw r;
  cr_assert_eq(stats_mann_whitney(x, 4, y, 3, &r), 0);
  cr_expect_eq(r.exact, 1);
  cr_expect_eq(r.has_ties, 0);
  cr_expect_float_eq(r.u, 1, 1e-12);
  cr_expect_float_eq(r.p, 4.0 / 35.0, 1e-12);
}

Test(stats, mann_whitney_null_cdf) {
  /* n1 = n2 = 3: the 20 arrangements have U = 0,1,2,...,9 with counts
   * 1,1,2,3,3,3,3,2,1,1 (the Gaussian binomial [6 choose 3]). */
  const int counts[] = {1, 1, 2, 3, 3, 3, 3, 2, 1, 1};
  double cdf[10];
  cr_assert_eq(stats_mw_null_cdf(3, 3, cdf), 0);
  int run = 0;
  for (int u = 0; u < 10; u++) {
    run += counts[u];
    cr_expect_float_eq(cdf[u], run / 20.0, 1e-12, "U <= %d", u);
  }
}

Test(stats, mann_whitney_ties_normal) {
  /* Pooled: 1x 2x 2x 2y 3x 3y 4y 5y 5y. Midranks 1; 3,3,3; 5.5,5.5; 7;
   * 8.5,8.5. R_x = 1+3+3+5.5 = 12.5, U = 12.5 - 4*5/2 = 2.5, mean 10.
   * Ties: (27-3) + (8-2) + (8-2) = 36; var = 20/12 * (10 - 36/72) = 15.8333;
   * z = (7.5 - 0.5)/3.979112 = 1.759176; p = erfc(z/sqrt 2) = 0.078546.
   * scipy (asymptotic): 0.07854585095119067. */
  const double x[] = {1, 2, 2, 3}, y[] = {2, 3, 4, 5, 5};
  stats_mw r;
  cr_assert_eq(stats_mann_whitney(x, 4, y, 5, &r), 0);
  cr_expect_eq(r.exact, 0);
  cr_expect_eq(r.has_ties, 1);
  cr_expect_float_eq(r.u, 2.5, 1e-12);
  cr_expect_float_eq(r.z, 7.0 / sqrt(20.0 / 12.0 * 9.5), 1e-9);
  cr_expect_float_eq(r.p, 0.07854585095119067, 1e-9);
}

Test(stats, mann_whitney_large_normal) {
  /* 60 vs 60 is past the exact table. x = 0..59, y = 20.5..79.5: x = v beats
   * v-20 of the y's for v >= 21, U = 1+2+...+39 = 780; mean 1800, var =
   * 3600*121/12 = 36300, z = 1019.5/190.526 = 5.35095, p = 8.7476e-8
   * (scipy: 8.747567722893498e-08). */
  double x[60], y[60];
  for (int i = 0; i < 60; i++) x[i] = i, y[i] = i + 20.5;
  stats_mw r;
  cr_assert_eq(stats_mann_whitney(x, 60, y, 60, &r), 0);
  cr_expect_eq(r.exact, 0);
  cr_expect_float_eq(r.u, 780, 1e-9);
  cr_expect_float_eq(r.p, 8.747567722893498e-08, 1e-12);
}

Test(stats, mann_whitney_identical) {
  /* The same samples twice (compare of a file with itself): no evidence. */
  const double x[] = {1.5, 1.2, 1.3, 1.4, 1.1, 1.6, 1.7, 1.8, 1.9};
  stats_mw r;
  cr_assert_eq(stats_mann_whitney(x, 9, x, 9, &r), 0);
  cr_expect_float_eq(r.u, 40.5, 1e-12);
  cr_expect_float_eq(r.p, 1, 1e-12);
  const double same[] = {2, 2, 2};
  cr_assert_eq(stats_mann_whitney(same, 3, same, 3, &r), 0);
  cr_expect_float_eq(r.p, 1, 1e-12);
}

Test(stats, ratio_ci_by_hand) {
  /* y = 3x: the ratios y_j/x_i sorted are 0.75 1.5 1.5 3 3 3 6 6 12, so the
   * Hodges-Lehmann ratio is 3. No ties, 3 vs 3: P(U <= 0) = 1/20, P(U <= 1)
   * = 2/20, P(U <= 2) = 4/20. At level 0.75, k = 2 (2*2/20 <= 0.25 < 2*4/20):
   * [r_(2), r_(8)] = [1.5, 6]. At 0.95 even k = 1 fails (2/20 > 0.05). */
  const double x[] = {1, 2, 4}, y[] = {3, 6, 12};
  double est, lo, hi;
  cr_assert_eq(stats_ratio_ci(x, 3, y, 3, 0.75, &est, &lo, &hi), 0);
  cr_expect_float_eq(est, 3, 1e-12);
  cr_expect_float_eq(lo, 1.5, 1e-12);
  cr_expect_float_eq(hi, 6, 1e-12);
  cr_expect_eq(stats_ratio_ci(x, 3, y, 3, 0.95, &est, &lo, &hi), -1);
  cr_expect_float_eq(lo, 0.75, 1e-12);
  cr_expect_float_eq(hi, 12, 1e-12);
  const double bad[] = {1, 0, 2};
  cr_expect_eq(stats_ratio_ci(x, 3, bad, 3, 0.95, &est, &lo, &hi), -2);
}

/* The interval and the test agree: without ties, the interval leaves out 1
 * exactly when p <= 1 - level. A seeded sweep of shifted samples. */
Test(stats, ratio_ci_matches_test) {
  unsigned s = 12345;
  int checked = 0;
  for (int t = 0; t < 300; t++) {
    double x[12], y[12];
    const int nx = 6 + t % 7, ny = 6 + (t / 7) % 7;
    const double shift = 1 + 0.02 * (t % 9);
    for (int i = 0; i < nx; i++) s = s * 1103515245u + 12345u, x[i] = 1 + (s >> 8) * 0x1p-24 * 0.2;
    for (int j = 0; j < ny; j++) s = s * 1103515245u + 12345u, y[j] = shift * (1 + (s >> 8) * 0x1p-24 * 0.2);
    stats_mw r;
    double est, lo, hi;
    cr_assert_eq(stats_mann_whitney(x, nx, y, ny, &r), 0);
    if (r.has_ties) continue;
    cr_assert_eq(stats_ratio_ci(x, nx, y, ny, 0.95, &est, &lo, &hi), 0);
    cr_expect_eq(lo > 1 || hi < 1, r.p <= 0.05, "case %d: [%g, %g] p %g", t, lo, hi, r.p);
    cr_expect(lo <= est && est <= hi);
    checked++;
  }
  cr_expect_gt(checked, 250);
}
