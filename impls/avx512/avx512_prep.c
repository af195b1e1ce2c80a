/* The avx512 backend's first phase for the seq2seq scores and modes (attn.h):
 * everything that is O(rows * d * da), done once per run() before the
 * attention loops (avx512_loops.c), which then only see dot-product or
 * additive scores and a key window per row. No intrinsics here (baseline
 * flags): the GEMMs are the backend's own (avx512_gemm.c through
 * common/gemm_blocked.c), the row normaliser is a kernel.
 *
 *   general   Q' = Q W, one GEMM; the dot kernels then run on Q' with the scale.
 *   cosine    Q rows scaled to unit length, and |k_j| per key, by which the
 *             loops divide the dot products of the unit queries with the keys.
 *   additive  A = K W1^T and B = Q W2^T, two GEMMs (the weights transposed into
 *             GEMM operands first); u * log2(e).
 *   local-p   P = Q Wp^T (GEMM), centres (common/seq2seq.c), then per (batch,
 *             kv head) the rows sorted by centre (a counting sort over
 *             job_rows buckets of the key range) and cut into jobs of at
 *             most bq rows whose windows overlap.
 * Every buffer is sized here, allocated and touched by plan(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "avx512/avx512_kernels.h"
#include "avx512/avx512_plan.h"
#include "common/gemm_blocked.h"
#include "common/mem.h"
#include "common/seq2seq.h"

/* Elements of each buffer the problem needs (0: not needed). */
typedef struct prep_sizes {
  int64_t qx, knorm, wt, ka, qb, u2, qp, cent, perm, seg, seg_at, count;
} prep_sizes;

static void prep_sizes_of(const avx512_plan *pl, prep_sizes *z) {
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, da = pl->da;
  const int general = p->score == ATTN_SCORE_GENERAL, cosine = p->score == ATTN_SCORE_COSINE;
  const int lp = p->mode == ATTN_MODE_LOCAL_P;
  memset(z, 0, sizeof *z);
  z->qx = general || cosine ? pl->lq_rows * d : 0;
  z->knorm = cosine ? pl->lk_rows : 0;
  z->wt = pl->additive || lp ? 3 * d * da : 0;
  if (pl->additive) {
    z->ka = pl->lk_rows * da;
    z->qb = pl->lq_rows * da;
    z->u2 = da;
  }
  if (lp) {
    z->qp = pl->lq_rows * da;
    z->cent = pl->lq_rows;
    z->perm = pl->lq_rows;
    z->seg = 2 * pl->lq_rows;
    z->seg_at = p->b * p->hkv + 1;
    z->count = (int64_t)pl->threads * (pl->job_rows + 1);
  }
}

/* What gemm_blocked_plan allocates for an m x n x k GEMM (its packed panels). */
static size_t gemm_bytes(const avx512_plan *pl, int64_t m, int64_t n, int64_t k) {
  if (m < 1 || n < 1 || k < 1) return 0;
  const int64_t nr = avx512_sgemm_12x32.nr, kc = k < GEMM_KC ? k : GEMM_KC;
  int64_t nc = (n + nr - 1) / nr * nr;
  if (nc > GEMM_NC) nc = GEMM_NC;
  return (size_t)(kc * nc + (int64_t)pl->threads * GEMM_MC * kc) * sizeof(float);
}

size_t avx512_prep_bytes(const avx512_plan *pl) {
  prep_sizes z;
  prep_sizes_of(pl, &z);
  const attn_problem *p = &pl->p;
  size_t bytes = (size_t)(z.qx + z.knorm + z.wt + z.ka + z.qb + z.u2 + z.qp + z.cent) * sizeof(float) +
                 (size_t)(z.perm + z.seg + z.count) * sizeof(int32_t) + (size_t)z.seg_at * sizeof(int64_t);
  if (p->score == ATTN_SCORE_GENERAL) bytes += gemm_bytes(pl, pl->lq_rows, p->d, p->d);
  if (pl->additive || p->mode == ATTN_MODE_LOCAL_P) bytes += gemm_bytes(pl, pl->lq_rows, pl->da, p->d);
  if (pl->additive) bytes += gemm_bytes(pl, pl->lk_rows, pl->da, p->d);
  return bytes;
}

void avx512_prep_free(avx512_plan *pl) {
  free(pl->qx);
  free(pl->knorm);
  free(pl->wt);
  free(pl->ka);
  free(pl->qb);
  free(pl->u2);
  free(pl->qp);
  free(pl->cent);
  free(pl->perm);
  free(pl->seg);
  free(pl->seg_at);
  free(pl->count);
  if (pl->gemm_qd) gemm_blocked_destroy(pl->gemm_qd);
  if (pl->gemm_qa) gemm_blocked_destroy(pl->gemm_qa);
  if (pl->gemm_ka) gemm_blocked_destroy(pl->gemm_ka);
}

/* n elements of `size` bytes, touched; NULL for none (*ok cleared on failure). */
static void *buffer(int64_t n, size_t size, int *ok) {
  if (n <= 0) return NULL;
  void *m = attn_alloc_touched((size_t)n * size);
  if (!m) *ok = 0;
  return m;
}

static attn_status gemm_for(const attn_config *cfg, int64_t m, int64_t n, int64_t k, void **plan, char *why,
                            size_t wn) {
  if (m < 1) return ATTN_OK; /* no rows: the GEMM never runs */
  const attn_gemm_shape g = {m, n, k};
  return gemm_blocked_plan(&avx512_sgemm_12x32, &g, cfg, plan, why, wn);
}

attn_status avx512_prep_alloc(avx512_plan *pl, const attn_config *cfg, char *why, size_t n) {
  prep_sizes z;
  prep_sizes_of(pl, &z);
  int ok = 1;
  const size_t f = sizeof(float), i32 = sizeof(int32_t);
  pl->qx = buffer(z.qx, f, &ok);
  pl->knorm = buffer(z.knorm, f, &ok);
  pl->wt = buffer(z.wt, f, &ok);
  pl->ka = buffer(z.ka, f, &ok);
  pl->qb = buffer(z.qb, f, &ok);
  pl->u2 = buffer(z.u2, f, &ok);
  pl->qp = buffer(z.qp, f, &ok);
  pl->cent = buffer(z.cent, f, &ok);
  pl->perm = buffer(z.perm, i32, &ok);
  pl->seg = buffer(z.seg, i32, &ok);
  pl->seg_at = buffer(z.seg_at, sizeof(int64_t), &ok);
  pl->count = buffer(z.count, i32, &ok);
  if (!ok) {
    if (why && n) snprintf(why, n, "no memory for the seq2seq buffers");
    return ATTN_ENOMEM;
  }
  const attn_problem *p = &pl->p;
  attn_status s = ATTN_OK;
  if (p->score == ATTN_SCORE_GENERAL) s = gemm_for(cfg, pl->lq_rows, p->d, p->d, &pl->gemm_qd, why, n);
  if (s == ATTN_OK && (pl->additive || p->mode == ATTN_MODE_LOCAL_P))
    s = gemm_for(cfg, pl->lq_rows, pl->da, p->d, &pl->gemm_qa, why, n);
  if (s == ATTN_OK && pl->additive) s = gemm_for(cfg, pl->lk_rows, pl->da, p->d, &pl->gemm_ka, why, n);
  return s;
}

/* ---- run()'s first phase ---- */

/* score=cosine: unit query rows, and the keys' norms. */
static void prepare_cosine(const avx512_plan *pl, const attn_tensors *t) {
  const int64_t d = pl->p.d, chunk = 64, nq = pl->lq_rows, nk = pl->lk_rows;
#pragma omp parallel num_threads(pl->threads)
  {
#pragma omp for schedule(static) nowait
    for (int64_t r0 = 0; r0 < nq; r0 += chunk)
      avx512_normalize_rows(t->q, pl->qx, r0, r0 + chunk < nq ? r0 + chunk : nq, d);
#pragma omp for schedule(static)
    for (int64_t r0 = 0; r0 < nk; r0 += chunk)
      avx512_key_norms(t->k, pl->knorm, r0, r0 + chunk < nk ? r0 + chunk : nk, d);
  }
}

static void prepare_additive(const avx512_plan *pl, const attn_tensors *t) {
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, da = pl->da;
  float *w1t = pl->wt, *w2t = pl->wt + d * da;
  attn_transpose(t->w1, w1t, da, d);
  attn_transpose(t->w2, w2t, da, d);
  if (pl->lk_rows) gemm_blocked_run(pl->gemm_ka, t->k, w1t, pl->ka);
  if (pl->lq_rows) gemm_blocked_run(pl->gemm_qa, t->q, w2t, pl->qb);
  /* Folding log2(e) into u costs one rounding per term, at most 2^-23 |u_a|:
   * the backend declares it as part of its tanh error (avx512.c). */
  for (int64_t a = 0; a < da; a++) pl->u2[a] = t->u[a] * 1.44269504088896341f;
}

/* Flat [b][h][lq] row of job row rho of the (batch, kv head) whose first
 * query head's first row is head0 (rows interleave the group by position). */
static int64_t flat_row(const avx512_plan *pl, int64_t head0, int64_t rho) {
  return head0 + (rho % pl->group) * pl->p.lq + rho / pl->group;
}

/* A row's counting-sort bucket: job_rows buckets over the key range. */
static int64_t bucket_of(const avx512_plan *pl, float centre) {
  const int64_t n = pl->job_rows;
  const double at = attn_window_centre(&pl->p, centre) * (double)n / (double)(pl->p.lk > 0 ? pl->p.lk : 1);
  return at < 0 ? 0 : at >= (double)n ? n - 1 : (int64_t)at;
}

/* The rows of one (batch, kv head) into perm by centre: a stable counting
 * sort whose buckets are lk / job_rows keys wide, close enough for locality. */
static void sort_by_centre(const avx512_plan *pl, int64_t head0, int32_t *perm, int32_t *count) {
  const int64_t n = pl->job_rows;
  memset(count, 0, (size_t)(n + 1) * sizeof(int32_t));
  for (int64_t rho = 0; rho < n; rho++) count[bucket_of(pl, pl->cent[flat_row(pl, head0, rho)]) + 1]++;
  for (int64_t i = 0; i < n; i++) count[i + 1] += count[i];
  for (int64_t rho = 0; rho < n; rho++)
    perm[count[bucket_of(pl, pl->cent[flat_row(pl, head0, rho)])]++] = (int32_t)rho;
}

/* The jobs of one (batch, kv head) hd: its rows sorted by centre, cut
 * greedily into runs of at most bq rows while the union of their windows
 * stays within twice a window (plus a vector of keys), so that a job's
 * key blocks are mostly its rows' own. Returns the number of jobs, written
 * to seg. */
static int64_t sort_and_cut(const avx512_plan *pl, const attn_tensors *t, int64_t hd, int32_t *count) {
  const attn_problem *p = &pl->p;
  const int64_t nrows = pl->job_rows, bi = hd / p->hkv;
  const int64_t head0 = (bi * p->h + (hd % p->hkv) * pl->group) * p->lq;
  int32_t *perm = pl->perm + hd * nrows, *seg = pl->seg + hd * nrows * 2;
  sort_by_centre(pl, head0, perm, count);
  const int64_t limit = 2 * (2 * p->window + 1) + 16;
  int64_t jobs = 0;
  for (int64_t k = 0; k < nrows;) {
    const int64_t start = k;
    int64_t lo_u = p->lk, hi_u = 0, n = 0;
    for (; k < nrows && n < pl->bq; k++, n++) {
      const int64_t rho = perm[k];
      int64_t lo, hi;
      attn_window(p, (double)pl->cent[flat_row(pl, head0, rho)],
                  attn_visible_end(p, t->lens, bi, rho / pl->group), &lo, &hi);
      if (lo >= hi) continue; /* an empty row fits anywhere */
      const int64_t nlo = lo < lo_u ? lo : lo_u, nhi = hi > hi_u ? hi : hi_u;
      if (hi_u > lo_u && nhi - nlo > limit) break;
      lo_u = nlo;
      hi_u = nhi;
    }
    seg[2 * jobs] = (int32_t)start;
    seg[2 * jobs + 1] = (int32_t)n;
    jobs++;
  }
  return jobs;
}

static void prepare_local_p(const avx512_plan *pl, const attn_tensors *t) {
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, da = pl->da, rows = pl->lq_rows, heads = p->b * p->hkv;
  float *wpt = pl->wt + 2 * d * da;
  attn_transpose(t->wp, wpt, da, d);
  if (rows) gemm_blocked_run(pl->gemm_qa, t->q, wpt, pl->qp);
#pragma omp parallel num_threads(pl->threads)
  {
    const int64_t chunk = 64;
#pragma omp for schedule(static)
    for (int64_t r0 = 0; r0 < rows; r0 += chunk)
      avx512_local_p_centres(pl->qp, t->vp, r0, r0 + chunk < rows ? r0 + chunk : rows, da, p->lk, pl->cent);
    int32_t *count = pl->count + (size_t)omp_get_thread_num() * (size_t)(pl->job_rows + 1);
#pragma omp for schedule(dynamic, 1)
    for (int64_t hd = 0; hd < heads; hd++) pl->seg_at[hd + 1] = sort_and_cut(pl, t, hd, count);
  }
  pl->seg_at[0] = 0;
  for (int64_t hd = 0; hd < heads; hd++) pl->seg_at[hd + 1] += pl->seg_at[hd];
}

attn_status avx512_prepare(const avx512_plan *pl, const attn_tensors *t, attn_tensors *tx) {
  const attn_problem *p = &pl->p;
  *tx = *t;
  if (p->score == ATTN_SCORE_GENERAL && pl->lq_rows) {
    gemm_blocked_run(pl->gemm_qd, t->q, t->w, pl->qx);
    tx->q = pl->qx;
  } else if (p->score == ATTN_SCORE_COSINE) {
    prepare_cosine(pl, t);
    if (pl->qx) tx->q = pl->qx;
  } else if (pl->additive) {
    prepare_additive(pl, t);
  }
  if (p->mode == ATTN_MODE_LOCAL_P) prepare_local_p(pl, t);
  return ATTN_OK;
}
