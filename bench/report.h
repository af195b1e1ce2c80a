/* Benchmark results and their formats: table, csv, json, md. */
#ifndef ATTNBENCH_REPORT_H
#define ATTNBENCH_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "harness.h"
#include "peak.h"

typedef struct bench_row {
  char backend[32];
  char problem[ATTN_PROBLEM_STRLEN];
  int threads;
  int declined;      /* the backend declined: why holds its reason */
  int skipped;       /* the harness skipped it (--max-case-time): why says so */
  char why[ERRLEN];  /* decline reason or failure */
  char note[256];    /* the path the plan chose */
  char verified[64]; /* result of the sampled check after timing */
  double plan_ms;
  double workspace_mib; /* what the backend's plan holds beyond inputs and output */
  bench_stats st;
  double flops;                 /* per run, visible pairs only */
  double gflops;                /* flops / median */
  double tanh_evals, gtanh_s;   /* score=additive: tanh evaluations per run, per second / 1e9; else 0 */
  double roof_gflops, pct_peak; /* the roofline bound for this case and gflops as % of it; 0: none */
  double step_us, tokens_per_s; /* op=decode: median time per step, tokens per second */
} bench_row;

typedef struct bench_report {
  bench_machine machine;
  const int *thread_counts; /* the counts run; each row has its own */
  int nthread_counts;
  const char *bind;       /* "cores" or "none" */
  char bind_cpus[128];    /* the PUs the threads were pinned to, as a list; "" when not bound */
  char membind[128];      /* the memory policy bench_bind_threads applied; "" when not bound */
  const char *cache_mode; /* "warm" or "cold" (--cold: caches flushed before each repetition) */
  int interrupted;        /* SIGINT stopped the run: the rows are the cases done */
  char date[40];
  double peak_rss_mib;    /* of the whole run, inputs included */
  const bench_peak *peak; /* the cached roofline (attnbench info --peak); NULL: none */
  const attn_backend **backends;
  int nbackends;
  bench_row *rows;
  size_t n, cap;
} bench_report;

bench_row *report_add(bench_report *r);
void report_free(bench_report *r);
/* Whether the row holds a measurement: the backend neither declined nor
 * failed the case, and the harness did not skip it. */
int report_row_measured(const bench_row *w);
/* Returns 0 on success; format is table, csv, json or md. */
int report_write(FILE *f, const bench_report *r, const char *format);
int report_format_known(const char *format);

/* The machine in one line, as every report's header gives it: model,
 * packages, NUMA nodes, cores, threads, caches, ISA. */
#define REPORT_MACHINE_LINE 640
void report_machine_line(char *buf, size_t n, const bench_machine *m);

/* The JSON context block's parts that every result shares (bench's and
 * check's), each added to c in the order bench has always written them,
 * so that readers of either find the same keys. */
/* date, host, versions, CPU, caches, load average. */
void report_context_machine(json_t *c, const bench_machine *m, const char *date);
/* Thread pinning and memory policy as applied ("" cpus and membind: none). */
void report_context_binding(json_t *c, const bench_machine *m, const char *bind, const char *cpus,
                            const char *membind);
/* The cached roofline; nothing when peak is NULL. */
void report_context_roofline(json_t *c, const bench_peak *peak);
/* Each backend's summary and libraries (its describe()). */
void report_context_backends(json_t *c, const attn_backend **bes, int n);

#endif
