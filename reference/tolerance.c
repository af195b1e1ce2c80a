/* The tolerance model: a first-principles bound on the error of an fp32
 * attention forward, element by element. The derivation is in README.md; the
 * symbols here follow it. */
#include <math.h>

#include "attnbench/problem.h"
#include "attnbench/reference.h"
#include "compare.h"

static const double unit_roundoff = 0x1p-24; /* u: fp32 round-to-nearest */

/* Higham's gamma_n = n u / (1 - n u): the relative error bound of n roundings. */
static double gamma_n(double n) {
  double nu = n * unit_roundoff;
  return nu < 1 ? nu / (1 - nu) : INFINITY;
}

double compare_gamma32(double n) { return gamma_n(n); }

double attn_tolerance(const attn_oracle *o, const attn_accuracy *acc, int64_t row, int64_t elem) {
  /* row: the held row's slot in the oracle */
  const attn_problem *p = &o->p;
  const double u = unit_roundoff, n = (double)o->nvis[row];
  if (n == 0) return 0; /* a row with no visible key must be exactly zero */
  const double e = acc->exp_rel_err;
  /* Score error: a length-d dot product, the scale multiply and one more
   * rounding for kernels that pre-multiply by log2(e). */
  const double ds = gamma_n((double)p->d + 2) * o->amax[row];
  /* Online softmax rescales the running sum and accumulator at most once per
   * key block, plus once per merge of split partial states. */
  const double rescales = acc->key_block > 0 ? ceil(n / (double)acc->key_block) + 1 : 0;
  /* Relative error of one unnormalised weight exp(s_j - m): the score error,
   * the rounding of s_j - m (at most u * range) and the exp itself; then the
   * rescale factors, whose arguments sum to at most the range. */
  const double theta = ds + 2 * u * o->range[row] + e + rescales * (e + 2 * u);
  /* Normalising by a sum of n positive terms that carry the same errors. */
  const double den = 1 - theta - gamma_n(n);
  if (den <= 0) return INFINITY;
  const double eta = (2 * theta + gamma_n(n)) / den;
  /* The output is an n-term weighted sum of values and one division. */
  const double rel = (1 + eta) * (1 + gamma_n(n)) * (1 + u) - 1;
  /* Weights below the smallest normal may be flushed to zero: each can be off
   * by 2^-126 of the row's largest weight (which is 1 before normalising). */
  const double underflow = n * 0x1p-125 * o->vmax[row];
  return o->absw[row * p->dv + elem] * rel + underflow;
}

static double ratio_of(double err, double bound) {
  if (err == 0) return 0;
  return bound > 0 ? err / bound : INFINITY;
}

void compare_begin(compare_state *st, attn_compare *res) {
  st->zeros = st->judged = 0;
  res->max_abs_err = 0;
  res->max_ratio = 0;
  res->worst = 0;
  res->worst_out = res->worst_ref = res->worst_bound = 0;
  res->nonfinite = 0;
}

void compare_add(compare_state *st, attn_compare *res, int64_t at, double got, double ref, double bound,
                 int judged) {
  double err = fabs(got - ref), ratio;
  if (!isfinite(got)) {
    res->nonfinite++;
    err = ratio = INFINITY;
  } else {
    ratio = ratio_of(err, bound);
  }
  if (judged) {
    st->judged++;
    st->zeros += ref == 0;
  }
  if (err > res->max_abs_err) res->max_abs_err = err;
  if (ratio > res->max_ratio || (at == 0 && ratio >= res->max_ratio)) {
    res->max_ratio = ratio;
    res->worst = at;
    res->worst_out = got;
    res->worst_ref = ref;
    res->worst_bound = bound;
  }
}

void compare_end(const compare_state *st, attn_compare *res) {
  if (res->max_ratio > 1 || res->nonfinite)
    res->verdict = ATTN_FAILED;
  else if (2 * st->zeros > st->judged)
    res->verdict = ATTN_MISTRUSTED;
  else
    res->verdict = ATTN_PASSED;
}

void attn_oracle_check(const attn_oracle *o, const attn_accuracy *acc, const float *out, attn_compare *res) {
  const attn_problem *p = &o->p;
  const int64_t dv = p->dv;
  /* Rows without visible keys are verified to be exactly zero; the trust
   * question is about the others. */
  compare_state st;
  compare_begin(&st, res);
  for (int64_t r = 0; r < o->nrows; r++) {
    const int64_t flat = o->rows ? o->rows[r] : r;
    for (int64_t c = 0; c < dv; c++)
      compare_add(&st, res, flat * dv + c, out[flat * dv + c], o->out[r * dv + c],
                  attn_tolerance(o, acc, r, c), o->nvis[r] != 0);
  }
  compare_end(&st, res);
}

const char *attn_verdict_name(attn_verdict v) {
  switch (v) {
  case ATTN_PASSED: return "PASSED";
  case ATTN_FAILED: return "FAILED";
  case ATTN_MISTRUSTED: return "MISTRUSTED";
  }
  return "?";
}
