/* The result-file loader of attnbench compare (compare_load.c), exposed for
 * the fuzzer (tests/fuzz/fuzz_result_json.c); cmd_compare.c is its only
 * other user. A result is either kind: `bench --format json` (a benchmarks
 * array: times) or `check --format json` (a checks array: verdicts and
 * errors). Both share the context block, so the machine they come from is
 * read in one place; only their per-case records differ. */
#ifndef ATTNBENCH_COMPARE_LOAD_H
#define ATTNBENCH_COMPARE_LOAD_H

#include <jansson.h>
#include <stddef.h>

#include "attnbench/reference.h"

typedef enum cmp_kind { CMP_BENCH, CMP_CHECK } cmp_kind;

/* "bench" or "check": the command that writes the kind. */
const char *cmp_kind_name(cmp_kind k);

/* The aggregates bench (and Google Benchmark) derive from a case's
 * repetitions; the loader checks each one a file states against them. */
enum { CMP_MEDIAN, CMP_MEAN, CMP_STDDEV, CMP_MIN, CMP_NAGG };

/* Stated and recomputed aggregates may differ by this fraction of the
 * repetitions' mean plus standard deviation: bench prints 9 significant
 * digits, which moves each of them by at most about 1e-8 of that. */
#define CMP_AGG_TOLERANCE 1e-6

/* One case of a bench result: its repetitions' times, the aggregates the
 * file states, or why it has no times. */
typedef struct cmp_case {
  const char *name; /* run_name: backend/problem/threads:N; points into the document */
  double *ms;       /* repetitions, in file order */
  json_int_t *rep;  /* their repetition_index; -1 where an entry has none */
  int n, cap;
  double agg_ms[CMP_NAGG]; /* the aggregates' real_time, as the file states them */
  size_t agg_at[CMP_NAGG]; /* 1 + the aggregate's position in benchmarks; 0: absent */
  double median_ms;        /* of the repetitions; without any, the median aggregate; 0 if neither */
  const char *error;       /* error_message of a declined, skipped or failed case */
} cmp_case;

/* A check case's verdict: one of attn_verdict's, or this one for a case
 * the backend declined (never run, so without an error). */
enum { CMP_SKIPPED = -1 };

/* One case of a check result. */
typedef struct cmp_check {
  const char *name; /* backend/problem/threads:N; points into the document */
  int verdict;      /* an attn_verdict or CMP_SKIPPED */
  /* The largest |error| / bound over the case: within [0, 1] when PASSED,
   * >= 0 otherwise; NAN where the file has null (not run, or not finite). */
  double err_bound;
  const char *reason; /* why declined or failed; NULL if the file gives none */
} cmp_check;

typedef struct cmp_file {
  const char *path;
  cmp_kind kind;
  json_t *doc;
  json_t *index;     /* name -> position in cases or checks */
  cmp_case *cases;   /* CMP_BENCH */
  cmp_check *checks; /* CMP_CHECK */
  size_t n, cap;     /* of whichever array the kind has */
  const char *host, *cpu, *date;
  json_int_t ncpus;
  json_int_t family, model_number; /* CPUID's, -1 where the file does not say (older results) */
  int interrupted; /* the context says "interrupted": true: only the cases done before Ctrl-C */
} cmp_file;

/* Reads a `bench --format json` or `check --format json` result, telling
 * them apart by the top-level benchmarks or checks array. Refuses
 * (returning -1 with a one-line message in err that names the file and,
 * where there is one, the case) a file that contradicts itself: for bench,
 * stated aggregates that disagree with the repetitions, a case's
 * repetition_index or aggregate twice; for check, a name twice, a verdict
 * other than the four, an err_bound that is neither null nor a number >= 0
 * (a PASSED or MISTRUSTED one must be a number within [0, 1], a SKIPPED
 * one null), or a summary whose counts are not those of the records.
 * Also refused: a file that cannot be read in the memory there is.
 * cmp_file_free is safe either way. */
int cmp_file_load(cmp_file *f, const char *path, char *err, size_t n);
void cmp_file_free(cmp_file *f);

/* The name of case i, of either kind. */
const char *cmp_file_case_name(const cmp_file *f, size_t i);

/* The verdict's name as check writes it ("SKIPPED" for CMP_SKIPPED). */
const char *cmp_verdict_name(int verdict);

#endif
