/* The result-file loader of attnbench compare, exposed for the fuzzer
 * (tests/fuzz/fuzz_result_json.c); cmd_compare.c is its only other user. */
#ifndef ATTNBENCH_COMPARE_LOAD_H
#define ATTNBENCH_COMPARE_LOAD_H

#include <jansson.h>
#include <stddef.h>

/* One case of a result file: its repetitions' times, the median that bench
 * reported, or why it has no times. */
typedef struct cmp_case {
  const char *name; /* run_name: backend/problem/threads:N; points into the document */
  double *ms;       /* repetitions, in file order */
  int n, cap;
  double median_ms; /* the median aggregate's real_time, if the file has one */
  int has_median;
  const char *error; /* error_message of a declined, skipped or failed case */
} cmp_case;

typedef struct cmp_file {
  const char *path;
  json_t *doc;
  json_t *index; /* name -> position in cases */
  cmp_case *cases;
  size_t n, cap;
  const char *host, *cpu, *date;
  json_int_t ncpus;
} cmp_file;

/* Reads a `bench --format json` result. On error returns -1 with a one-line
 * message in err; cmp_file_free is safe either way. */
int cmp_file_load(cmp_file *f, const char *path, char *err, size_t n);
void cmp_file_free(cmp_file *f);

#endif
