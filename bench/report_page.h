/* attnbench report: what the page shows, gathered once from the result
 * files (report_page.c) and written as HTML (report_html.c) or Markdown
 * (report_md.c), so that both formats hold the same sections and numbers.
 * Strings point into the files' documents, which the page keeps. */
#ifndef ATTNBENCH_REPORT_PAGE_H
#define ATTNBENCH_REPORT_PAGE_H

#include "compare_load.h"
#include "harness.h"

typedef struct page_point {
  double lq, y;
} page_point;

/* One line of a GFLOP/s panel: a backend at a thread count (and one rest
 * of the shape), or, with backend NULL, the roofline at a thread count. */
typedef struct page_series {
  const char *backend;
  size_t backend_rank; /* its colour */
  int threads;
  char rest[ATTN_PROBLEM_STRLEN]; /* the problem's keys besides lq, d and mask */
  char label[ATTN_PROBLEM_STRLEN + 48];
  int shape; /* its marks: by thread count, and by the rest of the shape where a panel's lines differ in it */
  page_point *pts; /* by lq */
  size_t n, cap;
} page_series;

/* GFLOP/s against lq for one head dim and mask of one bench file. */
typedef struct page_panel {
  size_t input;
  int64_t d;
  attn_mask mask;
  page_series *series;
  size_t nseries, cap;
  page_series *roofs; /* per thread count (and rest of the shape) with per-case bounds */
  size_t nroofs, roofcap;
  double peak; /* no case carries its bound: the context's FMA peak, else 0 */
} page_panel;

typedef struct page_machine {
  const char *host, *cpu;
  json_int_t family, model_number; /* CPUID's, -1 where its files do not say */
  size_t first;                    /* its first input: the context shown */
  double peak_gflops, read_gbs;    /* from its first input that has them; 0: none */
  const char *roof_measured;
  strlist notes; /* what its plots and tables leave out, and why */
} page_machine;

/* A case of bench files from several machines: each one's %roof. */
typedef struct page_case {
  const char *name, *backend, *problem;
  int threads;
  size_t problem_rank, backend_rank; /* order of first appearance */
  double *pct, *gflops;              /* per machine; NAN: not there */
} page_case;

typedef struct page_check {
  const char *backend, *problem, *reason, *stage;
  int verdict;                   /* an attn_verdict or CMP_SKIPPED */
  double err_bound, max_abs_err; /* NAN: null */
  long long nonfinite;           /* -1: null */
  size_t backend_rank;
  size_t seq; /* its position in the file */
} page_check;

/* The err/bound of one backend's cases in a check file, by decade. */
enum { PAGE_BELOW_1E6, PAGE_TO_1E4, PAGE_TO_1E2, PAGE_TO_1, PAGE_ABOVE_1, PAGE_NBUCKETS };

typedef struct page_backend_errs {
  size_t backend_rank;
  size_t verdicts[4]; /* PASSED, FAILED, MISTRUSTED, SKIPPED */
  size_t buckets[PAGE_NBUCKETS], not_finite;
  double max; /* NAN: no finite err/bound */
} page_backend_errs;

typedef struct page_checks {
  size_t input;
  page_check *cases; /* FAILED first, then MISTRUSTED, SKIPPED, PASSED; worst first within */
  size_t n;
  page_backend_errs *errs; /* per backend, in order of appearance */
  size_t nerrs;
} page_checks;

typedef struct page {
  cmp_file *in;
  size_t nin;
  size_t *machine_of; /* per input */
  page_machine *machines;
  size_t nmachines;
  page_panel *panels;
  size_t npanels, panelcap;
  page_case *cases; /* present with a %roof on two machines or more */
  size_t ncases, casecap;
  page_checks *checks;
  size_t nchecks;
  const char **backends; /* every backend, in order of first appearance: its colour */
  size_t nbackends, backendcap;
  int threads[64]; /* every thread count, ascending: its mark shape (those beyond: one more) */
  size_t nthreads;
  int oom;
} page;

/* Loads every path (each through cmp_file_load) and gathers the page.
 * -1 with a one-line message when a file is refused or memory runs out;
 * page_free is safe either way. */
int page_build(page *pg, char *const *paths, size_t n, char *err, size_t errlen);
void page_free(page *pg);

/* The writers, for bench_write_atomic: 0 on success. */
int page_write_html(FILE *f, void *pg);
int page_write_md(FILE *f, void *pg);

/* Shared by both writers. */
const char *page_context_str(const page *pg, size_t input, const char *key);
/* "host 'H', CPU" of machine m, into buf. */
void page_machine_label(const page *pg, size_t m, char *buf, size_t n);
/* What made input i: "attnbench check (suite quick, 2 threads)", "attnbench bench". */
void page_made_by(const page *pg, size_t i, char *buf, size_t n);
/* The panel's title, "d=64, mask=none". */
void page_panel_title(const page_panel *p, char *buf, size_t n);
/* The libraries each backend of input i reports, "blas: OpenBLAS 0.3.21; ...". */
void page_libraries(const page *pg, size_t i, char *buf, size_t n);
/* The caches of input i's context, "L1d 48 KiB, L2 1024 KiB, L3 32 MiB". */
void page_caches(const page *pg, size_t i, char *buf, size_t n);
/* The machine's roofline in words, or that its files have none. */
void page_roofline_text(const page_machine *m, char *buf, size_t n);
/* "2 core(s), 2 logical CPU(s), ..." from what input i's context holds. */
void page_cores(const page *pg, size_t i, char *buf, size_t n);
/* Thread pinning and memory policy of input i's run. */
void page_binding(const page *pg, size_t i, char *buf, size_t n);
/* Number of checks or bench cases of input i. */
size_t page_input_cases(const page *pg, size_t i);
/* Index of the thread count t in pg->threads: its mark shape. */
int page_thread_shape(const page *pg, int t);
/* The verdict's position in PASSED, FAILED, MISTRUSTED, SKIPPED. */
int page_verdict_slot(int verdict);
extern const char *const page_bucket_names[PAGE_NBUCKETS];

#endif
