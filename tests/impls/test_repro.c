/* Bitwise reproducibility, per backend (bench_repro_problem, what
 * `attnbench check --repro` reports): a plan run twice and a second plan give
 * the same bits on every backend; a plan for 1 thread gives the bits of a
 * plan for 2 (and 3) on naive, avx512 and avx2 always: avx512 and avx2 choose
 * their split-k parts (a job's keys cut into parts merged in key order) from
 * the problem alone, never from the thread count, and their row blocking
 * leaves each row's arithmetic as it is. blas promises it whenever both
 * plans chose the same path (their plan notes agree): it sizes its sgemm row
 * chunks by the thread count. onednn chooses inside the library, without a
 * note, and is not asserted across thread counts: its differences are
 * logged. The problems are the ones that showed each kind of difference on
 * the full suite, and one per op; avx512 and avx2 are held to it on the
 * whole quick suite as well. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <string.h>

#include "harness.h"
#include "repro.h"

static const char *const problems[] = {
    "h=1,lq=5,lk=700,d=64",               /* split-k (once chosen by thread count): avx512, avx2 */
    "h=1,lq=257,lk=511,d=64,mask=causal", /* avx512 split-k; onednn's own choice */
    "h=1,lq=300,lk=300,d=64",             /* blas row chunks */
    "b=2,h=8,hkv=2,lq=23,lk=41,d=64",     /* grouped heads */
    "b=4,h=2,lq=9,lk=33,d=32,mask=pad,lens=0:1:17:33",
    "h=2,lq=16,lk=64,d=64,fill=large",
    "op=decode,b=2,h=8,hkv=2,lk=100,steps=9,d=64",
    "op=mha,b=2,h=4,hkv=2,lq=13,lk=21,d=12,dm=48",
    "op=han,b=2,s=5,t=7,d=16,da=10,pad=1",
};

/* Whether be promises the same bits at 1 and N threads, whatever its plans. */
static int thread_independent(const char *name) {
  return !strcmp(name, "naive") || !strcmp(name, "avx512") || !strcmp(name, "avx2");
}

/* Whether be promises the same bits at 1 and N threads when its plans agree. */
static int same_plan_same_bits(const char *name) { return thread_independent(name) || !strcmp(name, "blas"); }

Test(repro, bitwise_across_runs_and_threads) {
  int backends = 0;
  for (size_t i = 0; i < attn_backend_count(); i++) {
    const attn_backend *be = attn_backend_get(i);
    if (!be->available()) continue;
    backends++;
    int differ = 0, ran = 0;
    for (size_t s = 0; s < sizeof problems / sizeof problems[0]; s++) {
      repro_result r;
      char err[ERRLEN];
      cr_assert_eq(bench_repro_problem(problems[s], be, 2, &r, err, sizeof err), 0, "%s", err);
      if (r.declined) continue;
      ran++;
      cr_expect(r.same_runs, "%s: %s: not bitwise identical across runs at 2 threads", be->name, problems[s]);
      if (thread_independent(be->name))
        cr_expect(r.same_threads, "%s: %s: 1 and 2 threads differ (plan at 1: %s; at 2: %s)", be->name,
                  problems[s], r.note_1, r.note_n);
      else if (same_plan_same_bits(be->name) && !strcmp(r.note_1, r.note_n))
        cr_expect(r.same_threads, "%s: %s: 1 and 2 threads differ under the same plan (%s)", be->name,
                  problems[s], r.note_n);
      if (!r.same_threads) {
        differ++;
        cr_log_info("%s: %s: 1 and 2 threads differ (plan at 1: %s; at 2: %s)", be->name, problems[s],
                    r.note_1[0] ? r.note_1 : "-", r.note_n[0] ? r.note_n : "-");
      }
    }
    /* A backend that declined every problem would have asserted nothing. */
    cr_expect_gt(ran, 0, "%s declined every problem: nothing was checked", be->name);
    cr_log_info("%s: %d problems, identical across runs; across 1 and 2 threads on %d", be->name, ran,
                ran - differ);
  }
  if (!backends) cr_skip_test("no backend runs on this CPU");
}

/* avx512 and avx2 on every problem of the quick suite at 2 and 3 threads
 * (3: parts no longer a multiple of the threads, the dynamic schedule hands
 * them out unevenly): the same bits as at 1 thread, and across runs. */
Test(repro, avx512_avx2_quick_suite_across_threads) {
  static const char *const names[] = {"avx512", "avx2"};
  strlist suite = {0};
  char err[ERRLEN];
  cr_assert_eq(bench_load_suite("quick", &suite, err, sizeof err), 0, "%s", err);
  cr_assert_gt(suite.n, 0);
  int backends = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const attn_backend *be = attn_backend_find(names[i]);
    if (!be || !be->available()) continue;
    backends++;
    int ran = 0;
    for (int threads = 2; threads <= 3; threads++)
      for (size_t s = 0; s < suite.n; s++) {
        repro_result r;
        cr_assert_eq(bench_repro_problem(suite.items[s], be, threads, &r, err, sizeof err), 0, "%s", err);
        if (r.declined) continue;
        ran++;
        cr_expect(r.same_runs, "%s: %s: not bitwise identical across runs at %d threads", be->name,
                  suite.items[s], threads);
        cr_expect(r.same_threads, "%s: %s: 1 and %d threads differ (plan at 1: %s; at %d: %s)", be->name,
                  suite.items[s], threads, r.note_1, threads, r.note_n);
      }
    cr_expect_gt(ran, 0, "%s declined the whole quick suite: nothing was checked", be->name);
    cr_log_info("%s: %d runs of the quick suite at 2 and 3 threads", be->name, ran);
  }
  strlist_free(&suite);
  if (!backends) cr_skip_test("neither avx512 nor avx2 runs on this CPU");
}
