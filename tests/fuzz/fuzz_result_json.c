/* libFuzzer target: the result-file loader of `attnbench compare`
 * (cmp_file_load), on bench and check results. Each input is written to a
 * file and loaded. compare prints a refusal as one line ("attnbench: error:
 * compare: ..."), so a refused input must come with a non-empty message
 * without newlines or other control characters (a case name or a JSON token
 * quoted from the file must not break the line or the terminal). An
 * accepted file must hold data that the comparison can use without
 * checking again: every case named and indexed at its own position, and
 * the records of its kind only.
 *
 * A bench result: a repetition count within 0..cap, and every time (each
 * repetition, each aggregate, the case's median) finite and positive (a
 * stddev may be 0). It must also be consistent, by properties weaker than
 * the loader's own check and computed another way: no repetition_index twice
 * in a case; the median within the repetitions' range (or the median
 * aggregate's, without repetitions); each stated median, mean and min
 * within that range and a stddev within its width, give or take the
 * tolerance, which is at most CMP_AGG_TOLERANCE * max * (1 + sqrt(n)).
 *
 * A check result: each verdict one of the four; an err_bound within [0, 1]
 * for PASSED and MISTRUSTED, none (NAN) for SKIPPED, NAN or finite >= 0 for
 * FAILED; no name twice (the index has one entry per record); and the
 * document's summary, read here again, counting exactly the records of
 * each verdict. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_FILE "/tmp/attnbench-fuzz-result-%ld.json"
#include "fuzz_input.h"

static void check_message(const char *err) {
  if (!err[0]) {
    fprintf(stderr, "refused without a message\n");
    abort();
  }
  for (const char *c = err; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) {
      fprintf(stderr, "message has control character 0x%02x at %zu: '%s'\n", (unsigned)(unsigned char)*c,
              (size_t)(c - err), err);
      abort();
    }
}

/* What is wrong with case c's aggregates and repetitions, or NULL. */
static const char *inconsistency(const cmp_case *c) {
  for (int a = 0; a < CMP_NAGG; a++)
    if (c->agg_at[a] &&
        !(isfinite(c->agg_ms[a]) && (c->agg_ms[a] > 0 || (a == CMP_STDDEV && c->agg_ms[a] == 0))))
      return "an aggregate time that is not finite and positive";
  if (c->n == 0)
    return c->median_ms == (c->agg_at[CMP_MEDIAN] ? c->agg_ms[CMP_MEDIAN] : 0)
               ? NULL
               : "a median other than the median aggregate without repetitions";
  for (int i = 0; c->n <= 1000 && i < c->n; i++)
    for (int j = 0; j < i; j++)
      if (c->rep[i] >= 0 && c->rep[i] == c->rep[j]) return "a repetition_index twice";
  double lo = c->ms[0], hi = c->ms[0];
  for (int i = 1; i < c->n; i++) lo = fmin(lo, c->ms[i]), hi = fmax(hi, c->ms[i]);
  if (!(c->median_ms >= lo && c->median_ms <= hi)) return "a median outside the repetitions' range";
  const double slack = 2 * CMP_AGG_TOLERANCE * hi * (1 + sqrt(c->n));
  for (int a = 0; a < CMP_NAGG; a++) {
    const double v = c->agg_ms[a];
    if (c->agg_at[a] && (a == CMP_STDDEV ? !(v <= hi - lo + slack) : !(v >= lo - slack && v <= hi + slack)))
      return "an aggregate that no rounding of its repetitions explains";
  }
  return NULL;
}

static void check_header(const cmp_file *f) {
  if (!f->host || !f->cpu || !f->date || json_object_size(f->index) != f->n || f->n > f->cap ||
      (f->interrupted != 0 && f->interrupted != 1) || (f->kind != CMP_BENCH && f->kind != CMP_CHECK) ||
      (f->kind == CMP_CHECK ? f->cases != NULL : f->checks != NULL)) {
    fprintf(stderr, "accepted a file with an inconsistent header or index (%zu cases)\n", f->n);
    abort();
  }
}

/* Whether case i is indexed under its own name at its own position. */
static int indexed(const cmp_file *f, size_t i) {
  const char *name = cmp_file_case_name(f, i);
  json_t *at = name ? json_object_get(f->index, name) : NULL;
  return at && json_integer_value(at) == (json_int_t)i;
}

static void check_bench(const cmp_file *f) {
  for (size_t i = 0; i < f->n; i++) {
    const cmp_case *c = &f->cases[i];
    int bad = !indexed(f, i) || c->n < 0 || c->n > c->cap || (c->n > 0 && !c->ms);
    for (int r = 0; !bad && r < c->n; r++) bad = !(isfinite(c->ms[r]) && c->ms[r] > 0);
    if (!bad && (c->n > 0 || c->agg_at[CMP_MEDIAN]) && !(isfinite(c->median_ms) && c->median_ms > 0)) bad = 1;
    const char *why = bad ? "a bad time or index" : inconsistency(c);
    if (why) {
      fprintf(stderr, "accepted an inconsistent case %zu ('%s', %d repetitions): %s\n", i,
              c->name ? c->name : "(null)", c->n, why);
      abort();
    }
  }
}

/* What is wrong with check record c, or NULL. */
static const char *check_record_problem(const cmp_check *c) {
  const double e = c->err_bound;
  switch (c->verdict) {
  case ATTN_PASSED:
  case ATTN_MISTRUSTED: return e >= 0 && e <= 1 ? NULL : "a passing err_bound outside [0, 1]";
  case ATTN_FAILED: return isnan(e) || (isfinite(e) && e >= 0) ? NULL : "a negative or infinite err_bound";
  case CMP_SKIPPED: return isnan(e) ? NULL : "an err_bound on a case not run";
  default: return "a verdict none of the four";
  }
}

/* The summary's count of each verdict, against the records. */
static void check_summary(const cmp_file *f) {
  static const struct {
    int verdict;
    const char *key;
  } keys[] = {{ATTN_PASSED, "passed"},
              {ATTN_FAILED, "failed"},
              {ATTN_MISTRUSTED, "mistrusted"},
              {CMP_SKIPPED, "skipped"}};
  json_t *summary = json_object_get(f->doc, "summary");
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    json_int_t count = 0;
    for (size_t i = 0; i < f->n; i++) count += f->checks[i].verdict == keys[k].verdict;
    json_t *said = json_object_get(summary, keys[k].key);
    if (!json_is_integer(said) || json_integer_value(said) != count) {
      fprintf(stderr, "accepted a summary whose %s count is not the records' %lld\n", keys[k].key,
              (long long)count);
      abort();
    }
  }
}

static void check_checks(const cmp_file *f) {
  for (size_t i = 0; i < f->n; i++) {
    const cmp_check *c = &f->checks[i];
    const char *why = indexed(f, i) ? check_record_problem(c) : "a record not indexed at its position";
    if (why) {
      fprintf(stderr, "accepted check record %zu ('%s', %s): %s\n", i, c->name ? c->name : "(null)",
              cmp_verdict_name(c->verdict), why);
      abort();
    }
  }
  check_summary(f);
}

static void check_accepted(const cmp_file *f) {
  check_header(f);
  if (f->kind == CMP_CHECK)
    check_checks(f);
  else
    check_bench(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (write_input(data, size)) return 0;
  cmp_file f;
  char err[1024] = "";
  if (cmp_file_load(&f, path, err, sizeof err) == 0)
    check_accepted(&f);
  else
    check_message(err);
  cmp_file_free(&f);
  return 0;
}
