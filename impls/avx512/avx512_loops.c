/* The avx512 backend's loops: jobs, blocking, threading and the online
 * softmax control flow. No intrinsics here (baseline flags); every inner loop
 * is a micro-kernel from avx512_kernels.h.
 *
 * A job is one query block of one (batch, kv head): its rows are the group of
 * query heads sharing that kv head, interleaved by position (row = pos *
 * group + head), so that every key and value block is loaded once for the
 * whole group and rows of one position share a causal boundary. For each key
 * block: scores, mask (only blocks that cross some row's visible end),
 * softmax step, weighted values. Key blocks past every row's visible end are
 * never touched.
 *
 * Jobs are spread over threads (rows-parallel), or, when there are too few
 * to balance, each job's key range is cut into Bc-aligned parts, computed in
 * any order by any thread, whose partial (max, sum, acc) states are then
 * merged (split-k, as in flash-decoding). Aligning the parts to key blocks
 * keeps each row at most ceil(n / bk) rescales deep, merge included, as the
 * declared accuracy says. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "avx512/avx512_kernels.h"
#include "avx512/avx512_plan.h"

typedef struct ws_view {
  float *qt, *st, *ot; /* wide: [d][bq], [bk][bq], [dv][bq]; narrow: [16][dp], [16][bkp], [16][dvp] */
  float *m, *l, *alpha, *bmax;
  int32_t *ends;
  int64_t *vis;
  float **orow;
} ws_view;

static size_t take(size_t *at, size_t bytes) {
  const size_t here = *at;
  *at += (bytes + 63) & ~(size_t)63;
  return here;
}

/* Lays out one thread's workspace from base (or only sizes it, base NULL). */
static size_t carve(const avx512_plan *pl, unsigned char *base, ws_view *w) {
  const attn_problem *p = &pl->p;
  const int64_t rows = pl->narrow ? AVX512_NARROW_ROWS : pl->bq;
  const int64_t bkp = (pl->bk + 15) & ~(int64_t)15;
  const size_t f = sizeof(float);
  size_t at = 0, o[10];
  o[0] = take(&at, (size_t)(pl->narrow ? rows * pl->dp : p->d * rows) * f);
  o[1] = take(&at, (size_t)(rows * bkp) * f);
  o[2] = take(&at, (size_t)(pl->narrow ? rows * pl->dvp : p->dv * rows) * f);
  for (int i = 3; i < 7; i++) o[i] = take(&at, (size_t)rows * f);
  o[7] = take(&at, (size_t)rows * sizeof(int32_t));
  o[8] = take(&at, (size_t)rows * sizeof(int64_t));
  o[9] = take(&at, (size_t)rows * sizeof(float *));
  if (base) {
    w->qt = (float *)(base + o[0]);
    w->st = (float *)(base + o[1]);
    w->ot = (float *)(base + o[2]);
    w->m = (float *)(base + o[3]);
    w->l = (float *)(base + o[4]);
    w->alpha = (float *)(base + o[5]);
    w->bmax = (float *)(base + o[6]);
    w->ends = (int32_t *)(base + o[7]);
    w->vis = (int64_t *)(base + o[8]);
    w->orow = (float **)(base + o[9]);
  }
  return at;
}

size_t avx512_thread_bytes(const avx512_plan *pl) { return carve(pl, NULL, NULL); }

typedef struct job {
  int64_t bi, kvh, r0, nr;
} job;

static job job_at(const avx512_plan *pl, int64_t x) {
  const int64_t per = pl->p.hkv * pl->qblocks;
  job j;
  j.bi = x / per;
  j.kvh = (x % per) / pl->qblocks;
  /* Last query block first: under a causal mask it has the most keys, and
   * dynamic scheduling balances best when the long jobs go out early. */
  const int64_t qb = pl->qblocks - 1 - (x % per) % pl->qblocks;
  j.r0 = qb * pl->bq;
  j.nr = pl->job_rows - j.r0 < pl->bq ? pl->job_rows - j.r0 : pl->bq;
  return j;
}

/* Flat [b][h][lq] index of job row rho; *pos is its query position. */
static int64_t row_index(const avx512_plan *pl, const job *jb, int64_t rho, int64_t *pos) {
  const attn_problem *p = &pl->p;
  *pos = rho / pl->group;
  return (jb->bi * p->h + jb->kvh * pl->group + rho % pl->group) * p->lq + *pos;
}

/* Part `part` of `parts` of the keys [0, kmax), in whole key blocks. */
static void key_range(const avx512_plan *pl, int64_t kmax, int part, int parts, int64_t *kb, int64_t *ke) {
  const int64_t nblk = (kmax + pl->bk - 1) / pl->bk;
  *kb = nblk * part / parts * pl->bk;
  *ke = nblk * (part + 1) / parts * pl->bk;
  if (*ke > kmax) *ke = kmax;
  if (*kb > *ke) *kb = *ke;
}

/* Where a job's result goes: the output rows, or (split-k) a partial state. */
typedef struct sink {
  float *m, *l, *acc; /* NULL: write normalised rows of t->o */
} sink;

static void wide_job(const avx512_plan *pl, const ws_view *w, const attn_tensors *t, const job *jb, int part,
                     int parts, const sink *out) {
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, dv = p->dv, nr = jb->nr;
  const int nv = (int)((nr + 15) / 16);
  const int64_t ld = 16 * nv;
  const float *k = t->k + (jb->bi * p->hkv + jb->kvh) * p->lk * d;
  const float *v = t->v + (jb->bi * p->hkv + jb->kvh) * p->lk * dv;

  int64_t kmax = 0, kmin = p->lk, pos;
  for (int64_t r = 0; r < ld; r++) {
    float *qt = w->qt + r;
    if (r < nr) {
      const float *q = t->q + row_index(pl, jb, jb->r0 + r, &pos) * d;
      const int64_t e = attn_visible_end(p, t->lens, jb->bi, pos);
      w->ends[r] = (int32_t)e;
      kmax = e > kmax ? e : kmax;
      kmin = e < kmin ? e : kmin;
      for (int64_t c = 0; c < d; c++) qt[c * ld] = q[c] * pl->qscale;
    } else {
      /* Padding lanes: zero queries give finite scores; never stored. */
      w->ends[r] = 0;
      for (int64_t c = 0; c < d; c++) qt[c * ld] = 0;
    }
    w->m[r] = -INFINITY;
    w->l[r] = 0;
  }

  int64_t kb, ke;
  key_range(pl, kmax, part, parts, &kb, &ke);
  int first = 1;
  for (int64_t j0 = kb; j0 < ke; j0 += pl->bk) {
    const int64_t nb = ke - j0 < pl->bk ? ke - j0 : pl->bk;
    const int64_t next = ke - (j0 + nb) < pl->bk ? ke - (j0 + nb) : pl->bk;
    avx512_qkt_block(nv, nb, d, k + j0 * d, w->qt, w->st, w->bmax, k + (j0 + nb) * d, v + (j0 + nb) * dv,
                     next, dv);
    if (j0 + nb > kmin) avx512_maskt_block(nv, nb, j0, w->ends, w->st, w->bmax);
    avx512_softmaxt_block(nv, nb, w->st, w->bmax, w->m, w->l, w->alpha);
    avx512_pvt_block(nv, nb, dv, v + j0 * dv, w->st, w->ot, w->alpha, first);
    first = 0;
  }

  if (first) memset(w->ot, 0, (size_t)(dv * ld) * sizeof(float)); /* no key in range: a zero state */
  if (!out->acc) avx512_scalet_block(nv, dv, w->ot, w->l);
  for (int64_t r = 0; r < nr; r++) {
    const float *ot = w->ot + r;
    float *dst;
    if (out->acc) {
      out->m[r] = w->m[r];
      out->l[r] = w->l[r];
      dst = out->acc + r * pl->dvp;
    } else {
      dst = t->o + row_index(pl, jb, jb->r0 + r, &pos) * dv;
    }
    for (int64_t c = 0; c < dv; c++) dst[c] = ot[c * ld];
  }
}

static void narrow_job(const avx512_plan *pl, const ws_view *w, const attn_tensors *t, const job *jb,
                       int part, int parts, const sink *out) {
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, dv = p->dv;
  const int rows = (int)jb->nr;
  const int64_t bkp = (pl->bk + 15) & ~(int64_t)15;
  const float *k = t->k + (jb->bi * p->hkv + jb->kvh) * p->lk * d;
  const float *v = t->v + (jb->bi * p->hkv + jb->kvh) * p->lk * dv;

  int64_t kmax = 0, pos;
  for (int r = 0; r < rows; r++) {
    const int64_t at = row_index(pl, jb, jb->r0 + r, &pos);
    const float *q = t->q + at * d;
    float *qs = w->qt + r * pl->dp; /* the padding past d stays zero from plan() */
    for (int64_t c = 0; c < d; c++) qs[c] = q[c] * pl->qscale;
    const int64_t e = attn_visible_end(p, t->lens, jb->bi, pos);
    w->ends[r] = (int32_t)e;
    kmax = e > kmax ? e : kmax;
    w->m[r] = -INFINITY;
    w->l[r] = 0;
    w->orow[r] = t->o + at * dv;
  }

  int64_t kb, ke;
  key_range(pl, kmax, part, parts, &kb, &ke);
  int first = 1;
  for (int64_t j0 = kb; j0 < ke; j0 += pl->bk) {
    const int64_t nb = ke - j0 < pl->bk ? ke - j0 : pl->bk;
    for (int r = 0; r < rows; r++) {
      const int64_t vis = w->ends[r] - j0;
      w->vis[r] = vis < 0 ? 0 : vis > nb ? nb : vis;
    }
    const int64_t next = ke - (j0 + nb) < pl->bk ? ke - (j0 + nb) : pl->bk;
    avx512_qk_rows_block(rows, nb, d, k + j0 * d, w->qt, pl->dp, w->vis, w->st, bkp, k + (j0 + nb) * d, next);
    avx512_softmax_rows_block(rows, (nb + 15) & ~(int64_t)15, w->st, bkp, w->m, w->l, w->alpha);
    avx512_pv_rows_block(rows, nb, dv, v + j0 * dv, w->st, bkp, w->ot, pl->dvp, w->alpha, first,
                         v + (j0 + nb) * dv, next);
    first = 0;
  }

  if (!out->acc) {
    avx512_finish_rows(rows, dv, w->ot, pl->dvp, w->l, w->orow);
    return;
  }
  for (int r = 0; r < rows; r++) {
    out->m[r] = w->m[r];
    out->l[r] = w->l[r];
    if (first)
      memset(out->acc + r * pl->dvp, 0, (size_t)dv * sizeof(float));
    else
      memcpy(out->acc + r * pl->dvp, w->ot + r * pl->dvp, (size_t)dv * sizeof(float));
  }
}

static void do_job(const avx512_plan *pl, const ws_view *w, const attn_tensors *t, const job *jb, int part,
                   int parts, const sink *out) {
  if (pl->narrow)
    narrow_job(pl, w, t, jb, part, parts, out);
  else
    wide_job(pl, w, t, jb, part, parts, out);
}

attn_status avx512_run_loops(const avx512_plan *pl, const attn_tensors *t) {
  const int64_t jobs = pl->jobs;
#pragma omp parallel num_threads(pl->threads)
  {
    const int tid = omp_get_thread_num();
    ws_view w;
    carve(pl, pl->ws + (size_t)tid * pl->thread_bytes, &w);
    if (pl->split == 1) {
      const sink direct = {NULL, NULL, NULL};
#pragma omp for schedule(dynamic, 1)
      for (int64_t x = 0; x < jobs; x++) {
        const job jb = job_at(pl, x);
        do_job(pl, &w, t, &jb, 0, 1, &direct);
      }
    } else {
      const int parts = pl->split;
      const int64_t rmax = pl->rmax, dvp = pl->dvp;
      for (int64_t w0 = 0; w0 < jobs; w0 += pl->wave) {
        const int64_t wn = jobs - w0 < pl->wave ? jobs - w0 : pl->wave;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < wn * parts; it++) {
          const job jb = job_at(pl, w0 + it / parts);
          const sink mine = {pl->part_m + it * rmax, pl->part_l + it * rmax, pl->part_acc + it * rmax * dvp};
          do_job(pl, &w, t, &jb, (int)(it % parts), parts, &mine);
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t x = 0; x < wn; x++) {
          const job jb = job_at(pl, w0 + x);
          int64_t pos;
          for (int64_t r = 0; r < jb.nr; r++)
            w.orow[r] = t->o + row_index(pl, &jb, jb.r0 + r, &pos) * pl->p.dv;
          const int64_t base = x * parts * rmax;
          avx512_merge_rows(parts, (int)jb.nr, rmax, pl->p.dv, pl->part_m + base, pl->part_l + base,
                            pl->part_acc + base * dvp, dvp, w.orow);
        }
      }
    }
  }
  return ATTN_OK;
}
