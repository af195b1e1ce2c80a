/* Distribution-free statistics of repeated timings: quantiles, a confidence
 * interval of the median, the Mann-Whitney U test and a confidence interval
 * of the ratio of two samples' locations. Timings are skewed (a run is only
 * ever slowed down, by interrupts, frequency changes, a neighbour on the
 * core), so nothing here assumes a normal distribution. */
#ifndef ATTNBENCH_STATS_H
#define ATTNBENCH_STATS_H

/* Below this many samples no pair of order statistics covers the median with
 * 95% probability: even [min, max] covers it with 1 - 2^(1-n) < 0.95. */
#define STATS_MEDIAN_CI_MIN_N 6

/* Exact U distributions are tabulated while nx*ny is at most this (and there
 * are no ties); beyond, the normal approximation is within about 1e-3 of it. */
#define STATS_MW_EXACT_MAX 2500

/* Quantile q of sorted xs[0..n), interpolating linearly between order
 * statistics (R's type 7, NumPy's default). */
double stats_quantile(const double *sorted, int n, double q);

/* The mean of xs[0..n) (n >= 1) and its Bessel-corrected standard deviation
 * (0 for one sample), as Google Benchmark's mean and stddev aggregates
 * report them. */
void stats_mean_sd(const double *xs, int n, double *mean, double *sd);

/* The distribution-free confidence interval of the median: the order
 * statistics [sorted[*lo], sorted[*hi]] (0-based, symmetric: hi = n-1-lo)
 * that cover the population median with probability at least `level`, the
 * narrowest such pair, by the binomial(n, 1/2) distribution of how many
 * samples fall below the median. *coverage gets the exact probability. With
 * too few samples for `level` it gives [min, max] with its (lower) coverage
 * and returns -1; otherwise 0. */
int stats_median_ci(int n, double level, int *lo, int *hi, double *coverage);

typedef struct stats_mw {
  double u;     /* U of the first sample: pairs x > y, a tie counting 1/2 */
  double z;     /* normal approximation's z (0 when exact) */
  double p;     /* two-sided p-value */
  int exact;    /* 1: exact null distribution; 0: normal approximation */
  int has_ties; /* ties across or within the samples */
} stats_mw;

/* The two-sided Mann-Whitney U (Wilcoxon rank-sum) test of x against y.
 * Exact when there are no ties and nx*ny <= STATS_MW_EXACT_MAX: the p-value is
 * then 2*min(P(U <= u), P(U >= u)) under the null, capped at 1, from the
 * distribution of U over all C(nx+ny, nx) equally likely rank assignments.
 * Otherwise the normal approximation with midranks, the tie-corrected
 * variance and a continuity correction of 1/2 (what scipy's mannwhitneyu does
 * with method="asymptotic"). Returns -1 if a sample is empty or the memory
 * for the exact table is missing. */
int stats_mann_whitney(const double *x, int nx, const double *y, int ny, stats_mw *r);

/* P(U <= u) for samples of nx and ny without ties, exactly, into cdf[0..nx*ny]
 * (which the caller sizes nx*ny+1). Returns -1 without memory or past 1e7
 * pairs, where the table would be too large. */
int stats_mw_null_cdf(int nx, int ny, double *cdf);

/* A confidence interval, at `level`, of the ratio of y's location to x's, and
 * its Hodges-Lehmann estimate (the median of the pairwise ratios y_j/x_i; of
 * an even count, the geometric mean of the middle two).
 * The interval is the Mann-Whitney (Moses) one, taken on a log scale where a
 * ratio is a shift: [r_(k), r_(nx*ny+1-k)] of the sorted pairwise ratios, with
 * k the largest such that 2*P(U <= k-1) <= 1-level under the null. Without
 * ties the interval leaves out 1 exactly when the exact test's p <= 1-level
 * (its dual); with ties, or past the exact table, k comes from the same normal
 * approximation as the test and the two agree approximately. All values
 * must be positive.
 * Returns -1 (with [min, max] of the ratios) when the samples are too small
 * for `level`, -2 on bad input or no memory, else 0. */
int stats_ratio_ci(const double *x, int nx, const double *y, int ny, double level, double *estimate,
                   double *lo, double *hi);

#endif
