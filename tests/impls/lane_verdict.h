/* Lane-by-lane verdicts for the vectorised-exp tests: each lane's output is
 * judged by the test's own rule, and this keeps the worst relative error and
 * the first violation to report. */
#ifndef ATTNBENCH_TESTS_LANE_VERDICT_H
#define ATTNBENCH_TESTS_LANE_VERDICT_H

#include <stdint.h>
#include <string.h>

typedef struct verdict {
  double max_rel;
  float worst_x;
  uint64_t checked, bad;
  float bad_x, bad_y; /* the first violation */
} verdict;

static inline float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* One lane: input x gave y, which the test's rule found ok (or not) with
 * relative error rel. */
static inline void verdict_add(verdict *v, float x, float y, int ok, double rel) {
  if (rel > v->max_rel) {
    v->max_rel = rel;
    v->worst_x = x;
  }
  if (!ok && v->bad++ == 0) {
    v->bad_x = x;
    v->bad_y = y;
  }
  v->checked++;
}

#endif
