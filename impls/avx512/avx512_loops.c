/* The avx512 backend's loops: jobs, blocking, threading and the online
 * softmax control flow. No intrinsics here (baseline flags); every inner loop
 * is a micro-kernel from avx512_kernels.h.
 *
 * A job is one query block of one (batch, kv head): its rows are the group of
 * query heads sharing that kv head, interleaved by position (row = pos *
 * group + head), so that every key and value block is loaded once for the
 * whole group and rows of one position share a causal boundary. Each row sees
 * a window of keys [lo, hi): the mask's prefix, cut by the mode's window
 * (local-m, local-p). A job walks the key blocks of the union of its rows'
 * windows only, so that banded modes cost what their windows hold, and for
 * each: scores (dot products, or additive tanh tiles), the mask (only blocks
 * that cross some row's window edge), then the mode: the softmax step and
 * the weighted values (times the Gaussian for local-p), or for hard a running
 * argmax whose value row is copied at the end. mode=local-p's rows come
 * sorted by centre (avx512_prep.c), so that a job's windows overlap.
 *
 * Jobs are spread over threads (rows-parallel), or, when there are too few
 * to balance, each job's key range is cut into Bc-aligned parts, computed in
 * any order by any thread, whose partial (max, sum, acc) states are then
 * merged in key order (split-k, as in flash-decoding). The parts depend on
 * the problem only (avx512.c, decide()), so every thread count gives the same
 * bits. Aligning the parts to key blocks keeps each row at most ceil(n / bk)
 * rescales deep, merge included, as the declared accuracy says: a window of n
 * keys meets at most ceil(n / bk) + 1 blocks, and the first of them rescales
 * an empty state. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "avx512/avx512_kernels.h"
#include "avx512/avx512_plan.h"

_Static_assert(AVX512_BLOCK_K <= AVX512_PVT_MAX_KEYS,
               "the masked P.V keeps a key block's row masks on the stack");
_Static_assert(AVX512_SPLIT_TASKS <= AVX512_MERGE_MAX_PARTS, "a job has at most AVX512_SPLIT_TASKS parts");

/* The union of a job's windows and what masking it needs. */
typedef struct span {
  int64_t klo, khi; /* keys some row sees */
  int64_t minhi;    /* blocks ending past this cross some row's upper edge */
  int64_t maxlo;    /* blocks starting before this cross some row's lower edge */
} span;

typedef struct ws_view {
  float *qt, *st, *ot; /* wide: [dim][bq], [bk][bq], [dv][bq]; narrow: [16][dimp], [16][bkp], [16][dvp] */
  float *m, *l, *alpha, *bmax, *cent;
  int32_t *starts, *ends, *idx;
  int64_t *vis, *vlo;
  float **orow;
  /* wide split-k: the job whose Q^T, windows and span (sp) the buffers hold
   * (-1: none yet in this run). A thread that takes the next part of the
   * same job, as a single thread always does, skips repacking them: that
   * strided pack costs about as much as a part's merge. */
  int64_t packed;
  span sp;
} ws_view;

static size_t take(size_t *at, size_t bytes) {
  const size_t here = *at;
  *at += (bytes + 63) & ~(size_t)63;
  return here;
}

/* Lays out one thread's workspace from base (or only sizes it, base NULL).
 * Dimensions are rounded up to 16 so that one layout serves both the wide
 * and the narrow kernels (local-p runs both). */
static size_t carve(const avx512_plan *pl, unsigned char *base, ws_view *w) {
  const int64_t rows = pl->narrow ? AVX512_NARROW_ROWS : pl->bq;
  const int64_t bkp = (pl->bk + 15) & ~(int64_t)15, dap = (pl->da + 15) & ~(int64_t)15;
  const int64_t qdim = pl->additive && dap > pl->dp ? dap : pl->dp;
  const size_t f = sizeof(float);
  size_t at = 0, o[15];
  o[0] = take(&at, (size_t)(rows * qdim) * f);
  o[1] = take(&at, (size_t)(rows * bkp) * f);
  o[2] = take(&at, (size_t)(rows * pl->dvp) * f);
  for (int i = 3; i < 8; i++) o[i] = take(&at, (size_t)rows * f);
  for (int i = 8; i < 11; i++) o[i] = take(&at, (size_t)rows * sizeof(int32_t));
  for (int i = 11; i < 13; i++) o[i] = take(&at, (size_t)rows * sizeof(int64_t));
  o[13] = take(&at, (size_t)rows * sizeof(float *));
  if (base) {
    w->qt = (float *)(base + o[0]);
    w->st = (float *)(base + o[1]);
    w->ot = (float *)(base + o[2]);
    w->m = (float *)(base + o[3]);
    w->l = (float *)(base + o[4]);
    w->alpha = (float *)(base + o[5]);
    w->bmax = (float *)(base + o[6]);
    w->cent = (float *)(base + o[7]);
    w->starts = (int32_t *)(base + o[8]);
    w->ends = (int32_t *)(base + o[9]);
    w->idx = (int32_t *)(base + o[10]);
    w->vis = (int64_t *)(base + o[11]);
    w->vlo = (int64_t *)(base + o[12]);
    w->orow = (float **)(base + o[13]);
  }
  return at;
}

size_t avx512_thread_bytes(const avx512_plan *pl) { return carve(pl, NULL, NULL); }

typedef struct job {
  int64_t id; /* its index among the run's jobs */
  int64_t bi, kvh, r0, nr;
  const int32_t *order; /* local-p: the (batch, kv head)'s rows in centre order; NULL: natural */
  int narrow;
} job;

static job job_at(const avx512_plan *pl, int64_t x) {
  const int64_t per = pl->p.hkv * pl->qblocks;
  job j;
  j.id = x;
  j.bi = x / per;
  j.kvh = (x % per) / pl->qblocks;
  /* Last query block first: under a causal mask it has the most keys, and
   * dynamic scheduling balances best when the long jobs go out early. */
  const int64_t qb = pl->qblocks - 1 - (x % per) % pl->qblocks;
  j.r0 = qb * pl->bq;
  j.nr = pl->job_rows - j.r0 < pl->bq ? pl->job_rows - j.r0 : pl->bq;
  j.order = NULL;
  j.narrow = pl->narrow;
  return j;
}

/* local-p: job x of the table avx512_prep.c built. */
static job job_sorted(const avx512_plan *pl, int64_t x) {
  int64_t lo = 0, hi = pl->p.b * pl->p.hkv; /* seg_at[lo] <= x < seg_at[hi] */
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (pl->seg_at[mid] <= x)
      lo = mid;
    else
      hi = mid;
  }
  const int32_t *s = pl->seg + (lo * pl->job_rows + (x - pl->seg_at[lo])) * 2;
  job j;
  j.id = x;
  j.bi = lo / pl->p.hkv;
  j.kvh = lo % pl->p.hkv;
  j.r0 = s[0];
  j.nr = s[1];
  j.order = pl->perm + lo * pl->job_rows;
  j.narrow = j.nr < AVX512_LP_WIDE_ROWS;
  return j;
}

/* Flat [b][h][lq] index of job row rho; *pos is its query position. */
static int64_t row_index(const avx512_plan *pl, const job *jb, int64_t rho, int64_t *pos) {
  const attn_problem *p = &pl->p;
  if (jb->order) rho = jb->order[rho];
  *pos = rho / pl->group;
  return (jb->bi * p->h + jb->kvh * pl->group + rho % pl->group) * p->lq + *pos;
}

/* The keys [*lo, *hi) that row `at` (position pos) sees: the mask's prefix,
 * cut by the mode's window. */
static void row_window(const avx512_plan *pl, const attn_tensors *t, int64_t bi, int64_t pos, int64_t at,
                       int64_t *lo, int64_t *hi) {
  const attn_problem *p = &pl->p;
  const int64_t end = attn_visible_end(p, t->lens, bi, pos);
  if (p->mode == ATTN_MODE_LOCAL_M)
    attn_window(p, (double)attn_local_m_centre(p, pos), end, lo, hi);
  else if (p->mode == ATTN_MODE_LOCAL_P)
    attn_window(p, (double)pl->cent[at], end, lo, hi);
  else
    *lo = 0, *hi = end;
  if (*lo >= *hi) *lo = *hi = 0; /* nothing visible: masked everywhere */
}

static void span_add(span *s, int64_t lo, int64_t hi) {
  if (lo < hi) {
    s->klo = lo < s->klo ? lo : s->klo;
    s->khi = hi > s->khi ? hi : s->khi;
  }
  s->minhi = hi < s->minhi ? hi : s->minhi;
  s->maxlo = lo > s->maxlo ? lo : s->maxlo;
}

/* Part `part` of `parts` of the keys [klo, khi), in whole key blocks from klo. */
static void key_range(const avx512_plan *pl, const span *s, int part, int parts, int64_t *kb, int64_t *ke) {
  if (s->klo >= s->khi) {
    *kb = *ke = 0;
    return;
  }
  const int64_t nblk = (s->khi - s->klo + pl->bk - 1) / pl->bk;
  *kb = s->klo + nblk * part / parts * pl->bk;
  *ke = s->klo + nblk * (part + 1) / parts * pl->bk;
  if (*ke > s->khi) *ke = s->khi;
  if (*kb > *ke) *kb = *ke;
}

/* Where a job's result goes: the output rows, or (split-k) a partial state. */
typedef struct sink {
  float *m, *l, *acc; /* NULL: write normalised rows of t->o */
  int32_t *idx;       /* mode=hard: the argmax key of each row */
} sink;

/* mode=hard's result: row r copies value row idx[r] (zeros for -1: no
 * visible key). */
static void copy_value_row(const float *v, int64_t dv, int32_t idx, float *dst) {
  if (idx >= 0)
    memcpy(dst, v + (int64_t)idx * dv, (size_t)dv * sizeof(float));
  else
    memset(dst, 0, (size_t)dv * sizeof(float));
}

static void write_wide_rows(const avx512_plan *pl, const ws_view *w, const attn_tensors *t, const job *jb);

static void wide_job(const avx512_plan *pl, ws_view *w, const attn_tensors *t, const job *jb, int part,
                     int parts, const sink *out) {
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, dv = p->dv, da = pl->da, nr = jb->nr;
  const int nv = (int)((nr + 15) / 16);
  const int64_t ld = 16 * nv, head = jb->bi * p->hkv + jb->kvh;
  const int hard = p->mode == ATTN_MODE_HARD, lp = p->mode == ATTN_MODE_LOCAL_P;
  const float *k = t->k + head * p->lk * d;
  const float *v = t->v + head * p->lk * dv;
  const float *ka = pl->additive ? pl->ka + head * p->lk * da : NULL;
  const float *knorm = pl->knorm ? pl->knorm + head * p->lk : NULL;
  const float qscale = knorm ? 1.0f : pl->qscale; /* cosine: applied after the key norms */
  const int64_t qdim = pl->additive ? da : d;

  int64_t pos;
  if (w->packed != jb->id) {
    span sp = {p->lk, 0, p->lk, 0};
    for (int64_t r = 0; r < ld; r++) {
      float *qt = w->qt + r;
      if (r < nr) {
        const int64_t at = row_index(pl, jb, jb->r0 + r, &pos);
        int64_t lo, hi;
        row_window(pl, t, jb->bi, pos, at, &lo, &hi);
        w->starts[r] = (int32_t)lo;
        w->ends[r] = (int32_t)hi;
        span_add(&sp, lo, hi);
        if (pl->additive) {
          const float *b = pl->qb + at * da;
          for (int64_t c = 0; c < da; c++) qt[c * ld] = b[c];
        } else {
          const float *q = t->q + at * d;
          for (int64_t c = 0; c < d; c++) qt[c * ld] = q[c] * qscale;
        }
        w->cent[r] = lp ? pl->cent[at] : 0;
      } else {
        /* Padding lanes: zero queries give finite scores; never stored. */
        w->starts[r] = w->ends[r] = 0;
        for (int64_t c = 0; c < qdim; c++) qt[c * ld] = 0;
        w->cent[r] = 0;
      }
    }
    w->packed = jb->id;
    w->sp = sp;
  }
  const span sp = w->sp;
  for (int64_t r = 0; r < ld; r++) {
    w->m[r] = -INFINITY;
    w->l[r] = 0;
    w->idx[r] = -1;
  }

  int64_t kb, ke;
  key_range(pl, &sp, part, parts, &kb, &ke);
  int first = 1;
  for (int64_t j0 = kb; j0 < ke; j0 += pl->bk) {
    const int64_t nb = ke - j0 < pl->bk ? ke - j0 : pl->bk;
    const int64_t next = ke - (j0 + nb) < pl->bk ? ke - (j0 + nb) : pl->bk;
    if (pl->additive)
      avx512_addt_block(nv, nb, da, ka + j0 * da, w->qt, pl->u2, w->st, w->bmax);
    else
      avx512_qkt_block(nv, nb, d, k + j0 * d, w->qt, w->st, w->bmax, k + (j0 + nb) * d, v + (j0 + nb) * dv,
                       next, hard ? 0 : dv);
    if (knorm) avx512_scale_keyst(nv, nb, knorm + j0, pl->qscale, w->st, w->bmax);
    /* A block that crosses some row's window edge: masked scores, and a
     * P.V that leaves each row's masked keys out. */
    const int edge = j0 < sp.maxlo || j0 + nb > sp.minhi;
    if (j0 < sp.maxlo)
      avx512_maskt_range_block(nv, nb, j0, w->starts, w->ends, w->st, w->bmax);
    else if (edge)
      avx512_maskt_block(nv, nb, j0, w->ends, w->st, w->bmax);
    if (hard) {
      avx512_argmaxt_block(nv, nb, j0, w->st, w->m, w->idx);
      continue;
    }
    avx512_softmaxt_block(nv, nb, w->st, w->bmax, w->m, w->l, w->alpha);
    if (lp) avx512_gausst_block(nv, nb, j0, w->cent, p->window, w->st);
    avx512_pvt_block(nv, nb, dv, v + j0 * dv, w->st, w->ot, w->alpha, first, j0, edge ? w->starts : NULL,
                     edge ? w->ends : NULL);
    first = 0;
  }

  if (hard) {
    for (int64_t r = 0; r < nr; r++) {
      if (out->idx) {
        out->m[r] = w->m[r];
        out->idx[r] = w->idx[r];
      } else {
        copy_value_row(v, dv, w->idx[r], t->o + row_index(pl, jb, jb->r0 + r, &pos) * dv);
      }
    }
    return;
  }
  if (first) memset(w->ot, 0, (size_t)(dv * ld) * sizeof(float)); /* no key in range: a zero state */
  if (out->acc) {
    /* A part's state stays transposed, whole lanes (avx512_merget_block):
     * no strided copy per part, only once per job after the merge. */
    memcpy(out->m, w->m, (size_t)ld * sizeof(float));
    memcpy(out->l, w->l, (size_t)ld * sizeof(float));
    memcpy(out->acc, w->ot, (size_t)(dv * ld) * sizeof(float));
    return;
  }
  write_wide_rows(pl, w, t, jb);
}

/* The finished wide state (w->ot unnormalised, w->l) into the job's output
 * rows. */
static void write_wide_rows(const avx512_plan *pl, const ws_view *w, const attn_tensors *t, const job *jb) {
  const int64_t dv = pl->p.dv, nr = jb->nr, ld = (nr + 15) / 16 * 16;
  int64_t pos;
  avx512_scalet_block((int)(ld / 16), dv, w->ot, w->l);
  for (int64_t r = 0; r < nr; r++) {
    const float *ot = w->ot + r;
    float *dst = t->o + row_index(pl, jb, jb->r0 + r, &pos) * dv;
    for (int64_t c = 0; c < dv; c++) dst[c] = ot[c * ld];
  }
}

static void narrow_job(const avx512_plan *pl, ws_view *w, const attn_tensors *t, const job *jb, int part,
                       int parts, const sink *out) {
  w->packed = -1; /* the buffers wide_job may have kept are overwritten here */
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, dv = p->dv, da = pl->da, head = jb->bi * p->hkv + jb->kvh;
  const int rows = (int)jb->nr;
  const int hard = p->mode == ATTN_MODE_HARD, lp = p->mode == ATTN_MODE_LOCAL_P;
  const int64_t bkp = (pl->bk + 15) & ~(int64_t)15;
  const int64_t ldq = pl->additive ? ((da + 15) & ~(int64_t)15) : pl->dp;
  const float *k = t->k + head * p->lk * d;
  const float *v = t->v + head * p->lk * dv;
  const float *ka = pl->additive ? pl->ka + head * p->lk * da : NULL;
  const float *knorm = pl->knorm ? pl->knorm + head * p->lk : NULL;
  const float qscale = knorm ? 1.0f : pl->qscale; /* cosine: applied after the key norms */

  span sp = {p->lk, 0, p->lk, 0};
  int64_t pos;
  for (int r = 0; r < rows; r++) {
    const int64_t at = row_index(pl, jb, jb->r0 + r, &pos);
    float *qs = w->qt + r * ldq;
    int64_t c = 0;
    if (pl->additive) {
      for (const float *b = pl->qb + at * da; c < da; c++) qs[c] = b[c];
    } else {
      for (const float *q = t->q + at * d; c < d; c++) qs[c] = q[c] * qscale;
    }
    for (; c < ldq; c++) qs[c] = 0; /* the dot kernels read whole vectors */
    int64_t lo, hi;
    row_window(pl, t, jb->bi, pos, at, &lo, &hi);
    w->starts[r] = (int32_t)lo;
    w->ends[r] = (int32_t)hi;
    span_add(&sp, lo, hi);
    w->cent[r] = lp ? pl->cent[at] : 0;
    w->m[r] = -INFINITY;
    w->l[r] = 0;
    w->idx[r] = -1;
    w->orow[r] = t->o + at * dv;
  }

  int64_t kb, ke;
  key_range(pl, &sp, part, parts, &kb, &ke);
  int first = 1;
  for (int64_t j0 = kb; j0 < ke; j0 += pl->bk) {
    const int64_t nb = ke - j0 < pl->bk ? ke - j0 : pl->bk, nbp = (nb + 15) & ~(int64_t)15;
    int edge = 0; /* some row does not see every key of the block */
    for (int r = 0; r < rows; r++) {
      const int64_t hi = w->ends[r] - j0, lo = w->starts[r] - j0;
      w->vis[r] = hi < 0 ? 0 : hi > nb ? nb : hi;
      w->vlo[r] = lo < 0 ? 0 : lo > nb ? nb : lo;
      edge |= w->vis[r] < nb || w->vlo[r] > 0;
    }
    const int64_t next = ke - (j0 + nb) < pl->bk ? ke - (j0 + nb) : pl->bk;
    if (pl->additive) {
      avx512_add_rows_block(rows, nb, da, ka + j0 * da, w->qt, ldq, pl->u2, w->vlo, w->vis, w->st, bkp);
    } else {
      avx512_qk_rows_block(rows, nb, d, k + j0 * d, w->qt, ldq, w->vis, w->st, bkp, k + (j0 + nb) * d, next);
      if (knorm) avx512_scale_keys_rows(rows, nb, knorm + j0, pl->qscale, w->st, bkp);
      if (j0 < sp.maxlo) avx512_mask_rows_lo(rows, w->vlo, w->st, bkp);
    }
    if (hard) {
      avx512_argmax_rows_block(rows, nbp, j0, w->st, bkp, w->m, w->idx);
      continue;
    }
    avx512_softmax_rows_block(rows, nbp, w->st, bkp, w->m, w->l, w->alpha);
    if (lp) avx512_gauss_rows_block(rows, nbp, j0, w->cent, p->window, w->st, bkp);
    avx512_pv_rows_block(rows, nb, dv, v + j0 * dv, w->st, bkp, w->ot, pl->dvp, w->alpha, first,
                         edge ? w->vlo : NULL, edge ? w->vis : NULL, v + (j0 + nb) * dv, next);
    first = 0;
  }

  if (hard) {
    for (int r = 0; r < rows; r++) {
      if (out->idx) {
        out->m[r] = w->m[r];
        out->idx[r] = w->idx[r];
      } else {
        copy_value_row(v, dv, w->idx[r], w->orow[r]);
      }
    }
    return;
  }
  if (!out->acc) {
    /* With no key in range l stays 0, which finishes as a zero row. */
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

static void do_job(const avx512_plan *pl, ws_view *w, const attn_tensors *t, const job *jb, int part,
                   int parts, const sink *out) {
  if (jb->narrow)
    narrow_job(pl, w, t, jb, part, parts, out);
  else
    wide_job(pl, w, t, jb, part, parts, out);
}

/* mode=hard's merge: the first part (in key order) holding the largest
 * maximum wins, so ties still go to the lowest key. */
static void merge_hard(const avx512_plan *pl, const attn_tensors *t, const job *jb, int64_t base) {
  const attn_problem *p = &pl->p;
  const float *v = t->v + (jb->bi * p->hkv + jb->kvh) * p->lk * p->dv;
  int64_t pos;
  for (int64_t r = 0; r < jb->nr; r++) {
    float best = -INFINITY;
    int32_t idx = -1;
    for (int part = 0; part < pl->split; part++) {
      const int64_t at = base + part * pl->rmax + r;
      if (pl->part_idx[at] >= 0 && (idx < 0 || pl->part_m[at] > best)) {
        best = pl->part_m[at];
        idx = pl->part_idx[at];
      }
    }
    copy_value_row(v, p->dv, idx, t->o + row_index(pl, jb, jb->r0 + r, &pos) * p->dv);
  }
}

static void split_wave(const avx512_plan *pl, ws_view *w, const attn_tensors *t, int64_t w0, int64_t wn) {
  const int parts = pl->split;
  const int64_t rmax = pl->rmax, dvp = pl->dvp;
  const int hard = pl->p.mode == ATTN_MODE_HARD;
#pragma omp for schedule(dynamic, 1)
  for (int64_t it = 0; it < wn * parts; it++) {
    const job jb = job_at(pl, w0 + it / parts);
    const sink mine = {pl->part_m + it * rmax, pl->part_l + it * rmax, pl->part_acc + it * rmax * dvp,
                       hard ? pl->part_idx + it * rmax : NULL};
    do_job(pl, w, t, &jb, (int)(it % parts), parts, &mine);
  }
#pragma omp for schedule(dynamic, 1)
  for (int64_t x = 0; x < wn; x++) {
    const job jb = job_at(pl, w0 + x);
    const int64_t base = x * parts * rmax;
    if (hard) {
      merge_hard(pl, t, &jb, base);
      continue;
    }
    if (!jb.narrow) {
      avx512_merget_block((int)((jb.nr + 15) / 16), parts, pl->p.dv, pl->part_m + base, pl->part_l + base,
                          rmax, pl->part_acc + base * dvp, rmax * dvp, w->ot, w->l);
      write_wide_rows(pl, w, t, &jb);
      continue;
    }
    int64_t pos;
    for (int64_t r = 0; r < jb.nr; r++) w->orow[r] = t->o + row_index(pl, &jb, jb.r0 + r, &pos) * pl->p.dv;
    avx512_merge_rows(parts, (int)jb.nr, rmax, pl->p.dv, pl->part_m + base, pl->part_l + base,
                      pl->part_acc + base * dvp, dvp, w->orow);
  }
}

attn_status avx512_run_loops(const avx512_plan *pl, const attn_tensors *t) {
  const int64_t jobs = pl->sorted ? pl->seg_at[pl->p.b * pl->p.hkv] : pl->jobs;
#pragma omp parallel num_threads(pl->threads)
  {
    const int tid = omp_get_thread_num();
    ws_view w;
    carve(pl, pl->ws + (size_t)tid * pl->thread_bytes, &w);
    w.packed = -1;
    if (pl->split == 1) {
      const sink direct = {NULL, NULL, NULL, NULL};
#pragma omp for schedule(dynamic, 1)
      for (int64_t x = 0; x < jobs; x++) {
        const job jb = pl->sorted ? job_sorted(pl, x) : job_at(pl, x);
        do_job(pl, &w, t, &jb, 0, 1, &direct);
      }
    } else {
      for (int64_t w0 = 0; w0 < jobs; w0 += pl->wave)
        split_wave(pl, &w, t, w0, jobs - w0 < pl->wave ? jobs - w0 : pl->wave);
    }
  }
  return ATTN_OK;
}
