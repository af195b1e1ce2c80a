/* avx2 backend: the blocked loops of a flash-attention forward pass.
 *
 * Work is split into items (batch, kv head, block of query positions); an
 * item's row block holds those positions for every query head that shares
 * the kv head, so each K/V block is packed and read once for all of them.
 * For each key block: S = Q K^T (avx2_qk_*), an online-softmax step
 * (running max m, sum l, rescale alpha; Milakov & Gimelshein 2018, Dao et
 * al. 2022), O = alpha O + P V (avx2_pv_*). Nothing of size lq x lk exists.
 * When items are too few to occupy the threads (decode), each item's key
 * range is also split and the partial (m, l, O) states merged afterwards
 * (flash-decoding). No intrinsics here: those live in avx2_kernels.c. This
 * file is still compiled with -mavx2 -mfma, because it only runs after the
 * CPU check and its plain loops vectorise better that way. */
#if !defined(__AVX2__) || !defined(__FMA__)
#error "avx2_loops.c must be compiled with -mavx2 -mfma"
#endif

#include <math.h>
#include <string.h>

#include <omp.h>

#include "avx2_kernels.h"
#include "avx2_plan.h"

typedef struct avx2_item {
  int64_t b, kvh;
  int64_t q0, nq; /* query positions [q0, q0 + nq) */
  int64_t rows;   /* group * nq; row r is head kvh*group + r/nq, position q0 + r%nq */
} avx2_item;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
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

static int64_t row_head(const avx2_plan *pl, const avx2_item *it, int64_t r) {
  return it->kvh * pl->group + r / it->nq;
}

/* Runs the item's rows over keys [ks, ke), leaving the unnormalised state
 * (ws->o, ws->m, ws->l) behind. */
static void flash_rows(const avx2_plan *pl, const attn_tensors *t, const avx2_item *it, int64_t ks,
                       int64_t ke, const avx2_ws *ws) {
  const attn_problem *p = &pl->p;
  const int64_t d = p->d, dv = p->dv, dvp = pl->dvp, rows = it->rows, bc = pl->blk.keys;
  const float qs = pl->qscale;
  int64_t minend = p->lk, maxend = 0;
  for (int64_t r = 0; r < rows; r++) {
    const int64_t i = it->q0 + r % it->nq;
    const float *src = t->q + ((it->b * p->h + row_head(pl, it, r)) * p->lq + i) * d;
    float *dst = ws->q + r * d;
    for (int64_t c = 0; c < d; c++) dst[c] = src[c] * qs;
    const int64_t end = attn_visible_end(p, t->lens, it->b, i);
    ws->end[r] = end;
    if (end < minend) minend = end;
    if (end > maxend) maxend = end;
    ws->m[r] = -INFINITY;
    ws->l[r] = 0;
  }
  memset(ws->o, 0, (size_t)(rows * dvp) * sizeof(float));
  if (ke > maxend) ke = maxend;

  const int64_t kv = it->b * p->hkv + it->kvh;
  const float *k = t->k + kv * p->lk * d, *v = t->v + kv * p->lk * dv;
  for (int64_t j0 = ks; j0 < ke; j0 += bc) {
    const int64_t nk = min64(bc, ke - j0), nkp = round_nr(nk);
    /* Only blocks that cut through some row's visible prefix (or end in
     * zero padding) need a mask; there, each row tile also stops at the
     * last key any of its rows sees, so a diagonal block costs about half. */
    const int masked = nk < nkp || j0 + nk > minend;
    avx2_pack_kt(nk, nkp, d, k + j0 * d, ws->kt, bc);
    const int64_t nxt = min64(bc, ke - j0 - nk), tiles = (rows + AVX2_MR - 1) / AVX2_MR;
    for (int64_t r0 = 0; r0 < rows; r0 += AVX2_MR) {
      const int64_t mr = min64(AVX2_MR, rows - r0);
      /* The next K and V blocks come from L3 or memory, contiguous: pull a
       * share of them into L2 under each tile's arithmetic. */
      if (nxt > 0) {
        prefetch_share(k + (j0 + nk) * d, nxt * d, r0 / AVX2_MR, tiles);
        prefetch_share(v + (j0 + nk) * dv, nxt * dv, r0 / AVX2_MR, tiles);
      }
      int64_t tk = nk;
      if (masked) {
        tk = 0;
        for (int64_t r = r0; r < r0 + mr; r++) {
          const int64_t c = ws->end[r] - j0;
          ws->cnt[r] = c < 0 ? 0 : c > nk ? nk : c;
          if (ws->cnt[r] > tk) tk = ws->cnt[r];
        }
      }
      ws->tk[r0 / AVX2_MR] = tk;
      if (tk == 0) continue; /* the tile's accumulators stay as they are */
      const int64_t tkp = round_nr(tk);
      const float *qt = ws->q + r0 * d;
      float *st = ws->s + r0 * bc;
      for (int64_t c0 = 0; c0 < tkp; c0 += AVX2_NR) {
        if (mr == AVX2_MR)
          avx2_qk_6x16(d, qt, d, ws->kt + c0, bc, st + c0, bc);
        else
          avx2_qk_mx16(mr, d, qt, d, ws->kt + c0, bc, st + c0, bc);
      }
      avx2_softmax_block(mr, tkp, st, bc, masked ? ws->cnt + r0 : NULL, ws->m + r0, ws->l + r0,
                         ws->alpha + r0);
    }
    for (int64_t c0 = 0; c0 < dv; c0 += AVX2_NR) {
      const int64_t nc = min64(AVX2_NR, dv - c0);
      for (int64_t r0 = 0; r0 < rows; r0 += AVX2_MR) {
        const int64_t mr = min64(AVX2_MR, rows - r0), tk = ws->tk[r0 / AVX2_MR];
        if (tk == 0) continue;
        const float *pr = ws->s + r0 * bc, *vc = v + j0 * dv + c0;
        float *oc = ws->o + r0 * dvp + c0;
        if (mr == AVX2_MR && nc == AVX2_NR)
          avx2_pv_6x16(tk, pr, bc, vc, dv, oc, dvp, ws->alpha + r0);
        else
          avx2_pv_mxn(mr, nc, tk, pr, bc, vc, dv, oc, dvp, ws->alpha + r0);
      }
    }
  }
}

static void write_rows(const avx2_plan *pl, const attn_tensors *t, const avx2_item *it, const avx2_ws *ws) {
  const attn_problem *p = &pl->p;
  const int64_t dv = p->dv;
  for (int64_t r = 0; r < it->rows; r++) {
    float *dst = t->o + ((it->b * p->h + row_head(pl, it, r)) * p->lq + it->q0 + r % it->nq) * dv;
    const float *acc = ws->o + r * pl->dvp, l = ws->l[r];
    /* A division, not a multiply by 1/l: one rounding, as the tolerance
     * model counts. l == 0 only for rows that saw no key. */
    if (l > 0)
      for (int64_t c = 0; c < dv; c++) dst[c] = acc[c] / l;
    else
      for (int64_t c = 0; c < dv; c++) dst[c] = 0;
  }
}

static float *partial_at(const avx2_plan *pl, int64_t task) {
  return pl->partial + task * pl->rows * (pl->dvp + 2);
}

static void save_partial(const avx2_plan *pl, int64_t task, const avx2_item *it, const avx2_ws *ws) {
  float *dst = partial_at(pl, task);
  memcpy(dst, ws->o, (size_t)(it->rows * pl->dvp) * sizeof(float));
  memcpy(dst + pl->rows * pl->dvp, ws->m, (size_t)it->rows * sizeof(float));
  memcpy(dst + pl->rows * (pl->dvp + 1), ws->l, (size_t)it->rows * sizeof(float));
}

/* out = sum_s 2^(m_s - M) O_s / sum_s 2^(m_s - M) l_s over the splits that
 * saw a key: the same rescale as one more key block. */
static void merge_item(const avx2_plan *pl, const attn_tensors *t, int64_t idx) {
  const attn_problem *p = &pl->p;
  const avx2_item it = item_at(pl, idx);
  const int64_t dv = p->dv, ns = pl->nsplit;
  for (int64_t r = 0; r < it.rows; r++) {
    float *dst = t->o + ((it.b * p->h + row_head(pl, &it, r)) * p->lq + it.q0 + r % it.nq) * dv;
    float mmax = -INFINITY;
    for (int64_t s = 0; s < ns; s++) {
      const float *part = partial_at(pl, idx * ns + s);
      const float ms = part[pl->rows * pl->dvp + r], ls = part[pl->rows * (pl->dvp + 1) + r];
      if (ls > 0 && ms > mmax) mmax = ms;
    }
    for (int64_t c = 0; c < dv; c++) dst[c] = 0;
    if (mmax == -INFINITY) continue;
    float lsum = 0;
    for (int64_t s = 0; s < ns; s++) {
      const float *part = partial_at(pl, idx * ns + s);
      const float ms = part[pl->rows * pl->dvp + r], ls = part[pl->rows * (pl->dvp + 1) + r];
      if (!(ls > 0)) continue;
      const float f = exp2f(ms - mmax), *acc = part + r * pl->dvp;
      lsum += ls * f;
      for (int64_t c = 0; c < dv; c++) dst[c] += f * acc[c];
    }
    for (int64_t c = 0; c < dv; c++) dst[c] /= lsum;
  }
}

attn_status avx2_forward(const avx2_plan *pl, const attn_tensors *t) {
  const int64_t ns = pl->nsplit, tasks = pl->items * ns;
#pragma omp parallel num_threads(pl->threads)
  {
    const avx2_ws *ws = &pl->ws[omp_get_thread_num()];
    /* Dynamic: causal and pad items differ in cost, and the cores are
     * shared; one atomic per item is noise next to an item's work. */
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const avx2_item it = item_at(pl, task / ns);
      const int64_t ks = task % ns * pl->kspan;
      flash_rows(pl, t, &it, ks, min64(pl->p.lk, ks + pl->kspan), ws);
      if (ns == 1)
        write_rows(pl, t, &it, ws);
      else
        save_partial(pl, task, &it, ws);
    }
    if (ns > 1) {
#pragma omp for schedule(static)
      for (int64_t idx = 0; idx < pl->items; idx++) merge_item(pl, t, idx);
    }
  }
  return ATTN_OK;
}
