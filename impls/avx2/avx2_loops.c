/* avx2 backend: the blocked loops of a flash-attention forward pass.
 *
 * Work is split into items (batch, kv head, block of query positions); an
 * item's row block holds those positions for every query head that shares
 * the kv head, so each K/V block is packed and read once for all of them.
 * For each key block: S = Q K^T (avx2_qk_*), an online-softmax step
 * (running max m, sum l, rescale alpha; Milakov & Gimelshein 2018, Dao et
 * al. 2022), O = alpha O + P V (avx2_pv_*). Nothing of size lq x lk exists.
 * When items are too few to occupy many threads (decode), each item's key
 * range is also split and the partial (m, l, O) states merged afterwards in
 * key order (flash-decoding); the splits depend on the problem only
 * (avx2_layout), so every thread count gives the same bits. No intrinsics
 * here: those live in avx2_kernels.c. This file is still compiled with
 * -mavx2 -mfma, because it only runs after the CPU check and its plain loops
 * vectorise better that way.
 *
 * The seq2seq modes are the same loops over per-row key ranges [lo, hi):
 * the mask's prefix, cut to the window for local-m and local-p. Each row
 * tile computes only the columns its rows' ranges cover, and a key block no
 * tile needs is skipped, so local attention costs what its window holds.
 * local-p multiplies each weight by its Gaussian factor after the softmax
 * step (the running sum l stays unweighted: no renormalisation); hard keeps
 * a running best score and key per row instead of the softmax and P.V, then
 * copies one value row. The scores general and cosine change only the
 * queries and keys the loops read (prepared by avx2.c's GEMMs and
 * avx2_prepare); additive also swaps the dot-product kernel for a sum of
 * tanh terms over rows of width da. */
#if !defined(__AVX2__) || !defined(__FMA__)
#error "avx2_loops.c must be compiled with -mavx2 -mfma"
#endif

#include <math.h>
#include <string.h>

#include <omp.h>

#include "avx2_kernels.h"
#include "avx2_plan.h"
#include "common/seq2seq.h"

_Static_assert(AVX2_SPLIT_TASKS <= AVX2_MERGE_MAX_SPLITS, "an item has at most AVX2_SPLIT_TASKS splits");

typedef struct avx2_item {
  int64_t b, kvh;
  int64_t q0, nq; /* query positions [q0, q0 + nq) */
  int64_t rows;   /* group * nq; row r is head kvh*group + r/nq, position q0 + r%nq */
} avx2_item;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }
static int64_t round_nr(int64_t n) { return (n + AVX2_NR - 1) / AVX2_NR * AVX2_NR; }

/* Part `part` of `parts` of the cache lines of [base, base + n floats),
 * towards L2. */
static void prefetch_share(const float *base, int64_t n, int64_t part, int64_t parts) {
  const char *b = (const char *)base;
  const int64_t bytes = n * (int64_t)sizeof(float);
  for (int64_t off = bytes * part / parts & ~(int64_t)63; off < bytes * (part + 1) / parts; off += 64)
    __builtin_prefetch(b + off, 0, 2);
}

static avx2_item item_at(const avx2_plan *pl, int64_t idx) {
  const attn_problem *p = &pl->p;
  int64_t qb = idx % pl->nqb;
  const int64_t rest = idx / pl->nqb;
  /* Causal blocks further down see more keys; handing them out first lets
   * the dynamic schedule end with small blocks and the threads level. */
  if (p->mask == ATTN_MASK_CAUSAL || p->mask == ATTN_MASK_CAUSAL_TL) qb = pl->nqb - 1 - qb;
  avx2_item it;
  it.kvh = rest % p->hkv;
  it.b = rest / p->hkv;
  it.q0 = qb * pl->qpos;
  it.nq = min64(pl->qpos, p->lq - it.q0);
  it.rows = pl->group * it.nq;
  return it;
}

/* Item row r's index into the [b][h][lq] rows of Q and O. */
static int64_t row_index(const avx2_plan *pl, const avx2_item *it, int64_t r) {
  const int64_t head = it->kvh * pl->group + r / it->nq;
  return (it->b * pl->p.h + head) * pl->p.lq + it->q0 + r % it->nq;
}

/* local-p: slots in order of their rows' centres (insertion sort, stable:
 * row blocks are a few hundred rows and the work per row is far larger). */
static void sort_by_centre(const avx2_plan *pl, const avx2_item *it, const avx2_ws *ws) {
  const float *c = pl->centres;
  for (int64_t r = 1; r < it->rows; r++) {
    const int64_t x = ws->row[r];
    const float cx = c[row_index(pl, it, x)];
    int64_t s = r;
    for (; s > 0 && c[row_index(pl, it, ws->row[s - 1])] > cx; s--) ws->row[s] = ws->row[s - 1];
    ws->row[s] = x;
  }
}

/* Each slot's query (times the score scale in log2 units) and its key range
 * [lo, hi); returns the union's bounds through minlo..maxhi and the
 * intersection's through maxlo..minhi. */
typedef struct avx2_span {
  int64_t minlo, maxhi; /* keys any row needs */
  int64_t maxlo, minhi; /* keys every row needs */
} avx2_span;

static avx2_span setup_rows(const avx2_plan *pl, const attn_tensors *t, const avx2_item *it,
                            const avx2_ws *ws) {
  const attn_problem *p = &pl->p;
  const int64_t d = pl->dk;
  const float qs = pl->qscale;
  for (int64_t r = 0; r < it->rows; r++) ws->row[r] = r;
  if (p->mode == ATTN_MODE_LOCAL_P) sort_by_centre(pl, it, ws);
  avx2_span sp = {p->lk, 0, 0, p->lk};
  for (int64_t r = 0; r < it->rows; r++) {
    const int64_t x = ws->row[r], idx = row_index(pl, it, x), i = it->q0 + x % it->nq;
    const float *src = t->q + idx * d;
    float *dst = ws->q + r * d;
    for (int64_t c = 0; c < d; c++) dst[c] = src[c] * qs;
    const int64_t end = attn_visible_end(p, t->lens, it->b, i);
    int64_t lo = 0, hi = end;
    if (p->mode == ATTN_MODE_LOCAL_M) attn_window(p, (double)attn_local_m_centre(p, i), end, &lo, &hi);
    if (p->mode == ATTN_MODE_LOCAL_P) {
      ws->c[r] = pl->centres[idx];
      attn_window(p, (double)ws->c[r], end, &lo, &hi);
    }
    if (lo >= hi) lo = p->lk, hi = 0;
    ws->lo[r] = lo;
    ws->hi[r] = hi;
    sp.minlo = min64(sp.minlo, lo), sp.maxhi = max64(sp.maxhi, hi);
    sp.maxlo = max64(sp.maxlo, lo), sp.minhi = min64(sp.minhi, hi);
    ws->m[r] = -INFINITY;
    ws->l[r] = 0;
    ws->arg[r] = -1;
  }
  return sp;
}

/* The columns [*t0, *tk) of key block [j0, j0 + nk) that the tile's rows
 * need (*t0 a multiple of AVX2_NR), and each row's share [blo, bhi) relative
 * to *t0; *tk == 0 when none. */
static void tile_columns(const avx2_ws *ws, int64_t r0, int64_t mr, int64_t j0, int64_t nk, int64_t *t0,
                         int64_t *tk) {
  int64_t a = nk, z = 0;
  for (int64_t r = r0; r < r0 + mr; r++) {
    const int64_t lo = clamp64(ws->lo[r] - j0, 0, nk), hi = clamp64(ws->hi[r] - j0, 0, nk);
    if (hi > lo) a = min64(a, lo), z = max64(z, hi);
  }
  if (z <= a) {
    *t0 = *tk = 0;
    return;
  }
  a -= a % AVX2_NR;
  for (int64_t r = r0; r < r0 + mr; r++) {
    ws->blo[r] = clamp64(ws->lo[r] - j0 - a, 0, z - a);
    ws->bhi[r] = clamp64(ws->hi[r] - j0 - a, 0, z - a);
  }
  *t0 = a;
  *tk = z;
}

/* masked: the block cut some row's range, and each row's P.V keeps to its
 * own keys [blo, bhi) (tile_columns). */
static void pv_block(const avx2_plan *pl, const avx2_ws *ws, int64_t rows, const float *v, int masked) {
  const int64_t dv = pl->p.dv, bc = pl->blk.keys, dvp = pl->dvp;
  for (int64_t c0 = 0; c0 < dv; c0 += AVX2_NR) {
    const int64_t nc = min64(AVX2_NR, dv - c0);
    for (int64_t r0 = 0; r0 < rows; r0 += AVX2_MR) {
      const int64_t mr = min64(AVX2_MR, rows - r0), t0 = ws->t0[r0 / AVX2_MR], tk = ws->tk[r0 / AVX2_MR];
      if (tk == 0) continue;
      const float *pr = ws->s + r0 * bc + t0, *vc = v + t0 * dv + c0;
      const int64_t *blo = masked ? ws->blo + r0 : NULL, *bhi = masked ? ws->bhi + r0 : NULL;
      float *oc = ws->o + r0 * dvp + c0;
      if (mr == AVX2_MR && nc == AVX2_NR)
        avx2_pv_6x16(tk - t0, pr, bc, vc, dv, oc, dvp, ws->alpha + r0, blo, bhi);
      else
        avx2_pv_mxn(mr, nc, tk - t0, pr, bc, vc, dv, oc, dvp, ws->alpha + r0, blo, bhi);
    }
  }
}

/* Runs the item's rows over keys [ks, ke), leaving the unnormalised state
 * (ws->o, ws->m, ws->l; ws->m, ws->arg for hard) behind. */
static void flash_rows(const avx2_plan *pl, const attn_tensors *t, const avx2_item *it, int64_t ks,
                       int64_t ke, const avx2_ws *ws) {
  const attn_problem *p = &pl->p;
  const int64_t d = pl->dk, dv = p->dv, rows = it->rows, bc = pl->blk.keys;
  const int hard = p->mode == ATTN_MODE_HARD, local_p = p->mode == ATTN_MODE_LOCAL_P;
  const int additive = p->score == ATTN_SCORE_ADDITIVE;
  const avx2_span sp = setup_rows(pl, t, it, ws);
  if (!hard) memset(ws->o, 0, (size_t)(rows * pl->dvp) * sizeof(float));
  if (ke > sp.maxhi) ke = sp.maxhi;
  /* Key blocks stay on the split's grid; those before every row's range
   * are skipped whole. */
  if (sp.minlo > ks) ks += (sp.minlo - ks) / bc * bc;

  const int64_t kv = it->b * p->hkv + it->kvh;
  const float *k = t->k + kv * p->lk * d, *v = t->v + kv * p->lk * dv;
  for (int64_t j0 = ks; j0 < ke; j0 += bc) {
    const int64_t nk = min64(bc, ke - j0), nkp = round_nr(nk);
    /* Only blocks that cut through some row's range (or end in zero
     * padding) need a mask; there, each row tile also computes only the
     * columns its rows need, so a diagonal block costs about half and a
     * window only its width. */
    const int masked = nk < nkp || j0 + nk > sp.minhi || j0 < sp.maxlo || local_p;
    avx2_pack_kt(nk, nkp, d, k + j0 * d, ws->kt, bc);
    const int64_t nxt = min64(bc, ke - j0 - nk), tiles = (rows + AVX2_MR - 1) / AVX2_MR;
    for (int64_t r0 = 0; r0 < rows; r0 += AVX2_MR) {
      const int64_t mr = min64(AVX2_MR, rows - r0), tile = r0 / AVX2_MR;
      /* The next K and V blocks come from L3 or memory, contiguous: pull a
       * share of them into L2 under each tile's arithmetic. */
      if (nxt > 0) {
        prefetch_share(k + (j0 + nk) * d, nxt * d, tile, tiles);
        if (!hard) prefetch_share(v + (j0 + nk) * dv, nxt * dv, tile, tiles);
      }
      int64_t t0 = 0, tk = nk;
      if (masked) tile_columns(ws, r0, mr, j0, nk, &t0, &tk);
      ws->t0[tile] = t0;
      ws->tk[tile] = tk;
      if (tk == 0) continue; /* the tile's accumulators stay as they are */
      const int64_t tkp = round_nr(tk);
      const float *qt = ws->q + r0 * d;
      float *st = ws->s + r0 * bc;
      for (int64_t c0 = t0; c0 < tkp; c0 += AVX2_NR) {
        if (additive)
          avx2_additive_mx16(mr, d, qt, d, ws->kt + c0, bc, pl->ul, st + c0, bc);
        else if (mr == AVX2_MR)
          avx2_qk_6x16(d, qt, d, ws->kt + c0, bc, st + c0, bc);
        else
          avx2_qk_mx16(mr, d, qt, d, ws->kt + c0, bc, st + c0, bc);
      }
      const int64_t *blo = masked ? ws->blo + r0 : NULL, *bhi = masked ? ws->bhi + r0 : NULL;
      if (hard) {
        avx2_argmax_block(mr, tkp - t0, st + t0, bc, blo, bhi, j0 + t0, ws->m + r0, ws->arg + r0);
        continue;
      }
      avx2_softmax_block(mr, tkp - t0, st + t0, bc, blo, bhi, ws->m + r0, ws->l + r0, ws->alpha + r0);
      if (local_p) avx2_gauss_block(mr, tkp - t0, st + t0, bc, ws->c + r0, j0 + t0, pl->gauss_k2);
    }
    if (!hard) pv_block(pl, ws, rows, v + j0 * dv, masked);
  }
}

static void write_rows(const avx2_plan *pl, const attn_tensors *t, const avx2_item *it, const avx2_ws *ws) {
  const attn_problem *p = &pl->p;
  const int64_t dv = p->dv;
  const float *v = t->v + (it->b * p->hkv + it->kvh) * p->lk * dv;
  for (int64_t r = 0; r < it->rows; r++) {
    float *dst = t->o + row_index(pl, it, ws->row[r]) * dv;
    if (p->mode == ATTN_MODE_HARD) {
      if (ws->arg[r] >= 0)
        memcpy(dst, v + ws->arg[r] * dv, (size_t)dv * sizeof(float));
      else
        memset(dst, 0, (size_t)dv * sizeof(float));
      continue;
    }
    const float *acc = ws->o + r * pl->dvp, l = ws->l[r];
    /* A division, not a multiply by 1/l: one rounding, as the tolerance
     * model counts. l == 0 only for rows that saw no key; a NaN l (a NaN
     * score) makes the row NaN. */
    if (l != 0)
      for (int64_t c = 0; c < dv; c++) dst[c] = acc[c] / l;
    else
      for (int64_t c = 0; c < dv; c++) dst[c] = 0;
  }
}

static float *partial_at(const avx2_plan *pl, int64_t task) {
  return pl->partial + task * pl->rows * (pl->dvp + 2);
}

/* A split's state, by item row (not slot): every split of an item must agree
 * on where a row's state lives. */
static void save_partial(const avx2_plan *pl, int64_t task, const avx2_item *it, const avx2_ws *ws) {
  float *dst = partial_at(pl, task);
  const int64_t dvp = pl->dvp;
  for (int64_t r = 0; r < it->rows; r++) {
    const int64_t x = ws->row[r];
    if (pl->p.mode == ATTN_MODE_HARD)
      pl->parg[task * pl->rows + x] = ws->arg[r];
    else
      memcpy(dst + x * dvp, ws->o + r * dvp, (size_t)dvp * sizeof(float));
    dst[pl->rows * dvp + x] = ws->m[r];
    dst[pl->rows * (dvp + 1) + x] = ws->l[r];
  }
}

/* mode=hard: the best of the splits' best keys; ties to the earlier split,
 * whose keys are lower. */
static void merge_hard(const avx2_plan *pl, const attn_tensors *t, const avx2_item *it, int64_t idx,
                       int64_t r, float *dst) {
  const int64_t dv = pl->p.dv;
  int64_t best = -1;
  float mbest = -INFINITY;
  for (int64_t s = 0; s < pl->nsplit; s++) {
    const int64_t task = idx * pl->nsplit + s, a = pl->parg[task * pl->rows + r];
    const float ms = partial_at(pl, task)[pl->rows * pl->dvp + r];
    if (a >= 0 && (best < 0 || ms > mbest)) best = a, mbest = ms;
  }
  if (best < 0) {
    memset(dst, 0, (size_t)dv * sizeof(float));
    return;
  }
  const float *v = t->v + ((it->b * pl->p.hkv + it->kvh) * pl->p.lk + best) * dv;
  memcpy(dst, v, (size_t)dv * sizeof(float));
}

/* out = sum_s 2^(m_s - M) O_s / sum_s 2^(m_s - M) l_s over the splits that
 * saw a key (avx2_merge_row): the same rescale as one more key block. */
static void merge_item(const avx2_plan *pl, const attn_tensors *t, int64_t idx) {
  const attn_problem *p = &pl->p;
  const avx2_item it = item_at(pl, idx);
  const int64_t dv = p->dv, ns = pl->nsplit;
  for (int64_t r = 0; r < it.rows; r++) {
    float *dst = t->o + row_index(pl, &it, r) * dv;
    if (p->mode == ATTN_MODE_HARD) {
      merge_hard(pl, t, &it, idx, r, dst);
      continue;
    }
    const float *part = partial_at(pl, idx * ns);
    const int64_t stride = pl->rows * (pl->dvp + 2);
    avx2_merge_row(ns, part + pl->rows * pl->dvp + r, part + pl->rows * (pl->dvp + 1) + r, stride,
                   part + r * pl->dvp, stride, dv, dst);
  }
}

/* Rows [n * part / parts, n * (part + 1) / parts): one thread's share. */
static int64_t share(int64_t n, int64_t part, int64_t parts) { return n * part / parts; }

/* The O(rows * d) work of the scores and modes, split across the team (the
 * GEMMs ran before): cosine's unit rows, local-p's centres. */
static void avx2_prepare(const avx2_plan *pl, const attn_tensors *t) {
  const attn_problem *p = &pl->p;
  const int64_t nt = omp_get_num_threads(), me = omp_get_thread_num();
  const int64_t nq = p->b * p->h * p->lq, nk = p->b * p->hkv * p->lk;
  if (p->score == ATTN_SCORE_COSINE) {
    attn_normalize_rows(t->q, pl->qx, share(nq, me, nt), share(nq, me + 1, nt), p->d);
    attn_normalize_rows(t->k, pl->kx, share(nk, me, nt), share(nk, me + 1, nt), p->d);
  }
  if (p->mode == ATTN_MODE_LOCAL_P) /* AVX2 runs here, so this is avx2_tanh_a3's path (tanh_abs_err above). */
    attn_local_p_centres(pl->proj, t->vp, share(nq, me, nt), share(nq, me + 1, nt), pl->da, p->lk,
                         pl->centres);
}

attn_status avx2_forward(const avx2_plan *pl, const attn_tensors *t) {
  const attn_problem *p = &pl->p;
  const int64_t ns = pl->nsplit, tasks = pl->items * ns;
  /* general, cosine and additive read prepared queries (and keys) in place
   * of Q and K. */
  attn_tensors tt = *t;
  if (pl->qx) tt.q = pl->qx;
  if (pl->kx) tt.k = pl->kx;
  const int prep = p->score == ATTN_SCORE_COSINE || p->mode == ATTN_MODE_LOCAL_P;
#pragma omp parallel num_threads(pl->threads)
  {
    const avx2_ws *ws = &pl->ws[omp_get_thread_num()];
    if (prep) {
      avx2_prepare(pl, t);
#pragma omp barrier
    }
    /* Dynamic: causal and pad items differ in cost, and the cores are
     * shared; one atomic per item is noise next to an item's work. */
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const avx2_item it = item_at(pl, task / ns);
      const int64_t ks = task % ns * pl->kspan;
      flash_rows(pl, &tt, &it, ks, min64(p->lk, ks + pl->kspan), ws);
      if (ns == 1)
        write_rows(pl, &tt, &it, ws);
      else
        save_partial(pl, task, &it, ws);
    }
    if (ns > 1) {
#pragma omp for schedule(static)
      for (int64_t idx = 0; idx < pl->items; idx++) merge_item(pl, &tt, idx);
    }
  }
  return ATTN_OK;
}
