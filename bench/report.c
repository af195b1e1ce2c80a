/* Result formats. The JSON speaks Google Benchmark's dialect (a context block
 * and a benchmarks array with real_time/time_unit) so its tools read it. */
#include "report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FLOPS_NOTE                                                                                           \
  "GFLOP/s = (2*(d+dv) * visible query-key pairs, plus the GEMMs of op=mha and op=han; other scores and "    \
  "modes as attn_flops in include/attnbench/problem.h, nominal for mode=local-p) / median time"
#define TANH_NOTE     "Gtanh/s = tanh evaluations of score=additive (da per visible pair) / median time"
#define CPU_TIME_NOTE "cpu_time repeats real_time: only wall-clock time is measured"
#define ROOF_NOTE                                                                                            \
  "%roof = GFLOP/s as % of min(fp32 FMA peak of the best ISA at the row's threads, bytes moved at least "    \
  "once "                                                                                                    \
  "* read bandwidth / flops)"
#define CI_NOTE "ci95 = 95% confidence interval of the median, as +-% of it (n<6: too few reps for one)"

bench_row *report_add(bench_report *r) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 16;
    bench_row *rows = realloc(r->rows, cap * sizeof *rows);
    if (!rows) return NULL;
    r->rows = rows;
    r->cap = cap;
  }
  bench_row *row = &r->rows[r->n++];
  memset(row, 0, sizeof *row);
  return row;
}

void report_free(bench_report *r) {
  for (size_t i = 0; i < r->n; i++) free(r->rows[i].st.ms);
  free(r->rows);
  r->rows = NULL;
  r->n = r->cap = 0;
}

int report_row_measured(const bench_row *w) { return !w->declined && !w->skipped && !w->why[0]; }

int report_format_known(const char *f) {
  return !strcmp(f, "table") || !strcmp(f, "csv") || !strcmp(f, "json") || !strcmp(f, "md");
}

static void emit_json(void *ctx, const char *key, const char *value) {
  json_object_set_new((json_t *)ctx, key, json_string(value));
}

/* The nominal clock in MHz, where Google Benchmark looks for it (the
 * cpufreq maximum, else /proc/cpuinfo); 0 if neither says. */
static long cpu_mhz(void) {
  long khz = 0;
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
  if (f) {
    if (fscanf(f, "%ld", &khz) != 1) khz = 0;
    fclose(f);
  }
  if (khz > 0) return khz / 1000;
  double mhz = 0;
  char line[256];
  if ((f = fopen("/proc/cpuinfo", "r"))) {
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "cpu MHz : %lf", &mhz) == 1) break;
    fclose(f);
  }
  return mhz > 0 ? (long)(mhz + 0.5) : 0;
}

/* A rate the roofline may not know (0): null then. */
static json_t *rate_or_null(double x) { return x > 0 ? json_real(x) : json_null(); }

void report_context_machine(json_t *c, const bench_machine *m, const char *date) {
  json_t *caches = json_array();
  json_object_set_new(c, "date", json_string(date));
  json_object_set_new(c, "host_name", json_string(m->hostname));
  json_object_set_new(c, "executable", json_string("attnbench"));
  json_object_set_new(c, "attnbench_version", json_string(ATTNBENCH_VERSION));
  json_object_set_new(c, "library_version", json_string(ATTNBENCH_VERSION));
  json_object_set_new(c, "cpu_model", json_string(m->cpu_model));
  json_object_set_new(c, "cpu_vendor", json_string(m->cpu_vendor));
  json_object_set_new(c, "cpu_family", m->cpu_family >= 0 ? json_integer(m->cpu_family) : json_null());
  json_object_set_new(c, "cpu_model_number",
                      m->cpu_model_number >= 0 ? json_integer(m->cpu_model_number) : json_null());
  json_object_set_new(c, "num_cpus", json_integer(m->pus));
  json_object_set_new(c, "mhz_per_cpu", json_integer(cpu_mhz()));
  json_object_set_new(c, "num_cores", json_integer(m->cores));
  json_object_set_new(c, "isa", json_string(m->isa));
  const struct {
    int level;
    long size;
  } levels[] = {{1, m->l1d}, {2, m->l2}, {3, m->l3}};
  for (int i = 0; i < 3; i++) {
    if (!levels[i].size) continue;
    json_t *cache = json_object();
    json_object_set_new(cache, "type", json_string(i == 0 ? "Data" : "Unified"));
    json_object_set_new(cache, "level", json_integer(levels[i].level));
    json_object_set_new(cache, "size", json_integer(levels[i].size));
    json_array_append_new(caches, cache);
  }
  json_object_set_new(c, "caches", caches);
  double load[3];
  if (getloadavg(load, 3) == 3) {
    json_t *avg = json_array();
    for (int i = 0; i < 3; i++) json_array_append_new(avg, json_real(load[i]));
    json_object_set_new(c, "load_avg", avg);
  }
}

void report_context_binding(json_t *c, const bench_machine *m, const char *bind, const char *cpus,
                            const char *membind) {
  json_object_set_new(c, "thread_binding", json_string(bind));
  json_object_set_new(c, "bound_cpus", json_string(cpus));
  json_object_set_new(c, "memory_binding", json_string(membind[0] ? membind : "none (first touch)"));
  json_object_set_new(c, "numa_nodes", json_integer(m->numa_nodes));
  json_object_set_new(c, "num_packages", json_integer(m->packages));
}

void report_context_roofline(json_t *c, const bench_peak *peak) {
  if (!peak) return;
  json_object_set_new(c, "roofline_measured", json_string(peak->measured));
  json_object_set_new(c, "peak_gflops", rate_or_null(bench_peak_gflops(peak, NULL, 1 << 30)));
  json_object_set_new(c, "read_gbs", rate_or_null(bench_peak_read_gbs(peak, 1 << 30)));
  /* Whether zmm FMAs run at twice the ymm rate (full-width units, Zen 5) or
   * the same (split into 256-bit halves, Zen 4): kernel choices depend on it. */
  const double zmm = bench_peak_gflops(peak, "avx512", 1), ymm = bench_peak_gflops(peak, "avx2", 1);
  json_object_set_new(c, "fma_zmm_over_ymm", zmm > 0 && ymm > 0 ? json_real(zmm / ymm) : json_null());
}

void report_context_backends(json_t *c, const attn_backend **bes, int n) {
  json_t *all = json_object();
  for (int i = 0; i < n; i++) {
    json_t *info = json_object();
    json_object_set_new(info, "summary", json_string(bes[i]->summary));
    if (bes[i]->describe) bes[i]->describe(emit_json, info);
    json_object_set_new(all, bes[i]->name, info);
  }
  json_object_set_new(c, "backends", all);
}

static json_t *context_json(const bench_report *r) {
  json_t *c = json_object();
  report_context_machine(c, &r->machine, r->date);
  json_t *threads = json_array();
  for (int i = 0; i < r->nthread_counts; i++)
    json_array_append_new(threads, json_integer(r->thread_counts[i]));
  json_object_set_new(c, "threads", threads);
  report_context_binding(c, &r->machine, r->bind, r->bind_cpus, r->membind);
  json_object_set_new(c, "cache_mode", json_string(r->cache_mode ? r->cache_mode : "warm"));
  if (r->interrupted) json_object_set_new(c, "interrupted", json_true());
  json_object_set_new(c, "flops_convention", json_string(FLOPS_NOTE));
  json_object_set_new(c, "tanh_convention", json_string(TANH_NOTE));
  json_object_set_new(c, "roofline_convention", json_string(ROOF_NOTE));
  report_context_roofline(c, r->peak);
  json_object_set_new(c, "library_build_type", json_string("release"));
  json_object_set_new(c, "cpu_time_note", json_string(CPU_TIME_NOTE));
  json_object_set_new(c, "peak_rss_mib", json_real(r->peak_rss_mib));
  report_context_backends(c, r->backends, r->nbackends);
  return c;
}

/* The fields every entry of a case shares, under Google Benchmark's names
 * (plus backend and problem, for readers that group entries themselves):
 * compare.py pairs entries by name and sorts them by the indices. */
static json_t *entry_json(const bench_row *w, size_t index, const char *aggregate) {
  json_t *b = json_object();
  char run[ATTN_PROBLEM_STRLEN + 64], name[ATTN_PROBLEM_STRLEN + 80];
  snprintf(run, sizeof run, "%s/%s/threads:%d", w->backend, w->problem, w->threads);
  snprintf(name, sizeof name, "%s%s%s", run, aggregate ? "_" : "", aggregate ? aggregate : "");
  json_object_set_new(b, "name", json_string(name));
  json_object_set_new(b, "family_index", json_integer((json_int_t)index));
  json_object_set_new(b, "per_family_instance_index", json_integer(0));
  json_object_set_new(b, "run_name", json_string(run));
  json_object_set_new(b, "run_type", json_string(aggregate ? "aggregate" : "iteration"));
  json_object_set_new(b, "repetitions", json_integer(w->st.reps));
  json_object_set_new(b, "threads", json_integer(w->threads));
  json_object_set_new(b, "backend", json_string(w->backend));
  json_object_set_new(b, "problem", json_string(w->problem));
  if (aggregate) {
    json_object_set_new(b, "aggregate_name", json_string(aggregate));
    json_object_set_new(b, "aggregate_unit", json_string("time"));
  }
  return b;
}

static void set_time(json_t *b, double ms, json_int_t iterations) {
  json_object_set_new(b, "iterations", json_integer(iterations));
  json_object_set_new(b, "real_time", json_real(ms));
  json_object_set_new(b, "cpu_time", json_real(ms));
  json_object_set_new(b, "time_unit", json_string("ms"));
}

/* A declined, skipped or failed case: one entry, without times, which
 * compare.py passes over. */
static json_t *error_json(const bench_row *w, size_t index) {
  json_t *b = entry_json(w, index, NULL);
  json_object_set_new(b, "error_occurred", json_true());
  json_object_set_new(b, "error_message", json_string(w->why));
  json_object_set_new(b, "declined", json_boolean(w->declined));
  json_object_set_new(b, "skipped", json_boolean(w->skipped));
  return b;
}

/* The median aggregate carries everything else about the case: the scripts
 * and `compare` read it there. With a cached roofline (`roofline`) that
 * does not cover the row's thread count, %roof is null rather than absent. */
static json_t *median_json(const bench_row *w, size_t index, int roofline) {
  json_t *b = entry_json(w, index, "median");
  set_time(b, w->st.median_ms, w->st.reps);
  json_object_set_new(b, "min_ms", json_real(w->st.min_ms));
  json_object_set_new(b, "max_ms", json_real(w->st.max_ms));
  json_object_set_new(b, "q1_ms", json_real(w->st.q1_ms));
  json_object_set_new(b, "q3_ms", json_real(w->st.q3_ms));
  json_object_set_new(b, "ci_lo_ms", json_real(w->st.ci_lo_ms));
  json_object_set_new(b, "ci_hi_ms", json_real(w->st.ci_hi_ms));
  json_object_set_new(b, "ci_level", json_real(w->st.ci_level));
  json_object_set_new(b, "plan_ms", json_real(w->plan_ms));
  json_object_set_new(b, "workspace_mib", json_real(w->workspace_mib));
  json_object_set_new(b, "flops", json_real(w->flops));
  json_object_set_new(b, "gflops", json_real(w->gflops));
  json_object_set_new(b, "gtanh_s", w->tanh_evals > 0 ? json_real(w->gtanh_s) : json_null());
  if (w->tanh_evals > 0) json_object_set_new(b, "tanh_evals", json_real(w->tanh_evals));
  if (w->roof_gflops > 0) {
    json_object_set_new(b, "roof_gflops", json_real(w->roof_gflops));
    json_object_set_new(b, "pct_peak", json_real(w->pct_peak));
  } else if (roofline) {
    json_object_set_new(b, "roof_gflops", json_null());
    json_object_set_new(b, "pct_peak", json_null());
  }
  json_object_set_new(b, "note", json_string(w->note));
  if (w->tokens_per_s > 0) {
    json_object_set_new(b, "step_us", json_real(w->step_us));
    json_object_set_new(b, "tokens_per_s", json_real(w->tokens_per_s));
  }
  json_object_set_new(b, "verified", json_string(w->verified));
  return b;
}

static double gflops_at(const bench_row *w, double ms) { return ms > 0 ? w->flops / (ms * 1e6) : 0; }
static double gtanh_at(const bench_row *w, double ms) { return ms > 0 ? w->tanh_evals / (ms * 1e6) : 0; }

/* One entry per repetition, then the aggregates, as Google Benchmark writes
 * them with --benchmark_repetitions. Counters are top-level keys; an
 * aggregate's gflops is the rate at its time, except stddev's, which is the
 * spread of the repetitions' rates. */
static void append_case(json_t *arr, const bench_row *w, size_t index, int roofline) {
  if (!report_row_measured(w)) {
    json_array_append_new(arr, error_json(w, index));
    return;
  }
  const int n = w->st.reps;
  double sum = 0, sq = 0;
  for (int i = 0; w->st.ms && i < n; i++) {
    json_t *b = entry_json(w, index, NULL);
    json_object_set_new(b, "repetition_index", json_integer(i));
    set_time(b, w->st.ms[i], 1);
    json_object_set_new(b, "gflops", json_real(gflops_at(w, w->st.ms[i])));
    if (w->tanh_evals > 0) json_object_set_new(b, "gtanh_s", json_real(gtanh_at(w, w->st.ms[i])));
    if (w->roof_gflops > 0)
      json_object_set_new(b, "pct_peak", json_real(100 * gflops_at(w, w->st.ms[i]) / w->roof_gflops));
    else if (roofline)
      json_object_set_new(b, "pct_peak", json_null());
    json_array_append_new(arr, b);
    sum += gflops_at(w, w->st.ms[i]);
  }
  for (int i = 0; w->st.ms && i < n; i++) sq += pow(gflops_at(w, w->st.ms[i]) - sum / n, 2);
  json_array_append_new(arr, median_json(w, index, roofline));
  const struct {
    const char *name;
    double ms, gflops;
  } aggs[] = {{"mean", w->st.mean_ms, gflops_at(w, w->st.mean_ms)},
              {"stddev", w->st.stddev_ms, n > 1 ? sqrt(sq / (n - 1)) : 0},
              {"min", w->st.min_ms, gflops_at(w, w->st.min_ms)}};
  for (size_t a = 0; a < sizeof aggs / sizeof aggs[0]; a++) {
    json_t *b = entry_json(w, index, aggs[a].name);
    set_time(b, aggs[a].ms, n);
    json_object_set_new(b, "gflops", json_real(aggs[a].gflops));
    if (w->tanh_evals > 0 && strcmp(aggs[a].name, "stddev"))
      json_object_set_new(b, "gtanh_s", json_real(gtanh_at(w, aggs[a].ms)));
    json_array_append_new(arr, b);
  }
}

static int write_json(FILE *f, const bench_report *r) {
  json_t *doc = json_object(), *arr = json_array();
  json_object_set_new(doc, "context", context_json(r));
  for (size_t i = 0; i < r->n; i++) append_case(arr, &r->rows[i], i, r->peak != NULL);
  json_object_set_new(doc, "benchmarks", arr);
  int rc = json_dumpf(doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
  fputc('\n', f);
  json_decref(doc);
  return rc;
}

static const char *row_status(const bench_row *w) {
  return w->skipped ? "skipped" : w->declined ? "declined" : "failed";
}

/* Interquartile range as a percentage of the median: the spread column. */
static double spread_pct(const bench_stats *s) {
  return s->median_ms > 0 ? 100.0 * (s->q3_ms - s->q1_ms) / s->median_ms : 0;
}

/* The ci95 column: the farther end of the median's interval from the median,
 * as a percentage of it, right-aligned to `width` columns ("±" is two bytes
 * but one column). Below 6 repetitions no order statistics make a 95%
 * interval, and the column says so rather than show [min, max]. */
static void ci_cell(const bench_stats *s, int width, char *out, size_t n) {
  char v[32];
  if (s->ci_level < 0.95 || !(s->median_ms > 0)) {
    snprintf(v, sizeof v, "n<6");
  } else {
    double lo = s->median_ms - s->ci_lo_ms, hi = s->ci_hi_ms - s->median_ms;
    snprintf(v, sizeof v, "\u00b1%.1f%%", 100.0 * (lo > hi ? lo : hi) / s->median_ms);
  }
  int cols = 0;
  for (const char *c = v; *c; c++) cols += ((unsigned char)*c & 0xC0) != 0x80;
  snprintf(out, n, "%*s%s", width > cols ? width - cols : 0, "", v);
}

static const char *cache_mode(const bench_report *r) { return r->cache_mode ? r->cache_mode : "warm"; }

static void write_csv(FILE *f, const bench_report *r) {
  fprintf(f, "backend,problem,threads,bind,cache,median_ms,min_ms,max_ms,q1_ms,q3_ms,ci_lo_ms,ci_hi_ms,ci_"
             "level,reps,"
             "plan_ms,workspace_mib,gflops,gtanh_s,pct_peak,flops,status,verified,note\n");
  for (size_t i = 0; i < r->n; i++) {
    const bench_row *w = &r->rows[i];
    if (!report_row_measured(w)) {
      fprintf(f, "%s,\"%s\",%d,%s,%s,,,,,,,,,,,,,,,,%s,,\"%s\"\n", w->backend, w->problem, w->threads,
              r->bind, cache_mode(r), row_status(w), w->why);
      continue;
    }
    char gtanh[32] = "", roof[32] = "";
    if (w->tanh_evals > 0) snprintf(gtanh, sizeof gtanh, "%.3f", w->gtanh_s);
    if (w->roof_gflops > 0) snprintf(roof, sizeof roof, "%.1f", w->pct_peak);
    fprintf(f,
            "%s,\"%s\",%d,%s,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.4f,%d,%.3f,%.3f,%.3f,%s,%s,%.0f,ok,%s,"
            "\"%s\"\n",
            w->backend, w->problem, w->threads, r->bind, cache_mode(r), w->st.median_ms, w->st.min_ms,
            w->st.max_ms, w->st.q1_ms, w->st.q3_ms, w->st.ci_lo_ms, w->st.ci_hi_ms, w->st.ci_level,
            w->st.reps, w->plan_ms, w->workspace_mib, w->gflops, gtanh, roof, w->flops, w->verified, w->note);
  }
}

/* The roofline at the largest thread count run, or that the file does not
 * cover it (those rows show no %roof). */
static void roof_header(FILE *f, const bench_report *r, const char *prefix) {
  const int threads = r->thread_counts[r->nthread_counts - 1];
  const double peak = bench_peak_gflops(r->peak, NULL, threads), read = bench_peak_read_gbs(r->peak, threads);
  if (peak > 0)
    fprintf(f, "%s%s; peak %.1f GFLOP/s, read %.1f GB/s at %d thread(s), measured %s\n", prefix, ROOF_NOTE,
            peak, read, threads, r->peak->measured);
  else
    fprintf(f, "%s%s; the roofline measured %s does not cover %d thread(s)\n", prefix, ROOF_NOTE,
            r->peak->measured, threads);
}

void report_machine_line(char *buf, size_t n, const bench_machine *m) {
  snprintf(buf, n,
           "%s; %d package(s), %d NUMA node(s), %d core(s), %d thread(s); L1d %ld KiB, L2 %ld KiB, "
           "L3 %ld KiB; %s",
           m->cpu_model, m->packages, m->numa_nodes, m->cores, m->pus, m->l1d >> 10, m->l2 >> 10, m->l3 >> 10,
           m->isa);
}

static void write_header(FILE *f, const bench_report *r, const char *prefix) {
  const bench_machine *m = &r->machine;
  char machine[REPORT_MACHINE_LINE];
  report_machine_line(machine, sizeof machine, m);
  fprintf(f, "%sattnbench %s, %s, %s\n", prefix, ATTNBENCH_VERSION, r->date, m->hostname);
  fprintf(f, "%smachine: %s\n", prefix, machine);
  fprintf(f, "%sthreads:", prefix);
  for (int i = 0; i < r->nthread_counts; i++) fprintf(f, "%s%d", i ? "," : " ", r->thread_counts[i]);
  fprintf(f, ", binding: %s%s%s%s%s%s; caches: %s; %s; peak RSS %.1f MiB\n", r->bind,
          r->bind_cpus[0] ? " (cpus " : "", r->bind_cpus, r->membind[0] ? ", memory " : "", r->membind,
          r->bind_cpus[0] ? ")" : "", cache_mode(r), FLOPS_NOTE, r->peak_rss_mib);
  if (r->interrupted) fprintf(f, "%sinterrupted: the rows are the cases done before Ctrl-C\n", prefix);
  fprintf(f, "%sspread = (q3-q1)/median; %s; %s\n", prefix, CI_NOTE, TANH_NOTE);
  if (r->peak)
    roof_header(f, r, prefix);
  else
    fprintf(f, "%s%%roof: no roofline cached for this machine (run attnbench info --peak)\n", prefix);
}

static void write_table(FILE *f, const bench_report *r, int md) {
  const char *sep = md ? " | " : "  ";
  write_header(f, r, md ? "" : "# ");
  if (md)
    fprintf(
        f,
        "\n| backend | threads | median ms | min ms | spread | ci95 | reps | plan ms | GFLOP/s | Gtanh/s | "
        "%%roof | verified | note | problem |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n");
  else
    fprintf(f, "%-8s%s%3s%s%11s%s%10s%s%7s%s%7s%s%4s%s%8s%s%8s%s%8s%s%5s%s%-9s%s%-22s%s%s\n", "backend", sep,
            "thr", sep, "median_ms", sep, "min_ms", sep, "spread", sep, "ci95", sep, "reps", sep, "plan_ms",
            sep, "GFLOP/s", sep, "Gtanh/s", sep, "%roof", sep, "verified", sep, "note", sep, "problem");
  for (size_t i = 0; i < r->n; i++) {
    const bench_row *w = &r->rows[i];
    const char *lead = md ? "| " : "", *tail = md ? " |" : "";
    if (!report_row_measured(w)) {
      char msg[ERRLEN + 16];
      snprintf(msg, sizeof msg, "%s: %s", row_status(w), w->why);
      if (md)
        fprintf(f, "| %s | %d | - | - | - | - | - | - | - | - | - | - | %s | %s |\n", w->backend, w->threads,
                msg, w->problem);
      else
        fprintf(f, "%-8s%s%3d%s%11s%s%10s%s%7s%s%7s%s%4s%s%8s%s%8s%s%8s%s%5s%s%-9s%s%-22s%s%s\n", w->backend,
                sep, w->threads, sep, "-", sep, "-", sep, "-", sep, "-", sep, "-", sep, "-", sep, "-", sep,
                "-", sep, "-", sep, "-", sep, msg, sep, w->problem);
      continue;
    }
    char spread[16], ci[40], roof[16] = "-", gtanh[32] = "-";
    snprintf(spread, sizeof spread, "%.1f%%", spread_pct(&w->st));
    if (w->roof_gflops > 0) snprintf(roof, sizeof roof, "%.0f%%", w->pct_peak);
    if (w->tanh_evals > 0) snprintf(gtanh, sizeof gtanh, "%.2f", w->gtanh_s);
    ci_cell(&w->st, md ? 0 : 7, ci, sizeof ci);
    fprintf(f, "%s%-8s%s%3d%s%11.3f%s%10.3f%s%7s%s%s%s%4d%s%8.1f%s%8.1f%s%8s%s%5s%s%-9s%s%-22s%s%s%s\n", lead,
            w->backend, sep, w->threads, sep, w->st.median_ms, sep, w->st.min_ms, sep, spread, sep, ci, sep,
            w->st.reps, sep, w->plan_ms, sep, w->gflops, sep, gtanh, sep, roof, sep, w->verified, sep,
            w->note, sep, w->problem, tail);
  }
}

int report_write(FILE *f, const bench_report *r, const char *format) {
  if (!strcmp(format, "json")) return write_json(f, r);
  if (!strcmp(format, "csv"))
    write_csv(f, r);
  else
    write_table(f, r, !strcmp(format, "md"));
  return ferror(f) ? -1 : 0;
}
