/* The results of `attnbench check`: one record per (backend, problem) case,
 * and their formats: table (what check prints as it goes), csv, json, md
 * and junit. */
#ifndef ATTNBENCH_CHECK_REPORT_H
#define ATTNBENCH_CHECK_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "harness.h"
#include "peak.h"

typedef enum check_verdict { CHECK_PASSED, CHECK_FAILED, CHECK_SKIPPED, CHECK_MISTRUSTED } check_verdict;

#define CHECK_DETAIL_LEN (ERRLEN + 128)
/* The detail, what explains non-finite outputs, and a note on err/bound. */
#define CHECK_REASON_LEN (CHECK_DETAIL_LEN + ERRLEN + 64)

typedef struct check_record {
  char backend[32];
  char problem[ATTN_PROBLEM_STRLEN]; /* canonical, as the table prints it */
  int threads;
  check_verdict verdict;
  /* The output was compared with the reference: the figures below hold.
   * They may be inf or NaN (a non-finite output); the JSON has null then. */
  int compared;
  double max_abs_err, err_bound; /* err_bound: the largest |error| / bound; > 1 fails */
  /* worst_row and worst_col locate the worst element in the output. A
   * staged op's worst element is in its worst stage's tensor instead, whose
   * layout differs per stage: not located then. */
  int located;
  int64_t worst_row, worst_col;
  double got, want, bound; /* at the worst element */
  char stage[32];          /* the staged op's worst stage; "" otherwise */
  int64_t nonfinite;       /* outputs that are NaN or Inf */
  /* Why it was declined or failed, or what a mistrusted case could not
   * show; "" for PASSED. */
  char reason[CHECK_REASON_LEN];
  /* What the table shows in parentheses after the problem: the decline, the
   * error, or the worst element (for a passed case only with --verbose). */
  char detail[CHECK_DETAIL_LEN];
  /* Why the outputs are not finite, when the inputs explain it (scores
   * beyond fp32's range); the table gives it after the parentheses. */
  char nonfinite_why[ERRLEN];
  double seconds; /* plan, run and comparison: JUnit's time, in no other format */
} check_record;

typedef struct check_report {
  bench_machine machine; /* read only for the formats that describe it */
  char date[40];
  int threads;
  const char *suite; /* --suite as given, or NULL */
  size_t nproblems;
  int verbose;
  const bench_peak *peak; /* the cached roofline; NULL: none */
  const attn_backend **backends;
  int nbackends;
  check_record *records;
  size_t n, cap;
} check_report;

/* A zeroed record at the end of r, or NULL when memory runs out. */
check_record *check_report_add(check_report *r);
void check_report_free(check_report *r);
check_tally check_report_tally(const check_report *r);
void check_tally_add(check_tally *t, check_verdict v);
const char *check_verdict_name(check_verdict v);

/* The reason of a MISTRUSTED case. */
#define CHECK_MISTRUSTED_REASON                                                                              \
  "most outputs of rows with visible keys are zero: the inputs could not expose an error"

/* table, csv, json, md or junit. */
int check_format_known(const char *format);

/* The table, line by line, as check prints it while it runs: the header,
 * one line per record (its detail for a failed or skipped case, for every
 * case with verbose), then the verdicts counted. */
void check_table_header(FILE *f, size_t nproblems, int threads);
void check_table_line(FILE *f, const check_record *c, int verbose);
void check_table_summary(FILE *f, const check_tally *t);

/* The whole report in format; 0, or -1 when writing failed. */
int check_report_write(FILE *f, const check_report *r, const char *format);

#endif
