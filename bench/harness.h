/* Internal interfaces of the attnbench command. Library-style code here
 * returns statuses and messages; only the subcommands print. */
#ifndef ATTNBENCH_HARNESS_H
#define ATTNBENCH_HARNESS_H

#include <stdio.h>

#include "attnbench/attn.h"
#include "attnbench/problem.h"

#define ERRLEN 512

/* ---- inputs: one problem's tensors, filled from its seed ---- */
typedef struct bench_inputs {
  attn_problem p;
  float *q, *k, *v, *o;
  int32_t *lens; /* b entries; all lk unless mask=pad */
  /* The weights of p's score and mode (attn_tensors); NULL when unused. */
  float *w, *w1, *w2, *u, *wp, *vp;
} bench_inputs;

/* Floats in all of the problem's score and mode weights together. */
double bench_weight_elems(const attn_problem *p);
/* Bytes the problem's tensors need (q, k, v, o, lens and the weights). */
double bench_inputs_bytes(const attn_problem *p);
/* Fails with ATTN_ENOMEM and a message if extra_bytes plus the tensors of
 * `sized` exceed the memory this machine has available now. The message
 * names `shown`, the problem the user gave (sized may be a workload's
 * internal attention: op=decode's, mha's or han's). */
attn_status bench_memory_check(const attn_problem *sized, const attn_problem *shown, double extra_bytes,
                               char *err, size_t n);
/* Allocates, touches and fills; on failure everything is freed. */
attn_status bench_inputs_alloc(const attn_problem *p, int fill, bench_inputs *in, char *err, size_t n);
void bench_inputs_free(bench_inputs *in);
attn_tensors bench_tensors(const bench_inputs *in);
/* elems * size zeroed bytes (at least one), written here so that the pages
 * are faulted in before any timed run rather than inside it (calloc would
 * leave them to the first write); NULL if they cannot be had. */
void *bench_alloc_touched(int64_t elems, size_t size);

/* ---- suites: text files of problem strings, compiled into the binary ---- */
/* Returns the suite's text (one problem string per line, # comments) or NULL. */
const char *bench_suite_text(const char *name);
const char *bench_suite_names(void);

/* A growable list of problem strings. */
typedef struct strlist {
  char **items;
  size_t n, cap;
} strlist;
int strlist_push(strlist *l, const char *s);
void strlist_free(strlist *l);
/* Appends each non-comment line of text. */
int strlist_push_lines(strlist *l, const char *text);
/* Appends each comma-separated item of s. */
int strlist_push_csv(strlist *l, const char *s);

/* ---- backend selection ---- */
/* "all", or a comma-separated list of names; unknown or unavailable names are
 * an error with a message. Fills out[] (at most cap). */
int bench_select_backends(const char *spec, const attn_backend **out, size_t cap, char *err, size_t n);

/* ---- timing ---- */
typedef struct bench_timing_opts {
  int warmup;      /* runs before timing */
  int min_reps;    /* at least this many timed runs */
  int max_reps;    /* at most this many */
  double min_time; /* keep repeating until this many seconds were timed */
  /* --cold: before each timed repetition, outside the clock, flush_threads
   * threads read and write flush (flush_bytes, allocated and touched before
   * timing) so that no input is left in any cache. NULL: warm. */
  unsigned char *flush;
  size_t flush_bytes;
  int flush_threads;
} bench_timing_opts;

typedef struct bench_stats {
  int reps;
  double median_ms, min_ms, max_ms, q1_ms, q3_ms, mean_ms, stddev_ms;
  /* The median's distribution-free confidence interval and its exact
   * coverage: at least 0.95, except below 6 repetitions, where it is
   * [min, max] and covers less (stats_median_ci). */
  double ci_lo_ms, ci_hi_ms, ci_level;
  double *ms; /* every repetition, in run order; malloc'd, the report frees it */
} bench_stats;

double bench_now(void);
/* Times fn(ctx), which must be ready to run (plans made, pages touched):
 * warm-up, then repetitions. */
attn_status bench_time(attn_status (*fn)(void *ctx), void *ctx, const bench_timing_opts *o, bench_stats *st);

/* ---- machine and threads ---- */
typedef struct bench_machine {
  char cpu_model[128];
  char cpu_vendor[32];              /* CPUID's vendor string, "" if unknown */
  int cpu_family, cpu_model_number; /* CPUID's family and model (extended fields included), -1 if unknown */
  int packages, cores, pus, numa_nodes;
  long l1d, l2, l3; /* bytes, per core for l1/l2, per package for l3; 0 if unknown */
  char isa[256];
  char hostname[64];
} bench_machine;

void bench_machine_read(bench_machine *m);
/* Pins the OpenMP worker threads of a team of `threads` one per core, with
 * hwloc, and binds later allocations to the NUMA nodes of those cores where
 * the OS allows. cpus (may be NULL) receives the PUs used as a list ("0-3"),
 * mem (may be NULL) the memory policy applied. */
int bench_bind_threads(int threads, char *cpus, size_t ncpus, char *mem, size_t nmem, char *err, size_t n);
/* Bytes to stream through to evict every cache: a few times the largest
 * cache hwloc reports (32 MiB if it reports none). */
size_t bench_flush_bytes(const bench_machine *m);
/* Memory available now, in bytes (MemAvailable). */
double bench_mem_available(void);

/* ---- files ---- */
/* Every file the program writes goes through here. A regular file (or a
 * new one; after a symbolic link, its target) is replaced atomically, in its
 * own directory, keeping its permission bits: an earlier file is never lost
 * or half-written, and a writer killed at any point leaves no temporary
 * file for good (the next write into that directory removes one). A FIFO
 * (one with a reader, else an error at once) or a character device is
 * written where it is; anything else is refused. write_fn returns 0 on
 * success. */
int bench_write_atomic(const char *path, int (*write_fn)(FILE *f, void *ctx), void *ctx, char *err, size_t n);
/* Every file the program reads is opened here: a regular file, or NULL and
 * a message. A FIFO, a device or a directory could block the reader or feed
 * it without end; such a path, /dev/stdin among them, is refused without
 * waiting for a writer. */
FILE *bench_open_input(const char *path, char *err, size_t n);
/* An input of a command, named for messages by what (a flag, "the roofline
 * cache"); a NULL path is skipped. */
typedef struct bench_file_arg {
  const char *what, *path;
} bench_file_arg;
/* -1 and a message naming both if the output at out (given as out_flag) is
 * the same file as one of the inputs, by device and inode, so also through a
 * hard or symbolic link: writing it would destroy that input. */
int bench_out_not_input(const char *out_flag, const char *out, const bench_file_arg *in, size_t nin,
                        char *err, size_t n);

/* Threads when --threads is not given: one per core. */
int bench_default_threads(void);
/* A built-in suite by name, or a file of problem strings. */
int bench_load_suite(const char *name, strlist *out, char *err, size_t n);

/* ---- conformance ---- */
typedef struct check_tally {
  int passed, failed, skipped, mistrusted;
} check_tally;
/* Checks each backend on one problem against the oracle, printing one line
 * per backend to out and counting verdicts. Returns 0, or 2 if the problem
 * cannot be set up (bad string, no memory). */
int bench_check_problem(const char *problem, const attn_backend **bes, int nbe, int threads, FILE *out,
                        check_tally *tally);

/* ---- subcommands ---- */
int cmd_list(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* One-line error to stderr, "attnbench: error: ...". */
void bench_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
