/* attnbench check: conformance of backends against the double-precision
 * oracle, under the error bound of reference/README.md. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "attnbench/reference.h"
#include "check_report.h"
#include "harness.h"
#include "peak.h"
#include "repro.h"
#include "workload.h"

#define MAX_BACKENDS 32

typedef struct check_opts {
  const char *backends, *format, *out;
  strlist problems;
  int threads;
  int verbose;
  FILE *table;          /* where the table's lines go as the cases are checked; NULL: nowhere */
  check_report *report; /* where the records go; NULL: not kept */
} check_opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: attnbench check [--backend NAME[,NAME...]|all] [--problem STR]... [--suite NAME|FILE]\n"
          "                       [--threads N] [--verbose] [--format table|csv|json|md|junit] [--out FILE]\n"
          "                       [--repro]\n"
          "Checks each backend on each problem against the double-precision reference.\n"
          "The table goes to stdout as the cases are checked; --format prints one record per case in\n"
          "that format instead, at the end. With --out the file gets the format (written atomically)\n"
          "and stdout keeps the table.\n"
          "--repro instead reports per backend whether its outputs are bitwise identical across runs\n"
          "and across 1 and N threads (--threads, at least 2), in its own table.\n"
          "Suites: %s (default quick).\n"
          "Exit status, in every format: 0 all passed, 1 a case failed, 2 bad input or nothing\n"
          "checked (every case declined; nothing is written).\n",
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

/* A case that was not compared: SKIPPED (declined up front, or unsupported
 * only when planned), or a failure to plan, run or check; the table shows
 * the reason after `shown_as`. */
static void not_compared(check_record *rec, check_verdict v, const char *shown_as, const char *why) {
  rec->verdict = v;
  snprintf(rec->reason, sizeof rec->reason, "%s", why);
  snprintf(rec->detail, sizeof rec->detail, "%s%s", shown_as, why);
}

/* A compared case's figures, its worst element (located in the output, or
 * in a staged op's worst stage) and why it failed or could not be trusted. */
static void compared(check_record *rec, const attn_compare *c, const char *stage, const workload *wl) {
  rec->compared = 1;
  rec->verdict = c->verdict == ATTN_PASSED   ? CHECK_PASSED
                 : c->verdict == ATTN_FAILED ? CHECK_FAILED
                                             : CHECK_MISTRUSTED;
  rec->max_abs_err = c->max_abs_err;
  rec->err_bound = c->max_ratio;
  rec->got = c->worst_out, rec->want = c->worst_ref, rec->bound = c->worst_bound;
  rec->nonfinite = c->nonfinite;
  const char *nonfinite = c->nonfinite ? ", non-finite outputs" : "";
  if (stage) {
    snprintf(rec->stage, sizeof rec->stage, "%s", stage);
    snprintf(rec->detail, sizeof rec->detail, "worst in the %s: got %.9g want %.9g bound %.3g%s", stage,
             c->worst_out, c->worst_ref, c->worst_bound, nonfinite);
  } else {
    rec->located = 1;
    rec->worst_row = c->worst / wl->in.p.dv, rec->worst_col = c->worst % wl->in.p.dv;
    snprintf(rec->detail, sizeof rec->detail, "worst at row %lld col %lld: got %.9g want %.9g bound %.3g%s",
             (long long)rec->worst_row, (long long)rec->worst_col, c->worst_out, c->worst_ref, c->worst_bound,
             nonfinite);
  }
  char why[ERRLEN];
  if (c->nonfinite && workload_explain_nonfinite(wl, why, sizeof why) >= NONFINITE_SCORES_RANGE)
    snprintf(rec->nonfinite_why, sizeof rec->nonfinite_why, "%s", why);
  if (rec->verdict == CHECK_MISTRUSTED) snprintf(rec->reason, sizeof rec->reason, CHECK_MISTRUSTED_REASON);
  /* A JSON reader sees null for an infinite err/bound: the reason says why. */
  if (rec->verdict == CHECK_FAILED)
    snprintf(rec->reason, sizeof rec->reason, "%s%s%s%s", rec->detail, rec->nonfinite_why[0] ? "; " : "",
             rec->nonfinite_why,
             isfinite(c->max_ratio) || c->nonfinite
                 ? ""
                 : "; err/bound non-finite: an error where the bound is 0");
}

/* Runs one backend on one problem whose inputs and oracle are ready (op=mha:
 * whose inputs are ready; its check depends on what the backend projected). */
static void check_case(const attn_backend *be, const check_opts *o, workload *wl, const attn_oracle *orc,
                       check_record *rec) {
  char why[ERRLEN] = "";
  attn_config cfg = {.threads = o->threads};
  attn_status s = workload_supports(&wl->p, be, why, sizeof why);
  if (s != ATTN_OK) {
    not_compared(rec, CHECK_SKIPPED, "declined: ", why[0] ? why : attn_status_name(s));
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
  if (s == ATTN_UNSUPPORTED)
    not_compared(rec, CHECK_SKIPPED, "", why);
  else if (s != ATTN_OK)
    not_compared(rec, CHECK_FAILED, "", why);
  else
    compared(rec, &c, stage, wl);
}

/* Checks one case into a record (o->report's, or one not kept), prints its
 * line and counts its verdict; -1 when memory for the record runs out. */
static int check_backend(const attn_backend *be, const check_opts *o, workload *wl, const attn_oracle *orc,
                         const char *pstr, check_tally *tally) {
  check_record one = {0}, *rec = o->report ? check_report_add(o->report) : &one;
  if (!rec) return -1;
  snprintf(rec->backend, sizeof rec->backend, "%s", be->name);
  snprintf(rec->problem, sizeof rec->problem, "%s", pstr);
  rec->threads = o->threads;
  const double start = bench_now();
  check_case(be, o, wl, orc, rec);
  rec->seconds = bench_now() - start;
  if (o->table) check_table_line(o->table, rec, o->verbose);
  check_tally_add(tally, rec->verdict);
  return 0;
}

/* Returns 0, or 2 after printing the error for a problem that cannot be set up. */
static int check_problem(const char *str, const attn_backend **bes, int nbe, const check_opts *o,
                         check_tally *tally) {
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
  int rc = 0;
  for (int i = 0; i < nbe && rc == 0; i++) rc = check_backend(bes[i], o, &wl, &orc, pstr, tally);
  attn_oracle_free(&orc);
  workload_free(&wl);
  if (rc) bench_error("check: out of memory for the results");
  return rc ? 2 : 0;
}

int bench_check_problem(const char *problem, const attn_backend **bes, int nbe, int threads, FILE *out,
                        check_tally *tally) {
  if (!out) return 2;
  check_opts o = {.threads = threads, .table = out};
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

/* --format and --out belong to the case records, which --repro has none of. */
static int check_format_opts(const check_opts *o, int repro) {
  if (!check_format_known(o->format)) {
    bench_error("--format: '%s' is not table, csv, json, md or junit", o->format);
    return -1;
  }
  if (repro && strcmp(o->format, "table")) {
    bench_error("--repro prints its own table: --format %s does not apply to it", o->format);
    return -1;
  }
  if (repro && o->out) {
    bench_error("--repro prints its own table to stdout: --out does not apply to it");
    return -1;
  }
  return 0;
}

/* --out must not overwrite what the run reads: a suite file, or the cached
 * roofline (which the JSON context quotes). */
static int check_out_not_input(const check_opts *o, const char *suite) {
  char err[ERRLEN], peak[4096];
  const bench_file_arg in[] = {{"--suite", suite && !bench_suite_text(suite) ? suite : NULL},
                               {"the roofline cache", bench_peak_path(peak, sizeof peak) ? NULL : peak}};
  if (bench_out_not_input("--out", o->out, in, sizeof in / sizeof in[0], err, sizeof err) == 0) return 0;
  bench_error("%s", err);
  return -1;
}

/* The context of the records: the machine only for the formats that
 * describe it (reading it costs hwloc a topology), the roofline only for
 * the JSON's context. */
static void report_begin(check_report *r, const check_opts *o, const char *suite, const attn_backend **bes,
                         int nbe) {
  static bench_peak peak; /* a few KiB: not on the stack */
  r->threads = o->threads;
  r->suite = suite;
  r->nproblems = o->problems.n;
  r->verbose = o->verbose;
  r->backends = bes;
  r->nbackends = nbe;
  const time_t now = time(NULL);
  strftime(r->date, sizeof r->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  if (!strcmp(o->format, "json") || !strcmp(o->format, "md") || !strcmp(o->format, "junit"))
    bench_machine_read(&r->machine);
  /* An unknown machine (hwloc skipped under a low address-space limit) has
   * no key to match a cached roofline against. */
  if (!strcmp(o->format, "json") && r->machine.cores > 0 && bench_peak_load(&peak) == 0) r->peak = &peak;
}

static int write_report_cb(FILE *f, void *ctx) {
  const void **args = ctx;
  return check_report_write(f, args[0], args[1]);
}

/* The records in --format: to --out, atomically, else to stdout (where the
 * table already went as the cases were checked). 0, or 2 after an error. */
static int write_results(const check_opts *o, const check_report *r) {
  char err[ERRLEN];
  if (o->out) {
    const void *args[] = {r, o->format};
    if (bench_write_atomic(o->out, write_report_cb, (void *)args, err, sizeof err) == 0) return 0;
    bench_error("%s", err);
    return 2;
  }
  if (!strcmp(o->format, "table")) return 0;
  if (check_report_write(stdout, r, o->format) == 0 && fflush(stdout) == 0) return 0;
  bench_error("check: cannot write the results to stdout");
  return 2;
}

int cmd_check(int argc, char **argv) {
  check_opts o = {.backends = "all", .format = "table", .threads = bench_default_threads()};
  const char *suite = NULL;
  char err[ERRLEN];
  int repro = 0;
  static const struct option longopts[] = {
      {"backend", required_argument, 0, 'b'}, {"problem", required_argument, 0, 'p'},
      {"suite", required_argument, 0, 's'},   {"threads", required_argument, 0, 't'},
      {"verbose", no_argument, 0, 'v'},       {"repro", no_argument, 0, 'r'},
      {"format", required_argument, 0, 'f'},  {"out", required_argument, 0, 'o'},
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
    case 'f': o.format = optarg; break;
    case 'o': o.out = optarg; break;
    case 'h': usage(stdout), rc = 0; break;
    default: usage(stderr), rc = 2; break;
    }
  }
  if (rc < 0 && optind < argc) {
    bench_error("check: unexpected argument '%s'", argv[optind]);
    rc = 2;
  }
  if (rc < 0 && check_format_opts(&o, repro)) rc = 2;
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
  if (check_out_not_input(&o, suite)) {
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
  /* The table streams to stdout unless stdout is the records' (--format
   * without --out); the records are kept for any file and any format. */
  check_report report = {0};
  const int table_only = !strcmp(o.format, "table") && !o.out;
  o.table = table_only || o.out ? stdout : NULL;
  o.report = table_only ? NULL : &report;
  if (o.report) report_begin(o.report, &o, suite, bes, nbe);
  check_tally tally = {0};
  if (o.table) check_table_header(o.table, o.problems.n, o.threads);
  for (size_t i = 0; i < o.problems.n && rc == 0; i++)
    rc = check_problem(o.problems.items[i], bes, nbe, &o, &tally);
  if (rc == 0 && o.table) check_table_summary(o.table, &tally);
  /* Every case declined: nothing was checked, which is no pass, and no
   * file replaces an earlier one for it. */
  if (rc == 0 && !tally.failed && !tally.passed && !tally.mistrusted) {
    bench_error("check: no case was checked: every backend declined every problem (%s)",
                o.table ? "see the SKIPPED lines" : "--format table shows why");
    rc = 2;
  }
  if (rc == 0 && o.report) rc = write_results(&o, o.report);
  check_report_free(&report);
  strlist_free(&o.problems);
  return rc ? rc : tally.failed ? 1 : 0;
}
