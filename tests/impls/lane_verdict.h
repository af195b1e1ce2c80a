/* Lane-by-lane verdicts for the vectorised exp and tanh tests: each lane's
 * output is judged by the test's own rule, and this keeps the worst error
 * and the first violation to report. */
#ifndef ATTNBENCH_TESTS_LANE_VERDICT_H
#define ATTNBENCH_TESTS_LANE_VERDICT_H

#include <stddef.h>
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

/* A sweep over bit patterns: the function under test, eight lanes at a
 * time (n a multiple of 8), and the test's rule for one input and its
 * output, which also reports the error it measured. */
typedef void (*lane_eval_fn)(const float *x, float *y, size_t n);
typedef int (*lane_rule_fn)(float x, float y, double bound, double *err);

#define LANE_CHUNK 4096

static inline uint32_t lane_bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static inline void lane_check(lane_eval_fn eval, lane_rule_fn rule, const float *x, size_t n, double bound,
                              verdict *v) {
  float y[LANE_CHUNK];
  eval(x, y, n);
  for (size_t i = 0; i < n; i++) {
    double err;
    const int ok = rule(x[i], y[i], bound, &err);
    verdict_add(v, x[i], y[i], ok, err);
  }
}

/* Every stride-th bit pattern in [lo, hi] (inclusive, as uint32). */
static inline void lane_sweep_bits(lane_eval_fn eval, lane_rule_fn rule, uint32_t lo, uint32_t hi,
                                   uint32_t stride, double bound, verdict *v) {
  float x[LANE_CHUNK];
  size_t n = 0;
  for (uint64_t u = lo; u <= hi; u += stride) {
    x[n++] = from_bits((uint32_t)u);
    if (n == LANE_CHUNK) {
      lane_check(eval, rule, x, n, bound, v);
      n = 0;
    }
  }
  while (n % 8) x[n++] = 0;
  if (n) lane_check(eval, rule, x, n, bound, v);
}

#endif
