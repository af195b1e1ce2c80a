/* attnbench compare: two `bench --format json` results, case by case. A
 * difference in medians alone is not evidence: a second run on a quiet
 * machine can be a few percent off the first. So each common case gets a
 * rank test over the repetitions' times as well, and a verdict needs both a
 * significant test and a change larger than the threshold. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare_load.h"
#include "harness.h"
#include "stats.h"

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: attnbench compare BASE.json NEW.json [--threshold PCT] [--alpha A] [--force]\n"
      "                         [--format table|csv|json]\n"
      "Compares two results of `attnbench bench --format json`, case by case (backend, problem, threads).\n"
      "Per case: ratio = median NEW / median BASE, a confidence interval of the ratio at level 1-A, the\n"
      "two-sided Mann-Whitney U test's p over the repetitions' times, and a verdict: regressed (p < A and\n"
      "ratio > 1 + PCT/100), improved (p < A and ratio < 1 - PCT/100), noisy (a change beyond PCT that the\n"
      "test does not confirm: rerun with more --reps), same, or untested (fewer than 2 repetitions).\n"
      "Every figure comes from the repetitions; a file without any gives the median aggregate (untested).\n"
      "A file is refused when its median, mean, stddev or min aggregates disagree with its repetitions, or\n"
      "when a case has a repetition_index or an aggregate twice; an interrupted run is compared with a "
      "note.\n"
      "Defaults: --threshold 5, --alpha 0.05. Results from different machines (host, CPU model, CPU\n"
      "count) are refused unless --force. --format csv or json: one record per case (ratio, ci_lo, ci_hi,\n"
      "p, base_ms, new_ms, verdict) for scripts such as scripts/plot.py --compare.\n"
      "Exit status: 0 nothing regressed, 1 a case regressed, 2 unusable input.\n");
}

void cmp_file_free(cmp_file *f) {
  for (size_t i = 0; i < f->n; i++) free(f->cases[i].ms), free(f->cases[i].rep);
  free(f->cases);
  json_decref(f->index);
  json_decref(f->doc);
  memset(f, 0, sizeof *f);
}

static cmp_case *case_get(cmp_file *f, const char *name) {
  json_t *at = json_object_get(f->index, name);
  if (at) return &f->cases[json_integer_value(at)];
  if (f->n == f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 64;
    cmp_case *cases = realloc(f->cases, cap * sizeof *cases);
    if (!cases) return NULL;
    f->cases = cases;
    f->cap = cap;
  }
  cmp_case *c = &f->cases[f->n];
  memset(c, 0, sizeof *c);
  c->name = name;
  if (json_object_set_new(f->index, name, json_integer((json_int_t)f->n))) return NULL;
  f->n++;
  return c;
}

static int case_push(cmp_case *c, double ms, json_int_t rep) {
  if (c->n == c->cap) {
    int cap = c->cap ? 2 * c->cap : 16;
    double *v = realloc(c->ms, (size_t)cap * sizeof *v);
    if (v) c->ms = v;
    json_int_t *r = v ? realloc(c->rep, (size_t)cap * sizeof *r) : NULL;
    if (!r) return -1;
    c->rep = r;
    c->cap = cap;
  }
  c->ms[c->n] = ms;
  c->rep[c->n++] = rep;
  return 0;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : dflt;
}

/* Milliseconds per time_unit; 0 for a unit Google Benchmark does not use. */
static double unit_ms(const char *unit) {
  static const struct {
    const char *name;
    double ms;
  } units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"ms", 1}, {"s", 1e3}};
  for (size_t i = 0; unit && i < sizeof units / sizeof units[0]; i++)
    if (!strcmp(unit, units[i].name)) return units[i].ms;
  return 0;
}

static const char *const agg_names[CMP_NAGG] = {"median", "mean", "stddev", "min"};

/* Which of the checked aggregates an aggregate_name is; -1 for the others
 * (Google Benchmark's cv and user statistics are no times). */
static int agg_kind(const char *name) {
  for (int a = 0; a < CMP_NAGG; a++)
    if (!strcmp(name, agg_names[a])) return a;
  return -1;
}

/* The entry's real_time in ms: positive, or zero for a stddev. */
static int entry_ms(const cmp_file *f, json_t *b, size_t i, const char *name, int kind, double *ms, char *err,
                    size_t n) {
  json_t *t = json_object_get(b, "real_time");
  const double unit = unit_ms(str_or(b, "time_unit", NULL));
  *ms = json_number_value(t) * unit;
  if (json_is_number(t) && unit != 0 && isfinite(*ms) && (*ms > 0 || (kind == CMP_STDDEV && *ms == 0)))
    return 0;
  snprintf(err, n, "%s: benchmarks[%zu] (%s) has no %s real_time in ns, us, ms or s", f->path, i, name,
           kind == CMP_STDDEV ? "non-negative" : "positive");
  return -1;
}

/* A repetition's repetition_index: -1 when the entry has none (older
 * Google Benchmark files), else an integer >= 0. */
static int entry_rep(const cmp_file *f, json_t *b, size_t i, const char *name, json_int_t *rep, char *err,
                     size_t n) {
  json_t *r = json_object_get(b, "repetition_index");
  *rep = r ? json_integer_value(r) : -1;
  if (!r || (json_is_integer(r) && *rep >= 0)) return 0;
  snprintf(err, n, "%s: benchmarks[%zu] (%s) has a repetition_index that is no integer >= 0", f->path, i,
           name);
  return -1;
}

/* Reads one entry of the benchmarks array into its case. */
static int read_entry(cmp_file *f, json_t *b, size_t i, char *err, size_t n) {
  const char *name = str_or(b, "run_name", str_or(b, "name", NULL));
  if (!json_is_object(b) || !name) {
    snprintf(err, n, "%s: benchmarks[%zu] has no name", f->path, i);
    return -1;
  }
  cmp_case *c = case_get(f, name);
  if (!c) {
    snprintf(err, n, "%s: out of memory", f->path);
    return -1;
  }
  if (json_is_true(json_object_get(b, "error_occurred"))) {
    c->error = str_or(b, "error_message", "error");
    return 0;
  }
  const char *type = str_or(b, "run_type", "iteration");
  const int kind = !strcmp(type, "aggregate") ? agg_kind(str_or(b, "aggregate_name", "")) : -1;
  if (kind < 0 && strcmp(type, "iteration")) return 0;
  double ms;
  if (entry_ms(f, b, i, name, kind, &ms, err, n)) return -1;
  if (kind >= 0) {
    if (c->agg_at[kind]) {
      snprintf(err, n, "%s: case %s has two %s aggregates (benchmarks[%zu] and [%zu])", f->path, name,
               agg_names[kind], c->agg_at[kind] - 1, i);
      return -1;
    }
    c->agg_ms[kind] = ms;
    c->agg_at[kind] = i + 1;
    return 0;
  }
  json_int_t rep;
  if (entry_rep(f, b, i, name, &rep, err, n)) return -1;
  if (case_push(c, ms, rep)) {
    snprintf(err, n, "%s: out of memory", f->path);
    return -1;
  }
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int cmp_index(const void *a, const void *b) {
  json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;
  return (x > y) - (x < y);
}

/* A repetition listed twice would count twice in the test: refused. */
static int check_reps_unique(const cmp_file *f, const cmp_case *c, char *err, size_t n) {
  json_int_t *s = malloc((size_t)c->n * sizeof *s);
  if (!s) {
    snprintf(err, n, "%s: out of memory", f->path);
    return -1;
  }
  int k = 0;
  for (int i = 0; i < c->n; i++)
    if (c->rep[i] >= 0) s[k++] = c->rep[i];
  qsort(s, (size_t)k, sizeof *s, cmp_index);
  int dup = 1;
  while (dup < k && s[dup] != s[dup - 1]) dup++;
  if (dup < k)
    snprintf(err, n, "%s: case %s has two repetitions with repetition_index %lld", f->path, c->name,
             (long long)s[dup]);
  free(s);
  return dup < k ? -1 : 0;
}

/* Every figure compare prints comes from the repetitions; the aggregates a
 * file states besides them must agree, or it contradicts itself. Without
 * repetitions the median aggregate is all there is. A repetition listed
 * twice is named as such rather than as the disagreement it causes. */
static int check_case(const cmp_file *f, cmp_case *c, char *err, size_t n) {
  if (c->n == 0) {
    c->median_ms = c->agg_at[CMP_MEDIAN] ? c->agg_ms[CMP_MEDIAN] : 0;
    return 0;
  }
  if (check_reps_unique(f, c, err, n)) return -1;
  double *s = malloc((size_t)c->n * sizeof *s), got[CMP_NAGG];
  if (!s) {
    snprintf(err, n, "%s: out of memory", f->path);
    return -1;
  }
  memcpy(s, c->ms, (size_t)c->n * sizeof *s);
  qsort(s, (size_t)c->n, sizeof *s, cmp_double);
  got[CMP_MEDIAN] = stats_quantile(s, c->n, 0.5);
  got[CMP_MIN] = s[0];
  stats_mean_sd(s, c->n, &got[CMP_MEAN], &got[CMP_STDDEV]);
  free(s);
  c->median_ms = got[CMP_MEDIAN];
  const double tol = CMP_AGG_TOLERANCE * (got[CMP_MEAN] + got[CMP_STDDEV]);
  for (int a = 0; a < CMP_NAGG; a++)
    if (c->agg_at[a] && !(fabs(c->agg_ms[a] - got[a]) <= tol)) {
      snprintf(err, n,
               "%s: case %s: its %s aggregate (benchmarks[%zu]) says %.9g ms, its %d repetition(s) give "
               "%.9g ms; the file contradicts itself",
               f->path, c->name, agg_names[a], c->agg_at[a] - 1, c->agg_ms[a], c->n, got[a]);
      return -1;
    }
  return 0;
}

/* jansson reports a failed allocation by returning NULL, mostly with no
 * reason at all and, for a string, as an "invalid token": counting the
 * failures of its allocator tells running out of memory from a bad file. */
static int jansson_alloc_failed;

static void *counting_malloc(size_t size) {
  void *p = malloc(size);
  jansson_alloc_failed |= !p;
  return p;
}

static void load_error(const char *path, const json_error_t *jerr, char *err, size_t n) {
  if (jansson_alloc_failed || json_error_code(jerr) == json_error_out_of_memory || !jerr->text[0])
    snprintf(err, n, "%s: out of memory", path);
  else if (jerr->line > 0)
    snprintf(err, n, "%s: not valid JSON: %s (line %d, column %d)", path, jerr->text, jerr->line,
             jerr->column);
  else
    snprintf(err, n, "%s: %s", path, jerr->text); /* a reason without a position in the file */
}

static int file_load(cmp_file *f, const char *path, char *err, size_t n) {
  memset(f, 0, sizeof *f);
  f->path = path;
  json_set_alloc_funcs(counting_malloc, free);
  jansson_alloc_failed = 0;
  json_error_t jerr;
  FILE *in = bench_open_input(path, err, n);
  if (!in) return -1;
  f->doc = json_loadf(in, JSON_REJECT_DUPLICATES, &jerr);
  fclose(in);
  if (!f->doc) {
    load_error(path, &jerr, err, n);
    return -1;
  }
  json_t *ctx = json_object_get(f->doc, "context"), *benches = json_object_get(f->doc, "benchmarks");
  if (!json_is_object(ctx) || !json_is_array(benches) ||
      !json_is_string(json_object_get(ctx, "attnbench_version"))) {
    snprintf(err, n,
             "%s: not an attnbench result (want the output of bench --format json: a context with "
             "attnbench_version and a benchmarks array)",
             path);
    return -1;
  }
  f->host = str_or(ctx, "host_name", "");
  f->cpu = str_or(ctx, "cpu_model", "");
  f->date = str_or(ctx, "date", "");
  f->interrupted = json_is_true(json_object_get(ctx, "interrupted"));
  f->ncpus = json_is_integer(json_object_get(ctx, "num_cpus"))
                 ? json_integer_value(json_object_get(ctx, "num_cpus"))
                 : -1;
  if (!(f->index = json_object())) {
    snprintf(err, n, "%s: out of memory", path);
    return -1;
  }
  size_t i;
  json_t *b;
  json_array_foreach(benches, i, b) if (read_entry(f, b, i, err, n)) return -1;
  for (i = 0; i < f->n; i++)
    if (check_case(f, &f->cases[i], err, n)) return -1;
  return 0;
}

/* The message may quote the file (a case name, a JSON token): control
 * characters in it become '?', so that it stays one printable line. */
int cmp_file_load(cmp_file *f, const char *path, char *err, size_t n) {
  const int rc = file_load(f, path, err, n);
  if (rc && n) attn_printable_line(err);
  return rc;
}

/* Empty when both files come from the same machine; else what differs. */
static void machine_diff(const cmp_file *a, const cmp_file *b, char *out, size_t n) {
  size_t at = 0;
  out[0] = 0;
  if (strcmp(a->host, b->host))
    at += (size_t)snprintf(out + at, n - at, "host_name '%s' vs '%s'", a->host, b->host);
  if (at < n && strcmp(a->cpu, b->cpu))
    at += (size_t)snprintf(out + at, n - at, "%scpu_model '%s' vs '%s'", at ? ", " : "", a->cpu, b->cpu);
  if (at < n && a->ncpus != b->ncpus)
    snprintf(out + at, n - at, "%snum_cpus %lld vs %lld", at ? ", " : "", (long long)a->ncpus,
             (long long)b->ncpus);
}

typedef struct cmp_opts {
  double threshold, alpha; /* threshold as a fraction */
  int force;
  const char *format; /* table, csv or json */
  json_t *cases;      /* --format json: the records so far */
} cmp_opts;

/* One case's outcome, whatever the format it is written in. NAN: none. */
typedef struct cmp_result {
  const char *verdict, *method, *name;
  const char *side, *why; /* a case not compared: which file (base, new, both) and why */
  double ratio, ci_lo, ci_hi, p, base_ms, new_ms;
  int base_reps, new_reps;
} cmp_result;

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

/* csv and json leave a missing number empty or null rather than "-".
 * Returns -1 when memory for the json record is missing. */
static int emit_result(const cmp_result *r, const cmp_opts *o) {
  if (!strcmp(o->format, "json")) {
    /* Packed in one call, so that any allocation failing fails the record. */
    json_t *note = r->why ? json_pack("s++", r->side, ": ", r->why) : NULL;
    if (r->why && !note) return -1;
    json_t *c = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:s, s:o*}", "case", r->name,
                          "verdict", r->verdict, "ratio", num_or_null(r->ratio), "ci_lo",
                          num_or_null(r->ci_lo), "ci_hi", num_or_null(r->ci_hi), "p", num_or_null(r->p),
                          "base_ms", num_or_null(r->base_ms), "new_ms", num_or_null(r->new_ms), "base_reps",
                          r->base_reps, "new_reps", r->new_reps, "test", r->method, "note", note);
    return c && !json_array_append_new(o->cases, c) ? 0 : -1;
  }
  char num[6][32];
  const double v[6] = {r->ratio, r->ci_lo, r->ci_hi, r->p, r->base_ms, r->new_ms};
  for (int i = 0; i < 6; i++) {
    num[i][0] = 0;
    if (isfinite(v[i])) snprintf(num[i], sizeof num[i], "%.6g", v[i]);
  }
  printf("%s,%s,%s,%s,%s,%s,%s,%d,%d,%s,\"%s\",\"%s%s%s\"\n", r->verdict, num[0], num[1], num[2], num[3],
         num[4], num[5], r->base_reps, r->new_reps, r->method, r->name, r->why ? r->side : "",
         r->why ? ": " : "", r->why ? r->why : "");
  return 0;
}

typedef struct cmp_tally {
  int regressed, improved, same, noisy, untested, powerless, uncompared;
} cmp_tally;

/* One common case: its line, and its verdict counted. Every figure comes
 * from the repetitions (the medians too: the loader made sure that what the
 * files state agrees). Returns -1 when memory runs out. */
static int compare_case(const cmp_case *b, const cmp_case *w, const cmp_opts *o, cmp_tally *t) {
  const double mb = b->median_ms, mw = w->median_ms;
  cmp_result r = {.name = b->name,
                  .method = "-",
                  .ratio = NAN,
                  .ci_lo = NAN,
                  .ci_hi = NAN,
                  .p = NAN,
                  .base_ms = mb > 0 ? mb : NAN,
                  .new_ms = mw > 0 ? mw : NAN,
                  .base_reps = b->n,
                  .new_reps = w->n};
  if (b->error || w->error || !(mb > 0) || !(mw > 0)) {
    r.why = b->error ? b->error : w->error ? w->error : "no times";
    r.side = b->error ? "base" : w->error ? "new" : "both";
    t->uncompared++;
    r.verdict = "-";
    if (strcmp(o->format, "table")) return emit_result(&r, o);
    printf("%-10s %7s  %-17s %8s  %10s  %10s  %7s  %-6s  %s  (%s: %s)\n", "-", "-", "-", "-", "-", "-", "-",
           "-", b->name, r.side, r.why);
    return 0;
  }
  const double ratio = mw / mb;
  const int up = ratio > 1 + o->threshold, down = ratio < 1 - o->threshold;
  char reps[24], ci[40] = "-", p[16] = "-";
  snprintf(reps, sizeof reps, "%d/%d", b->n, w->n);
  const char *verdict, *method = "-";
  if (b->n < 2 || w->n < 2) {
    verdict = "untested";
    t->untested++;
  } else {
    stats_mw u;
    double est, lo, hi;
    /* Both samples are non-empty and their times positive: only memory fails these. */
    if (stats_mann_whitney(b->ms, b->n, w->ms, w->n, &u)) return -1;
    snprintf(p, sizeof p, u.p < 1e-4 ? "%.1e" : "%.4f", u.p);
    method = u.exact ? "exact" : "normal";
    int rc = stats_ratio_ci(b->ms, b->n, w->ms, w->n, 1 - o->alpha, &est, &lo, &hi);
    if (rc == -2) return -1;
    if (rc == 0) snprintf(ci, sizeof ci, "[%.3f, %.3f]", lo, hi), r.ci_lo = lo, r.ci_hi = hi;
    r.p = u.p;
    /* The exact test's smallest p is 2/C(nb+nw, nb): with too few repetitions
     * no difference, however large, can be significant. */
    const double min_p = 2 * exp(lgamma(b->n + 1.0) + lgamma(w->n + 1.0) - lgamma(b->n + w->n + 1.0));
    t->powerless += min_p >= o->alpha;
    const int sig = u.p < o->alpha;
    if (sig && up)
      verdict = "regressed", t->regressed++;
    else if (sig && down)
      verdict = "improved", t->improved++;
    else if (up || down)
      verdict = "noisy", t->noisy++;
    else
      verdict = "same", t->same++;
  }
  if (strcmp(o->format, "table")) {
    r.verdict = verdict, r.method = method, r.ratio = ratio;
    return emit_result(&r, o);
  }
  printf("%-10s %7.3f  %-17s %8s  %10.4f  %10.4f  %7s  %-6s  %s\n", verdict, ratio, ci, p, mb, mw, reps,
         method, b->name);
  return 0;
}

static int out_of_memory(void) {
  bench_error("compare: out of memory");
  return -1;
}

/* Every case both files have, in base's order; -1 (reported) when memory runs out. */
static int compare_common(const cmp_file *base, const cmp_file *cur, const cmp_opts *o, cmp_tally *t) {
  for (size_t i = 0; i < base->n; i++) {
    json_t *at = json_object_get(cur->index, base->cases[i].name);
    if (at && compare_case(&base->cases[i], &cur->cases[json_integer_value(at)], o, t))
      return out_of_memory();
  }
  return 0;
}

/* Text that is not UTF-8 (a path, a host name cut short) has no JSON
 * string: null, rather than failing the whole document. */
static json_t *text_json(const char *text) {
  json_t *s = json_string(text);
  return s ? s : json_null();
}

/* Machine-readable: the records only, the summary as fields (json) or the
 * exit status (csv). -1 when a failure was reported. */
static int write_records(const cmp_file *base, const cmp_file *cur, const char *diff, cmp_opts *o,
                         cmp_tally *t) {
  if (!strcmp(o->format, "csv"))
    printf("verdict,ratio,ci_lo,ci_hi,p,base_ms,new_ms,base_reps,new_reps,test,case,note\n");
  if (compare_common(base, cur, o, t)) return -1;
  for (int side = 0; side < 2; side++) {
    const cmp_file *f = side ? cur : base, *other = side ? base : cur;
    for (size_t i = 0; i < f->n; i++)
      if (!json_object_get(other->index, f->cases[i].name)) {
        cmp_result r = {.name = f->cases[i].name,
                        .verdict = side ? "only-in-new" : "only-in-base",
                        .method = "-",
                        .ratio = NAN,
                        .ci_lo = NAN,
                        .ci_hi = NAN,
                        .p = NAN,
                        .base_ms = NAN,
                        .new_ms = NAN};
        if (emit_result(&r, o)) return out_of_memory();
      }
  }
  if (strcmp(o->format, "json")) return 0;
  json_t *doc = json_pack("{s:o, s:o, s:f, s:f, s:f, s:o, s:b, s:b, s:i, s:i, s:O}", "base",
                          text_json(base->path), "new", text_json(cur->path), "threshold", o->threshold,
                          "alpha", o->alpha, "ci_level", 1 - o->alpha, "different_machines", text_json(diff),
                          "base_interrupted", base->interrupted, "new_interrupted", cur->interrupted,
                          "regressed", t->regressed, "improved", t->improved, "cases", o->cases);
  if (!doc) return out_of_memory();
  errno = 0;
  const int rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
  json_decref(doc);
  if (rc) {
    bench_error("compare: writing the records failed: %s", errno ? strerror(errno) : "out of memory");
    return -1;
  }
  putchar('\n');
  return 0;
}

static void table_header(const char *label, const cmp_file *f) {
  printf("# %s %s (%s%s, %s, %s)\n", label, f->path, f->interrupted ? "interrupted run, " : "", f->date,
         f->host, f->cpu);
}

/* The table, its legend and the summary; -1 when a failure was reported. */
static int write_table(const cmp_file *base, const cmp_file *cur, const char *diff, size_t common,
                       const cmp_opts *o, cmp_tally *t) {
  char level[16];
  snprintf(level, sizeof level, "ci%g", 100 * (1 - o->alpha));
  table_header("base:", base);
  table_header("new: ", cur);
  if (diff[0]) printf("# warning: different machines (%s), compared because of --force\n", diff);
  printf("# ratio = median new / median base, over the repetitions; %s = its %g%% confidence interval "
         "(Mann-Whitney/Hodges-Lehmann, pairwise ratios);\n# p = two-sided Mann-Whitney U test over the "
         "repetitions; regressed or improved needs p < %g and a ratio beyond 1 %s %g%%\n",
         level, 100 * (1 - o->alpha), o->alpha, "\u00b1", 100 * o->threshold);
  printf("%-10s %7s  %-17s %8s  %10s  %10s  %7s  %-6s  %s\n", "verdict", "ratio", level, "p", "base_ms",
         "new_ms", "reps", "test", "case");
  if (compare_common(base, cur, o, t)) return -1;
  size_t only_base = 0, only_new = 0;
  for (size_t i = 0; i < base->n; i++)
    if (!json_object_get(cur->index, base->cases[i].name))
      printf("only in base: %s\n", base->cases[i].name), only_base++;
  for (size_t i = 0; i < cur->n; i++)
    if (!json_object_get(base->index, cur->cases[i].name))
      printf("only in new:  %s\n", cur->cases[i].name), only_new++;
  printf(
      "# %zu compared: %d regressed, %d improved, %d same, %d noisy, %d untested; %d not compared (errors); "
      "%zu only in base, %zu only in new\n",
      common, t->regressed, t->improved, t->same, t->noisy, t->untested, t->uncompared, only_base, only_new);
  if (t->untested)
    printf("# untested: a file has fewer than 2 repetitions of the case; the U test needs repetitions (bench "
           "--reps 9 or more)\n");
  if (t->powerless)
    printf(
        "# %d case(s) have too few repetitions for p < %g to be possible at all; 9 or more per file give the "
        "test power\n",
        t->powerless, o->alpha);
  return 0;
}

static int parse_opts(int argc, char **argv, cmp_opts *o, const char **paths) {
  static const struct option longopts[] = {{"threshold", required_argument, 0, 't'},
                                           {"alpha", required_argument, 0, 'a'},
                                           {"force", no_argument, 0, 'f'},
                                           {"format", required_argument, 0, 'F'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  int c;
  char *end;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 't':
      o->threshold = strtod(optarg, &end) / 100;
      if (!*optarg || *end || !(o->threshold >= 0 && o->threshold < 1e4)) {
        bench_error("--threshold: '%s' is not a percentage >= 0", optarg);
        return -1;
      }
      break;
    case 'a':
      o->alpha = strtod(optarg, &end);
      if (!*optarg || *end || !(o->alpha > 0 && o->alpha < 1)) {
        bench_error("--alpha: '%s' is not a probability between 0 and 1", optarg);
        return -1;
      }
      break;
    case 'f': o->force = 1; break;
    case 'F':
      o->format = optarg;
      if (strcmp(optarg, "table") && strcmp(optarg, "csv") && strcmp(optarg, "json")) {
        bench_error("--format: '%s' is not table, csv or json", optarg);
        return -1;
      }
      break;
    case 'h': usage(stdout); return 1;
    default: usage(stderr); return -1;
    }
  }
  if (argc - optind != 2) {
    bench_error(
        "compare: want two result files, BASE.json and NEW.json, got %d (see attnbench compare --help)",
        argc - optind);
    return -1;
  }
  paths[0] = argv[optind];
  paths[1] = argv[optind + 1];
  return 0;
}

int cmd_compare(int argc, char **argv) {
  cmp_opts o = {.threshold = 0.05, .alpha = 0.05, .format = "table"};
  const char *paths[2];
  int rc = parse_opts(argc, argv, &o, paths);
  if (rc) return rc > 0 ? 0 : 2;
  cmp_file base, cur;
  char err[ERRLEN + 256];
  memset(&cur, 0, sizeof cur);
  if (cmp_file_load(&base, paths[0], err, sizeof err) || cmp_file_load(&cur, paths[1], err, sizeof err)) {
    bench_error("compare: %s", err);
    cmp_file_free(&base);
    cmp_file_free(&cur);
    return 2;
  }
  char diff[ERRLEN];
  machine_diff(&base, &cur, diff, sizeof diff);
  size_t common = 0;
  for (size_t i = 0; i < base.n; i++) common += json_object_get(cur.index, base.cases[i].name) != NULL;
  if (diff[0] && !o.force)
    bench_error("compare: %s and %s come from different machines (%s); --force compares them anyway",
                paths[0], paths[1], diff);
  else if (common == 0)
    bench_error("compare: %s and %s have no case in common", paths[0], paths[1]);
  if ((diff[0] && !o.force) || common == 0) {
    cmp_file_free(&base);
    cmp_file_free(&cur);
    return 2;
  }

  /* The cases of an interrupted run are complete, but the run is not: each
   * one it lacks shows as only in the other file. */
  for (int side = 0; side < 2; side++)
    if ((side ? &cur : &base)->interrupted)
      fprintf(stderr,
              "attnbench: note: %s is an interrupted run: it holds only the cases done before Ctrl-C\n",
              paths[side]);
  cmp_tally t = {0};
  if (strcmp(o.format, "table")) {
    o.cases = json_array();
    rc = o.cases ? write_records(&base, &cur, diff, &o, &t) : out_of_memory();
    json_decref(o.cases);
  } else {
    rc = write_table(&base, &cur, diff, common, &o, &t);
  }
  cmp_file_free(&base);
  cmp_file_free(&cur);
  return rc ? 2 : t.regressed ? 1 : 0;
}
