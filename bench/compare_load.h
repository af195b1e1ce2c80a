/* The result-file loader of attnbench compare, exposed for the fuzzer
 * (tests/fuzz/fuzz_result_json.c); cmd_compare.c is its only other user. */
#ifndef ATTNBENCH_COMPARE_LOAD_H
#define ATTNBENCH_COMPARE_LOAD_H

#include <jansson.h>
#include <stddef.h>

/* The aggregates bench (and Google Benchmark) derive from a case's
 * repetitions; the loader checks each one a file states against them. */
enum { CMP_MEDIAN, CMP_MEAN, CMP_STDDEV, CMP_MIN, CMP_NAGG };

/* Stated and recomputed aggregates may differ by this fraction of the
 * repetitions' mean plus standard deviation: bench prints 9 significant
 * digits, which moves each of them by at most about 1e-8 of that. */
#define CMP_AGG_TOLERANCE 1e-6

/* One case of a result file: its repetitions' times, the aggregates the
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

typedef struct cmp_file {
  const char *path;
  json_t *doc;
  json_t *index; /* name -> position in cases */
  cmp_case *cases;
  size_t n, cap;
  const char *host, *cpu, *date;
  json_int_t ncpus;
  int interrupted; /* the context says "interrupted": true: only the cases done before Ctrl-C */
} cmp_file;

/* Reads a `bench --format json` result. Refuses (returning -1 with a
 * one-line message in err) a file whose stated aggregates disagree with its
 * repetitions, that has a case's repetition_index or aggregate twice, or
 * that cannot be read in the memory there is. cmp_file_free is safe either
 * way. */
int cmp_file_load(cmp_file *f, const char *path, char *err, size_t n);
void cmp_file_free(cmp_file *f);

#endif
