/* The roofline: fp32 FMA peak per ISA and thread count, read bandwidth, and
 * their cache file (peak.h). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "attnbench/cpu.h"
#include "harness.h"
#include "peak.h"
#include "peak_kernels.h"

#define PEAK_FORMAT_VERSION 1
/* Long enough that a timer tick, a thread wake-up or a frequency step is
 * lost in it. */
#define PEAK_RUN_SECONDS 0.25

static const struct {
  const char *name;
  int (*usable)(void);
  double (*loop)(int64_t iters, float seed);
  double flops_per_step;
} isas[BENCH_PEAK_NISA] = {
    [BENCH_PEAK_AVX2] = {"avx2", attn_cpu_has_avx2, bench_peak_fma_avx2_ymm12, PEAK_AVX2_FLOPS_PER_STEP},
    [BENCH_PEAK_AVX512] = {"avx512", attn_cpu_has_avx512, bench_peak_fma_avx512_zmm16,
                           PEAK_AVX512_FLOPS_PER_STEP},
};

const char *bench_peak_isa_name(int isa) { return isa >= 0 && isa < BENCH_PEAK_NISA ? isas[isa].name : NULL; }

static int isa_index(const char *name) {
  for (int i = 0; i < BENCH_PEAK_NISA; i++)
    if (!strcmp(name, isas[i].name)) return i;
  return -1;
}

void bench_peak_key_current(bench_peak_key *k) {
  bench_machine m;
  bench_machine_read(&m);
  memset(k, 0, sizeof *k);
  snprintf(k->cpu_model, sizeof k->cpu_model, "%s", m.cpu_model);
  k->cores = m.cores;
  snprintf(k->isa, sizeof k->isa, "%s", m.isa);
}

/* ---- measuring ---- */

/* Keeps the loops' results observable, so no compiler drops the work. */
static volatile double peak_sink;

/* Steps of `isa`'s loop that take about PEAK_RUN_SECONDS on one thread. */
static int64_t calibrate(int isa) {
  int64_t iters = 1 << 14;
  for (;;) {
    double t0 = bench_now();
    peak_sink = peak_sink + isas[isa].loop(iters, 1.0f);
    double dt = bench_now() - t0;
    /* 20 ms is well above the clock's resolution, and the first, shorter
     * tries have brought the core out of any low-power state. */
    if (dt >= 0.02 || iters >= ((int64_t)1 << 40)) {
      double scaled = (double)iters * PEAK_RUN_SECONDS / (dt > 0 ? dt : 1e-9);
      return scaled < 1 ? 1 : (int64_t)scaled;
    }
    iters *= 4;
  }
}

/* GFLOP/s of `threads` threads each running `iters` steps: best of the runs.
 * Every thread does the same work, so the team's wall time is that of its
 * slowest member, which is what a parallel kernel sees too. */
static double fma_gflops(int isa, int threads, int64_t iters) {
  double best = 0;
  for (int run = 0; run < BENCH_PEAK_RUNS; run++) {
    double sum = 0;
    int team = 0;
    double t0 = bench_now();
#pragma omp parallel num_threads(threads) reduction(+ : sum, team)
    {
      sum += isas[isa].loop(iters, (float)omp_get_thread_num());
      team += 1;
    }
    const double dt = bench_now() - t0;
    peak_sink = peak_sink + sum;
    const double rate = dt > 0 ? team * (double)iters * isas[isa].flops_per_step / dt / 1e9 : 0;
    if (rate > best) best = rate;
  }
  return best;
}

/* 1 GiB of floats, far beyond any cache, first touched by a team of
 * `threads` so that on a NUMA machine its pages spread over the nodes that
 * team runs on. */
#define READ_FLOATS ((size_t)1 << 28)

static float *read_buffer(int threads) {
  float *buf = malloc(READ_FLOATS * sizeof(float));
  if (!buf) return NULL;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < READ_FLOATS; i++) buf[i] = (float)(i & 7);
  return buf;
}

static double read_sum_gbs(const float *buf, int threads) {
  const size_t n = READ_FLOATS;
  double best = 0, sink = 0;
  for (int pass = 0; pass < BENCH_PEAK_RUNS; pass++) {
    double t0 = bench_now(), sum = 0;
    /* Sixteen running sums per thread, so the loop waits on memory, not on
     * the latency of one chain of additions. */
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    {
      float acc[16] = {0};
#pragma omp for schedule(static)
      for (size_t i = 0; i < n; i += 16)
        for (int l = 0; l < 16; l++) acc[l] += buf[i + l];
      for (int l = 0; l < 16; l++) sum += acc[l];
    }
    double dt = bench_now() - t0;
    sink += sum;
    if (n * sizeof(float) / dt > best) best = (double)(n * sizeof(float)) / dt;
  }
  peak_sink = peak_sink + sink;
  return best / 1e9;
}

double bench_read_bandwidth(int threads) {
  float *buf = read_buffer(threads);
  if (!buf) return 0;
  double gbs = read_sum_gbs(buf, threads);
  free(buf);
  return gbs;
}

/* Whether a machine of `max` threads has `t` measured: every count up to
 * 16 threads. Past that, measuring each count would take minutes, and the
 * FMA peak grows in proportion while the bandwidth saturates early, so
 * 1..8, the powers of two and the total describe both curves closely enough
 * for interpolation (at_threads). */
static int measured_count(int max, int t) {
  return t >= 1 && t <= max && (max <= 16 || t <= 8 || (t & (t - 1)) == 0 || t == max);
}

static int thread_counts(int max, int *out, int cap) {
  int n = 0;
  for (int t = 1; t <= max && n < cap; t++)
    if (measured_count(max, t)) out[n++] = t;
  return n;
}

void bench_peak_measure(bench_peak *out) {
  memset(out, 0, sizeof *out);
  bench_peak_key_current(&out->key);
  time_t now = time(NULL);
  strftime(out->measured, sizeof out->measured, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  int counts[BENCH_PEAK_MAX_POINTS];
  const int max = bench_default_threads();
  const int nc = thread_counts(max, counts, BENCH_PEAK_MAX_POINTS);
  int64_t iters[BENCH_PEAK_NISA] = {0};
  for (int i = 0; i < BENCH_PEAK_NISA; i++)
    if (isas[i].usable()) iters[i] = calibrate(i);
  char err[ERRLEN];
  out->pinned = bench_bind_threads(max, NULL, 0, NULL, 0, err, sizeof err) == 0;
  /* One buffer for every count: touching 1 GiB costs more than reading it. */
  float *buf = read_buffer(max);
  for (int c = 0; c < nc; c++) {
    if (bench_bind_threads(counts[c], NULL, 0, NULL, 0, err, sizeof err)) out->pinned = 0;
    bench_peak_point *p = &out->points[out->npoints++];
    p->threads = counts[c];
    for (int i = 0; i < BENCH_PEAK_NISA; i++)
      if (iters[i]) p->fma_gflops[i] = fma_gflops(i, counts[c], iters[i]);
    if (buf) p->read_gbs = read_sum_gbs(buf, counts[c]);
  }
  free(buf);
}

/* ---- lookups ---- */

static double point_value(const bench_peak_point *p, int field) {
  return field < 0 ? p->read_gbs : p->fma_gflops[field];
}

/* Whether the measurement skips every count strictly between lo and hi. */
static int gap_by_design(int cores, int lo, int hi) {
  for (int t = lo + 1; t < hi; t++)
    if (measured_count(cores, t)) return 0;
  return 1;
}

/* field: an ISA index, or -1 for the read bandwidth; 0 where the file does
 * not tell. A count the file lacks is interpolated only where the
 * measurement skips it by design: one missing from a file that should hold
 * it is unknown, not its neighbour's value. Past the last point the value
 * stays (extra threads share the same units) only if that point is every
 * core; below the first point (1 thread is always measured) it is unknown. */
static double at_threads(const bench_peak *pk, int threads, int field) {
  if (!pk || threads < 1 || pk->npoints < 1) return 0;
  const bench_peak_point *last = &pk->points[pk->npoints - 1];
  if (threads > last->threads) return last->threads >= pk->key.cores ? point_value(last, field) : 0;
  int i = 0;
  while (pk->points[i].threads < threads) i++;
  const bench_peak_point *hi = &pk->points[i], *lo = i ? &pk->points[i - 1] : NULL;
  if (hi->threads == threads) return point_value(hi, field);
  if (!lo || !gap_by_design(pk->key.cores, lo->threads, hi->threads)) return 0;
  const double v0 = point_value(lo, field), v1 = point_value(hi, field);
  if (!(v0 > 0 && v1 > 0)) return 0;
  return v0 + (v1 - v0) * (threads - lo->threads) / (hi->threads - lo->threads);
}

double bench_peak_gflops(const bench_peak *pk, const char *isa, int threads) {
  if (isa) {
    const int i = isa_index(isa);
    return i < 0 ? 0 : at_threads(pk, threads, i);
  }
  double best = 0;
  for (int i = 0; i < BENCH_PEAK_NISA; i++) {
    const double v = at_threads(pk, threads, i);
    if (v > best) best = v;
  }
  return best;
}

double bench_peak_read_gbs(const bench_peak *pk, int threads) { return at_threads(pk, threads, -1); }

double bench_roofline_gflops(const bench_peak *pk, const char *isa, int threads, double flops, double bytes) {
  const double peak = bench_peak_gflops(pk, isa, threads);
  if (!(peak > 0)) return 0;
  const double bw = bench_peak_read_gbs(pk, threads);
  /* flop/byte times GB/s is GFLOP/s. */
  const double memory = bytes > 0 && bw > 0 ? flops / bytes * bw : INFINITY;
  return memory < peak ? memory : peak;
}

/* ---- the cache file ---- */

/* A relative XDG_CACHE_HOME is invalid by the XDG spec, and ignored. */
int bench_peak_path(char *buf, size_t n) {
  const char *file = getenv("ATTNBENCH_PEAK_FILE");
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  int len = -1;
  if (file && *file)
    len = snprintf(buf, n, "%s", file);
  else if (xdg && xdg[0] == '/')
    len = snprintf(buf, n, "%s/attnbench/peak.json", xdg);
  else if (home && *home)
    len = snprintf(buf, n, "%s/.cache/attnbench/peak.json", home);
  return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* mkdir -p of everything before the last '/'. */
static int make_parent_dirs(const char *path, char *err, size_t n) {
  char dir[4096];
  if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
    snprintf(err, n, "%s: path too long", path);
    return -1;
  }
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return 0;
  *slash = 0;
  for (char *s = dir + 1;; s++) {
    const char c = *s;
    if (c != '/' && c != 0) continue;
    *s = 0;
    if (mkdir(dir, 0755) && errno != EEXIST) {
      snprintf(err, n, "cannot create %s: %s", dir, strerror(errno));
      return -1;
    }
    *s = c;
    if (!c) return 0;
  }
}

static json_t *peak_json(const bench_peak *pk) {
  json_t *root = json_object(), *machine = json_object(), *points = json_array();
  json_object_set_new(root, "version", json_integer(PEAK_FORMAT_VERSION));
  json_object_set_new(machine, "cpu_model", json_string(pk->key.cpu_model));
  json_object_set_new(machine, "cores", json_integer(pk->key.cores));
  json_object_set_new(machine, "isa", json_string(pk->key.isa));
  json_object_set_new(root, "machine", machine);
  json_object_set_new(root, "measured", json_string(pk->measured));
  json_object_set_new(root, "pinned", json_boolean(pk->pinned));
  for (int i = 0; i < pk->npoints; i++) {
    const bench_peak_point *p = &pk->points[i];
    json_t *pt = json_object(), *fma = json_object();
    json_object_set_new(pt, "threads", json_integer(p->threads));
    for (int k = 0; k < BENCH_PEAK_NISA; k++)
      if (p->fma_gflops[k] > 0) json_object_set_new(fma, isas[k].name, json_real(p->fma_gflops[k]));
    json_object_set_new(pt, "fma_gflops", fma);
    json_object_set_new(pt, "read_gbs", json_real(p->read_gbs));
    json_array_append_new(points, pt);
  }
  json_object_set_new(root, "points", points);
  return root;
}

static int write_json(FILE *f, void *ctx) {
  if (json_dumpf((json_t *)ctx, f, JSON_INDENT(2))) return -1;
  return fputc('\n', f) == EOF ? -1 : 0;
}

int bench_peak_save(const char *path, const bench_peak *pk, char *err, size_t n) {
  if (make_parent_dirs(path, err, n)) return -1;
  json_t *root = peak_json(pk);
  int rc = root ? bench_write_atomic(path, write_json, root, err, n) : -1;
  if (!root) snprintf(err, n, "cannot write %s: out of memory", path);
  json_decref(root);
  return rc;
}

/* Plausible rates, so that a damaged or hand-edited file cannot turn %roof
 * into 1e303%. FMA per thread: AVX2 at one FMA per cycle and 1 GHz is 16
 * GFLOP/s, two AVX-512 units at 6 GHz 384, so 0.1 .. 1e4 leaves a wide
 * margin both ways. Read bandwidth of the whole machine: the oldest DDR
 * channel moves 1.6 GB/s, the widest HBM sockets a few TB/s, so 0.1 .. 1e4.
 * A read bandwidth of 0 is the writer's "not measured" (no memory for it). */
#define PEAK_FMA_MIN_PER_THREAD 0.1
#define PEAK_FMA_MAX_PER_THREAD 1e4
#define PEAK_READ_MIN           0.1
#define PEAK_READ_MAX           1e4

/* A number within [lo, hi], from an int or a real. */
static int get_rate(json_t *v, double lo, double hi, double *out) {
  if (!json_is_number(v)) return -1;
  const double x = json_number_value(v);
  if (!(x >= lo && x <= hi)) return -1;
  *out = x;
  return 0;
}

/* A plausible read bandwidth, or 0: not measured. */
static int get_read_gbs(json_t *v, double *out) {
  if (!json_is_number(v) || json_number_value(v) != 0) return get_rate(v, PEAK_READ_MIN, PEAK_READ_MAX, out);
  *out = 0;
  return 0;
}

static int parse_points(json_t *arr, bench_peak *out, char *err, size_t n) {
  if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > BENCH_PEAK_MAX_POINTS) {
    snprintf(err, n, "'points' is not an array of 1 to %d entries", BENCH_PEAK_MAX_POINTS);
    return -1;
  }
  for (size_t i = 0; i < json_array_size(arr); i++) {
    json_t *pt = json_array_get(arr, i), *threads = json_object_get(pt, "threads");
    json_t *fma = json_object_get(pt, "fma_gflops");
    bench_peak_point *p = &out->points[i];
    const json_int_t t = json_is_integer(threads) ? json_integer_value(threads) : 0;
    const int prev = i ? out->points[i - 1].threads : 0;
    if (t <= prev || t > 1 << 20 || !json_is_object(fma)) {
      snprintf(err, n, "point %zu is malformed (threads ascending, read_gbs and fma_gflops)", i);
      return -1;
    }
    if (get_read_gbs(json_object_get(pt, "read_gbs"), &p->read_gbs)) {
      snprintf(err, n, "point %zu: read_gbs is not 0 (not measured) or a plausible %g..%g GB/s", i,
               PEAK_READ_MIN, PEAK_READ_MAX);
      return -1;
    }
    p->threads = (int)t;
    const char *name;
    json_t *v;
    json_object_foreach(fma, name, v) {
      const int k = isa_index(name);
      if (k >= 0 && get_rate(v, PEAK_FMA_MIN_PER_THREAD * (double)t, PEAK_FMA_MAX_PER_THREAD * (double)t,
                             &p->fma_gflops[k])) {
        snprintf(err, n, "point %zu: fma_gflops.%s is not a plausible %g..%g GFLOP/s per thread", i, name,
                 PEAK_FMA_MIN_PER_THREAD, PEAK_FMA_MAX_PER_THREAD);
        return -1;
      }
    }
  }
  out->npoints = (int)json_array_size(arr);
  return 0;
}

/* Compares the machine the file describes with this one, naming the first
 * difference. */
static int check_machine(json_t *m, const bench_peak_key *expect, bench_peak *out, char *err, size_t n) {
  json_t *cpu = json_object_get(m, "cpu_model"), *cores = json_object_get(m, "cores");
  json_t *isa = json_object_get(m, "isa");
  if (!json_is_string(cpu) || !json_is_integer(cores) || !json_is_string(isa)) {
    snprintf(err, n, "'machine' lacks cpu_model, cores or isa");
    return -1;
  }
  if (strcmp(json_string_value(cpu), expect->cpu_model)) {
    snprintf(err, n, "measured on another CPU ('%.100s', this is '%s')", json_string_value(cpu),
             expect->cpu_model);
    return -1;
  }
  if (json_integer_value(cores) != expect->cores) {
    snprintf(err, n, "measured with %lld cores, this machine has %d", (long long)json_integer_value(cores),
             expect->cores);
    return -1;
  }
  if (strcmp(json_string_value(isa), expect->isa)) {
    snprintf(err, n, "measured with other ISA extensions ('%.200s'; ATTNBENCH_MAX_ISA?)",
             json_string_value(isa));
    return -1;
  }
  out->key = *expect;
  return 0;
}

/* Reasons and the measured string quote the file, whose strings may hold any
 * character; the notes they end up in must stay one printable line. */
int bench_peak_read(const char *path, const bench_peak_key *expect, bench_peak *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  struct stat st;
  if (stat(path, &st) && errno == ENOENT) return 1;
  FILE *f = bench_open_input(path, err, n);
  if (!f) {
    attn_printable_line(err);
    return -1;
  }
  json_error_t je;
  json_t *root = json_loadf(f, 0, &je);
  fclose(f);
  if (!root) {
    snprintf(err, n, "not readable as JSON (line %d: %s)", je.line, je.text);
    attn_printable_line(err);
    return -1;
  }
  json_t *version = json_object_get(root, "version"), *measured = json_object_get(root, "measured");
  int rc = -1;
  if (!json_is_integer(version) || json_integer_value(version) != PEAK_FORMAT_VERSION)
    snprintf(err, n, "not a version %d peak file", PEAK_FORMAT_VERSION);
  else if (!check_machine(json_object_get(root, "machine"), expect, out, err, n) &&
           !parse_points(json_object_get(root, "points"), out, err, n))
    rc = 0;
  if (rc == 0) {
    snprintf(out->measured, sizeof out->measured, "%s",
             json_is_string(measured) ? json_string_value(measured) : "");
    attn_printable_line(out->measured); /* printed by info and in every report's header */
    out->pinned = json_is_true(json_object_get(root, "pinned"));
  } else {
    memset(out, 0, sizeof *out);
    attn_printable_line(err);
  }
  json_decref(root);
  return rc;
}

int bench_peak_load(bench_peak *out) {
  char path[4096], err[ERRLEN];
  memset(out, 0, sizeof *out);
  if (bench_peak_path(path, sizeof path)) return -1;
  bench_peak_key key;
  bench_peak_key_current(&key);
  const int rc = bench_peak_read(path, &key, out, err, sizeof err);
  if (rc < 0)
    fprintf(stderr, "attnbench: note: ignoring %s: %s; attnbench info --peak remeasures\n", path, err);
  return rc == 0 ? 0 : -1;
}
