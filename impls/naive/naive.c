/* naive: plain fp32 loops, two-pass softmax per query row. The floor row in
 * every table, and the simplest possible statement of the interface: every
 * score and every mode of attn.h, each written the way its definition reads.
 *
 * The only departures from the definitions are the ones that keep the suites
 * runnable: score=general folds W into the query once per row (s^T W, then a
 * dot product per key) instead of O(d^2) work per pair; score=additive forms
 * W2 s once per row and W1 h_j once per key per run; score=cosine normalises
 * each key once per run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "attnbench/attn.h"
#include "common/mem.h"
#include "common/rescue.h"
#include "common/seq2seq.h"
#include "common/variant.h"

#define NAIVE_ALL_SCORES                                                                                     \
  (ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT) | ATTN_SCORE_BIT(ATTN_SCORE_GENERAL) | \
   ATTN_SCORE_BIT(ATTN_SCORE_ADDITIVE) | ATTN_SCORE_BIT(ATTN_SCORE_COSINE))
#define NAIVE_ALL_MODES                                                                                      \
  (ATTN_MODE_BIT(ATTN_MODE_SOFT) | ATTN_MODE_BIT(ATTN_MODE_HARD) | ATTN_MODE_BIT(ATTN_MODE_LOCAL_M) |        \
   ATTN_MODE_BIT(ATTN_MODE_LOCAL_P))

/* Where the plan's one allocation puts things, in floats: the keys as the
 * score sees them (shared by every thread, rebuilt by each run), then one
 * scratch block per thread: the row's scores [lk], its query as the score
 * sees it [qdim], and local-p's projection Wp s [pdim]. */
typedef struct naive_layout {
  size_t keys;       /* cosine: [b][hkv][lk][d] unit keys; additive: [b][hkv][lk][da] W1 h_j */
  size_t qdim, pdim; /* per-thread query and projection widths */
  size_t per_thread; /* lk + qdim + pdim, rounded to a cache line against false sharing */
} naive_layout;

typedef struct naive_plan {
  attn_problem p;
  int threads;
  naive_layout lay;
  float *mem;
  attn_rescue rescue;
} naive_plan;

/* The attention width of W1, W2 and Wp: da, which defaults to d. */
static int64_t naive_da(const attn_problem *p) { return p->da > 0 ? p->da : p->d; }

static int naive_threads(const attn_config *cfg) { return cfg->threads > 0 ? cfg->threads : 1; }

static naive_layout naive_layout_of(const attn_problem *p) {
  naive_layout l = {0, 0, 0, 0};
  const size_t key_rows = (size_t)(p->b * p->hkv * p->lk), da = (size_t)naive_da(p), d = (size_t)p->d;
  if (p->score == ATTN_SCORE_COSINE) l.keys = key_rows * d, l.qdim = d;
  if (p->score == ATTN_SCORE_GENERAL) l.qdim = d;
  if (p->score == ATTN_SCORE_ADDITIVE) l.keys = key_rows * da, l.qdim = da;
  if (p->mode == ATTN_MODE_LOCAL_P) l.pdim = da;
  l.per_thread = ((size_t)p->lk + l.qdim + l.pdim + 15) / 16 * 16;
  return l;
}

static int naive_available(void) { return 1; }

static attn_status naive_supports(const attn_problem *p, char *why, size_t n) {
  return attn_variant_supported(p, NAIVE_ALL_SCORES, NAIVE_ALL_MODES, "naive", why, n);
}

static size_t naive_workspace(const attn_problem *p, const attn_config *cfg) {
  const naive_layout l = naive_layout_of(p);
  return (l.keys + (size_t)naive_threads(cfg) * l.per_thread) * sizeof(float);
}

static attn_status naive_plan_create(const attn_problem *p, const attn_config *cfg, void **out, char *why,
                                     size_t n) {
  (void)why, (void)n;
  naive_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  pl->p = *p;
  pl->threads = naive_threads(cfg);
  pl->lay = naive_layout_of(p);
  pl->mem = attn_alloc_touched(naive_workspace(p, cfg));
  if (!pl->mem || attn_rescue_plan(&pl->rescue, p) != ATTN_OK) {
    free(pl->mem);
    free(pl);
    return ATTN_ENOMEM;
  }
  *out = pl;
  return ATTN_OK;
}

/* ---- the scores ---- */

static float naive_dot(const float *x, const float *y, int64_t n) {
  float s = 0;
  for (int64_t c = 0; c < n; c++) s += x[c] * y[c];
  return s;
}

/* y [rows] = M [rows][cols] x: the weights stored [out][in] applied to a vector. */
static void naive_matvec(const float *m, const float *x, int64_t rows, int64_t cols, float *y) {
  for (int64_t r = 0; r < rows; r++) y[r] = naive_dot(m + r * cols, x, cols);
}

/* y [d] = x^T W, W [d][d]: score=general's fold of W into the query. */
static void naive_fold(const float *w, const float *x, int64_t d, float *y) {
  for (int64_t k = 0; k < d; k++) y[k] = 0;
  for (int64_t i = 0; i < d; i++)
    for (int64_t k = 0; k < d; k++) y[k] += x[i] * w[i * d + k];
}

/* The per-run key transforms, one key row at a time over all b*hkv*lk rows. */
static void naive_prepare_keys(const naive_plan *pl, const attn_tensors *t) {
  const attn_problem *p = &pl->p;
  const int64_t rows = p->b * p->hkv * p->lk, d = p->d, da = naive_da(p);
  if (p->score != ATTN_SCORE_COSINE && p->score != ATTN_SCORE_ADDITIVE) return;
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    if (p->score == ATTN_SCORE_COSINE)
      attn_normalize_rows(t->k, pl->mem, r, r + 1, d);
    else
      naive_matvec(t->w1, t->k + r * d, da, d, pl->mem + r * da);
  }
}

/* One query row as its score sees it: the vector compared with each key, the
 * keys it is compared with, and their width. */
typedef struct naive_query {
  const float *q, *keys;
  int64_t width;
  float scale;
} naive_query;

static naive_query naive_prepare_query(const naive_plan *pl, const attn_tensors *t, const float *q,
                                       int64_t kv_row0, float *qbuf) {
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, da = naive_da(p);
  naive_query nq = {q, t->k + kv_row0 * d, d, attn_scale(p)};
  switch (p->score) {
  case ATTN_SCORE_SCALED:
  case ATTN_SCORE_DOT: break;
  case ATTN_SCORE_GENERAL:
    naive_fold(t->w, q, d, qbuf);
    nq.q = qbuf;
    break;
  case ATTN_SCORE_COSINE:
    attn_normalize_rows(q, qbuf, 0, 1, d);
    nq.q = qbuf, nq.keys = pl->mem + kv_row0 * d;
    break;
  case ATTN_SCORE_ADDITIVE:
    naive_matvec(t->w2, q, da, d, qbuf);
    nq.q = qbuf, nq.keys = pl->mem + kv_row0 * da, nq.width = da;
    break;
  }
  return nq;
}

/* e_j: additive sums u_a tanhf((W1 h_j)_a + (W2 s)_a) with libm's tanhf (the
 * accuracy the backend declares); every other score is a scaled dot product
 * of the prepared query and key. */
static float naive_score(const attn_problem *p, const naive_query *nq, const float *u, int64_t j) {
  const float *kj = nq->keys + j * nq->width;
  if (p->score != ATTN_SCORE_ADDITIVE) return nq->scale * naive_dot(nq->q, kj, nq->width);
  float e = 0;
  for (int64_t a = 0; a < nq->width; a++) e += u[a] * tanhf(kj[a] + nq->q[a]);
  return e;
}

/* ---- the modes ---- */

/* mode=hard: the first visible key with the highest score (a strict > while
 * scanning upward keeps ties at the lowest index). A NaN score never compares
 * greater, so it is never chosen; when no score exceeds -inf (all NaN or
 * -inf) the lowest visible key is. */
static int64_t naive_argmax(const attn_problem *p, const naive_query *nq, const float *u, int64_t end) {
  int64_t best = 0;
  float m = -INFINITY;
  for (int64_t j = 0; j < end; j++) {
    const float e = naive_score(p, nq, u, j);
    if (e > m) m = e, best = j;
  }
  return best;
}

/* o = sum_j a_j g_j v_j over keys [lo, hi), a = softmax of the scores there,
 * g_j local-p's Gaussian around centre (1 for every other mode). */
static void naive_softmax_rows(const attn_problem *p, const naive_query *nq, const float *u, const float *v,
                               int64_t lo, int64_t hi, float centre, float *s, float *o) {
  const int64_t dv = p->dv;
  float m = -INFINITY;
  for (int64_t j = lo; j < hi; j++) {
    s[j] = naive_score(p, nq, u, j);
    m = fmaxf(m, s[j]);
  }
  float z = 0;
  for (int64_t j = lo; j < hi; j++) {
    s[j] = expf(s[j] - m);
    z += s[j];
  }
  /* The Gaussian scales the normalised weight: it enters after z is summed. */
  if (p->mode == ATTN_MODE_LOCAL_P)
    for (int64_t j = lo; j < hi; j++) s[j] *= attn_local_p_gauss(j, centre, p->window);
  for (int64_t j = lo; j < hi; j++)
    for (int64_t c = 0; c < dv; c++) o[c] += s[j] * v[j * dv + c];
  const float inv = 1.0f / z;
  for (int64_t c = 0; c < dv; c++) o[c] *= inv;
}

/* mode=local-p's centre lk * sigmoid(vp . tanh(Wp s)) for one query row. */
static float naive_local_p_centre(const attn_problem *p, const attn_tensors *t, const float *q, float *proj) {
  const int64_t da = naive_da(p);
  float c;
  naive_matvec(t->wp, q, da, p->d, proj);
  attn_local_p_centres(proj, t->vp, 0, 1, da, p->lk, &c);
  return c;
}

static void naive_row(const naive_plan *pl, const attn_tensors *t, int64_t bi, int64_t hi, int64_t i,
                      float *scratch) {
  const attn_problem *p = &pl->p;
  const int64_t dv = p->dv, kv_row0 = (bi * p->hkv + attn_kv_head(p, hi)) * p->lk;
  const float *q = t->q + ((bi * p->h + hi) * p->lq + i) * p->d;
  const float *v = t->v + kv_row0 * dv;
  float *o = t->o + ((bi * p->h + hi) * p->lq + i) * dv;
  float *s = scratch, *qbuf = scratch + p->lk, *proj = qbuf + pl->lay.qdim;
  const int64_t end = attn_visible_end(p, t->lens, bi, i);

  for (int64_t c = 0; c < dv; c++) o[c] = 0;
  int64_t lo = 0, hi_key = end;
  float centre = 0;
  if (p->mode == ATTN_MODE_LOCAL_M) attn_window(p, (double)attn_local_m_centre(p, i), end, &lo, &hi_key);
  if (p->mode == ATTN_MODE_LOCAL_P) {
    centre = naive_local_p_centre(p, t, q, proj);
    attn_window(p, (double)centre, end, &lo, &hi_key);
  }
  if (lo >= hi_key) return;
  const naive_query nq = naive_prepare_query(pl, t, q, kv_row0, qbuf);
  if (p->mode == ATTN_MODE_HARD) {
    const float *vj = v + naive_argmax(p, &nq, t->u, end) * dv;
    for (int64_t c = 0; c < dv; c++) o[c] = vj[c];
    return;
  }
  naive_softmax_rows(p, &nq, t->u, v, lo, hi_key, centre, s, o);
}

/* The weight tensors p's score and mode read are all there. */
static int naive_weights_present(const attn_problem *p, const attn_tensors *t) {
  if (p->score == ATTN_SCORE_GENERAL && !t->w) return 0;
  if (p->score == ATTN_SCORE_ADDITIVE && !(t->w1 && t->w2 && t->u)) return 0;
  return p->mode != ATTN_MODE_LOCAL_P || (t->wp && t->vp);
}

static attn_status naive_forward(void *plan, const attn_tensors *t) {
  const naive_plan *pl = plan;
  const attn_problem *p = &pl->p;
  const int64_t rows = p->b * p->h * p->lq;
  if (!naive_weights_present(p, t)) return ATTN_EINVAL;
  float *scratch = pl->mem + pl->lay.keys;
  naive_prepare_keys(pl, t);
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t r = 0; r < rows; r++)
    naive_row(pl, t, r / (p->h * p->lq), (r / p->lq) % p->h, r % p->lq,
              scratch + (size_t)omp_get_thread_num() * pl->lay.per_thread);
  return ATTN_OK;
}

static attn_status naive_run(void *plan, const attn_tensors *t) {
  const naive_plan *pl = plan;
  return attn_run_rescued(&pl->rescue, naive_forward, plan, t);
}

static void naive_destroy(void *plan) {
  naive_plan *pl = plan;
  if (!pl) return;
  attn_rescue_free(&pl->rescue);
  free(pl->mem);
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
  pl->threads = naive_threads(cfg);
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
    .summary = "plain fp32 loops, two-pass softmax: the floor; every score and mode",
    /* glibc's expf is correctly rounded in practice; 1 ulp is what it promises.
     * tanh is libm's tanhf (2^-23) but in local-p's centres, whose shared
     * routine takes the AVX2 tanh where it can (common/seq2seq.h): the
     * larger bound of the two. */
    .accuracy = {.exp_rel_err = 0x1p-23, .key_block = 0, .tanh_abs_err = ATTN_LOCAL_P_TANH_ABS_ERR},
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
