/* One timing routine for every backend and workload: plans are made before,
 * the output is verified after, and only the run is inside the clock. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "stats.h"

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads and writes every cache line of the flush buffer, split across the
 * case's thread count so that each core's private caches are evicted too,
 * not only the shared last level. The write keeps the compiler from dropping
 * the loop and makes dirty lines, which a later read of inputs must wait
 * behind as it would after any unrelated work. */
static void flush_caches(const bench_timing_opts *o) {
  unsigned char *buf = o->flush;
  const long lines = (long)(o->flush_bytes / 64);
#pragma omp parallel for num_threads(o->flush_threads > 0 ? o->flush_threads : 1) schedule(static)
  for (long i = 0; i < lines; i++) buf[i * 64] = (unsigned char)(buf[i * 64] + 1);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
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
  /* Samples are kept in buffers made before timing starts. */
  double *ms = malloc((size_t)o->max_reps * sizeof(double)),
         *sorted = malloc((size_t)o->max_reps * sizeof(double));
  if (!ms || !sorted) {
    free(ms);
    free(sorted);
    return ATTN_ENOMEM;
  }
  int n = 0;
  double spent = 0;
  /* Both a count (a rank test needs samples, whatever their length) and a
   * time (short runs need many samples to average out interrupts). */
  /* spent counts timed runs only: a cold run's flushes do not shorten it. */
  while (n < o->max_reps && (n < o->min_reps || spent < o->min_time)) {
    if (o->flush) flush_caches(o);
    double t0 = bench_now();
    s = fn(ctx);
    double dt = bench_now() - t0;
    if (s != ATTN_OK) {
      free(ms);
      free(sorted);
      return s;
    }
    ms[n++] = dt * 1e3;
    spent += dt;
  }
  memcpy(sorted, ms, (size_t)n * sizeof *ms);
  qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
  st->reps = n;
  st->min_ms = sorted[0];
  st->max_ms = sorted[n - 1];
  st->median_ms = stats_quantile(sorted, n, 0.5);
  st->q1_ms = stats_quantile(sorted, n, 0.25);
  st->q3_ms = stats_quantile(sorted, n, 0.75);
  double sum = 0, sq = 0;
  for (int i = 0; i < n; i++) sum += ms[i];
  st->mean_ms = sum / n;
  for (int i = 0; i < n; i++) sq += (ms[i] - st->mean_ms) * (ms[i] - st->mean_ms);
  st->stddev_ms = n > 1 ? sqrt(sq / (n - 1)) : 0; /* Bessel-corrected, as Google Benchmark reports it */
  int lo, hi;
  stats_median_ci(n, 0.95, &lo, &hi, &st->ci_level);
  st->ci_lo_ms = sorted[lo];
  st->ci_hi_ms = sorted[hi];
  /* Rows keep their samples until the report is written: only n of them. */
  double *fit = realloc(ms, (size_t)n * sizeof *ms);
  st->ms = fit ? fit : ms;
  free(sorted);
  return ATTN_OK;
}
