/* Distribution-free statistics of repeated timings; see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double stats_quantile(const double *xs, int n, double q) {
  double at = q * (n - 1);
  int lo = (int)at;
  if (lo >= n - 1) return xs[n - 1];
  return xs[lo] + (at - lo) * (xs[lo + 1] - xs[lo]);
}

void stats_mean_sd(const double *xs, int n, double *mean, double *sd) {
  double sum = 0, sq = 0;
  for (int i = 0; i < n; i++) sum += xs[i];
  *mean = sum / n;
  /* Two passes: the one-pass sum of squares cancels badly when the spread
   * is small against the mean, as it is for repeated timings. */
  for (int i = 0; i < n; i++) sq += (xs[i] - *mean) * (xs[i] - *mean);
  *sd = n > 1 ? sqrt(sq / (n - 1)) : 0;
}

/* log C(n, k), exact enough for coverages: lgamma's relative error is ~1e-15. */
static double log_choose(int n, int k) { return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0); }

int stats_median_ci(int n, double level, int *lo, int *hi, double *coverage) {
  /* The interval [X_(k), X_(n+1-k)] (1-based) misses the median when k or
   * more samples lie above it or k or more below: it covers the median with
   * probability 1 - 2 P(B <= k-1), B ~ binomial(n, 1/2). Terms are summed from
   * logs because 2^-n underflows long before n reaches --max-reps. */
  const double eps = 1e-12; /* coverages are dyadic; level rarely is */
  double below = 0;         /* P(B <= k-1) for the current k */
  int k = 1;
  below = exp(log_choose(n, 0) - n * M_LN2);
  double cov = n > 0 ? 1 - 2 * below : 0;
  *lo = 0;
  *hi = n > 0 ? n - 1 : 0;
  *coverage = cov > 0 ? cov : 0;
  if (n <= 0 || cov < level - eps) return -1;
  while (2 * (k + 1) <= n + 1) {
    double next_below = below + exp(log_choose(n, k) - n * M_LN2);
    double next_cov = 1 - 2 * next_below;
    if (next_cov < level - eps) break;
    below = next_below;
    cov = next_cov;
    k++;
  }
  *lo = k - 1;
  *hi = n - k;
  *coverage = cov;
  return 0;
}

int stats_mw_null_cdf(int nx, int ny, double *cdf) {
  /* U's null distribution is the same for (nx, ny) and (ny, nx), so the
   * table runs over the smaller sample: ways[j][u] counts the ways to place j
   * of its members among the first t pooled ranks with j members having u
   * members of the other sample below them in total. A member placed at rank
   * t (1-based) with j of its own below has t-1-j of the other below it. */
  if (nx <= 0 || ny <= 0 || (double)nx * ny > 1e7) return -1; /* the table is (min+1) x (nx*ny+1) */
  const int m = nx < ny ? nx : ny, n = nx < ny ? ny : nx, umax = m * n;
  double *ways = calloc((size_t)(m + 1) * (size_t)(umax + 1), sizeof *ways);
  if (!ways) return -1;
#define WAYS(j, u) ways[(size_t)(j) * (size_t)(umax + 1) + (size_t)(u)]
  WAYS(0, 0) = 1;
  for (int t = 1; t <= m + n; t++) {
    /* j descends so that each rank is used at most once. */
    int jmax = t < m ? t : m;
    for (int j = jmax; j >= 1; j--) {
      int add = t - 1 - (j - 1); /* others below the member at rank t */
      if (add < 0 || add > n) continue;
      for (int u = umax - add; u >= 0; u--) WAYS(j, u + add) += WAYS(j - 1, u);
    }
  }
  double total = 0;
  for (int u = 0; u <= umax; u++) total += WAYS(m, u);
  double run = 0;
  for (int u = 0; u <= umax; u++) {
    run += WAYS(m, u);
    cdf[u] = run / total;
  }
#undef WAYS
  free(ways);
  return 0;
}

typedef struct ranked {
  double v;
  int from_x;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
  double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
  return (x > y) - (x < y);
}

/* Midrank sum of x within the pooled sample, and sum(t^3 - t) over tie groups. */
static int rank_x(const double *x, int nx, const double *y, int ny, double *rank_sum_x, double *tie_term) {
  const int N = nx + ny;
  ranked *all = malloc((size_t)N * sizeof *all);
  if (!all) return -1;
  for (int i = 0; i < nx; i++) all[i] = (ranked){x[i], 1};
  for (int j = 0; j < ny; j++) all[nx + j] = (ranked){y[j], 0};
  qsort(all, (size_t)N, sizeof *all, cmp_ranked);
  double rs = 0, tt = 0;
  for (int i = 0; i < N;) {
    int e = i;
    while (e + 1 < N && all[e + 1].v == all[i].v) e++;
    const double t = e - i + 1, midrank = 0.5 * ((i + 1) + (e + 1));
    for (int k = i; k <= e; k++)
      if (all[k].from_x) rs += midrank;
    tt += t * t * t - t;
    i = e + 1;
  }
  free(all);
  *rank_sum_x = rs;
  *tie_term = tt;
  return 0;
}

/* The standard deviation of U under the null, with ties. */
static double mw_sigma(int nx, int ny, double tie_term) {
  const double N = (double)nx + ny;
  const double var = (double)nx * ny / 12.0 * ((N + 1) - tie_term / (N * (N - 1)));
  return var > 0 ? sqrt(var) : 0;
}

int stats_mann_whitney(const double *x, int nx, const double *y, int ny, stats_mw *r) {
  memset(r, 0, sizeof *r);
  if (nx <= 0 || ny <= 0) return -1;
  double rs, tie_term;
  if (rank_x(x, nx, y, ny, &rs, &tie_term)) return -1;
  r->u = rs - 0.5 * nx * (nx + 1.0);
  r->has_ties = tie_term > 0;
  if (!r->has_ties && (double)nx * ny <= STATS_MW_EXACT_MAX) {
    const int umax = nx * ny, u = (int)lround(r->u);
    double *cdf = malloc((size_t)(umax + 1) * sizeof *cdf);
    if (!cdf || stats_mw_null_cdf(nx, ny, cdf)) {
      free(cdf);
      return -1;
    }
    /* The null is symmetric about umax/2, so P(U >= u) = P(U <= umax-u). */
    double lower = cdf[u], upper = cdf[umax - u];
    double p = 2 * (lower < upper ? lower : upper);
    r->p = p < 1 ? p : 1;
    r->exact = 1;
    free(cdf);
    return 0;
  }
  const double mu = 0.5 * nx * ny, sigma = mw_sigma(nx, ny, tie_term);
  if (sigma == 0) { /* every value equal: no evidence of a difference */
    r->p = 1;
    return 0;
  }
  double dev = fabs(r->u - mu) - 0.5;
  r->z = (dev > 0 ? dev : 0) / sigma;
  double p = erfc(r->z / M_SQRT2);
  r->p = p < 1 ? p : 1;
  return 0;
}

/* z with P(Z > z) = tail, by bisection on erfc: called once per comparison,
 * so simplicity wins over a rational approximation. */
static double normal_upper_quantile(double tail) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; i++) {
    double mid = 0.5 * (lo + hi);
    if (0.5 * erfc(mid / M_SQRT2) > tail)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* How many pairwise ratios ys[j]/xs[i] are <= r, both sorted ascending. For
 * a fixed j the ratio falls as xs[i] grows (division rounds monotonically),
 * so the count of j's under r only grows with i: one pass. */
static double count_le(const double *xs, int nx, const double *ys, int ny, double r) {
  double c = 0;
  int j = 0;
  for (int i = 0; i < nx; i++) {
    while (j < ny && ys[j] / xs[i] <= r) j++;
    c += j;
  }
  return c;
}

/* The k-th smallest (1-based) pairwise ratio without forming all nx*ny of
 * them: bisection over doubles until lo and hi are neighbours, keeping
 * count(lo) < k <= count(hi); every ratio is a double, so hi is then it. */
static double kth_ratio(const double *xs, int nx, const double *ys, int ny, double k) {
  double lo = ys[0] / xs[nx - 1], hi = ys[ny - 1] / xs[0];
  if (count_le(xs, nx, ys, ny, lo) >= k) return lo;
  for (;;) {
    double mid = lo + 0.5 * (hi - lo);
    if (!(mid > lo && mid < hi)) return hi;
    if (count_le(xs, nx, ys, ny, mid) >= k)
      hi = mid;
    else
      lo = mid;
  }
}

int stats_ratio_ci(const double *x, int nx, const double *y, int ny, double level, double *estimate,
                   double *lo, double *hi) {
  if (nx <= 0 || ny <= 0 || !(level > 0 && level < 1)) return -2;
  for (int i = 0; i < nx; i++)
    if (!(x[i] > 0 && isfinite(x[i]))) return -2;
  for (int j = 0; j < ny; j++)
    if (!(y[j] > 0 && isfinite(y[j]))) return -2;
  double *xs = malloc((size_t)nx * sizeof *xs), *ys = malloc((size_t)ny * sizeof *ys);
  if (!xs || !ys) {
    free(xs);
    free(ys);
    return -2;
  }
  memcpy(xs, x, (size_t)nx * sizeof *xs);
  memcpy(ys, y, (size_t)ny * sizeof *ys);
  qsort(xs, (size_t)nx, sizeof *xs, cmp_double);
  qsort(ys, (size_t)ny, sizeof *ys, cmp_double);
  const double pairs = (double)nx * ny;
  /* Hodges-Lehmann: the median of the pairwise ratios; an even count takes
   * the geometric mean of the middle two, the midpoint on the log scale. */
  double mid_lo = kth_ratio(xs, nx, ys, ny, floor((pairs + 1) / 2));
  double mid_hi = kth_ratio(xs, nx, ys, ny, ceil((pairs + 1) / 2));
  *estimate = sqrt(mid_lo * mid_hi);

  /* k: the largest with 2 P(U <= k-1) <= 1-level. Ties in the pooled sample
   * make the exact table wrong, so they take the approximation, like the test. */
  stats_mw t;
  int rc = stats_mann_whitney(x, nx, y, ny, &t);
  double k = 0;
  if (rc == 0 && t.exact) {
    const int umax = nx * ny;
    double *cdf = malloc((size_t)(umax + 1) * sizeof *cdf);
    if (!cdf || stats_mw_null_cdf(nx, ny, cdf)) {
      rc = -1;
    } else {
      for (int c = 0; c < umax && 2 * cdf[c] <= 1 - level + 1e-12; c++) k = c + 1;
    }
    free(cdf);
  } else if (rc == 0) {
    double rs, tie_term;
    if (rank_x(x, nx, y, ny, &rs, &tie_term)) {
      rc = -1;
    } else {
      /* P(U <= k-1) ~ Phi((k-1 + 1/2 - mu) / sigma), continuity corrected. */
      const double sigma = mw_sigma(nx, ny, tie_term);
      k = floor(0.5 * pairs - normal_upper_quantile((1 - level) / 2) * sigma + 0.5);
    }
  }
  if (rc) {
    free(xs);
    free(ys);
    return -2;
  }
  int ok = k >= 1;
  if (!ok) k = 1;
  if (k > (pairs + 1) / 2) k = floor((pairs + 1) / 2);
  *lo = kth_ratio(xs, nx, ys, ny, k);
  *hi = kth_ratio(xs, nx, ys, ny, pairs + 1 - k);
  free(xs);
  free(ys);
  return ok ? 0 : -1;
}
