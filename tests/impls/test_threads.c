/* Thread safety: two threads run different problems on the same backend at
 * the same time, each making, running and destroying its own plans (and
 * GEMM plans, where the backend has a GEMM), again and again; every output
 * must be bitwise the one the backend gives running alone (test_repro shows
 * that runs of a problem are bitwise identical). A backend that keeps state
 * between plans (a library's primitive cache, a lazily made engine or
 * thread pool) is exercised while the other thread uses it.
 *
 * Under ThreadSanitizer (scripts/test.sh --tsan) each backend call gets one
 * thread: libgomp is not built with TSan, so its own synchronisation of a
 * team's worker threads is invisible to it and would be reported as races
 * between the workers; with one thread per call there are no workers, and
 * what TSan checks is the two callers against each other. A plain program,
 * not Criterion: Criterion's runner crashes under TSan before any test.
 *
 * blas: the library's thread count is one process-wide setting; blas.c
 * (lib_enter) lets runs at different counts take turns, so that a sgemm never
 * runs with the other caller's count (which would split it, and round it,
 * differently). Bitwise here too. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/attn.h"
#include "attnbench/problem.h"
#include "attnbench/reference.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef UNDER_TSAN
#define CALL_THREADS 1
#else
#define CALL_THREADS 2
#endif
#define ROUNDS 12

/* What one thread runs: an attention problem and a GEMM, each checked
 * against the answer the backend gave alone. */
typedef struct work {
  const attn_backend *be;
  attn_problem p;
  float *q, *k, *v, *o, *want;
  int32_t lens[8];
  attn_gemm_shape g;
  float *a, *b, *c, *cwant;
  int bad_attn, bad_gemm, failed; /* rounds with other bits; calls that failed */
} work;

/* The test's verdict: failures so far. */
static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "test_threads: FAILED: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  failures++;
}

/* Aborting is fine here: this is the test program, not library code. */
static float *floats(int64_t n) {
  float *x = malloc((size_t)n * sizeof(float));
  if (!x) {
    fprintf(stderr, "test_threads: out of memory\n");
    exit(2);
  }
  return x;
}

static void work_init(work *w, const attn_backend *be, const char *problem, int64_t m, int64_t n, int64_t k) {
  char err[256];
  memset(w, 0, sizeof *w);
  w->be = be;
  if (attn_problem_parse(problem, &w->p, err, sizeof err) != ATTN_OK) {
    fprintf(stderr, "test_threads: %s: %s\n", problem, err);
    exit(2);
  }
  w->q = floats(attn_q_elems(&w->p));
  w->k = floats(attn_kv_elems(&w->p));
  w->v = floats(attn_v_elems(&w->p));
  w->o = floats(attn_o_elems(&w->p));
  w->want = floats(attn_o_elems(&w->p));
  for (int i = 0; i < 8; i++) w->lens[i] = (int32_t)w->p.lk;
  attn_fill_inputs(&w->p, w->q, w->k, w->v, w->lens);
  w->g = (attn_gemm_shape){m, n, k};
  w->a = floats(m * k);
  w->b = floats(k * n);
  w->c = floats(m * n);
  w->cwant = floats(m * n);
  for (int64_t i = 0; i < m * k; i++) w->a[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
  for (int64_t i = 0; i < k * n; i++) w->b[i] = (float)((i * 104729) % 2001 - 1000) / 1000.0f;
}

static void work_free(work *w) {
  float *all[] = {w->q, w->k, w->v, w->o, w->want, w->a, w->b, w->c, w->cwant};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

/* One plan, run and destroy of each; results into o and c. 0, or -1 if a
 * call failed (counted, not asserted: Criterion's asserts belong on the
 * test's own thread). */
static int work_once(work *w, float *o, float *c) {
  const attn_config cfg = {.threads = CALL_THREADS};
  char why[256];
  void *plan = NULL;
  const attn_tensors t = {.q = w->q, .k = w->k, .v = w->v, .lens = w->lens, .o = o};
  if (w->be->plan(&w->p, &cfg, &plan, why, sizeof why) != ATTN_OK) return -1;
  memset(o, 0xff, (size_t)attn_o_elems(&w->p) * sizeof(float)); /* NaN: unwritten shows */
  const attn_status s = w->be->run(plan, &t);
  w->be->destroy(plan);
  if (s != ATTN_OK) return -1;
  if (!w->be->gemm_plan) return 0;
  if (w->be->gemm_plan(&w->g, &cfg, &plan, why, sizeof why) != ATTN_OK) return -1;
  memset(c, 0xff, (size_t)(w->g.m * w->g.n) * sizeof(float));
  const attn_status gs = w->be->gemm_run(plan, w->a, w->b, c);
  w->be->gemm_destroy(plan);
  return gs == ATTN_OK ? 0 : -1;
}

/* 0: got is want bit for bit; 1: not. */
static int compare(const float *got, const float *want, int64_t n) {
  return memcmp(got, want, (size_t)n * sizeof(float)) != 0;
}

static void *work_rounds(void *arg) {
  work *w = arg;
  for (int r = 0; r < ROUNDS; r++) {
    if (work_once(w, w->o, w->c)) {
      w->failed++;
      continue;
    }
    w->bad_attn += compare(w->o, w->want, attn_o_elems(&w->p));
    w->bad_gemm += w->be->gemm_plan ? compare(w->c, w->cwant, w->g.m * w->g.n) : 0;
  }
  return NULL;
}

/* Different shapes, masks and paths on the two threads, so that plans of
 * different sizes and kinds coexist; each call small enough to overlap the
 * other thread's many times. */
int main(void) {
  static const char *const problems[2] = {"b=2,h=4,hkv=2,lq=33,lk=70,d=32,mask=causal",
                                          "b=3,h=2,lq=1,lk=300,d=64,dv=40,mask=pad,lens=300:17:0"};
  for (size_t i = 0; i < attn_backend_count(); i++) {
    const attn_backend *be = attn_backend_get(i);
    char why[256];
    if (!be->available()) continue;
    work w[2];
    work_init(&w[0], be, problems[0], 37, 29, 48);
    work_init(&w[1], be, problems[1], 64, 64, 64);
    int ok = 1;
    for (int t = 0; t < 2; t++) ok &= be->supports(&w[t].p, why, sizeof why) == ATTN_OK;
    /* Alone first: the answers. */
    for (int t = 0; t < 2 && ok; t++)
      if (work_once(&w[t], w[t].want, w[t].cwant)) {
        fail("%s: %s failed alone", be->name, problems[t]);
        ok = 0;
      }
    pthread_t tid[2];
    int started = 0;
    while (ok && started < 2 && pthread_create(&tid[started], NULL, work_rounds, &w[started]) == 0) started++;
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    if (ok && started < 2) fail("cannot start a thread");
    for (int t = 0; t < started && ok; t++) {
      if (w[t].failed)
        fail("%s: %s: %d calls failed beside another thread", be->name, problems[t], w[t].failed);
      if (w[t].bad_attn)
        fail("%s: %s: %d of %d concurrent runs differ from the sequential one", be->name, problems[t],
             w[t].bad_attn, ROUNDS);
      if (w[t].bad_gemm)
        fail("%s: GEMM %lldx%lldx%lld: %d of %d concurrent runs differ", be->name, (long long)w[t].g.m,
             (long long)w[t].g.n, (long long)w[t].g.k, w[t].bad_gemm, ROUNDS);
    }
    if (ok) printf("%s: 2 threads x %d rounds checked against sequential runs\n", be->name, ROUNDS);
    for (int t = 0; t < 2; t++) work_free(&w[t]);
  }
  return failures ? 1 : 0;
}
