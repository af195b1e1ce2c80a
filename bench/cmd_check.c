/* attnbench check: conformance of backends against the double-precision
 * oracle, under the error bound of reference/README.md. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attnbench/reference.h"
#include "harness.h"
#include "repro.h"
#include "workload.h"

#define MAX_BACKENDS 32

typedef struct check_opts {
  const char *backends;
  strlist problems;
  int threads;
  int verbose;
  FILE *out;
} check_opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: attnbench check [--backend NAME[,NAME...]|all] [--problem STR]... [--suite NAME|FILE]\n"
          "                       [--threads N] [--verbose] [--repro]\n"
          "Checks each backend on each problem against the double-precision reference.\n"
          "--repro instead reports per backend whether its outputs are bitwise identical across runs\n"
          "and across 1 and N threads (--threads, at least 2).\n"
          "Suites: %s (default quick). Exit status: 0 all passed, 1 a case failed, 2 bad input or\n"
          "nothing checked (every case declined).\n",
          bench_suite_names());
}

/* Loads a built-in suite by name, or a file of problem strings. A file
 * without one is refused: a run of nothing would pass for success. */
int bench_load_suite(const char *name, strlist *out, char *err, size_t n) {
  const char *text = bench_suite_text(name);
  if (text) return strlist_push_lines(out, text);
  struct stat st;
  if (stat(name, &st)) {
    snprintf(err, n, "--suite: '%s' is neither a built-in suite (%s) nor a readable file", name,
             bench_suite_names());
    return -1;
  }
  char why[ERRLEN];
  FILE *f = bench_open_input(name, why, sizeof why);
  if (!f) {
    snprintf(err, n, "--suite: %s", why);
    return -1;
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  char chunk[4096];
  size_t got;
  while (mem && (got = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, got, mem);
  const int unread = ferror(f);
  fclose(f);
  if (!mem || fclose(mem) || unread) {
    snprintf(err, n, "--suite: cannot read %s", name);
    free(buf);
    return -1;
  }
  const size_t before = out->n;
  int rc = strlist_push_lines(out, buf);
  free(buf);
  if (rc == 0 && out->n == before) {
    snprintf(err, n, "--suite: '%s' holds no problem strings (only blank lines and # comments)", name);
    rc = -1;
  }
  return rc;
}

static void print_case(FILE *f, const attn_backend *be, const char *verdict, const attn_compare *c,
                       const char *problem, const char *extra) {
  if (c)
    fprintf(f, "%-8s %-10s %10.3g %9.3g  %s%s\n", be->name, verdict, c->max_abs_err, c->max_ratio, problem,
            extra);
  else
    fprintf(f, "%-8s %-10s %10s %9s  %s%s\n", be->name, verdict, "-", "-", problem, extra);
}

static void report_verdict(const check_opts *o, const attn_backend *be, const attn_compare *c,
                           const char *pstr, const char *extra, check_tally *tally) {
  const int quiet = c->verdict != ATTN_FAILED && !o->verbose;
  print_case(o->out, be, attn_verdict_name(c->verdict), c, pstr, quiet ? "" : extra);
  if (c->verdict == ATTN_PASSED) tally->passed++;
  if (c->verdict == ATTN_MISTRUSTED) tally->mistrusted++;
  if (c->verdict == ATTN_FAILED) tally->failed++;
}

/* Runs one backend on one problem whose inputs and oracle are ready (op=mha:
 * whose inputs are ready; its check depends on what the backend projected). */
static void check_backend(const attn_backend *be, const check_opts *o, workload *wl, const attn_oracle *orc,
                          const char *pstr, check_tally *tally) {
  char why[ERRLEN] = "", extra[ERRLEN + 64];
  attn_config cfg = {.threads = o->threads};
  bench_inputs *in = &wl->in;
  attn_status s = workload_supports(&wl->p, be, why, sizeof why);
  if (s != ATTN_OK) {
    snprintf(extra, sizeof extra, "  (declined: %s)", why[0] ? why : attn_status_name(s));
    print_case(o->out, be, "SKIPPED", NULL, pstr, extra);
    tally->skipped++;
    return;
  }
  void *plan = NULL;
  attn_compare c;
  s = workload_plan(wl, be, &cfg, &plan, why, sizeof why);
  if (s == ATTN_OK) {
    /* NaN everywhere first: a backend that leaves an element unwritten fails. */
    workload_poison(wl);
    s = workload_run(wl, be, plan);
    if (s != ATTN_OK) snprintf(why, sizeof why, "run: %s", attn_status_name(s));
  } else if (!why[0]) {
    snprintf(why, sizeof why, "plan: %s", attn_status_name(s));
  }
  workload_unplan(wl, be, plan);
  const char *stage = NULL;
  if (s == ATTN_OK &&
      (s = workload_verify(wl, &be->accuracy, workload_staged(wl) ? NULL : orc, 0, &c, &stage)) != ATTN_OK)
    snprintf(why, sizeof why, "check: %s", attn_status_name(s));
  if (s != ATTN_OK) {
    snprintf(extra, sizeof extra, "  (%s)", why);
    print_case(o->out, be, s == ATTN_UNSUPPORTED ? "SKIPPED" : "FAILED", NULL, pstr, extra);
    if (s == ATTN_UNSUPPORTED)
      tally->skipped++;
    else
      tally->failed++;
    return;
  }
  char nonfinite[ERRLEN] = "";
  if (c.nonfinite && workload_explain_nonfinite(wl, why, sizeof why) >= NONFINITE_SCORES_RANGE)
    snprintf(nonfinite, sizeof nonfinite, "; %s", why);
  extra[0] = 0;
  if (stage)
    snprintf(extra, sizeof extra, "  (worst in the %s: got %.9g want %.9g bound %.3g%s)%s", stage,
             c.worst_out, c.worst_ref, c.worst_bound, c.nonfinite ? ", non-finite outputs" : "", nonfinite);
  else if (c.verdict == ATTN_FAILED || o->verbose)
    snprintf(extra, sizeof extra, "  (worst at row %lld col %lld: got %.9g want %.9g bound %.3g%s)%s",
             (long long)(c.worst / in->p.dv), (long long)(c.worst % in->p.dv), c.worst_out, c.worst_ref,
             c.worst_bound, c.nonfinite ? ", non-finite outputs" : "", nonfinite);
  report_verdict(o, be, &c, pstr, extra, tally);
}

/* Returns 0, or 2 after printing the error for a problem that cannot be set up. */
static int check_problem(const char *str, const attn_backend **bes, int nbe, const check_opts *o,
                         check_tally *tally) {
  if (!o->out) return 2;
  char err[ERRLEN], pstr[ATTN_PROBLEM_STRLEN];
  attn_problem p;
  if (attn_problem_parse(str, &p, err, sizeof err) != ATTN_OK) {
    bench_error("%s", err);
    return 2;
  }
  attn_problem_format(&p, pstr, sizeof pstr);
  workload wl;
  int64_t *rows = NULL, nrows;
  if (workload_init(&p, 1, 0, &wl, err, sizeof err) != ATTN_OK) {
    bench_error("%s", err);
    return 2;
  }
  /* The oracle keeps two doubles per output element and a few per row. */
  const attn_problem *f = &wl.full;
  if ((nrows = workload_check_rows(&wl, &rows)) < 0 ||
      bench_memory_check(f, &p, 16.0 * (double)attn_o_elems(f) + 40.0 * (double)(f->b * f->h * f->lq), err,
                         sizeof err) != ATTN_OK) {
    bench_error("%s", nrows < 0 ? "cannot allocate the rows to check" : err);
    workload_free(&wl);
    return 2;
  }
  attn_oracle orc = {0};
  attn_tensors t = bench_tensors(&wl.in);
  attn_status s = workload_staged(&wl) ? ATTN_OK : attn_oracle_compute_rows(f, &t, rows, nrows, &orc);
  free(rows);
  if (s != ATTN_OK) {
    bench_error("cannot allocate the reference's buffers for %s", pstr);
    workload_free(&wl);
    return 2;
  }
  for (int i = 0; i < nbe; i++) check_backend(bes[i], o, &wl, &orc, pstr, tally);
  attn_oracle_free(&orc);
  workload_free(&wl);
  return 0;
}

int bench_check_problem(const char *problem, const attn_backend **bes, int nbe, int threads, FILE *out,
                        check_tally *tally) {
  check_opts o = {.threads = threads, .out = out};
  return check_problem(problem, bes, nbe, &o, tally);
}

/* ---- --repro: bitwise reproducibility ---- */

/* One run of a fresh plan at `threads` (and, if again, a second run of the
 * same plan into again) into out; note gets the plan's note. */
static attn_status repro_runs(workload *wl, const attn_backend *be, int threads, float *out, float *again,
                              char *note, char *why, size_t n) {
  const attn_config cfg = {.threads = threads};
  const size_t bytes = (size_t)workload_output_elems(wl) * sizeof(float);
  void *plan = NULL;
  attn_status s = workload_plan(wl, be, &cfg, &plan, why, n);
  snprintf(note, REPRO_NOTE_LEN, "%s", s == ATTN_OK && be->plan_note ? be->plan_note(plan) : "");
  for (int r = 0; s == ATTN_OK && r < (again ? 2 : 1); r++) {
    workload_poison(wl);
    if ((s = workload_run(wl, be, plan)) == ATTN_OK) memcpy(r ? again : out, workload_output(wl), bytes);
  }
  workload_unplan(wl, be, plan);
  if (s != ATTN_OK && !why[0]) snprintf(why, n, "%s", attn_status_name(s));
  return s;
}

int bench_repro_problem(const char *problem, const attn_backend *be, int threads, repro_result *res,
                        char *err, size_t n) {
  attn_problem p;
  workload wl;
  char why[ERRLEN] = "";
  *res = (repro_result){0};
  if (attn_problem_parse(problem, &p, err, n) != ATTN_OK) return -1;
  if (workload_supports(&p, be, why, sizeof why) != ATTN_OK) {
    res->declined = 1;
    return 0;
  }
  if (workload_init(&p, 1, 0, &wl, err, n) != ATTN_OK) return -1;
  const int64_t elems = workload_output_elems(&wl);
  float *out[4];
  for (int i = 0; i < 4; i++) out[i] = malloc((size_t)elems * sizeof(float));
  attn_status s = out[0] && out[1] && out[2] && out[3] ? ATTN_OK : ATTN_ENOMEM;
  if (s == ATTN_OK) s = repro_runs(&wl, be, threads, out[0], out[1], res->note_n, why, sizeof why);
  if (s == ATTN_OK) s = repro_runs(&wl, be, threads, out[2], NULL, res->note_n, why, sizeof why);
  if (s == ATTN_OK) s = repro_runs(&wl, be, 1, out[3], NULL, res->note_1, why, sizeof why);
  if (s == ATTN_OK) {
    const size_t bytes = (size_t)elems * sizeof(float);
    res->same_runs = !memcmp(out[0], out[1], bytes) && !memcmp(out[0], out[2], bytes);
    res->same_threads = !memcmp(out[0], out[3], bytes);
  } else {
    snprintf(err, n, "%s on %s: %s", be->name, problem, why[0] ? why : attn_status_name(s));
  }
  for (int i = 0; i < 4; i++) free(out[i]);
  workload_free(&wl);
  return s == ATTN_OK ? 0 : -1;
}

/* check --repro: per backend, whether every problem it runs gave the same
 * bits across runs and across 1 and N threads; the first problem that did
 * not is named. Exit status 0 (a report, not a verdict), 2 on bad input. */
static int check_repro(const check_opts *o, const attn_backend **bes, int nbe) {
  /* One thread against one thread would show nothing. */
  const int threads = o->threads > 1 ? o->threads : 2;
  printf("# attnbench check --repro: %zu problem(s), bitwise: a plan at %d threads run twice, a second "
         "plan, and a plan at 1 thread\n",
         o->problems.n, threads);
  printf("%-8s %-22s %-28s %s\n", "backend", "identical across runs", "across 1 and N threads", "problems");
  for (int b = 0; b < nbe; b++) {
    int ran = 0, declined = 0, runs_ok = 1, threads_ok = 1;
    const char *runs_first = NULL, *threads_first = NULL;
    char notes[300] = "";
    for (size_t i = 0; i < o->problems.n; i++) {
      repro_result r;
      char err[ERRLEN];
      if (bench_repro_problem(o->problems.items[i], bes[b], threads, &r, err, sizeof err)) {
        bench_error("%s", err);
        return 2;
      }
      if (r.declined) {
        declined++;
        continue;
      }
      ran++;
      if (!r.same_runs && runs_ok) runs_ok = 0, runs_first = o->problems.items[i];
      if (!r.same_threads && threads_ok) {
        threads_ok = 0;
        threads_first = o->problems.items[i];
        if (strcmp(r.note_1, r.note_n))
          snprintf(notes, sizeof notes, " (plan: %s at 1 thread, %s at %d)", r.note_1, r.note_n, threads);
      }
    }
    printf("%-8s %-22s %-28s %d run, %d declined\n", bes[b]->name, ran ? runs_ok ? "yes" : "no" : "-",
           ran ? threads_ok ? "yes" : "no" : "-", ran, declined);
    if (runs_first) printf("         differs across runs first on %s\n", runs_first);
    if (threads_first) printf("         differs across threads first on %s%s\n", threads_first, notes);
  }
  return 0;
}

int cmd_check(int argc, char **argv) {
  check_opts o = {.backends = "all", .threads = bench_default_threads(), .out = stdout};
  const char *suite = NULL;
  char err[ERRLEN];
  int repro = 0;
  static const struct option longopts[] = {
      {"backend", required_argument, 0, 'b'}, {"problem", required_argument, 0, 'p'},
      {"suite", required_argument, 0, 's'},   {"threads", required_argument, 0, 't'},
      {"verbose", no_argument, 0, 'v'},       {"repro", no_argument, 0, 'r'},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  /* rc >= 0 ends the parse with that status (--help, a bad option), after
   * freeing the problems gathered so far (fuzz_cli's finding: they leaked). */
  int c, rc = -1;
  while (rc < 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'b': o.backends = optarg; break;
    case 'p': strlist_push(&o.problems, optarg); break;
    case 's': suite = optarg; break;
    case 't':
      if ((o.threads = atoi(optarg)) < 1 || o.threads > 4096) {
        bench_error("--threads: '%s' is not a thread count (1..4096)", optarg);
        rc = 2;
      }
      break;
    case 'v': o.verbose = 1; break;
    case 'r': repro = 1; break;
    case 'h': usage(stdout), rc = 0; break;
    default: usage(stderr), rc = 2; break;
    }
  }
  if (rc < 0 && optind < argc) {
    bench_error("check: unexpected argument '%s'", argv[optind]);
    rc = 2;
  }
  if (rc >= 0) {
    strlist_free(&o.problems);
    return rc;
  }
  rc = 0;
  if (!suite && o.problems.n == 0) suite = "quick";
  if (suite && bench_load_suite(suite, &o.problems, err, sizeof err)) {
    bench_error("%s", err);
    strlist_free(&o.problems);
    return 2;
  }
  const attn_backend *bes[MAX_BACKENDS];
  int nbe = bench_select_backends(o.backends, bes, MAX_BACKENDS, err, sizeof err);
  if (nbe < 0) {
    bench_error("%s", err);
    strlist_free(&o.problems);
    return 2;
  }
  /* Parse everything first: a typo in the last problem fails before any work. */
  for (size_t i = 0; i < o.problems.n; i++) {
    attn_problem p;
    if (attn_problem_parse(o.problems.items[i], &p, err, sizeof err) != ATTN_OK) {
      bench_error("%s", err);
      strlist_free(&o.problems);
      return 2;
    }
  }
  if (repro) {
    rc = check_repro(&o, bes, nbe);
    strlist_free(&o.problems);
    return rc;
  }
  check_tally tally = {0};
  printf("# attnbench check: %zu problem(s), %d thread(s); error bound per reference/README.md\n",
         o.problems.n, o.threads);
  printf("%-8s %-10s %10s %9s  %s\n", "backend", "verdict", "max_abs", "err/bound", "problem");
  for (size_t i = 0; i < o.problems.n && rc == 0; i++)
    rc = check_problem(o.problems.items[i], bes, nbe, &o, &tally);
  strlist_free(&o.problems);
  if (rc) return rc;
  printf("%d passed, %d failed, %d skipped", tally.passed, tally.failed, tally.skipped);
  if (tally.mistrusted) printf(", %d mistrusted", tally.mistrusted);
  printf("\n");
  if (tally.failed) return 1;
  /* Every case declined: nothing was checked, which is no pass. */
  if (!tally.passed && !tally.mistrusted) {
    bench_error("check: no case was checked: every backend declined every problem (see the SKIPPED lines)");
    return 2;
  }
  return 0;
}
