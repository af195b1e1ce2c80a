/* attnbench compare: two results of one kind, case by case.
 *
 * Bench results (times): a difference in medians alone is not evidence: a
 * second run on a quiet machine can be a few percent off the first. So each
 * common case gets a rank test over the repetitions' times as well, and a
 * verdict needs both a significant test and a change larger than the
 * threshold.
 *
 * Check results (accuracy): a verdict that got worse, a case no longer run,
 * or an error that grew by more than the threshold while large enough for
 * the growth to mean something (CHECK_FLOOR). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare_load.h"
#include "harness.h"
#include "stats.h"

/* Bench results: a change of the median beyond 5% (and significant). */
#define BENCH_THRESHOLD 0.05
#define BENCH_ALPHA     0.05
/* Check results: an err/bound that more than doubled, so that a backend
 * whose error doubled is flagged... */
#define CHECK_THRESHOLD 1.0
/* ...when the new err/bound is above this. The bound is a worst case that
 * grows with the lengths of the sums (gamma(n) = n u); a correct kernel's
 * error is a few units in the last place of each output, so on long rows
 * its err/bound sits orders of magnitude below 1, where one rounding more
 * or fewer (another block size, thread count or exp: a different, equally
 * correct order of operations) doubles or halves it. At 1e-3 of the bound,
 * an error must double ten times more to fail: below it, a doubling is no
 * sign of a kernel getting close to wrong. */
#define CHECK_FLOOR 1e-3

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: attnbench compare BASE.json NEW.json [--threshold PCT] [--alpha A] [--floor F] [--force]\n"
      "                         [--format table|csv|json]\n"
      "Compares two results of `attnbench bench --format json`, or two of `attnbench check --format json`,\n"
      "case by case (backend, problem, threads); a bench result against a check result is refused.\n"
      "Bench results, per case: ratio = median NEW / median BASE, a confidence interval of the ratio at\n"
      "level 1-A, the two-sided Mann-Whitney U test's p over the repetitions' times, and a verdict:\n"
      "regressed (p < A and ratio > 1 + PCT/100), improved (p < A and ratio < 1 - PCT/100), noisy (a\n"
      "change beyond PCT that the test does not confirm: rerun with more --reps), same, or untested (fewer\n"
      "than 2 repetitions). Every figure comes from the repetitions; a file without any gives the median\n"
      "aggregate (untested). A file is refused when its median, mean, stddev or min aggregates disagree\n"
      "with its repetitions, or when a case has a repetition_index or an aggregate twice.\n"
      "Check results, per case: both verdicts and err/bounds, ratio = err/bound NEW / BASE, and a verdict:\n"
      "regressed (a worse verdict, PASSED < MISTRUSTED < FAILED, or a newly run case that does not pass;\n"
      "or ratio > 1 + PCT/100 with the new err/bound above F), declined (no longer run: a regression too),\n"
      "improved (the converse), same. A file is refused when a name appears twice, a verdict is none of\n"
      "the four, an err_bound is neither null nor a number >= 0 (PASSED and MISTRUSTED: a number within\n"
      "[0, 1]; SKIPPED: null), or the summary's counts are not the records'.\n"
      "Defaults: bench --threshold 5 --alpha 0.05; check --threshold 100 --floor 0.001. An interrupted\n"
      "run is compared with a note. Results from different machines (host, CPU model, CPUID family\n"
      "and model, CPU count) are refused unless --force. --format csv or json: one record per case (bench: "
      "ratio, ci_lo, ci_hi, p,\n"
      "base_ms, new_ms, verdict, for scripts such as scripts/plot.py --compare; check: the verdicts,\n"
      "err/bounds and ratio).\n"
      "Exit status: 0 nothing regressed, 1 a case regressed (or was declined), 2 unusable input.\n");
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
    at += (size_t)snprintf(out + at, n - at, "%snum_cpus %lld vs %lld", at ? ", " : "", (long long)a->ncpus,
                           (long long)b->ncpus);
  /* The model string alone can hide it ("AMD EPYC" for a Zen 4 and a Zen 5);
   * files that do not say are not held to it. */
  const int known = a->family >= 0 && b->family >= 0 && a->model_number >= 0 && b->model_number >= 0;
  if (at < n && known && (a->family != b->family || a->model_number != b->model_number))
    snprintf(out + at, n - at, "%scpu family/model %lld/%lld vs %lld/%lld", at ? ", " : "",
             (long long)a->family, (long long)a->model_number, (long long)b->family,
             (long long)b->model_number);
  attn_printable_line(out); /* it quotes both files */
}

typedef struct cmp_opts {
  double threshold, alpha, floor; /* threshold as a fraction; NAN until set, by hand or the kind's default */
  int force;
  const char *format; /* table, csv or json */
  json_t *cases;      /* --format json: the records so far */
} cmp_opts;

typedef struct cmp_tally {
  int regressed, improved, same, noisy, untested, powerless, uncompared, declined;
} cmp_tally;

/* Text from a file (a case name, a reason) on stdout as one printable line
 * (attn_printable_line); in csv between double quotes, each one in it
 * doubled. -1 when memory for the copy is missing. */
static int print_text(const char *s, int csv) {
  char *line = strdup(s);
  if (!line) return -1;
  attn_printable_line(line);
  if (csv) putchar('"');
  for (const char *c = line; *c; c++) {
    if (csv && *c == '"') putchar('"');
    putchar(*c);
  }
  if (csv) putchar('"');
  free(line);
  return 0;
}

/* A case's note: "side: why" (nothing when why is NULL), in parentheses
 * in the table. */
static int print_note(const char *side, const char *why, int csv) {
  if (!why) return csv ? print_text("", 1) : 0;
  const size_t len = strlen(side) + strlen(why) + 3;
  char *note = malloc(len);
  if (!note) return -1;
  snprintf(note, len, "%s: %s", side, why);
  if (!csv) fputs("  (", stdout);
  const int rc = print_text(note, csv);
  if (!csv) putchar(')');
  free(note);
  return rc;
}

/* Ends a table or csv line that closes with a case name and its note. */
static int print_name_note(const char *name, const char *side, const char *why, int csv) {
  if (print_text(name, csv)) return -1;
  if (csv) putchar(',');
  if (print_note(side, why, csv)) return -1;
  putchar('\n');
  return 0;
}

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

/* Text that is not UTF-8 (a path, a host name cut short) has no JSON
 * string: null, rather than failing the whole document. */
static json_t *text_json(const char *text) {
  json_t *s = json_string(text);
  return s ? s : json_null();
}

/* ---- bench results ---- */

/* One case's outcome, whatever the format it is written in. NAN: none. */
typedef struct cmp_result {
  const char *verdict, *method, *name;
  const char *side, *why; /* a case not compared: which file (base, new, both) and why */
  double ratio, ci_lo, ci_hi, p, base_ms, new_ms;
  int base_reps, new_reps;
} cmp_result;

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
  printf("%s,%s,%s,%s,%s,%s,%s,%d,%d,%s,", r->verdict, num[0], num[1], num[2], num[3], num[4], num[5],
         r->base_reps, r->new_reps, r->method);
  return print_name_note(r->name, r->side, r->why, 1);
}

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
    printf("%-10s %7s  %-17s %8s  %10s  %10s  %7s  %-6s  ", "-", "-", "-", "-", "-", "-", "-", "-");
    return print_name_note(b->name, r.side, r.why, 0);
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
  printf("%-10s %7.3f  %-17s %8s  %10.4f  %10.4f  %7s  %-6s  ", verdict, ratio, ci, p, mb, mw, reps, method);
  return print_name_note(b->name, NULL, NULL, 0);
}

/* A case in one file only, as a csv or json record. */
static int emit_bench_only(const cmp_case *c, int in_new, const cmp_opts *o) {
  cmp_result r = {.name = c->name,
                  .verdict = in_new ? "only-in-new" : "only-in-base",
                  .method = "-",
                  .ratio = NAN,
                  .ci_lo = NAN,
                  .ci_hi = NAN,
                  .p = NAN,
                  .base_ms = NAN,
                  .new_ms = NAN};
  return emit_result(&r, o);
}

static void bench_legend(const cmp_opts *o) {
  char level[16];
  snprintf(level, sizeof level, "ci%g", 100 * (1 - o->alpha));
  printf("# ratio = median new / median base, over the repetitions; %s = its %g%% confidence interval "
         "(Mann-Whitney/Hodges-Lehmann, pairwise ratios);\n# p = two-sided Mann-Whitney U test over the "
         "repetitions; regressed or improved needs p < %g and a ratio beyond 1 %s %g%%\n",
         level, 100 * (1 - o->alpha), o->alpha, "\u00b1", 100 * o->threshold);
  printf("%-10s %7s  %-17s %8s  %10s  %10s  %7s  %-6s  %s\n", "verdict", "ratio", level, "p", "base_ms",
         "new_ms", "reps", "test", "case");
}

static void bench_summary(size_t common, const cmp_tally *t, size_t only_base, size_t only_new,
                          const cmp_opts *o) {
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
}

/* ---- check results ---- */

/* How far from shown right a verdict is: a kernel shown wrong (FAILED) is
 * worse than one the inputs could not expose (MISTRUSTED). */
static int severity(int verdict) { return verdict == ATTN_FAILED ? 2 : verdict == ATTN_MISTRUSTED ? 1 : 0; }

/* The comparison's verdicts on a check case, and their names. */
typedef enum { CHK_SAME, CHK_REGRESSED, CHK_DECLINED, CHK_IMPROVED } chk_verdict;
static const char *const chk_names[] = {"same", "regressed", "declined", "improved"};

/* The comparison's verdict on one case both files have. */
static chk_verdict judge_check(const cmp_check *b, const cmp_check *w, const cmp_opts *o) {
  /* A case no longer run is no longer checked: counted as a regression,
   * or a backend could hide a new bug by declining the case. Declining
   * may be the right fix for a failing case; the new baseline says so. */
  if (w->verdict == CMP_SKIPPED) return b->verdict == CMP_SKIPPED ? CHK_SAME : CHK_DECLINED;
  /* A newly run case has nothing to be compared with: it must pass. */
  if (b->verdict == CMP_SKIPPED) return w->verdict == ATTN_PASSED ? CHK_IMPROVED : CHK_REGRESSED;
  if (severity(w->verdict) != severity(b->verdict))
    return severity(w->verdict) > severity(b->verdict) ? CHK_REGRESSED : CHK_IMPROVED;
  /* No err/bound (an output that is not finite, or a run that failed) is
   * worse than any. */
  const int bn = isnan(b->err_bound), wn = isnan(w->err_bound);
  if (bn || wn) return bn == wn ? CHK_SAME : wn ? CHK_REGRESSED : CHK_IMPROVED;
  const double grow = 1 + o->threshold;
  if (w->err_bound > o->floor && w->err_bound > grow * b->err_bound) return CHK_REGRESSED;
  if (b->err_bound > o->floor && b->err_bound > grow * w->err_bound) return CHK_IMPROVED;
  return CHK_SAME;
}

/* new / base err/bound; NAN when either has none or both are 0. */
static double err_ratio(const cmp_check *b, const cmp_check *w) {
  if (!b || !w || isnan(b->err_bound) || isnan(w->err_bound)) return NAN;
  if (b->err_bound > 0) return w->err_bound / b->err_bound;
  return w->err_bound > 0 ? INFINITY : NAN;
}

/* A number in a table cell ("-" for none) or a csv field (empty). */
static void cell(char *out, size_t n, double v, const char *fmt, int csv) {
  if (isnan(v))
    snprintf(out, n, "%s", csv ? "" : "-");
  else
    snprintf(out, n, fmt, v);
}

/* One case, of both files or one (the other NULL), in the chosen format
 * under the comparison's verdict. -1 when memory runs out. */
static int emit_check(const char *verdict, const cmp_check *b, const cmp_check *w, const cmp_opts *o) {
  const char *name = b ? b->name : w->name;
  const double be = b ? b->err_bound : NAN, we = w ? w->err_bound : NAN, ratio = err_ratio(b, w);
  const char *bv = b ? cmp_verdict_name(b->verdict) : NULL, *wv = w ? cmp_verdict_name(w->verdict) : NULL;
  /* The new file's reason (why it declined or failed), else the base's. */
  const int new_why = w && w->reason && w->reason[0], base_why = b && b->reason && b->reason[0];
  const char *side = new_why ? "new" : "base", *why = new_why ? w->reason : base_why ? b->reason : NULL;
  if (!strcmp(o->format, "json")) {
    json_t *note = why ? json_pack("s++", side, ": ", why) : NULL;
    if (why && !note) return -1;
    json_t *c = json_pack("{s:s, s:s, s:s?, s:s?, s:o, s:o, s:o, s:o*}", "case", name, "verdict", verdict,
                          "base_verdict", bv, "new_verdict", wv, "base_err_bound", num_or_null(be),
                          "new_err_bound", num_or_null(we), "ratio", num_or_null(ratio), "note", note);
    return c && !json_array_append_new(o->cases, c) ? 0 : -1;
  }
  const int csv = !strcmp(o->format, "csv");
  char num[3][32];
  cell(num[0], sizeof num[0], be, csv ? "%.9g" : "%.3g", csv);
  cell(num[1], sizeof num[1], we, csv ? "%.9g" : "%.3g", csv);
  cell(num[2], sizeof num[2], ratio, csv ? "%.6g" : "%.3f", csv);
  if (csv)
    printf("%s,%s,%s,%s,%s,%s,", verdict, bv ? bv : "", wv ? wv : "", num[0], num[1], num[2]);
  else
    printf("%-10s %-10s %-10s %10s %10s %8s  ", verdict, bv ? bv : "-", wv ? wv : "-", num[0], num[1],
           num[2]);
  return print_name_note(name, side, why, csv);
}

static int compare_check(const cmp_check *b, const cmp_check *w, const cmp_opts *o, cmp_tally *t) {
  const chk_verdict v = judge_check(b, w, o);
  int *count[] = {[CHK_SAME] = &t->same,
                  [CHK_REGRESSED] = &t->regressed,
                  [CHK_DECLINED] = &t->declined,
                  [CHK_IMPROVED] = &t->improved};
  ++*count[v];
  return emit_check(chk_names[v], b, w, o);
}

static void check_legend(const cmp_opts *o) {
  printf("# err/bound = the largest |error| / its bound over the case (> 1 fails); ratio = new / base;\n"
         "# regressed: a worse verdict (PASSED < MISTRUSTED < FAILED; a newly run case that does not pass) "
         "or an err/bound\n# grown beyond 1 + %g%% while above %g; declined: no longer run (a regression "
         "too); improved: the converse\n",
         100 * o->threshold, o->floor);
  printf("%-10s %-10s %-10s %10s %10s %8s  %s\n", "verdict", "base", "new", "base_e/b", "new_e/b", "ratio",
         "case");
}

static void check_summary(size_t common, const cmp_tally *t, size_t only_base, size_t only_new) {
  printf("# %zu compared: %d regressed, %d declined, %d improved, %d same; %zu only in base, %zu only in "
         "new\n",
         common, t->regressed, t->declined, t->improved, t->same, only_base, only_new);
}

/* ---- either kind ---- */

static int out_of_memory(void) {
  bench_error("compare: out of memory");
  return -1;
}

/* Every case both files have, in base's order; -1 (reported) when memory runs out. */
static int compare_common(const cmp_file *base, const cmp_file *cur, const cmp_opts *o, cmp_tally *t) {
  for (size_t i = 0; i < base->n; i++) {
    json_t *at = json_object_get(cur->index, cmp_file_case_name(base, i));
    if (!at) continue;
    const size_t j = (size_t)json_integer_value(at);
    if (base->kind == CMP_CHECK ? compare_check(&base->checks[i], &cur->checks[j], o, t)
                                : compare_case(&base->cases[i], &cur->cases[j], o, t))
      return out_of_memory();
  }
  return 0;
}

/* The summary's fields of the kind, added to doc; -1 when memory runs out. */
static int add_kind_fields(json_t *doc, cmp_kind kind, const cmp_opts *o, const cmp_tally *t) {
  json_t *extra = kind == CMP_CHECK ? json_pack("{s:f, s:f, s:i}", "threshold", o->threshold, "floor",
                                                o->floor, "declined", t->declined)
                                    : json_pack("{s:f, s:f, s:f}", "threshold", o->threshold, "alpha",
                                                o->alpha, "ci_level", 1 - o->alpha);
  return extra ? json_object_update_new(doc, extra) : -1;
}

/* Machine-readable: the records only, the summary as fields (json) or the
 * exit status (csv). -1 when a failure was reported. */
static int write_records(const cmp_file *base, const cmp_file *cur, const char *diff, cmp_opts *o,
                         cmp_tally *t) {
  const int checks = base->kind == CMP_CHECK;
  if (!strcmp(o->format, "csv"))
    fputs(checks ? "verdict,base_verdict,new_verdict,base_err_bound,new_err_bound,ratio,case,note\n"
                 : "verdict,ratio,ci_lo,ci_hi,p,base_ms,new_ms,base_reps,new_reps,test,case,note\n",
          stdout);
  if (compare_common(base, cur, o, t)) return -1;
  for (int side = 0; side < 2; side++) {
    const cmp_file *f = side ? cur : base, *other = side ? base : cur;
    for (size_t i = 0; i < f->n; i++) {
      if (json_object_get(other->index, cmp_file_case_name(f, i))) continue;
      const char *only = side ? "only-in-new" : "only-in-base";
      if (checks ? emit_check(only, side ? NULL : &f->checks[i], side ? &f->checks[i] : NULL, o)
                 : emit_bench_only(&f->cases[i], side, o))
        return out_of_memory();
    }
  }
  if (strcmp(o->format, "json")) return 0;
  json_t *doc =
      json_pack("{s:s, s:o, s:o, s:o, s:b, s:b, s:i, s:i, s:O}", "kind", cmp_kind_name(base->kind), "base",
                text_json(base->path), "new", text_json(cur->path), "different_machines", text_json(diff),
                "base_interrupted", base->interrupted, "new_interrupted", cur->interrupted, "regressed",
                t->regressed, "improved", t->improved, "cases", o->cases);
  if (!doc || add_kind_fields(doc, base->kind, o, t)) {
    json_decref(doc);
    return out_of_memory();
  }
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

/* The file, its run's date and machine, as one printable line. */
static void table_header(const char *label, const cmp_file *f) {
  char line[ERRLEN + 256];
  snprintf(line, sizeof line, "# %s %s (%s%s, %s, %s)", label, f->path,
           f->interrupted ? "interrupted run, " : "", f->date, f->host, f->cpu);
  attn_printable_line(line);
  puts(line);
}

/* Each case of f that other lacks, one line each; their count, or -1 when
 * memory runs out. */
static long list_only(const cmp_file *f, const cmp_file *other, const char *label) {
  long count = 0;
  for (size_t i = 0; i < f->n; i++) {
    if (json_object_get(other->index, cmp_file_case_name(f, i))) continue;
    fputs(label, stdout);
    if (print_name_note(cmp_file_case_name(f, i), NULL, NULL, 0)) return -1;
    count++;
  }
  return count;
}

/* The table, its legend and the summary; -1 when a failure was reported. */
static int write_table(const cmp_file *base, const cmp_file *cur, const char *diff, size_t common,
                       const cmp_opts *o, cmp_tally *t) {
  const int checks = base->kind == CMP_CHECK;
  table_header("base:", base);
  table_header("new: ", cur);
  if (diff[0]) printf("# warning: different machines (%s), compared because of --force\n", diff);
  if (checks)
    check_legend(o);
  else
    bench_legend(o);
  if (compare_common(base, cur, o, t)) return -1;
  const long only_base = list_only(base, cur, "only in base: "),
             only_new = list_only(cur, base, "only in new:  ");
  if (only_base < 0 || only_new < 0) return out_of_memory();
  if (checks)
    check_summary(common, t, (size_t)only_base, (size_t)only_new);
  else
    bench_summary(common, t, (size_t)only_base, (size_t)only_new, o);
  return 0;
}

static int parse_opts(int argc, char **argv, cmp_opts *o, const char **paths) {
  static const struct option longopts[] = {{"threshold", required_argument, 0, 't'},
                                           {"alpha", required_argument, 0, 'a'},
                                           {"floor", required_argument, 0, 'l'},
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
    case 'l':
      o->floor = strtod(optarg, &end);
      if (!*optarg || *end || !(o->floor >= 0 && o->floor <= 1)) {
        bench_error("--floor: '%s' is not an err/bound between 0 and 1", optarg);
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

/* The kind's defaults for what was not given; an option of the other kind
 * is refused rather than ignored. -1 when reported. */
static int opts_for_kind(cmp_opts *o, cmp_kind kind, const char *const *paths) {
  const char *foreign = kind == CMP_CHECK ? (isnan(o->alpha) ? NULL : "--alpha (the U test's level)")
                                          : (isnan(o->floor) ? NULL : "--floor (an err/bound)");
  if (foreign) {
    bench_error("compare: %s applies to %s results; %s and %s are %s results", foreign,
                kind == CMP_CHECK ? "bench" : "check", paths[0], paths[1], cmp_kind_name(kind));
    return -1;
  }
  if (isnan(o->threshold)) o->threshold = kind == CMP_CHECK ? CHECK_THRESHOLD : BENCH_THRESHOLD;
  if (kind == CMP_CHECK)
    o->floor = isnan(o->floor) ? CHECK_FLOOR : o->floor;
  else
    o->alpha = isnan(o->alpha) ? BENCH_ALPHA : o->alpha;
  return 0;
}

/* Whether the two loaded files can be compared at all; -1 when reported. */
static int comparable(const cmp_file *base, const cmp_file *cur, const cmp_opts *o, const char *diff,
                      size_t common) {
  if (base->kind != cur->kind) {
    bench_error("compare: %s is a %s result and %s a %s result; compare takes two of one kind", base->path,
                cmp_kind_name(base->kind), cur->path, cmp_kind_name(cur->kind));
    return -1;
  }
  if (diff[0] && !o->force) {
    bench_error("compare: %s and %s come from different machines (%s); --force compares them anyway",
                base->path, cur->path, diff);
    return -1;
  }
  if (common == 0) {
    bench_error("compare: %s and %s have no case in common", base->path, cur->path);
    return -1;
  }
  return 0;
}

int cmd_compare(int argc, char **argv) {
  cmp_opts o = {.threshold = NAN, .alpha = NAN, .floor = NAN, .format = "table"};
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
  for (size_t i = 0; i < base.n; i++)
    common += json_object_get(cur.index, cmp_file_case_name(&base, i)) != NULL;
  if (comparable(&base, &cur, &o, diff, common) || opts_for_kind(&o, base.kind, paths)) {
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
  return rc ? 2 : t.regressed || t.declined ? 1 : 0;
}
