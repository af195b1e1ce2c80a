/* One timing routine for every backend and workload: plans are made before,
 * the output is verified after, and only the run is inside the clock. */
#include <stdlib.h>
#include <time.h>

#include "harness.h"

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Linear interpolation between order statistics of sorted xs. */
static double quantile(const double *xs, int n, double q) {
  double at = q * (n - 1);
  int lo = (int)at;
  if (lo >= n - 1) return xs[n - 1];
  return xs[lo] + (at - lo) * (xs[lo + 1] - xs[lo]);
}

attn_status bench_time(attn_status (*fn)(void *ctx), void *ctx, const bench_timing_opts *o, bench_stats *st) {
  attn_status s;
  /* Warm-up fills caches and settles the clock; a run that takes seconds has
   * done that by itself, so slow cases stop warming up after one. */
  for (int i = 0; i < o->warmup; i++) {
    double start = bench_now();
    if ((s = fn(ctx)) != ATTN_OK) return s;
    if (bench_now() - start > 1.0) break;
  }
  /* Samples are kept in a buffer made before timing starts. */
  double *ms = malloc((size_t)o->max_reps * sizeof(double));
  if (!ms) return ATTN_ENOMEM;
  int n = 0;
  double spent = 0;
  while (n < o->max_reps && (n < o->min_reps || spent < o->min_time)) {
    double t0 = bench_now();
    s = fn(ctx);
    double dt = bench_now() - t0;
    if (s != ATTN_OK) {
      free(ms);
      return s;
    }
    ms[n++] = dt * 1e3;
    spent += dt;
  }
  qsort(ms, (size_t)n, sizeof *ms, cmp_double);
  st->reps = n;
  st->min_ms = ms[0];
  st->max_ms = ms[n - 1];
  st->median_ms = quantile(ms, n, 0.5);
  st->q1_ms = quantile(ms, n, 0.25);
  st->q3_ms = quantile(ms, n, 0.75);
  free(ms);
  return ATTN_OK;
}
