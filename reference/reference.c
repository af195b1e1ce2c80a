/* The double-precision oracle. Obviously correct rather than fast: every
 * query-key pair is tested against the mask's definition directly (not the
 * prefix helper the backends use), scores and sums are accumulated in double,
 * and the softmax subtracts the row maximum. Compiled with -ffp-contract=off so
 * it means exactly what it says. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/problem.h"
#include "attnbench/reference.h"

/* The mask's definition, written independently of attn_visible_end. */
static int key_visible(const attn_problem *p, const int32_t *lens, int64_t bi, int64_t i, int64_t j) {
  switch (p->mask) {
  case ATTN_MASK_NONE: return 1;
  case ATTN_MASK_CAUSAL: return j - (p->lk - p->lq) <= i;
  case ATTN_MASK_CAUSAL_TL: return j <= i;
  case ATTN_MASK_PAD: return j < (int64_t)lens[bi];
  }
  return 0;
}

void attn_oracle_free(attn_oracle *o) {
  free(o->out);
  free(o->absw);
  free(o->vmax);
  free(o->amax);
  free(o->range);
  free(o->nvis);
  free(o->rows);
  memset(o, 0, sizeof *o);
}

static attn_status oracle_alloc(const attn_problem *p, int64_t nrows, attn_oracle *o) {
  memset(o, 0, sizeof *o);
  o->p = *p;
  o->nrows = nrows;
  size_t nrow = (size_t)nrows, nout = nrow * (size_t)p->dv;
  o->out = malloc(nout * sizeof(double));
  o->absw = malloc(nout * sizeof(double));
  o->vmax = malloc(nrow * sizeof(double));
  o->amax = malloc(nrow * sizeof(double));
  o->range = malloc(nrow * sizeof(double));
  o->nvis = malloc(nrow * sizeof(int64_t));
  if (!o->out || !o->absw || !o->vmax || !o->amax || !o->range || !o->nvis) {
    attn_oracle_free(o);
    return ATTN_ENOMEM;
  }
  return ATTN_OK;
}

/* One query row (flat index into [b][h][lq]), held at slot row: out[c] = sum_j a_j v_jc with a = softmax over
 * visible keys. */
static void oracle_row(const attn_problem *p, const attn_tensors *t, int64_t flat, int64_t row, double *s,
                       attn_oracle *o) {
  const int64_t bi = flat / (p->h * p->lq), hi = flat / p->lq % p->h, i = flat % p->lq;
  const int64_t kvh = hi / (p->h / p->hkv), d = p->d, dv = p->dv, lk = p->lk;
  const double scale = attn_scale(p);
  const float *q = t->q + ((bi * p->h + hi) * p->lq + i) * d;
  const float *k = t->k + (bi * p->hkv + kvh) * lk * d;
  const float *v = t->v + (bi * p->hkv + kvh) * lk * dv;
  double *out = o->out + row * dv, *absw = o->absw + row * dv;

  double smax = -INFINITY, smin = INFINITY, amax = 0, vmax = 0;
  int64_t n = 0;
  for (int64_t j = 0; j < lk; j++) {
    if (!key_visible(p, t->lens, bi, i, j)) continue;
    double dot = 0, adot = 0;
    for (int64_t c = 0; c < d; c++) {
      dot += (double)q[c] * (double)k[j * d + c];
      adot += fabs((double)q[c] * (double)k[j * d + c]);
    }
    s[j] = scale * dot;
    smax = fmax(smax, s[j]);
    smin = fmin(smin, s[j]);
    amax = fmax(amax, fabs(scale) * adot);
    n++;
  }
  for (int64_t c = 0; c < dv; c++) out[c] = absw[c] = 0;
  o->nvis[row] = n;
  o->amax[row] = amax;
  o->range[row] = n ? smax - smin : 0;
  if (n == 0) { /* no visible key: a zero row, by the interface's convention */
    o->vmax[row] = 0;
    return;
  }
  double z = 0;
  for (int64_t j = 0; j < lk; j++)
    if (key_visible(p, t->lens, bi, i, j)) z += exp(s[j] - smax);
  for (int64_t j = 0; j < lk; j++) {
    if (!key_visible(p, t->lens, bi, i, j)) continue;
    double a = exp(s[j] - smax) / z;
    for (int64_t c = 0; c < dv; c++) {
      out[c] += a * v[j * dv + c];
      absw[c] += a * fabs((double)v[j * dv + c]);
      vmax = fmax(vmax, fabs((double)v[j * dv + c]));
    }
  }
  o->vmax[row] = vmax;
}

attn_status attn_oracle_compute_rows(const attn_problem *p, const attn_tensors *t, const int64_t *rows,
                                     int64_t nrows, attn_oracle *o) {
  char err[256];
  if (attn_problem_validate(p, err, sizeof err) != ATTN_OK) return ATTN_EINVAL;
  if (p->mask == ATTN_MASK_PAD && !t->lens) return ATTN_EINVAL;
  const int64_t all = p->b * p->h * p->lq;
  if (rows) {
    if (nrows < 0) return ATTN_EINVAL;
    for (int64_t r = 0; r < nrows; r++)
      if (rows[r] < 0 || rows[r] >= all) return ATTN_EINVAL;
  } else {
    nrows = all;
  }
  attn_status st = oracle_alloc(p, nrows, o);
  if (st != ATTN_OK) return st;
  double *s = malloc((size_t)p->lk * sizeof(double));
  if (rows && nrows) o->rows = malloc((size_t)nrows * sizeof(int64_t));
  if (!s || (rows && nrows && !o->rows)) {
    free(s);
    attn_oracle_free(o);
    return ATTN_ENOMEM;
  }
  if (rows && nrows) memcpy(o->rows, rows, (size_t)nrows * sizeof(int64_t));
  for (int64_t r = 0; r < nrows; r++) oracle_row(p, t, rows ? rows[r] : r, r, s, o);
  free(s);
  return ATTN_OK;
}

attn_status attn_oracle_compute(const attn_problem *p, const attn_tensors *t, attn_oracle *o) {
  return attn_oracle_compute_rows(p, t, NULL, 0, o);
}
