/* naive: plain fp32 loops, two-pass softmax per query row. The floor row in
 * every table, and the simplest possible statement of the interface. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "attnbench/attn.h"
#include "common/variant.h"

typedef struct naive_plan {
  attn_problem p;
  int threads;
  float *scores; /* [threads][lk] */
} naive_plan;

static int naive_available(void) { return 1; }

static attn_status naive_supports(const attn_problem *p, char *why, size_t n) {
  attn_status vs =
      attn_variant_supported(p, ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT),
                             ATTN_MODE_BIT(ATTN_MODE_SOFT), "naive", why, n);
  if (vs != ATTN_OK) return vs;
  return ATTN_OK;
}

static size_t naive_workspace(const attn_problem *p, const attn_config *cfg) {
  return (size_t)cfg->threads * (size_t)p->lk * sizeof(float);
}

static attn_status naive_plan_create(const attn_problem *p, const attn_config *cfg, void **out, char *why,
                                     size_t n) {
  (void)why, (void)n;
  naive_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  pl->p = *p;
  pl->threads = cfg->threads > 0 ? cfg->threads : 1;
  pl->scores = malloc(naive_workspace(p, cfg));
  if (!pl->scores) {
    free(pl);
    return ATTN_ENOMEM;
  }
  memset(pl->scores, 0, naive_workspace(p, cfg)); /* touch the pages outside the timed run */
  *out = pl;
  return ATTN_OK;
}

static void naive_row(const attn_problem *p, const attn_tensors *t, int64_t bi, int64_t hi, int64_t i,
                      float *s) {
  const int64_t d = p->d, dv = p->dv, kvh = attn_kv_head(p, hi);
  const float scale = attn_scale(p);
  const float *q = t->q + ((bi * p->h + hi) * p->lq + i) * d;
  const float *k = t->k + (bi * p->hkv + kvh) * p->lk * d;
  const float *v = t->v + (bi * p->hkv + kvh) * p->lk * dv;
  float *o = t->o + ((bi * p->h + hi) * p->lq + i) * dv;
  const int64_t end = attn_visible_end(p, t->lens, bi, i);

  for (int64_t c = 0; c < dv; c++) o[c] = 0;
  if (end == 0) return;
  float m = -INFINITY;
  for (int64_t j = 0; j < end; j++) {
    float dot = 0;
    for (int64_t c = 0; c < d; c++) dot += q[c] * k[j * d + c];
    s[j] = scale * dot;
    m = fmaxf(m, s[j]);
  }
  float z = 0;
  for (int64_t j = 0; j < end; j++) {
    s[j] = expf(s[j] - m);
    z += s[j];
  }
  for (int64_t j = 0; j < end; j++)
    for (int64_t c = 0; c < dv; c++) o[c] += s[j] * v[j * dv + c];
  const float inv = 1.0f / z;
  for (int64_t c = 0; c < dv; c++) o[c] *= inv;
}

static attn_status naive_run(void *plan, const attn_tensors *t) {
  const naive_plan *pl = plan;
  const attn_problem *p = &pl->p;
  const int64_t rows = p->b * p->h * p->lq;
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    float *s = pl->scores + (size_t)omp_get_thread_num() * (size_t)p->lk;
    naive_row(p, t, r / (p->h * p->lq), (r / p->lq) % p->h, r % p->lq, s);
  }
  return ATTN_OK;
}

static void naive_destroy(void *plan) {
  naive_plan *pl = plan;
  if (!pl) return;
  free(pl->scores);
  free(pl);
}

/* ---- the GEMM op=mha projects with ---- */

typedef struct naive_gemm {
  attn_gemm_shape g;
  int threads;
} naive_gemm;

static attn_status naive_gemm_plan(const attn_gemm_shape *g, const attn_config *cfg, void **out, char *why,
                                   size_t n) {
  (void)why, (void)n;
  naive_gemm *pl = malloc(sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  pl->g = *g;
  pl->threads = cfg->threads > 0 ? cfg->threads : 1;
  *out = pl;
  return ATTN_OK;
}

/* Row i of C accumulates a[i][t] * (row t of B): i-t-j order, so the inner
 * loop streams a row of B and a row of C, the plainest loop that is not
 * bound by striding down B's columns. */
static attn_status naive_gemm_run(void *plan, const float *a, const float *b, float *c) {
  const naive_gemm *pl = plan;
  const int64_t m = pl->g.m, nn = pl->g.n, k = pl->g.k;
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t i = 0; i < m; i++) {
    float *ci = c + i * nn;
    for (int64_t j = 0; j < nn; j++) ci[j] = 0;
    for (int64_t t = 0; t < k; t++) {
      const float ait = a[i * k + t];
      const float *bt = b + t * nn;
      for (int64_t j = 0; j < nn; j++) ci[j] += ait * bt[j];
    }
  }
  return ATTN_OK;
}

const attn_backend attn_backend_naive = {
    .name = "naive",
    .summary = "plain fp32 loops, two-pass softmax: the floor",
    /* glibc's expf is correctly rounded in practice; 1 ulp is what it promises. */
    .accuracy = {.exp_rel_err = 0x1p-23, .key_block = 0},
    .available = naive_available,
    .supports = naive_supports,
    .workspace_size = naive_workspace,
    .plan = naive_plan_create,
    .run = naive_run,
    .destroy = naive_destroy,
    .describe = NULL,
    .plan_note = NULL,
    .gemm_plan = naive_gemm_plan,
    .gemm_run = naive_gemm_run,
    .gemm_destroy = free,
};
