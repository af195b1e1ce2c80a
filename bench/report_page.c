/* What attnbench report shows, gathered from the result files: machines by
 * host and CPU model, GFLOP/s panels per bench file, %roof of the cases
 * several machines ran, and per check file its verdicts and the spread of
 * err/bound per backend. Whatever a file lacks (a number, a roofline, a
 * problem string this build understands) is left out and said in a note:
 * the page never shows a value the file does not hold. */
#include "report_page.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

/* Notes that list cases one by one stop after this many per file. */
#define LISTED_PER_FILE 8

const char *const page_bucket_names[PAGE_NBUCKETS] = {"< 1e-6", "1e-6 .. 1e-4", "1e-4 .. 1e-2", "1e-2 .. 1",
                                                      "> 1 (fails)"};

/* items with room for element n (doubling *cap); NULL, items untouched,
 * when memory runs out. */
static void *room_for_one(void *items, size_t n, size_t *cap, size_t size) {
  if (n < *cap) return items;
  const size_t c = *cap ? 2 * *cap : 8;
  void *p = realloc(items, c * size);
  if (p) *cap = c;
  return p;
}

static json_t *context(const page *pg, size_t i) { return json_object_get(pg->in[i].doc, "context"); }

const char *page_context_str(const page *pg, size_t input, const char *key) {
  return json_string_value(json_object_get(context(pg, input), key));
}

/* A number of the object that is finite and at least lo, else NAN. */
static double number_at_least(json_t *obj, const char *key, double lo) {
  json_t *v = json_object_get(obj, key);
  const double x = json_number_value(v);
  return json_is_number(v) && isfinite(x) && x >= lo ? x : NAN;
}

static void note(page *pg, size_t m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(page *pg, size_t m, const char *fmt, ...) {
  char buf[ERRLEN * 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  pg->oom |= strlist_push(&pg->machines[m].notes, buf) != 0;
}

/* The backend's position among all backends seen: its colour everywhere. */
static size_t backend_rank(page *pg, const char *name) {
  for (size_t i = 0; i < pg->nbackends; i++)
    if (!strcmp(pg->backends[i], name)) return i;
  const char **b = room_for_one(pg->backends, pg->nbackends, &pg->backendcap, sizeof *b);
  if (!b) {
    pg->oom = 1;
    return 0;
  }
  pg->backends = b;
  b[pg->nbackends] = name;
  return pg->nbackends++;
}

static void thread_seen(page *pg, int t) {
  size_t at = 0;
  while (at < pg->nthreads && pg->threads[at] < t) at++;
  if ((at < pg->nthreads && pg->threads[at] == t) ||
      pg->nthreads == sizeof pg->threads / sizeof pg->threads[0])
    return;
  memmove(pg->threads + at + 1, pg->threads + at, (pg->nthreads - at) * sizeof *pg->threads);
  pg->threads[at] = t;
  pg->nthreads++;
}

int page_thread_shape(const page *pg, int t) {
  for (size_t i = 0; i < pg->nthreads; i++)
    if (pg->threads[i] == t) return (int)i;
  return (int)pg->nthreads;
}

int page_verdict_slot(int verdict) {
  return verdict >= ATTN_PASSED && verdict <= ATTN_MISTRUSTED ? verdict : 3;
}

/* Machines are told apart by host name, CPU model and CPUID's family and
 * model: the model string is the same on these VMs' Zen 4 and Zen 5, and a
 * file that does not record family and model is not taken for one that
 * does. */
static size_t machine_of(page *pg, size_t i) {
  const cmp_file *f = &pg->in[i];
  for (size_t m = 0; m < pg->nmachines; m++) {
    const page_machine *mc = &pg->machines[m];
    if (!strcmp(mc->host, f->host) && !strcmp(mc->cpu, f->cpu) && mc->family == f->family &&
        mc->model_number == f->model_number)
      return m;
  }
  page_machine *m = &pg->machines[pg->nmachines];
  *m = (page_machine){
      .host = f->host, .cpu = f->cpu, .family = f->family, .model_number = f->model_number, .first = i};
  return pg->nmachines++;
}

/* The roofline a machine is measured against: the first of its files whose
 * context carries both rates. */
static void machine_roofline(page *pg, size_t i) {
  page_machine *m = &pg->machines[pg->machine_of[i]];
  const double peak = number_at_least(context(pg, i), "peak_gflops", 0),
               read = number_at_least(context(pg, i), "read_gbs", 0);
  if (m->peak_gflops > 0 || !(peak > 0) || !(read > 0)) return;
  m->peak_gflops = peak;
  m->read_gbs = read;
  m->roof_measured = page_context_str(pg, i, "roofline_measured");
}

/* ---- GFLOP/s panels ---- */

static page_panel *panel_for(page *pg, size_t input, const attn_problem *p) {
  for (size_t i = 0; i < pg->npanels; i++)
    if (pg->panels[i].input == input && pg->panels[i].d == p->d && pg->panels[i].mask == p->mask)
      return &pg->panels[i];
  page_panel *panels = room_for_one(pg->panels, pg->npanels, &pg->panelcap, sizeof *panels);
  if (!panels) return NULL;
  pg->panels = panels;
  page_panel *n = &panels[pg->npanels++];
  *n = (page_panel){.input = input, .d = p->d, .mask = p->mask};
  return n;
}

static page_series *series_for(page_series **list, size_t *n, size_t *cap, const char *backend, int threads,
                               const char *rest) {
  for (size_t i = 0; i < *n; i++) {
    page_series *s = &(*list)[i];
    if (s->threads == threads && !strcmp(s->rest, rest) &&
        (backend ? s->backend && !strcmp(s->backend, backend) : !s->backend))
      return s;
  }
  page_series *l = room_for_one(*list, *n, cap, sizeof *l);
  if (!l) return NULL;
  *list = l;
  page_series *s = &l[(*n)++];
  memset(s, 0, sizeof *s);
  s->backend = backend;
  s->threads = threads;
  snprintf(s->rest, sizeof s->rest, "%s", rest);
  return s;
}

/* Adds (lq, y); where the series has lq already, a roofline keeps the
 * lower bound (rows agree on it; a file that does not is not believed
 * beyond its tighter claim). */
static int series_add(page_series *s, double lq, double y) {
  for (size_t i = 0; i < s->n; i++)
    if (s->pts[i].lq == lq) {
      if (y < s->pts[i].y) s->pts[i].y = y;
      return 0;
    }
  page_point *pts = room_for_one(s->pts, s->n, &s->cap, sizeof *pts);
  if (!pts) return -1;
  s->pts = pts;
  pts[s->n++] = (page_point){lq, y};
  return 0;
}

/* The problem's keys besides lq, d and mask (and lk, dv where they only
 * repeat lq, d): what else tells two lines of one panel apart. */
static void shape_rest(const attn_problem *p, char *rest, size_t n) {
  char canon[ATTN_PROBLEM_STRLEN], *save = NULL;
  attn_problem_format(p, canon, sizeof canon);
  size_t at = 0;
  rest[0] = 0;
  for (char *tok = strtok_r(canon, ",", &save); tok && at < n; tok = strtok_r(NULL, ",", &save)) {
    const size_t key = strcspn(tok, "=");
    const int drop = (key == 2 && !strncmp(tok, "lq", 2)) || (key == 1 && tok[0] == 'd') ||
                     (key == 4 && !strncmp(tok, "mask", 4)) ||
                     (key == 2 && !strncmp(tok, "lk", 2) && p->lk == p->lq) ||
                     (key == 2 && !strncmp(tok, "dv", 2) && p->dv == p->d);
    if (!drop) at += (size_t)snprintf(rest + at, n - at, "%s%s", at ? "," : "", tok);
  }
}

/* What a bench file's median entry says about its case. */
typedef struct bench_entry {
  const char *name, *backend, *problem;
  int threads;
  double gflops, roof, pct; /* NAN: missing or not finite */
} bench_entry;

static int entry_read(json_t *e, const char *name, bench_entry *b) {
  json_t *t = json_object_get(e, "threads");
  *b = (bench_entry){.name = name,
                     .backend = json_string_value(json_object_get(e, "backend")),
                     .problem = json_string_value(json_object_get(e, "problem")),
                     .threads =
                         json_is_integer(t) && json_integer_value(t) >= 1 && json_integer_value(t) <= 1 << 20
                             ? (int)json_integer_value(t)
                             : 0,
                     .gflops = number_at_least(e, "gflops", 0),
                     .roof = number_at_least(e, "roof_gflops", 0),
                     .pct = number_at_least(e, "pct_peak", 0)};
  if (!(b->gflops > 0)) b->gflops = NAN;
  if (!(b->roof > 0)) b->roof = NAN;
  return b->backend && b->problem && b->threads ? 0 : -1;
}

/* Why entries of one file were left out of its panels, counted. */
typedef struct left_out {
  size_t no_fields, no_gflops, other_op, not_understood;
  char first_bad[ERRLEN];
} left_out;

static void plot_entry(page *pg, size_t input, const bench_entry *b, left_out *lo) {
  attn_problem p;
  char err[ERRLEN];
  if (attn_problem_parse(b->problem, &p, err, sizeof err) != ATTN_OK) {
    if (!lo->not_understood++) snprintf(lo->first_bad, sizeof lo->first_bad, "%s", err);
    return;
  }
  if (p.op != ATTN_OP_ATTN) {
    lo->other_op++;
    return;
  }
  if (isnan(b->gflops)) {
    lo->no_gflops++;
    return;
  }
  char rest[ATTN_PROBLEM_STRLEN];
  shape_rest(&p, rest, sizeof rest);
  page_panel *pn = panel_for(pg, input, &p);
  page_series *s = pn ? series_for(&pn->series, &pn->nseries, &pn->cap, b->backend, b->threads, rest) : NULL;
  if (!s || series_add(s, (double)p.lq, b->gflops)) {
    pg->oom = 1;
    return;
  }
  s->backend_rank = backend_rank(pg, b->backend);
  if (isnan(b->roof)) return;
  page_series *r = series_for(&pn->roofs, &pn->nroofs, &pn->roofcap, NULL, b->threads, rest);
  if (!r || series_add(r, (double)p.lq, b->roof)) pg->oom = 1;
}

static void left_out_notes(page *pg, size_t i, const left_out *lo) {
  const size_t m = pg->machine_of[i];
  const char *path = pg->in[i].path;
  if (lo->no_fields)
    note(pg, m, "%s: %zu case(s) without a backend, a problem or a thread count: left out", path,
         lo->no_fields);
  if (lo->no_gflops)
    note(pg, m, "%s: %zu case(s) without a finite, positive GFLOP/s: left out of the plots", path,
         lo->no_gflops);
  if (lo->other_op)
    note(pg, m,
         "%s: %zu case(s) of op=decode, mha or han: not plotted against lq (their %%roof is in the "
         "comparison across machines when another machine ran them)",
         path, lo->other_op);
  if (lo->not_understood)
    note(pg, m, "%s: %zu problem string(s) this build does not understand, not plotted (the first: %s)", path,
         lo->not_understood, lo->first_bad);
}

/* ---- cases across machines ---- */

/* The case's record, by name (index: name -> position). */
static page_case *case_for(page *pg, json_t *index, const bench_entry *b) {
  json_t *at = json_object_get(index, b->name);
  if (at) return &pg->cases[json_integer_value(at)];
  page_case *cases = room_for_one(pg->cases, pg->ncases, &pg->casecap, sizeof *cases);
  if (!cases) return NULL;
  pg->cases = cases;
  page_case *c = &cases[pg->ncases];
  *c = (page_case){.name = b->name, .backend = b->backend, .problem = b->problem, .threads = b->threads};
  c->pct = malloc(pg->nmachines * sizeof *c->pct);
  c->gflops = malloc(pg->nmachines * sizeof *c->gflops);
  if (!c->pct || !c->gflops || json_object_set_new(index, b->name, json_integer((json_int_t)pg->ncases))) {
    free(c->pct), free(c->gflops);
    return NULL;
  }
  for (size_t m = 0; m < pg->nmachines; m++) c->pct[m] = c->gflops[m] = NAN;
  pg->ncases++;
  return c;
}

/* The rank of a problem string among those seen, for the table's order. */
static size_t problem_rank(json_t *problems, const char *problem, int *oom) {
  json_t *at = json_object_get(problems, problem);
  if (at) return (size_t)json_integer_value(at);
  const size_t rank = json_object_size(problems);
  *oom |= json_object_set_new(problems, problem, json_integer((json_int_t)rank)) != 0;
  return rank;
}

typedef struct case_indices {
  json_t *cases, *problems;
  size_t *duplicates; /* per machine */
} case_indices;

static void compare_entry(page *pg, size_t input, const bench_entry *b, case_indices *ix) {
  const size_t m = pg->machine_of[input];
  if (isnan(b->pct)) return;
  page_case *c = case_for(pg, ix->cases, b);
  if (!c) {
    pg->oom = 1;
    return;
  }
  if (!isnan(c->pct[m])) {
    ix->duplicates[m]++;
    return;
  }
  c->pct[m] = b->pct;
  c->gflops[m] = b->gflops;
  c->problem_rank = problem_rank(ix->problems, b->problem, &pg->oom);
  c->backend_rank = backend_rank(pg, b->backend);
}

/* ---- bench files ---- */

static void add_bench(page *pg, size_t i, case_indices *ix) {
  const cmp_file *f = &pg->in[i];
  json_t *benches = json_object_get(f->doc, "benchmarks");
  left_out lo = {0};
  size_t errors = 0;
  for (size_t k = 0; k < f->n; k++) {
    const cmp_case *c = &f->cases[k];
    if (c->error) {
      if (errors++ < LISTED_PER_FILE)
        note(pg, pg->machine_of[i], "%s: %s: not measured: %s", f->path, c->name, c->error);
      continue;
    }
    bench_entry b;
    json_t *e = c->agg_at[CMP_MEDIAN] ? json_array_get(benches, c->agg_at[CMP_MEDIAN] - 1) : NULL;
    if (!e || entry_read(e, c->name, &b)) {
      lo.no_fields++;
      continue;
    }
    backend_rank(pg, b.backend);
    thread_seen(pg, b.threads);
    plot_entry(pg, i, &b, &lo);
    compare_entry(pg, i, &b, ix);
  }
  if (errors > LISTED_PER_FILE)
    note(pg, pg->machine_of[i], "%s: and %zu more case(s) not measured", f->path, errors - LISTED_PER_FILE);
  left_out_notes(pg, i, &lo);
}

static int point_by_lq(const void *a, const void *b) {
  const double x = ((const page_point *)a)->lq, y = ((const page_point *)b)->lq;
  return (x > y) - (x < y);
}

/* Backends in order of first appearance, then thread counts, then shape. */
static int series_order(const void *a, const void *b) {
  const page_series *s = a, *t = b;
  if (s->backend_rank != t->backend_rank) return s->backend_rank < t->backend_rank ? -1 : 1;
  if (s->threads != t->threads) return (s->threads > t->threads) - (s->threads < t->threads);
  return strcmp(s->rest, t->rest);
}

/* Whether line i is the panel's first with its rest of the shape. */
static int first_of_rest(const page_panel *pn, size_t i) {
  for (size_t j = 0; j < i; j++)
    if (!strcmp(pn->series[j].rest, pn->series[i].rest)) return 0;
  return 1;
}

/* The rank of a rest among the panel's, in the order they first come. */
static int rest_rank(const page_panel *pn, const char *rest) {
  int rank = 0;
  for (size_t i = 0; i < pn->nseries && strcmp(pn->series[i].rest, rest); i++) rank += first_of_rest(pn, i);
  return rank;
}

static int distinct_rests(const page_panel *pn) {
  int n = 0;
  for (size_t i = 0; i < pn->nseries; i++) n += first_of_rest(pn, i);
  return n;
}

/* Points by lq, lines in a stable order, labels that show the rest of the
 * shape only where it tells the panel's lines apart (as scripts/plot.py
 * did), and the context's FMA peak where no case carries its bound. */
static void panel_finish(page *pg, page_panel *pn) {
  qsort(pn->series, pn->nseries, sizeof *pn->series, series_order);
  qsort(pn->roofs, pn->nroofs, sizeof *pn->roofs, series_order);
  const int rests = distinct_rests(pn);
  for (size_t i = 0; i < pn->nseries; i++) {
    page_series *s = &pn->series[i];
    qsort(s->pts, s->n, sizeof *s->pts, point_by_lq);
    snprintf(s->label, sizeof s->label, "%s x%d%s%s", s->backend, s->threads, rests > 1 ? " " : "",
             rests > 1 ? s->rest : "");
    s->shape = page_thread_shape(pg, s->threads) * rests + rest_rank(pn, s->rest);
  }
  for (size_t i = 0; i < pn->nroofs; i++) {
    qsort(pn->roofs[i].pts, pn->roofs[i].n, sizeof *pn->roofs[i].pts, point_by_lq);
    snprintf(pn->roofs[i].label, sizeof pn->roofs[i].label, "roofline x%d%s%s", pn->roofs[i].threads,
             rests > 1 ? " " : "", rests > 1 ? pn->roofs[i].rest : "");
  }
  if (!pn->nroofs) {
    const double peak = number_at_least(context(pg, pn->input), "peak_gflops", 0);
    pn->peak = peak > 0 ? peak : 0;
  }
}

/* ---- check files ---- */

static double check_number(json_t *rec, const char *key) { return number_at_least(rec, key, 0); }

static int check_order(const void *a, const void *b) {
  static const int rank[4] = {3, 0, 1, 2}; /* by slot: PASSED last, FAILED first */
  const page_check *x = a, *y = b;
  const int rx = rank[page_verdict_slot(x->verdict)], ry = rank[page_verdict_slot(y->verdict)];
  if (rx != ry) return rx - ry;
  const double ex = isnan(x->err_bound) ? -1 : x->err_bound, ey = isnan(y->err_bound) ? -1 : y->err_bound;
  if (ex != ey) return ex < ey ? 1 : -1;
  return (x->seq > y->seq) - (x->seq < y->seq); /* qsort is not stable; the records' order is the run's */
}

static size_t bucket_of(double eb) {
  return eb < 1e-6    ? PAGE_BELOW_1E6
         : eb <= 1e-4 ? PAGE_TO_1E4
         : eb <= 1e-2 ? PAGE_TO_1E2
         : eb <= 1    ? PAGE_TO_1
                      : PAGE_ABOVE_1;
}

static void count_errs(page_checks *pc, const page_check *c) {
  size_t e = 0;
  while (e < pc->nerrs && pc->errs[e].backend_rank != c->backend_rank) e++;
  if (e == pc->nerrs)
    pc->errs[pc->nerrs++] = (page_backend_errs){.backend_rank = c->backend_rank, .max = NAN};
  page_backend_errs *be = &pc->errs[e];
  be->verdicts[page_verdict_slot(c->verdict)]++;
  if (!isnan(c->err_bound)) {
    be->buckets[bucket_of(c->err_bound)]++;
    if (isnan(be->max) || c->err_bound > be->max) be->max = c->err_bound;
  } else if (c->verdict != CMP_SKIPPED) {
    be->not_finite++;
  }
}

static int add_checks(page *pg, size_t i, page_checks *pc) {
  const cmp_file *f = &pg->in[i];
  json_t *recs = json_object_get(f->doc, "checks");
  *pc = (page_checks){.input = i};
  pc->cases = calloc(f->n ? f->n : 1, sizeof *pc->cases);
  pc->errs = calloc(f->n ? f->n : 1, sizeof *pc->errs);
  if (!pc->cases || !pc->errs) return -1;
  json_t *t = json_object_get(context(pg, i), "threads");
  if (json_is_integer(t) && json_integer_value(t) >= 1 && json_integer_value(t) <= 1 << 20)
    thread_seen(pg, (int)json_integer_value(t));
  /* The loader read the records in order, one cmp_check per record. */
  for (size_t k = 0; k < f->n; k++) {
    json_t *rec = json_array_get(recs, k);
    const cmp_check *cc = &f->checks[k];
    const char *backend = json_string_value(json_object_get(rec, "backend"));
    const char *problem = json_string_value(json_object_get(rec, "problem"));
    json_t *nf = json_object_get(rec, "nonfinite");
    page_check *c = &pc->cases[pc->n++];
    *c = (page_check){.backend = backend ? backend : "?",
                      .problem = problem ? problem : cc->name,
                      .reason = cc->reason,
                      .stage = json_string_value(json_object_get(rec, "stage")),
                      .verdict = cc->verdict,
                      .err_bound = cc->err_bound,
                      .max_abs_err = check_number(rec, "max_abs_err"),
                      .nonfinite = json_is_integer(nf) ? (long long)json_integer_value(nf) : -1,
                      .seq = k};
    c->backend_rank = backend_rank(pg, c->backend);
    count_errs(pc, c);
  }
  qsort(pc->cases, pc->n, sizeof *pc->cases, check_order);
  return 0;
}

/* ---- the page ---- */

static int case_order(const void *a, const void *b) {
  const page_case *x = a, *y = b;
  if (x->problem_rank != y->problem_rank) return x->problem_rank < y->problem_rank ? -1 : 1;
  if (x->backend_rank != y->backend_rank) return x->backend_rank < y->backend_rank ? -1 : 1;
  return (x->threads > y->threads) - (x->threads < y->threads);
}

/* Keeps the cases with a %roof on two machines or more, in order. */
static void cases_finish(page *pg) {
  size_t kept = 0;
  for (size_t i = 0; i < pg->ncases; i++) {
    size_t on = 0;
    for (size_t m = 0; m < pg->nmachines; m++) on += !isnan(pg->cases[i].pct[m]);
    if (on >= 2)
      pg->cases[kept++] = pg->cases[i];
    else
      free(pg->cases[i].pct), free(pg->cases[i].gflops);
  }
  pg->ncases = kept;
  qsort(pg->cases, pg->ncases, sizeof *pg->cases, case_order);
}

static int gather(page *pg) {
  case_indices ix = {json_object(), json_object(), calloc(pg->nmachines, sizeof(size_t))};
  pg->checks = calloc(pg->nin, sizeof *pg->checks);
  int rc = ix.cases && ix.problems && ix.duplicates && pg->checks ? 0 : -1;
  for (size_t i = 0; i < pg->nin && !rc; i++) {
    if (pg->in[i].kind == CMP_BENCH)
      add_bench(pg, i, &ix);
    else
      rc = add_checks(pg, i, &pg->checks[pg->nchecks++]);
  }
  for (size_t m = 0; m < pg->nmachines && !rc; m++)
    if (ix.duplicates[m])
      note(pg, m,
           "%zu case(s) are in several files of this machine: the comparison across machines shows "
           "the first file's",
           ix.duplicates[m]);
  for (size_t p = 0; p < pg->npanels && !rc; p++) panel_finish(pg, &pg->panels[p]);
  if (!rc) cases_finish(pg);
  json_decref(ix.cases);
  json_decref(ix.problems);
  free(ix.duplicates);
  return rc || pg->oom ? -1 : 0;
}

int page_build(page *pg, char *const *paths, size_t n, char *err, size_t errlen) {
  memset(pg, 0, sizeof *pg);
  pg->in = calloc(n, sizeof *pg->in);
  pg->machine_of = calloc(n, sizeof *pg->machine_of);
  pg->machines = calloc(n, sizeof *pg->machines);
  if (!pg->in || !pg->machine_of || !pg->machines) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (cmp_file_load(&pg->in[i], paths[i], err, errlen)) {
      pg->nin = i + 1; /* so that page_free releases what was read */
      return -1;
    }
    pg->nin = i + 1;
    pg->machine_of[i] = machine_of(pg, i);
    machine_roofline(pg, i);
  }
  if (gather(pg)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

static void series_free(page_series *s, size_t n) {
  for (size_t i = 0; i < n; i++) free(s[i].pts);
  free(s);
}

void page_free(page *pg) {
  for (size_t i = 0; i < pg->npanels; i++) {
    series_free(pg->panels[i].series, pg->panels[i].nseries);
    series_free(pg->panels[i].roofs, pg->panels[i].nroofs);
  }
  free(pg->panels);
  for (size_t i = 0; i < pg->ncases; i++) free(pg->cases[i].pct), free(pg->cases[i].gflops);
  free(pg->cases);
  for (size_t i = 0; pg->checks && i < pg->nchecks; i++) free(pg->checks[i].cases), free(pg->checks[i].errs);
  free(pg->checks);
  for (size_t m = 0; m < pg->nmachines; m++) strlist_free(&pg->machines[m].notes);
  free(pg->machines);
  for (size_t i = 0; i < pg->nin; i++) cmp_file_free(&pg->in[i]);
  free(pg->in);
  free(pg->machine_of);
  free(pg->backends);
  memset(pg, 0, sizeof *pg);
}

/* ---- text both writers share ---- */

void page_machine_label(const page *pg, size_t m, char *buf, size_t n) {
  const page_machine *mc = &pg->machines[m];
  const int at = snprintf(buf, n, "%s%s, %s", mc->host[0] ? "host " : "unknown host", mc->host,
                          mc->cpu[0] ? mc->cpu : "unknown CPU");
  if (mc->family >= 0 && at >= 0 && (size_t)at < n)
    snprintf(buf + at, n - (size_t)at, " (family %lld model %lld)", (long long)mc->family,
             (long long)mc->model_number);
}

void page_made_by(const page *pg, size_t i, char *buf, size_t n) {
  const char *command = page_context_str(pg, i, "command"), *suite = page_context_str(pg, i, "suite");
  json_t *t = json_object_get(context(pg, i), "threads");
  char threads[96] = "";
  if (json_is_integer(t)) {
    snprintf(threads, sizeof threads, "threads %lld", (long long)json_integer_value(t));
  } else if (json_is_array(t)) {
    size_t at = 0, k;
    json_t *v;
    json_array_foreach(t, k, v) if (json_is_integer(v) && at < sizeof threads) at += (size_t)snprintf(
        threads + at, sizeof threads - at, "%s%lld", at ? "," : "threads ", (long long)json_integer_value(v));
  }
  snprintf(buf, n, "attnbench %s --format json%s%s%s%s%s%s",
           command ? command : cmp_kind_name(pg->in[i].kind), suite || threads[0] ? " (" : "",
           suite ? "suite " : "", suite ? suite : "", suite && threads[0] ? ", " : "", threads,
           suite || threads[0] ? ")" : "");
}

void page_panel_title(const page_panel *p, char *buf, size_t n) {
  snprintf(buf, n, "d=%lld, mask=%s", (long long)p->d, attn_mask_name(p->mask));
}

/* A backend's libraries: its "library" and "*_version" entries. */
void page_libraries(const page *pg, size_t i, char *buf, size_t n) {
  json_t *bes = json_object_get(context(pg, i), "backends"), *info, *v;
  const char *name, *key;
  size_t at = 0;
  buf[0] = 0;
  json_object_foreach(bes, name, info) {
    json_object_foreach(info, key, v) {
      const size_t len = strlen(key);
      const int wanted = !strcmp(key, "library") || (len > 8 && !strcmp(key + len - 8, "_version"));
      if (wanted && json_is_string(v) && at < n)
        at += (size_t)snprintf(buf + at, n - at, "%s%s: %s", at ? "; " : "", name, json_string_value(v));
    }
  }
}

static void size_text(json_int_t bytes, char *buf, size_t n) {
  if (bytes >= 1 << 20 && bytes % (1 << 20) == 0)
    snprintf(buf, n, "%lld MiB", (long long)(bytes >> 20));
  else
    snprintf(buf, n, "%lld KiB", (long long)(bytes >> 10));
}

void page_caches(const page *pg, size_t i, char *buf, size_t n) {
  json_t *caches = json_object_get(context(pg, i), "caches"), *c;
  size_t at = 0, k;
  buf[0] = 0;
  json_array_foreach(caches, k, c) {
    json_t *level = json_object_get(c, "level"), *size = json_object_get(c, "size");
    const char *type = json_string_value(json_object_get(c, "type"));
    if (!json_is_integer(level) || !json_is_integer(size) || json_integer_value(size) <= 0 || at >= n)
      continue;
    char sz[32];
    size_text(json_integer_value(size), sz, sizeof sz);
    at += (size_t)snprintf(buf + at, n - at, "%sL%lld%s %s", at ? ", " : "",
                           (long long)json_integer_value(level),
                           type && !strcmp(type, "Data")          ? "d"
                           : type && !strcmp(type, "Instruction") ? "i"
                                                                  : "",
                           sz);
  }
}

void page_roofline_text(const page_machine *m, char *buf, size_t n) {
  if (!(m->peak_gflops > 0)) {
    snprintf(buf, n, "none in the context (attnbench info --peak measures it)");
    return;
  }
  snprintf(buf, n,
           "peak %.1f GFLOP/s (fp32 FMA, at the most threads measured), read %.1f GB/s; ridge at %.1f "
           "flop/byte (cases below it are bound by bandwidth); measured %s",
           m->peak_gflops, m->read_gbs, m->peak_gflops / m->read_gbs,
           m->roof_measured ? m->roof_measured : "?");
}

static long long context_int(const page *pg, size_t i, const char *key) {
  json_t *v = json_object_get(context(pg, i), key);
  return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

void page_cores(const page *pg, size_t i, char *buf, size_t n) {
  static const struct {
    const char *key, *unit;
  } parts[] = {{"num_cores", "core(s)"},
               {"num_cpus", "logical CPU(s)"},
               {"num_packages", "package(s)"},
               {"numa_nodes", "NUMA node(s)"},
               {"mhz_per_cpu", "MHz"}};
  size_t at = 0;
  buf[0] = 0;
  for (size_t k = 0; k < sizeof parts / sizeof parts[0] && at < n; k++) {
    const long long v = context_int(pg, i, parts[k].key);
    if (v > 0) at += (size_t)snprintf(buf + at, n - at, "%s%lld %s", at ? ", " : "", v, parts[k].unit);
  }
}

void page_binding(const page *pg, size_t i, char *buf, size_t n) {
  const char *bind = page_context_str(pg, i, "thread_binding"), *cpus = page_context_str(pg, i, "bound_cpus"),
             *mem = page_context_str(pg, i, "memory_binding");
  snprintf(buf, n, "%s%s%s%s%s", bind ? bind : "-", cpus && cpus[0] ? ", cpus " : "", cpus ? cpus : "",
           mem ? ", memory " : "", mem ? mem : "");
}

size_t page_input_cases(const page *pg, size_t i) { return pg->in[i].n; }
