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

/* The backend's tanh error: 0 reads as libm's tanhf. */
static double tanh_err(const attn_accuracy *acc) {
  return acc->tanh_abs_err == 0 ? ATTN_TANHF_ABS_ERR : acc->tanh_abs_err;
}

double oracle_score_error(const attn_oracle *o, int64_t slot, double t) {
  return o->dscore[slot] + t * o->dscore_tanh;
}

double oracle_position_error(const attn_oracle *o, int64_t slot, double e, double t) {
  /* z = vp . tanh(Wp s) off by dz; sigmoid' <= 1/4; the sigmoid's exp, add
   * and divide and the product by lk; the centre rounded to fp32. */
  const double u = unit_roundoff, lk = (double)o->p.lk, dz = o->dz[slot] + t * o->dz_tanh;
  return lk * (dz / 4 + e + 4 * u) + u * lk;
}

double oracle_alt_slack(const attn_oracle *o, int64_t slot, double e, double t) {
  switch (o->p.mode) {
  case ATTN_MODE_HARD: return oracle_score_error(o, slot, t);
  case ATTN_MODE_LOCAL_P:
    /* The centre's error, and the rounding of j - p_t (or of p_t -+ window)
     * that decides a key's side of the boundary. */
    return oracle_position_error(o, slot, e, t) + unit_roundoff * (double)(o->p.lk + o->p.window);
  default: return 0;
  }
}

/* One answer of a held row: the exact one or an alternative. */
typedef struct answer {
  const double *out, *absw; /* [dv] */
  int64_t nvis;
  double vmax, range;
} answer;

static answer exact_answer(const attn_oracle *o, int64_t slot) {
  const int64_t dv = o->p.dv;
  const answer a = {o->out + slot * dv, o->absw + slot * dv, o->nvis[slot], o->vmax[slot], o->range[slot]};
  return a;
}

static answer alt_answer(const attn_oracle *o, int64_t i) {
  const int64_t dv = o->p.dv;
  const attn_oracle_alt *x = &o->alt[i];
  const answer a = {o->alt_out + i * dv, o->alt_absw + i * dv, x->nvis, x->vmax, x->range};
  return a;
}

/* The bound of element elem of answer a of held row slot. */
static double answer_bound(const attn_oracle *o, const attn_accuracy *acc, int64_t slot, const answer *a,
                           int64_t elem) {
  const attn_problem *p = &o->p;
  const double u = unit_roundoff, n = (double)a->nvis;
  if (n == 0) return 0; /* a row with no visible key must be exactly zero */
  /* hard copies one value row: exact, but for values a backend may flush. */
  if (p->mode == ATTN_MODE_HARD) return a->vmax * 0x1p-125;
  const double e = acc->exp_rel_err, t = tanh_err(acc);
  /* Score error: by score function (README.md), e.g. for scaled a length-d
   * dot product, the scale multiply and one more rounding for kernels that
   * pre-multiply by log2(e). */
  const double ds = oracle_score_error(o, slot, t);
  /* Online softmax rescales the running sum and accumulator at most once per
   * key block, plus once per merge of split partial states. */
  const double rescales = acc->key_block > 0 ? ceil(n / (double)acc->key_block) + 1 : 0;
  /* Relative error of one unnormalised weight exp(s_j - m): the score error,
   * the rounding of s_j - m (at most u * range) and the exp itself; then the
   * rescale factors, whose arguments sum to at most the range. */
  const double theta = ds + 2 * u * a->range + e + rescales * (e + 2 * u);
  /* Normalising by a sum of n positive terms that carry the same errors. */
  const double den = 1 - theta - gamma_n(n);
  if (den <= 0) return INFINITY;
  const double eta = (2 * theta + gamma_n(n)) / den;
  /* The output is an n-term weighted sum of values and one division; local-p
   * multiplies each weight by a Gaussian factor whose centre is off by dp:
   * relative error 4 dp / window (its log's derivative within the window)
   * plus its exp and four roundings. */
  double rel;
  if (p->mode == ATTN_MODE_LOCAL_P) {
    const double dg = 4 * oracle_position_error(o, slot, e, t) / (double)p->window + 3 * (e + 4 * u);
    rel = (1 + eta) * (1 + dg) * (1 + gamma_n(n)) * (1 + u) - 1;
  } else {
    rel = (1 + eta) * (1 + gamma_n(n)) * (1 + u) - 1;
  }
  /* Weights below the smallest normal may be flushed to zero: each can be off
   * by 2^-126 of the row's largest weight (which is 1 before normalising). */
  const double underflow = n * 0x1p-125 * a->vmax;
  return a->absw[elem] * rel + underflow;
}

double attn_tolerance(const attn_oracle *o, const attn_accuracy *acc, int64_t slot, int64_t elem) {
  const answer a = exact_answer(o, slot);
  return answer_bound(o, acc, slot, &a, elem);
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

/* The row's largest |out - ref| / bound against answer a; inf when an
 * output is not finite. */
static double row_ratio(const attn_oracle *o, const attn_accuracy *acc, int64_t slot, const answer *a,
                        const float *got) {
  double worst = 0;
  for (int64_t c = 0; c < o->p.dv; c++) {
    const double err = isfinite(got[c]) ? fabs((double)got[c] - a->out[c]) : INFINITY;
    worst = fmax(worst, ratio_of(err, answer_bound(o, acc, slot, a, c)));
  }
  return worst;
}

void attn_oracle_check(const attn_oracle *o, const attn_accuracy *acc, const float *out, attn_compare *res) {
  const attn_problem *p = &o->p;
  const int64_t dv = p->dv;
  const double e = acc->exp_rel_err, t = tanh_err(acc);
  /* Rows without visible keys are verified to be exactly zero; the trust
   * question is about the others. */
  compare_state st;
  compare_begin(&st, res);
  int64_t next = 0; /* the first alternative not yet passed */
  for (int64_t r = 0; r < o->nrows; r++) {
    const int64_t flat = o->rows ? o->rows[r] : r;
    const float *got = out + flat * dv;
    /* The exact answer, or the admissible alternative the row is closest to. */
    answer best = exact_answer(o, r);
    double best_ratio = INFINITY;
    int have_alt = next < o->nalt && o->alt[next].slot == r;
    if (have_alt) best_ratio = row_ratio(o, acc, r, &best, got);
    const double slack = have_alt ? oracle_alt_slack(o, r, e, t) : 0;
    for (; next < o->nalt && o->alt[next].slot == r; next++) {
      if (o->alt[next].need > slack) continue;
      const answer a = alt_answer(o, next);
      const double ratio = row_ratio(o, acc, r, &a, got);
      if (ratio < best_ratio) {
        best = a;
        best_ratio = ratio;
      }
    }
    for (int64_t c = 0; c < dv; c++)
      compare_add(&st, res, flat * dv + c, got[c], best.out[c], answer_bound(o, acc, r, &best, c),
                  o->nvis[r] != 0);
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
