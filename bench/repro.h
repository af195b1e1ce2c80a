/* Bitwise reproducibility of a backend (`attnbench check --repro`): whether
 * its output is the same bits when a plan runs again, when a new plan runs,
 * and when the plan has 1 thread instead of N. */
#ifndef ATTNBENCH_REPRO_H
#define ATTNBENCH_REPRO_H

#include <stddef.h>

#include "attnbench/attn.h"

#define REPRO_NOTE_LEN 128

typedef struct repro_result {
  int declined;     /* the backend declines the problem: nothing else is set */
  int same_runs;    /* a plan for N threads run twice, and a second plan, gave the same bits */
  int same_threads; /* a plan for 1 thread gave the bits of the plan for N */
  /* The backend's plan_note (the path a plan chose; "" without one) for N
   * threads and for 1: a backend may choose by thread count. */
  char note_n[REPRO_NOTE_LEN], note_1[REPRO_NOTE_LEN];
} repro_result;

/* Runs be on the problem (any op: its workload, as check runs it) three times
 * at `threads` threads and once at 1, and compares the outputs bit for bit.
 * Returns 0, or -1 with a message in err (bad problem, no memory, a plan or
 * run that fails). */
int bench_repro_problem(const char *problem, const attn_backend *be, int threads, repro_result *res,
                        char *err, size_t n);

#endif
