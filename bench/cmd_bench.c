/* attnbench bench: throughput of backends across problems. Plans are made
 * before the clock starts, only run() is timed, and a sample of output rows
 * is verified against the oracle after timing. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/reference.h"
#include "report.h"
#include "workload.h"

#define MAX_BACKENDS 32
#define VERIFY_ROWS  48

typedef struct bench_opts {
  const char *backends, *format, *out, *suite, *mask;
  strlist problems, lq, lk, heads, d;
  int64_t b, hkv;
  int threads, bind, bind_set, cold, verify; /* threads: of the case being run */
  int thread_counts[16], nthread_counts;
  double max_case_time;          /* seconds per run above which a case is skipped, predicted */
  double rate[MAX_BACKENDS][16]; /* last GFLOP/s per backend and thread-count slot */
  bench_timing_opts timing;
} bench_opts;

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: attnbench bench [--backend LIST|all] [--problem STR]... [--suite NAME|FILE]\n"
      "                       [--lq LIST --lk LIST --heads LIST --d LIST --mask M --b N --hkv N]\n"
      "                       [--threads N[,N...]] [--bind|--no-bind] [--format table|csv|json|md] [--out "
      "FILE]\n"
      "                       [--warmup N] [--reps N] [--max-reps N] [--min-time SEC] [--max-case-time SEC]\n"
      "                       [--cold] [--no-verify]\n"
      "Without problems or sweep lists, runs the 'default' suite. --lk defaults to --lq; --hkv to heads.\n"
      "Threads are pinned one per core and memory bound to their NUMA nodes unless --no-bind.\n"
      "--cold flushes the caches (a buffer of 3x the last-level cache) before each repetition; warm is\n"
      "the default. On a terminal, progress goes to stderr; Ctrl-C stops after the current case and\n"
      "writes the cases done (exit 130), a second Ctrl-C stops at once.\n"
      "Timing: --warmup runs (default 2), then repetitions until both --reps (default 9) are done and\n"
      "--min-time seconds (default 0.5) were timed, at most --max-reps (default 200). Reported: the median,\n"
      "the minimum, the spread (q3-q1)/median and ci95, the median's distribution-free 95%% confidence\n"
      "interval (order statistics; it needs 6 repetitions). After timing, %d sampled output rows are\n"
      "checked against the reference (the verified column).\n",
      VERIFY_ROWS);
}

/* At most this many problems from one sweep: far beyond any run that ends
 * (each problem is timed for --min-time), while four lists of 64 values
 * would otherwise build 16.7 M problem strings before the first one runs. */
#define MAX_SWEEP_PROBLEMS 100000

/* Builds problem strings for the cross product of the sweep lists. */
static int expand_sweep(const bench_opts *o, strlist *out, char *err, size_t n) {
  const strlist *lk = o->lk.n ? &o->lk : &o->lq;
  if (!o->lq.n || !o->heads.n || !o->d.n) {
    snprintf(err, n, "a sweep needs --lq, --heads and --d (or give --problem)");
    return -1;
  }
  /* Each list holds at most as many values as the command line has
   * characters, so the product fits a double exactly enough to compare. */
  const double count = (double)o->heads.n * (double)o->d.n * (double)o->lq.n * (double)(o->lk.n ? lk->n : 1);
  if (count > MAX_SWEEP_PROBLEMS) {
    snprintf(err, n, "the sweep lists make %.0f problems, more than %d: shorten --lq, --lk, --heads or --d",
             count, MAX_SWEEP_PROBLEMS);
    return -1;
  }
  for (size_t a = 0; a < o->heads.n; a++)
    for (size_t c = 0; c < o->d.n; c++)
      for (size_t i = 0; i < o->lq.n; i++)
        for (size_t j = 0; j < lk->n; j++) {
          if (!o->lk.n && j != i) continue; /* lk follows lq when not given */
          char s[ATTN_PROBLEM_STRLEN], hkv[48] = "";
          if (o->hkv) snprintf(hkv, sizeof hkv, ",hkv=%lld", (long long)o->hkv);
          snprintf(s, sizeof s, "b=%lld,h=%s%s,lq=%s,lk=%s,d=%s,mask=%s", (long long)o->b, o->heads.items[a],
                   hkv, o->lq.items[i], lk->items[j], o->d.items[c], o->mask);
          if (strlist_push(out, s)) return -1;
        }
  return 0;
}

/* Verifies a deterministic sample of rows (first, last, evenly spread). */
static void verify_sample(const attn_backend *be, const workload *wl, bench_row *w) {
  attn_compare c;
  const char *stage;
  const attn_status s = workload_verify(wl, &be->accuracy, NULL, VERIFY_ROWS, &c, &stage);
  snprintf(w->verified, sizeof w->verified, "%s",
           s != ATTN_OK                   ? "no-memory"
           : c.verdict == ATTN_PASSED     ? "ok"
           : c.verdict == ATTN_MISTRUSTED ? "MISTRUSTED"
                                          : "FAILED");
}

/* Plans, times and verifies one backend on one problem. Returns 0, or 1 if
 * the backend failed (not declined). */
/* The note column: per-step figures of a decode, then the backend's path. */
static void describe_run(const attn_backend *be, const void *plan, const workload *wl, bench_row *w) {
  size_t at = 0;
  if (workload_staged(wl) && wl->runs > 0)
    at = (size_t)snprintf(w->note, sizeof w->note, "proj %.3g ms, attn %.3g ms (means)%s",
                          wl->proj_s * 1e3 / (double)wl->runs, wl->attn_s * 1e3 / (double)wl->runs,
                          be->plan_note ? "; " : "");
  if (wl->p.op == ATTN_OP_DECODE) {
    w->step_us = w->st.median_ms * 1e3 / (double)wl->p.steps;
    w->tokens_per_s = (double)(wl->p.b * wl->p.steps) / (w->st.median_ms * 1e-3);
    at = (size_t)snprintf(w->note, sizeof w->note, "%.1f us/step, %.0f tok/s%s", w->step_us, w->tokens_per_s,
                          be->plan_note ? "; " : "");
  }
  if (be->plan_note && at < sizeof w->note)
    snprintf(w->note + at, sizeof w->note - at, "%s", be->plan_note(plan));
}

typedef struct timed_run {
  workload *wl;
  const attn_backend *be;
  void *plan;
} timed_run;

static attn_status run_once(void *ctx) {
  timed_run *r = ctx;
  return workload_run(r->wl, r->be, r->plan);
}

static int bench_case(const attn_backend *be, bench_opts *o, double *rate, workload *wl, const char *pstr,
                      bench_report *rep) {
  bench_row *w = report_add(rep);
  if (!w) return 1;
  snprintf(w->backend, sizeof w->backend, "%s", be->name);
  snprintf(w->problem, sizeof w->problem, "%s", pstr);
  w->threads = o->threads;
  char why[ERRLEN] = "";
  attn_status s = workload_supports(&wl->p, be, why, sizeof why);
  if (s != ATTN_OK) {
    w->declined = 1;
    snprintf(w->why, sizeof w->why, "%s", why[0] ? why : attn_status_name(s));
    return 0;
  }
  /* A run predicted (from this backend's rate on the previous case) to take
   * longer than the cap is skipped, and says so. */
  const double flops = workload_flops(wl);
  if (*rate > 0 && flops / (*rate * 1e9) > o->max_case_time) {
    w->skipped = 1;
    snprintf(w->why, sizeof w->why, "~%.0f s per run at its last %.1f GFLOP/s exceeds --max-case-time %g",
             flops / (*rate * 1e9), *rate, o->max_case_time);
    return 0;
  }
  attn_config cfg = {.threads = o->threads};
  void *plan = NULL;
  w->workspace_mib = (double)be->workspace_size(&wl->planned, &cfg) / (1 << 20);
  double t0 = bench_now();
  s = workload_plan(wl, be, &cfg, &plan, why, sizeof why);
  w->plan_ms = (bench_now() - t0) * 1e3;
  if (s == ATTN_OK) {
    timed_run r = {wl, be, plan};
    workload_poison(wl);
    wl->proj_s = wl->attn_s = 0, wl->runs = 0;
    s = bench_time(run_once, &r, &o->timing, &w->st);
    if (s == ATTN_OK) describe_run(be, plan, wl, w);
    if (s != ATTN_OK) snprintf(why, sizeof why, "run: %s", attn_status_name(s));
  }
  workload_unplan(wl, be, plan);
  if (s != ATTN_OK) {
    w->declined = s == ATTN_UNSUPPORTED;
    snprintf(w->why, sizeof w->why, "%s", why[0] ? why : attn_status_name(s));
    return !w->declined;
  }
  w->flops = flops;
  w->gflops = w->st.median_ms > 0 ? w->flops / (w->st.median_ms * 1e6) : 0;
  w->tanh_evals = wl->p.op == ATTN_OP_ATTN ? attn_tanh_evals(&wl->full, wl->in.lens) : 0;
  w->gtanh_s = w->st.median_ms > 0 ? w->tanh_evals / (w->st.median_ms * 1e6) : 0;
  if (rep->peak) {
    w->roof_gflops = bench_roofline_gflops(rep->peak, NULL, o->threads, flops, workload_bytes(wl));
    w->pct_peak = w->roof_gflops > 0 ? 100 * w->gflops / w->roof_gflops : 0;
  }
  *rate = w->gflops;
  if (o->verify)
    verify_sample(be, wl, w);
  else
    snprintf(w->verified, sizeof w->verified, "off");
  return strcmp(w->verified, "FAILED") == 0;
}

static int parse_int_opt(const char *name, const char *v, long lo, long hi, long *out) {
  char *end;
  long x = strtol(v, &end, 10);
  if (!*v || *end || x < lo || x > hi) {
    bench_error("--%s: '%s' is not an integer in %ld..%ld", name, v, lo, hi);
    return -1;
  }
  *out = x;
  return 0;
}

/* --threads 1,2: each problem runs at each count. */
static int parse_thread_counts(const char *v, bench_opts *o) {
  strlist items = {0};
  long x = 0;
  int bad = strlist_push_csv(&items, v) || items.n == 0 || items.n > 16;
  if (bad) bench_error("--threads: '%s' is not a list of at most 16 thread counts", v);
  o->nthread_counts = 0;
  for (size_t i = 0; !bad && i < items.n; i++) {
    bad = parse_int_opt("threads", items.items[i], 1, 4096, &x);
    o->thread_counts[o->nthread_counts++] = (int)x;
  }
  strlist_free(&items);
  return bad;
}

static int write_report_cb(FILE *f, void *ctx) {
  const void **args = ctx;
  return report_write(f, args[0], args[1]);
}

static void opts_free(bench_opts *o) {
  strlist_free(&o->problems);
  strlist_free(&o->lq);
  strlist_free(&o->lk);
  strlist_free(&o->heads);
  strlist_free(&o->d);
}

/* Parses the options; returns -1 after printing an error, 1 for --help. */
static int parse_opts(int argc, char **argv, bench_opts *o) {
  static const struct option longopts[] = {
      {"backend", required_argument, 0, 'B'},  {"problem", required_argument, 0, 'p'},
      {"suite", required_argument, 0, 's'},    {"lq", required_argument, 0, 'q'},
      {"lk", required_argument, 0, 'k'},       {"heads", required_argument, 0, 'H'},
      {"d", required_argument, 0, 'd'},        {"mask", required_argument, 0, 'm'},
      {"b", required_argument, 0, 'b'},        {"hkv", required_argument, 0, 'K'},
      {"threads", required_argument, 0, 't'},  {"bind", no_argument, 0, 'P'},
      {"no-bind", no_argument, 0, 'N'},        {"cold", no_argument, 0, 'c'},
      {"format", required_argument, 0, 'f'},   {"out", required_argument, 0, 'o'},
      {"warmup", required_argument, 0, 'w'},   {"reps", required_argument, 0, 'r'},
      {"max-reps", required_argument, 0, 'R'}, {"min-time", required_argument, 0, 'T'},
      {"no-verify", no_argument, 0, 'V'},      {"max-case-time", required_argument, 0, 'C'},
      {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
  int c, reps_set = 0, max_set = 0;
  long x = 0;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    int bad = 0;
    switch (c) {
    case 'B': o->backends = optarg; break;
    case 'p': bad = strlist_push(&o->problems, optarg); break;
    case 's': o->suite = optarg; break;
    case 'q': bad = strlist_push_csv(&o->lq, optarg); break;
    case 'k': bad = strlist_push_csv(&o->lk, optarg); break;
    case 'H': bad = strlist_push_csv(&o->heads, optarg); break;
    case 'd': bad = strlist_push_csv(&o->d, optarg); break;
    case 'm': o->mask = optarg; break;
    case 'b': bad = parse_int_opt("b", optarg, 1, 1L << 30, &x), o->b = x; break;
    case 'K': bad = parse_int_opt("hkv", optarg, 1, 1L << 30, &x), o->hkv = x; break;
    case 't': bad = parse_thread_counts(optarg, o); break;
    case 'P': o->bind = 1, o->bind_set = 1; break;
    case 'N': o->bind = 0, o->bind_set = 1; break;
    case 'c': o->cold = 1; break;
    case 'f': o->format = optarg; break;
    case 'o': o->out = optarg; break;
    case 'w': bad = parse_int_opt("warmup", optarg, 0, 1000000, &x), o->timing.warmup = (int)x; break;
    case 'r':
      bad = parse_int_opt("reps", optarg, 1, 1000000, &x), o->timing.min_reps = (int)x, reps_set = 1;
      break;
    case 'R':
      bad = parse_int_opt("max-reps", optarg, 1, 1000000, &x), o->timing.max_reps = (int)x, max_set = 1;
      break;
    case 'T': {
      char *end;
      o->timing.min_time = strtod(optarg, &end);
      if (!*optarg || *end || !(o->timing.min_time >= 0 && o->timing.min_time < 1e6)) {
        bench_error("--min-time: '%s' is not a number of seconds", optarg);
        bad = 1;
      }
      break;
    }
    case 'V': o->verify = 0; break;
    case 'C': {
      char *end;
      o->max_case_time = strtod(optarg, &end);
      if (!*optarg || *end || !(o->max_case_time > 0)) {
        bench_error("--max-case-time: '%s' is not a positive number of seconds", optarg);
        bad = 1;
      }
      break;
    }
    case 'h': usage(stdout); return 1;
    default: usage(stderr); return -1;
    }
    if (bad) return -1;
  }
  if (optind < argc) {
    bench_error("bench: unexpected argument '%s'", argv[optind]);
    return -1;
  }
  if (!report_format_known(o->format)) {
    bench_error("--format: '%s' is not table, csv, json or md", o->format);
    return -1;
  }
  /* Whichever of the two the user gave wins over the other's default. */
  if (o->timing.max_reps < o->timing.min_reps) {
    if (reps_set && max_set) {
      bench_error("--reps %d exceeds --max-reps %d", o->timing.min_reps, o->timing.max_reps);
      return -1;
    }
    if (reps_set)
      o->timing.max_reps = o->timing.min_reps;
    else
      o->timing.min_reps = o->timing.max_reps;
  }
  return 0;
}

/* Collects the problem strings to run, all parsed up front so that a typo
 * fails before any work is done. */
static int collect_problems(bench_opts *o, strlist *out) {
  char err[ERRLEN];
  const int sweep = o->lq.n || o->lk.n || o->heads.n || o->d.n;
  for (size_t i = 0; i < o->problems.n; i++) strlist_push(out, o->problems.items[i]);
  if (sweep && expand_sweep(o, out, err, sizeof err)) {
    bench_error("%s", err);
    return -1;
  }
  if (o->suite || out->n == 0) {
    if (bench_load_suite(o->suite ? o->suite : "default", out, err, sizeof err)) {
      bench_error("%s", err);
      return -1;
    }
  }
  for (size_t i = 0; i < out->n; i++) {
    attn_problem p;
    if (attn_problem_parse(out->items[i], &p, err, sizeof err) != ATTN_OK) {
      bench_error("%s", err);
      return -1;
    }
  }
  return 0;
}

/* Ctrl-C: the first stops the run after the current case (a case cut short
 * would be no measurement), the second stops it at once. _exit is
 * async-signal-safe, unlike exit, and skips the report on purpose: the
 * previous file at --out stays intact, as the atomic writer guarantees. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  if (interrupted) _exit(130);
  interrupted = 1;
}

/* One updating line on stderr, only when a person is watching it: logs and
 * pipes get nothing. The ETA assumes the remaining cases cost what the done
 * ones did on average, which a sweep of growing sizes underestimates. */
typedef struct progress {
  int on;
  size_t done, total;
  double start;
} progress;

static void progress_show(const progress *pg, const char *backend, const char *problem) {
  if (!pg->on) return;
  const double elapsed = bench_now() - pg->start;
  char eta[32] = "?";
  if (pg->done > 0)
    snprintf(eta, sizeof eta, "%.0f s", elapsed / (double)pg->done * (double)(pg->total - pg->done));
  /* \033[K clears what a longer previous line left. */
  fprintf(stderr, "\r\033[Kcase %zu of %zu, %.0f s elapsed, ETA %s: %s %.60s", pg->done + 1, pg->total,
          elapsed, eta, backend, problem);
  fflush(stderr);
}

static void progress_end(const progress *pg) {
  if (pg->on) fprintf(stderr, "\r\033[K");
}

/* --out must not overwrite what the run reads: a suite file, or the cached
 * roofline. */
static int check_out_not_input(const bench_opts *o) {
  char err[ERRLEN], peak[4096];
  const bench_file_arg in[] = {{"--suite", o->suite && !bench_suite_text(o->suite) ? o->suite : NULL},
                               {"the roofline cache", bench_peak_path(peak, sizeof peak) ? NULL : peak}};
  if (bench_out_not_input("--out", o->out, in, sizeof in / sizeof in[0], err, sizeof err) == 0) return 0;
  bench_error("%s", err);
  return -1;
}

/* A result without one measured case (every case declined, skipped or
 * failed) would pass for a benchmark, and at --out replace an earlier one:
 * an error instead, naming the first reason. A failure is status 1, as
 * among measured cases; nothing to measure is bad input. */
static int nothing_measured(const bench_report *rep, int failed) {
  if (rep->n == 0)
    bench_error("bench: no case was measured: no backend ran (see attnbench list)");
  else
    bench_error("bench: no case was measured, nothing written (%zu case(s); the first, %s on %s: %s)", rep->n,
                rep->rows[0].backend, rep->rows[0].problem, rep->rows[0].why);
  return failed ? 1 : 2;
}

/* Binds for a team of `threads`: an explicit --bind fails the run when hwloc
 * cannot pin, the default falls back to unpinned threads with a note. */
static int bind_team(bench_opts *o, int threads, bench_report *rep) {
  char err[ERRLEN];
  if (bench_bind_threads(threads, rep->bind_cpus, sizeof rep->bind_cpus, rep->membind, sizeof rep->membind,
                         err, sizeof err) == 0)
    return 0;
  if (o->bind_set) {
    bench_error("%s", err);
    return -1;
  }
  fprintf(stderr, "attnbench: note: %s; running unpinned (--no-bind silences this)\n", err);
  o->bind = 0;
  rep->bind = "none";
  rep->bind_cpus[0] = rep->membind[0] = 0;
  return 0;
}

int cmd_bench(int argc, char **argv) {
  bench_opts o = {.backends = "all",
                  .format = "table",
                  .mask = "none",
                  .b = 1,
                  .threads = bench_default_threads(),
                  .bind = 1,
                  .verify = 1,
                  .max_case_time = 60,
                  .timing = {.warmup = 2, .min_reps = 9, .max_reps = 200, .min_time = 0.5}};
  strlist problems = {0};
  char err[ERRLEN];
  int rc = parse_opts(argc, argv, &o);
  if (rc == 0) rc = collect_problems(&o, &problems);
  if (rc == 0) rc = check_out_not_input(&o);
  const attn_backend *bes[MAX_BACKENDS];
  int nbe = 0;
  if (rc == 0 && (nbe = bench_select_backends(o.backends, bes, MAX_BACKENDS, err, sizeof err)) < 0) {
    bench_error("%s", err);
    rc = -1;
  }
  if (o.nthread_counts == 0) o.thread_counts[o.nthread_counts++] = o.threads;
  bench_report rep = {.thread_counts = o.thread_counts,
                      .nthread_counts = o.nthread_counts,
                      .bind = "cores",
                      .cache_mode = o.cold ? "cold" : "warm",
                      .backends = bes,
                      .nbackends = nbe};
  if (!o.bind) rep.bind = "none";
  /* Each count is bound once up front so that a failure stops the run before
   * any work; the last binding made is the one the first case uses. */
  for (int i = o.nthread_counts - 1; rc == 0 && o.bind && i >= 0; i--)
    if (bind_team(&o, o.thread_counts[i], &rep)) rc = -1;
  bench_machine_read(&rep.machine);
  /* The flush buffer is made and touched before any timing. */
  if (rc == 0 && o.cold) {
    o.timing.flush_bytes = bench_flush_bytes(&rep.machine);
    o.timing.flush = malloc(o.timing.flush_bytes);
    if (!o.timing.flush) {
      bench_error("--cold: no memory for a %zu MiB flush buffer", o.timing.flush_bytes >> 20);
      rc = -1;
    } else {
      memset(o.timing.flush, 1, o.timing.flush_bytes);
    }
  }
  if (rc) {
    opts_free(&o);
    strlist_free(&problems);
    return rc > 0 ? 0 : 2;
  }
  static bench_peak peak; /* a few KiB: not on the stack */
  /* An unknown machine (hwloc skipped under a low address-space limit) has
   * no key to match a cached roofline against: no %roof, and no note. */
  if (rep.machine.cores > 0 && bench_peak_load(&peak) == 0) rep.peak = &peak;
  time_t now = time(NULL);
  strftime(rep.date, sizeof rep.date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  struct sigaction sa = {.sa_handler = on_sigint}, old_sa;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  sigaction(SIGINT, &sa, &old_sa);
  progress pg = {.on = isatty(STDERR_FILENO),
                 .total = problems.n * (size_t)o.nthread_counts * (size_t)nbe,
                 .start = bench_now()};
  int failed = 0;
  for (size_t i = 0; i < problems.n && rc == 0 && !interrupted; i++) {
    attn_problem p;
    char pstr[ATTN_PROBLEM_STRLEN];
    attn_problem_parse(problems.items[i], &p, err, sizeof err);
    attn_problem_format(&p, pstr, sizeof pstr);
    workload wl;
    if (workload_init(&p, 1, 0, &wl, err, sizeof err)) {
      progress_end(&pg);
      bench_error("%s", err);
      rc = 2;
      break;
    }
    for (int t = 0; t < o.nthread_counts && !interrupted; t++) {
      /* A team of another size may start new threads: pin them too. */
      o.threads = o.thread_counts[t];
      o.timing.flush_threads = o.threads;
      if (o.bind && o.nthread_counts > 1) bind_team(&o, o.threads, &rep);
      for (int k = 0; k < nbe && !interrupted; k++, pg.done++) {
        progress_show(&pg, bes[k]->name, pstr);
        failed += bench_case(bes[k], &o, &o.rate[k][t], &wl, pstr, &rep);
      }
    }
    workload_free(&wl);
  }
  progress_end(&pg);
  sigaction(SIGINT, &old_sa, NULL);
  rep.interrupted = interrupted;
  free(o.timing.flush);
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) rep.peak_rss_mib = (double)ru.ru_maxrss / 1024;
  size_t measured = 0;
  for (size_t i = 0; i < rep.n; i++) measured += (size_t)report_row_measured(&rep.rows[i]);
  if (rc == 0 && !measured && !rep.interrupted) rc = nothing_measured(&rep, failed);
  if (rc == 0 && measured) {
    if (o.out) {
      const void *args[] = {&rep, o.format};
      if (bench_write_atomic(o.out, write_report_cb, (void *)args, err, sizeof err)) {
        bench_error("%s", err);
        rc = 2;
      }
    } else {
      report_write(stdout, &rep, o.format);
    }
  }
  if (rc == 0 && rep.interrupted)
    fprintf(stderr, "attnbench: interrupted: %zu of %zu case(s) done%s\n", rep.n, pg.total,
            !measured ? ", none measured: nothing written"
            : o.out   ? ", written to --out"
                      : "");
  report_free(&rep);
  opts_free(&o);
  strlist_free(&problems);
  return rc ? rc : rep.interrupted ? 130 : (failed ? 1 : 0);
}
