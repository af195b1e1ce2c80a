/* Reading the two results attnbench compare is given. Every figure compare
 * prints is taken from the file as read here, so a file is trusted no
 * further than it agrees with itself: what it states twice (an aggregate
 * and the repetitions it summarises, a summary and the records it counts)
 * must say the same, or it is refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare_load.h"
#include "harness.h"
#include "stats.h"

const char *cmp_kind_name(cmp_kind k) { return k == CMP_CHECK ? "check" : "bench"; }

const char *cmp_file_case_name(const cmp_file *f, size_t i) {
  return f->kind == CMP_CHECK ? f->checks[i].name : f->cases[i].name;
}

const char *cmp_verdict_name(int verdict) {
  return verdict == CMP_SKIPPED ? "SKIPPED" : attn_verdict_name((attn_verdict)verdict);
}

void cmp_file_free(cmp_file *f) {
  for (size_t i = 0; f->cases && i < f->n; i++) free(f->cases[i].ms), free(f->cases[i].rep);
  free(f->cases);
  free(f->checks);
  json_decref(f->index);
  json_decref(f->doc);
  memset(f, 0, sizeof *f);
}

/* arr (n elements of size bytes, room for *cap) with room for one more,
 * *cap updated; NULL when memory runs out, arr then left as it was. */
static void *room_for_one(void *arr, size_t n, size_t *cap, size_t size) {
  if (n < *cap) return arr;
  const size_t grown = *cap ? 2 * *cap : 64;
  void *p = realloc(arr, grown * size);
  if (p) *cap = grown;
  return p;
}

/* Records the next case's position under its name; -1 when memory runs out. */
static int index_next(cmp_file *f, const char *name) {
  return json_object_set_new(f->index, name, json_integer((json_int_t)f->n)) ? -1 : 0;
}

static int out_of_memory(const cmp_file *f, char *err, size_t n) {
  snprintf(err, n, "%s: out of memory", f->path);
  return -1;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : dflt;
}

/* ---- bench results: times ---- */

static cmp_case *case_get(cmp_file *f, const char *name) {
  json_t *at = json_object_get(f->index, name);
  if (at) return &f->cases[json_integer_value(at)];
  cmp_case *cases = room_for_one(f->cases, f->n, &f->cap, sizeof *cases);
  if (!cases) return NULL;
  f->cases = cases;
  cmp_case *c = &f->cases[f->n];
  memset(c, 0, sizeof *c);
  c->name = name;
  if (index_next(f, name)) return NULL;
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
  if (!c) return out_of_memory(f, err, n);
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
  return case_push(c, ms, rep) ? out_of_memory(f, err, n) : 0;
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
  if (!s) return out_of_memory(f, err, n);
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
  if (!s) return out_of_memory(f, err, n);
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

static int load_benchmarks(cmp_file *f, json_t *benches, char *err, size_t n) {
  size_t i;
  json_t *b;
  json_array_foreach(benches, i, b) if (read_entry(f, b, i, err, n)) return -1;
  for (i = 0; i < f->n; i++)
    if (check_case(f, &f->cases[i], err, n)) return -1;
  return 0;
}

/* ---- check results: verdicts and errors ---- */

/* The four verdicts, each with its count's key in the summary. */
static const struct {
  int verdict;
  const char *count;
} verdicts[] = {{ATTN_PASSED, "passed"},
                {ATTN_FAILED, "failed"},
                {ATTN_MISTRUSTED, "mistrusted"},
                {CMP_SKIPPED, "skipped"}};
#define NVERDICTS (sizeof verdicts / sizeof verdicts[0])

/* The verdict a name stands for; 0, or -1 for anything but the four. */
static int parse_verdict(const char *name, int *verdict) {
  for (size_t v = 0; name && v < NVERDICTS; v++)
    if (!strcmp(name, cmp_verdict_name(verdicts[v].verdict))) {
      *verdict = verdicts[v].verdict;
      return 0;
    }
  return -1;
}

/* The err_bound as check writes it: a number >= 0, or null where the case
 * was not run or its error is not finite (JSON has no inf). Within bounds
 * is what PASSED and MISTRUSTED say (check fails anything above 1), so
 * theirs is a number in [0, 1]; a SKIPPED case has none. */
static int read_err_bound(const cmp_file *f, json_t *rec, cmp_check *c, char *err, size_t n) {
  json_t *e = json_object_get(rec, "err_bound");
  const double v = json_number_value(e);
  c->err_bound = json_is_number(e) ? v : NAN;
  const int number = json_is_number(e) && v >= 0, none = json_is_null(e);
  const char *verdict = cmp_verdict_name(c->verdict);
  if (c->verdict == ATTN_PASSED || c->verdict == ATTN_MISTRUSTED) {
    if (number && v <= 1) return 0;
    snprintf(err, n, "%s: case %s is %s, but its err_bound is no number within [0, 1]", f->path, c->name,
             verdict);
  } else if (c->verdict == CMP_SKIPPED) {
    if (none) return 0;
    snprintf(err, n, "%s: case %s is SKIPPED (not run), but its err_bound is not null", f->path, c->name);
  } else {
    if (number || none) return 0;
    snprintf(err, n, "%s: case %s has an err_bound that is neither null nor a number >= 0", f->path, c->name);
  }
  return -1;
}

/* Reads checks[i] into the next record. */
static int read_check(cmp_file *f, json_t *rec, size_t i, char *err, size_t n) {
  const char *name = str_or(rec, "name", NULL);
  if (!json_is_object(rec) || !name) {
    snprintf(err, n, "%s: checks[%zu] has no name", f->path, i);
    return -1;
  }
  json_t *seen = json_object_get(f->index, name);
  if (seen) {
    snprintf(err, n, "%s: case %s appears twice (checks[%lld] and [%zu])", f->path, name,
             (long long)json_integer_value(seen), i);
    return -1;
  }
  cmp_check *checks = room_for_one(f->checks, f->n, &f->cap, sizeof *checks);
  if (!checks) return out_of_memory(f, err, n);
  f->checks = checks;
  cmp_check *c = &f->checks[f->n];
  *c = (cmp_check){.name = name, .reason = str_or(rec, "reason", NULL)};
  if (parse_verdict(str_or(rec, "verdict", NULL), &c->verdict)) {
    snprintf(err, n, "%s: case %s has a verdict that is not PASSED, FAILED, MISTRUSTED or SKIPPED", f->path,
             name);
    return -1;
  }
  if (read_err_bound(f, rec, c, err, n)) return -1;
  if (index_next(f, name)) return out_of_memory(f, err, n);
  f->n++;
  return 0;
}

/* The summary counts the records by verdict; a count that differs means
 * the records or the summary were altered, and which to believe is
 * anyone's guess. */
static int check_summary(const cmp_file *f, json_t *summary, char *err, size_t n) {
  if (!json_is_object(summary)) {
    snprintf(err, n, "%s: has no summary (the passed, failed, skipped and mistrusted counts)", f->path);
    return -1;
  }
  for (size_t v = 0; v < NVERDICTS; v++) {
    const char *key = verdicts[v].count;
    size_t count = 0;
    for (size_t i = 0; i < f->n; i++) count += f->checks[i].verdict == verdicts[v].verdict;
    json_t *said = json_object_get(summary, key);
    if (!json_is_integer(said)) {
      snprintf(err, n, "%s: its summary has no integer count of %s cases", f->path, key);
      return -1;
    }
    if (json_integer_value(said) != (json_int_t)count) {
      snprintf(err, n, "%s: its summary says %lld %s, its checks hold %zu; the file contradicts itself",
               f->path, (long long)json_integer_value(said), key, count);
      return -1;
    }
  }
  return 0;
}

static int load_checks(cmp_file *f, json_t *checks, char *err, size_t n) {
  size_t i;
  json_t *c;
  json_array_foreach(checks, i, c) if (read_check(f, c, i, err, n)) return -1;
  return check_summary(f, json_object_get(f->doc, "summary"), err, n);
}

/* ---- either kind ---- */

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

/* The machine and the run, from the context block both kinds share. */
static void read_context(cmp_file *f, json_t *ctx) {
  f->host = str_or(ctx, "host_name", "");
  f->cpu = str_or(ctx, "cpu_model", "");
  f->date = str_or(ctx, "date", "");
  f->interrupted = json_is_true(json_object_get(ctx, "interrupted"));
  json_t *ncpus = json_object_get(ctx, "num_cpus");
  f->ncpus = json_is_integer(ncpus) ? json_integer_value(ncpus) : -1;
  json_t *family = json_object_get(ctx, "cpu_family"), *number = json_object_get(ctx, "cpu_model_number");
  f->family = json_is_integer(family) ? json_integer_value(family) : -1;
  f->model_number = json_is_integer(number) ? json_integer_value(number) : -1;
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
  json_t *ctx = json_object_get(f->doc, "context"), *benches = json_object_get(f->doc, "benchmarks"),
         *checks = json_object_get(f->doc, "checks");
  if (json_is_array(benches) && json_is_array(checks)) {
    snprintf(err, n, "%s: has both a checks and a benchmarks array: neither a bench nor a check result",
             path);
    return -1;
  }
  if (!json_is_object(ctx) || !(json_is_array(benches) || json_is_array(checks)) ||
      !json_is_string(json_object_get(ctx, "attnbench_version"))) {
    snprintf(err, n,
             "%s: not an attnbench result (want the output of bench or check --format json: a context with "
             "attnbench_version and a benchmarks or checks array)",
             path);
    return -1;
  }
  f->kind = json_is_array(checks) ? CMP_CHECK : CMP_BENCH;
  read_context(f, ctx);
  if (!(f->index = json_object())) return out_of_memory(f, err, n);
  return f->kind == CMP_CHECK ? load_checks(f, checks, err, n) : load_benchmarks(f, benches, err, n);
}

/* The message may quote the file (a case name, a JSON token): control
 * characters in it become '?', so that it stays one printable line. */
int cmp_file_load(cmp_file *f, const char *path, char *err, size_t n) {
  const int rc = file_load(f, path, err, n);
  if (rc && n) attn_printable_line(err);
  return rc;
}
