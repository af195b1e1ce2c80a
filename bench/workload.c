/* Workload drivers. A decode step attends with one query per head to every
 * key cached so far, which is exactly row t of a bottom-right causal
 * attention with lq=steps over lk+steps keys: that is what the oracle checks,
 * and what `run` takes as inputs. */
#include "workload.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/reference.h"

/* One level of op=han: `batches` single-query attentions over `keys` keys of
 * width da, values of width d, scale 1 (Yang et al. score u . c unscaled),
 * padded to the per-batch counts. */
static attn_problem han_level(const attn_problem *p, int64_t batches, int64_t keys) {
  attn_problem f = *p;
  f.op = ATTN_OP_ATTN;
  f.b = batches;
  f.h = f.hkv = f.lq = 1;
  f.lk = keys;
  f.d = p->da;
  f.dv = p->d;
  f.scale = 1;
  f.mask = ATTN_MASK_PAD;
  f.nlens = 0;
  f.sents = f.words = f.da = 0;
  f.pad = 0;
  return f;
}

static attn_problem full_problem(const attn_problem *p) {
  if (p->op == ATTN_OP_HAN) return han_level(p, p->b * p->sents, p->words);
  attn_problem f = *p;
  if (p->op == ATTN_OP_MHA) { /* the attention between the projections */
    f.op = ATTN_OP_ATTN;
    f.dm = 0;
    f.self = 0;
  }
  if (p->op == ATTN_OP_DECODE) {
    f.op = ATTN_OP_ATTN;
    f.steps = 0;
    f.lq = p->steps;
    f.lk = p->lk + p->steps;
    f.mask = ATTN_MASK_CAUSAL;
  }
  return f;
}

static attn_problem planned_problem(const attn_problem *p) {
  attn_problem s = full_problem(p);
  if (p->op == ATTN_OP_DECODE) {
    s.lq = 1;
    s.mask = ATTN_MASK_PAD;
    s.nlens = 0;
  }
  return s;
}

void workload_free(workload *w) {
  bench_inputs_free(&w->in);
  free(w->kc);
  free(w->vc);
  free(w->ktok);
  free(w->vtok);
  free(w->qt);
  free(w->ot);
  free(w->lens);
  float *mha[] = {w->xq,  w->xkv, w->wq, w->wk, w->wv,  w->wo, w->gq, w->gk, w->gv, w->cat, w->y,  w->ww,
                  w->wwt, w->bw,  w->cw, w->ws, w->wst, w->bs, w->cs, w->gw, w->gs, w->sq,  w->sk, w->doc};
  for (size_t i = 0; i < sizeof mha / sizeof mha[0]; i++) free(mha[i]);
  free(w->sents);
  memset(w, 0, sizeof *w);
}

static float *zeroed(int64_t elems) { return bench_alloc_touched(elems, sizeof(float)); }

/* dst [cols][rows] = src [rows][cols] transposed. */
static void transpose(const float *src, float *dst, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

/* The GEMMs take W^T [d][da], the attention one query per batch: both are
 * derived here, outside the timed region, from the weights as given. */
static void han_prepare(workload *w) {
  const attn_problem *p = &w->p;
  transpose(w->ww, w->wwt, p->da, p->d);
  transpose(w->ws, w->wst, p->da, p->d);
  for (int64_t i = 0; i < p->b * p->sents; i++)
    memcpy(w->in.q + i * p->da, w->cw, (size_t)p->da * sizeof(float));
  for (int64_t i = 0; i < p->b; i++) memcpy(w->sq + i * p->da, w->cs, (size_t)p->da * sizeof(float));
}

void workload_prepare(workload *w) {
  if (w->p.op == ATTN_OP_HAN) han_prepare(w);
  if (w->p.op != ATTN_OP_DECODE) return;
  /* The cache as it stands before the first step: lk keys, then room for one
   * more per step. The new tokens' keys and values wait in their own buffers. */
  const attn_problem *f = &w->full;
  const int64_t lk0 = w->p.lk, cap = f->lk, steps = w->p.steps;
  for (int64_t g = 0; g < f->b * f->hkv; g++) {
    memcpy(w->kc + g * cap * f->d, w->in.k + g * cap * f->d, (size_t)(lk0 * f->d) * sizeof(float));
    memcpy(w->vc + g * cap * f->dv, w->in.v + g * cap * f->dv, (size_t)(lk0 * f->dv) * sizeof(float));
    memset(w->kc + (g * cap + lk0) * f->d, 0, (size_t)(steps * f->d) * sizeof(float));
    memset(w->vc + (g * cap + lk0) * f->dv, 0, (size_t)(steps * f->dv) * sizeof(float));
    memcpy(w->ktok + g * steps * f->d, w->in.k + (g * cap + lk0) * f->d,
           (size_t)(steps * f->d) * sizeof(float));
    memcpy(w->vtok + g * steps * f->dv, w->in.v + (g * cap + lk0) * f->dv,
           (size_t)(steps * f->dv) * sizeof(float));
  }
}

/* Elements of each op=mha buffer, in the order of mha_buffers(). */
static void mha_sizes(const attn_problem *p, int64_t sz[11]) {
  const int64_t rq = p->b * p->lq, rk = p->b * p->lk;
  const int64_t s[11] = {rq * p->dm,
                         p->self ? 0 : rk * p->dm,
                         p->dm * p->h * p->d,
                         p->dm * p->hkv * p->d,
                         p->dm * p->hkv * p->dv,
                         p->h * p->dv * p->dm,
                         rq * p->h * p->d,
                         rk * p->hkv * p->d,
                         rk * p->hkv * p->dv,
                         rq * p->h * p->dv,
                         rq * p->dm};
  memcpy(sz, s, sizeof s);
}

static double mha_bytes(const attn_problem *p) {
  if (p->op != ATTN_OP_MHA) return 0;
  int64_t sz[11];
  mha_sizes(p, sz);
  double total = 0;
  for (int i = 0; i < 11; i++) total += 4.0 * (double)sz[i];
  return total;
}

static attn_status mha_init(workload *w, int fill, char *err, size_t n) {
  const attn_problem *p = &w->p;
  int64_t sz[11];
  mha_sizes(p, sz);
  float **bufs[11] = {&w->xq, &w->xkv, &w->wq, &w->wk,  &w->wv, &w->wo,
                      &w->gq, &w->gk,  &w->gv, &w->cat, &w->y};
  for (int i = 0; i < 11; i++) {
    if (i == 1 && p->self) continue;
    if (!(*bufs[i] = zeroed(sz[i]))) {
      snprintf(err, n, "cannot allocate the layer's inputs and weights (%.2f GiB)", mha_bytes(p) / (1 << 30));
      workload_free(w);
      return ATTN_ENOMEM;
    }
  }
  if (fill) attn_fill_mha(p, w->xq, w->xkv, w->wq, w->wk, w->wv, w->wo, w->in.lens);
  return ATTN_OK;
}

/* Elements of each op=han buffer beyond `in`, in the order of han_init's. */
static void han_sizes(const attn_problem *p, int64_t sz[13]) {
  const int64_t wt = p->da * p->d, bs = p->b * p->sents;
  const int64_t s[13] = {
      wt,         wt,           p->da,      p->da,      wt, wt, p->da, p->da, bs * p->words * p->da,
      bs * p->da, p->b * p->da, bs * p->da, p->b * p->d};
  memcpy(sz, s, sizeof s);
}

static double han_bytes(const attn_problem *p) {
  if (p->op != ATTN_OP_HAN) return 0;
  int64_t sz[13];
  han_sizes(p, sz);
  double total = 4.0 * (double)p->b;
  for (int i = 0; i < 13; i++) total += 4.0 * (double)sz[i];
  return total;
}

static attn_status han_init(workload *w, int fill, char *err, size_t n) {
  const attn_problem *p = &w->p;
  int64_t sz[13];
  han_sizes(p, sz);
  float **bufs[13] = {&w->ww, &w->wwt, &w->bw, &w->cw, &w->ws, &w->wst, &w->bs,
                      &w->cs, &w->gw,  &w->gs, &w->sq, &w->sk, &w->doc};
  w->sent = han_level(p, p->b, p->sents);
  int ok = (w->sents = calloc((size_t)p->b, sizeof(int32_t))) != NULL;
  for (int i = 0; i < 13 && ok; i++) ok = (*bufs[i] = zeroed(sz[i])) != NULL;
  if (!ok) {
    snprintf(err, n, "cannot allocate the weights and level tensors (%.2f GiB)", han_bytes(p) / (1 << 30));
    workload_free(w);
    return ATTN_ENOMEM;
  }
  for (int64_t i = 0; i < p->b; i++) w->sents[i] = (int32_t)p->sents;
  if (fill) {
    attn_fill_han(p, w->in.v, w->ww, w->bw, w->cw, w->ws, w->bs, w->cs, w->in.lens, w->sents);
    han_prepare(w);
  }
  return ATTN_OK;
}

attn_status workload_init(const attn_problem *p, int fill, double extra_bytes, workload *w, char *err,
                          size_t n) {
  memset(w, 0, sizeof *w);
  w->p = *p;
  w->full = full_problem(p);
  w->planned = planned_problem(p);
  const attn_problem *f = &w->full;
  /* A decode also keeps the cache (as large as K and V) and the new tokens. */
  const double decode_bytes =
      p->op == ATTN_OP_DECODE ? 4.0 * (double)(attn_kv_elems(f) + attn_v_elems(f)) * 1.5 : 0;
  attn_status s = bench_memory_check(f, p, extra_bytes + decode_bytes + mha_bytes(p) + han_bytes(p), err, n);
  /* op=mha and op=han compute Q, K and V: only their own inputs are filled. */
  const int own = p->op == ATTN_OP_MHA || p->op == ATTN_OP_HAN;
  if (s == ATTN_OK) s = bench_inputs_alloc(f, fill && !own, &w->in, err, n);
  if (s == ATTN_OK && p->op == ATTN_OP_MHA) return mha_init(w, fill, err, n);
  if (s == ATTN_OK && p->op == ATTN_OP_HAN) return han_init(w, fill, err, n);
  if (s != ATTN_OK || p->op != ATTN_OP_DECODE) return s;
  w->kc = zeroed(attn_kv_elems(f));
  w->vc = zeroed(attn_v_elems(f));
  w->ktok = zeroed(f->b * f->hkv * p->steps * f->d);
  w->vtok = zeroed(f->b * f->hkv * p->steps * f->dv);
  w->qt = zeroed(f->b * f->h * f->d);
  w->ot = zeroed(f->b * f->h * f->dv);
  w->lens = calloc((size_t)f->b, sizeof(int32_t));
  if (!w->kc || !w->vc || !w->ktok || !w->vtok || !w->qt || !w->ot || !w->lens) {
    snprintf(err, n, "cannot allocate the decode cache of %.2f GiB", decode_bytes / (1 << 30));
    workload_free(w);
    return ATTN_ENOMEM;
  }
  if (fill) workload_prepare(w);
  return ATTN_OK;
}

/* Step t: append the new token's key and value, gather each head's query,
 * attend to the lk+t+1 cached keys, scatter the outputs. */
static attn_status decode_step(workload *w, const attn_backend *be, void *plan, int64_t t) {
  const attn_problem *f = &w->full;
  const int64_t cap = f->lk, steps = w->p.steps, at = w->p.lk + t;
  for (int64_t g = 0; g < f->b * f->hkv; g++) {
    memcpy(w->kc + (g * cap + at) * f->d, w->ktok + (g * steps + t) * f->d, (size_t)f->d * sizeof(float));
    memcpy(w->vc + (g * cap + at) * f->dv, w->vtok + (g * steps + t) * f->dv, (size_t)f->dv * sizeof(float));
  }
  for (int64_t r = 0; r < f->b * f->h; r++)
    memcpy(w->qt + r * f->d, w->in.q + (r * steps + t) * f->d, (size_t)f->d * sizeof(float));
  for (int64_t bi = 0; bi < f->b; bi++) w->lens[bi] = (int32_t)(at + 1);
  attn_tensors ts = {.q = w->qt, .k = w->kc, .v = w->vc, .lens = w->lens, .o = w->ot};
  attn_status s = be->run(plan, &ts);
  for (int64_t r = 0; r < f->b * f->h; r++)
    memcpy(w->in.o + (r * steps + t) * f->dv, w->ot + r * f->dv, (size_t)f->dv * sizeof(float));
  return s;
}

attn_status workload_supports(const attn_problem *p, const attn_backend *be, char *why, size_t n) {
  if ((p->op == ATTN_OP_MHA || p->op == ATTN_OP_HAN) &&
      (!be->gemm_plan || !be->gemm_run || !be->gemm_destroy)) {
    snprintf(why, n, "no GEMM (op=%s projects with the backend's own GEMM)", attn_op_name(p->op));
    return ATTN_UNSUPPORTED;
  }
  const attn_problem s = planned_problem(p);
  attn_status st = be->supports(&s, why, n);
  if (st == ATTN_OK && p->op == ATTN_OP_HAN) {
    const attn_problem sent = han_level(p, p->b, p->sents);
    st = be->supports(&sent, why, n);
  }
  return st;
}

/* The four GEMMs of op=mha, in the order of w->gemm. */
static void mha_shapes(const attn_problem *p, attn_gemm_shape g[4]) {
  const int64_t rq = p->b * p->lq, rk = p->b * p->lk;
  g[0] = (attn_gemm_shape){rq, p->h * p->d, p->dm};
  g[1] = (attn_gemm_shape){rk, p->hkv * p->d, p->dm};
  g[2] = (attn_gemm_shape){rk, p->hkv * p->dv, p->dm};
  g[3] = (attn_gemm_shape){rq, p->dm, p->h * p->dv};
}

void workload_unplan(workload *w, const attn_backend *be, void *plan) {
  for (int i = 0; i < 4; i++)
    if (w->gemm[i]) be->gemm_destroy(w->gemm[i]);
  memset(w->gemm, 0, sizeof w->gemm);
  if (w->plan2) be->destroy(w->plan2);
  w->plan2 = NULL;
  if (plan) be->destroy(plan);
}

attn_status workload_plan(workload *w, const attn_backend *be, const attn_config *cfg, void **plan, char *why,
                          size_t n) {
  *plan = NULL;
  w->threads = cfg->threads;
  attn_status s = workload_supports(&w->p, be, why, n);
  if (s == ATTN_OK) s = be->plan(&w->planned, cfg, plan, why, n);
  if (s != ATTN_OK || (w->p.op != ATTN_OP_MHA && w->p.op != ATTN_OP_HAN)) return s;
  attn_gemm_shape g[4];
  int ngemm = 4;
  if (w->p.op == ATTN_OP_HAN) { /* X W_w^T over every word, then S W_s^T over every sentence */
    const attn_problem *p = &w->p;
    g[0] = (attn_gemm_shape){p->b * p->sents * p->words, p->da, p->d};
    g[1] = (attn_gemm_shape){p->b * p->sents, p->da, p->d};
    ngemm = 2;
    s = be->plan(&w->sent, cfg, &w->plan2, why, n);
  } else {
    mha_shapes(&w->p, g);
  }
  for (int i = 0; i < ngemm && s == ATTN_OK; i++) s = be->gemm_plan(&g[i], cfg, &w->gemm[i], why, n);
  if (s != ATTN_OK) {
    workload_unplan(w, be, *plan);
    *plan = NULL;
  }
  return s;
}

/* [b][len][heads][dim] (a GEMM's rows, one head per column block) to
 * [b][heads][len][dim], the layout the attention reads; and back. */
static void split_heads(const float *src, float *dst, int64_t b, int64_t len, int64_t heads, int64_t dim,
                        int to_heads, int threads) {
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t bi = 0; bi < b; bi++)
    for (int64_t i = 0; i < len; i++)
      for (int64_t hd = 0; hd < heads; hd++) {
        const int64_t rows = ((bi * len + i) * heads + hd) * dim, cols = ((bi * heads + hd) * len + i) * dim;
        if (to_heads)
          memcpy(dst + cols, src + rows, (size_t)dim * sizeof(float));
        else
          memcpy(dst + rows, src + cols, (size_t)dim * sizeof(float));
      }
}

static attn_status mha_run(workload *w, const attn_backend *be, void *plan) {
  const attn_problem *p = &w->p;
  const float *xkv = p->self ? w->xq : w->xkv;
  const int th = w->threads > 0 ? w->threads : 1;
  const double t0 = bench_now();
  attn_status s = be->gemm_run(w->gemm[0], w->xq, w->wq, w->gq);
  if (s == ATTN_OK) s = be->gemm_run(w->gemm[1], xkv, w->wk, w->gk);
  if (s == ATTN_OK) s = be->gemm_run(w->gemm[2], xkv, w->wv, w->gv);
  if (s != ATTN_OK) return s;
  split_heads(w->gq, w->in.q, p->b, p->lq, p->h, p->d, 1, th);
  split_heads(w->gk, w->in.k, p->b, p->lk, p->hkv, p->d, 1, th);
  split_heads(w->gv, w->in.v, p->b, p->lk, p->hkv, p->dv, 1, th);
  const double t1 = bench_now();
  attn_tensors t = bench_tensors(&w->in);
  s = be->run(plan, &t);
  const double t2 = bench_now();
  if (s != ATTN_OK) return s;
  split_heads(w->in.o, w->cat, p->b, p->lq, p->h, p->dv, 0, th);
  s = be->gemm_run(w->gemm[3], w->cat, w->wo, w->y);
  const double t3 = bench_now();
  w->proj_s += (t1 - t0) + (t3 - t2);
  w->attn_s += t2 - t1;
  w->runs++;
  return s;
}

/* u = tanh(g + bias) row by row, g [rows][n]: the keys of an op=han level.
 * The harness's own pass (not a backend's), so that every backend is timed
 * and checked with the same tanhf (ATTN_TANHF_ULP). */
static void bias_tanh(const float *g, const float *bias, float *u, int64_t rows, int64_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < n; c++) u[r * n + c] = tanhf(g[r * n + c] + bias[c]);
}

/* Word level, then sentence level; the "proj" time is the GEMMs with the
 * bias and tanh, the "attn" time both attentions. */
static attn_status han_run(workload *w, const attn_backend *be, void *plan) {
  const attn_problem *p = &w->p;
  const int th = w->threads > 0 ? w->threads : 1;
  const int64_t nsent = p->b * p->sents;
  const double t0 = bench_now();
  attn_status s = be->gemm_run(w->gemm[0], w->in.v, w->wwt, w->gw);
  if (s != ATTN_OK) return s;
  bias_tanh(w->gw, w->bw, w->in.k, nsent * p->words, p->da, th);
  const double t1 = bench_now();
  attn_tensors words = bench_tensors(&w->in);
  if ((s = be->run(plan, &words)) != ATTN_OK) return s;
  const double t2 = bench_now();
  if ((s = be->gemm_run(w->gemm[1], w->in.o, w->wst, w->gs)) != ATTN_OK) return s;
  bias_tanh(w->gs, w->bs, w->sk, nsent, p->da, th);
  const double t3 = bench_now();
  /* The sentence vectors are already [b][s][d]: the sentence level's values. */
  attn_tensors sents = {.q = w->sq, .k = w->sk, .v = w->in.o, .lens = w->sents, .o = w->doc};
  s = be->run(w->plan2, &sents);
  const double t4 = bench_now();
  w->proj_s += (t1 - t0) + (t3 - t2);
  w->attn_s += (t2 - t1) + (t4 - t3);
  w->runs++;
  return s;
}

float *workload_output(const workload *w) {
  return w->p.op == ATTN_OP_MHA ? w->y : w->p.op == ATTN_OP_HAN ? w->doc : w->in.o;
}

int64_t workload_output_elems(const workload *w) {
  return w->p.op == ATTN_OP_MHA   ? w->p.b * w->p.lq * w->p.dm
         : w->p.op == ATTN_OP_HAN ? w->p.b * w->p.d
                                  : attn_o_elems(&w->full);
}

void workload_poison(workload *w) {
  for (int64_t i = 0; i < attn_o_elems(&w->full); i++) w->in.o[i] = NAN;
  if (w->p.op == ATTN_OP_HAN) { /* everything a run computes: keys, GEMM outputs, documents */
    const attn_problem *p = &w->p;
    const int64_t nsent = p->b * p->sents;
    for (int64_t i = 0; i < attn_kv_elems(&w->full); i++) w->in.k[i] = w->gw[i] = NAN;
    for (int64_t i = 0; i < nsent * p->da; i++) w->sk[i] = w->gs[i] = NAN;
    for (int64_t i = 0; i < p->b * p->d; i++) w->doc[i] = NAN;
  }
  if (w->p.op != ATTN_OP_MHA) return;
  /* The GEMMs' own outputs: the heads copied from them would otherwise hold
   * what the previous backend wrote. */
  for (int64_t i = 0; i < workload_output_elems(w); i++) w->y[i] = NAN;
  for (int64_t i = 0; i < attn_q_elems(&w->full); i++) w->gq[i] = NAN;
  for (int64_t i = 0; i < attn_kv_elems(&w->full); i++) w->gk[i] = NAN;
  for (int64_t i = 0; i < attn_v_elems(&w->full); i++) w->gv[i] = NAN;
}

double workload_flops(const workload *w) {
  if (w->p.op == ATTN_OP_HAN) { /* the two GEMMs and both levels' visible pairs; bias and tanh excluded */
    const attn_problem *p = &w->p;
    const double gemm =
        2.0 * (double)(p->b * p->sents) * (double)(p->words + 1) * (double)p->d * (double)p->da;
    return gemm + attn_flops(&w->full, w->in.lens) + attn_flops(&w->sent, w->sents);
  }
  return w->p.op == ATTN_OP_MHA ? attn_flops(&w->p, w->in.lens) : attn_flops(&w->full, w->in.lens);
}

/* The roofline's traffic: what any implementation must move between memory
 * and the cores at least once per run, assuming perfect reuse in cache. */
double workload_bytes(const workload *w) {
  const attn_problem *p = &w->p;
  const double f = sizeof(float);
  if (p->op == ATTN_OP_HAN) /* X, the weights, biases and queries, the document vectors */
    return f * ((double)attn_v_elems(&w->full) + 2.0 * (double)p->da * (double)(p->d + 2) +
                (double)workload_output_elems(w));
  if (p->op == ATTN_OP_MHA) {
    const double x = (double)p->b * (double)(p->lq + (p->self ? 0 : p->lk)) * (double)p->dm;
    const double wts = (double)p->dm * (double)(p->h * p->d + p->hkv * (p->d + p->dv)) +
                       (double)(p->h * p->dv) * (double)p->dm;
    return f * (x + wts + (double)workload_output_elems(w));
  }
  if (p->op == ATTN_OP_DECODE) {
    /* Step t reads the lk + t + 1 cached keys and values of every kv head. */
    const double keys = (double)p->steps * (double)p->lk + (double)p->steps * (double)(p->steps + 1) / 2;
    return f * ((double)(p->b * p->hkv) * (double)(p->d + p->dv) * keys +
                (double)(p->b * p->h * p->steps) * (double)(p->d + p->dv));
  }
  const attn_problem *a = &w->full;
  return f * ((double)(attn_q_elems(a) + attn_kv_elems(a) + attn_v_elems(a) + attn_o_elems(a)) +
              bench_weight_elems(a));
}

/* n rows spread evenly over 0..m-1 (all of them when max is 0 or >= m);
 * NULL with *n = m means all. */
static int64_t *spread_rows(int64_t m, int64_t max, int64_t *n) {
  *n = m;
  if (max <= 0 || max >= m) return NULL;
  int64_t *rows = malloc((size_t)max * sizeof(int64_t));
  if (!rows) return NULL;
  for (int64_t i = 0; i < max; i++) rows[i] = max > 1 ? i * (m - 1) / (max - 1) : 0;
  *n = max;
  return rows;
}

/* The verdict of a staged check: any failure fails; otherwise any
 * mistrusted stage. *res is the stage with the largest error/bound. */
static void combine_stages(const attn_compare *c, const char *const *names, int n, attn_compare *res,
                           const char **stage) {
  int worst = 0, mistrusted = 0, failed = 0;
  for (int i = 0; i < n; i++) {
    if (c[i].max_ratio > c[worst].max_ratio) worst = i;
    failed |= c[i].verdict == ATTN_FAILED;
    mistrusted |= c[i].verdict == ATTN_MISTRUSTED;
  }
  *res = c[worst];
  res->verdict = failed ? ATTN_FAILED : mistrusted ? ATTN_MISTRUSTED : ATTN_PASSED;
  *stage = names[worst];
}

/* An attention stage: the oracle of f on t, at the given rows, against got. */
static attn_status check_level(const attn_problem *f, const attn_tensors *t, const attn_accuracy *acc,
                               const int64_t *rows, int64_t nrows, const float *got, attn_compare *res) {
  attn_oracle orc;
  attn_status s = attn_oracle_compute_rows(f, t, rows, nrows, &orc);
  if (s != ATTN_OK) return s;
  attn_oracle_check(&orc, acc, got, res);
  attn_oracle_free(&orc);
  return ATTN_OK;
}

/* op=han in six stages, each on the floats the backend produced before it.
 * The queries are c_w and c_s replicated here, and the GEMMs are checked
 * against the weights as given ([da][d]), independently of the harness's
 * copies and transposes. */
static attn_status check_han(const workload *w, const attn_accuracy *acc, int64_t max_rows, attn_compare *res,
                             const char **stage) {
  const attn_problem *p = &w->p;
  static const char *const names[] = {"word GEMM",     "word bias+tanh",     "word attention",
                                      "sentence GEMM", "sentence bias+tanh", "sentence attention"};
  const int64_t nsent = p->b * p->sents, nword = nsent * p->words;
  attn_compare c[6];
  int64_t nw, ns, nd;
  int64_t *rw = spread_rows(nword, max_rows, &nw), *rs = spread_rows(nsent, max_rows, &ns),
          *rd = spread_rows(p->b, max_rows, &nd);
  float *qw = malloc((size_t)(nsent * p->da) * sizeof(float)),
        *qs = malloc((size_t)(p->b * p->da) * sizeof(float));
  attn_status s =
      (nw < nword && !rw) || (ns < nsent && !rs) || (nd < p->b && !rd) || !qw || !qs ? ATTN_ENOMEM : ATTN_OK;
  for (int64_t i = 0; s == ATTN_OK && i < nsent; i++)
    memcpy(qw + i * p->da, w->cw, (size_t)p->da * sizeof(float));
  for (int64_t i = 0; s == ATTN_OK && i < p->b; i++)
    memcpy(qs + i * p->da, w->cs, (size_t)p->da * sizeof(float));
  if (s == ATTN_OK) s = attn_check_gemm_wt(nword, p->da, p->d, w->in.v, w->ww, w->gw, rw, nw, &c[0]);
  if (s == ATTN_OK) s = attn_check_bias_tanh(nword, p->da, w->gw, w->bw, w->in.k, rw, nw, &c[1]);
  const attn_tensors tw = {.q = qw, .k = w->in.k, .v = w->in.v, .lens = w->in.lens};
  if (s == ATTN_OK) s = check_level(&w->full, &tw, acc, rs, ns, w->in.o, &c[2]);
  if (s == ATTN_OK) s = attn_check_gemm_wt(nsent, p->da, p->d, w->in.o, w->ws, w->gs, rs, ns, &c[3]);
  if (s == ATTN_OK) s = attn_check_bias_tanh(nsent, p->da, w->gs, w->bs, w->sk, rs, ns, &c[4]);
  const attn_tensors ts = {.q = qs, .k = w->sk, .v = w->in.o, .lens = w->sents};
  if (s == ATTN_OK) s = check_level(&w->sent, &ts, acc, rd, nd, w->doc, &c[5]);
  free(rw);
  free(rs);
  free(rd);
  free(qw);
  free(qs);
  if (s == ATTN_OK) combine_stages(c, names, 6, res, stage);
  return s;
}

int workload_staged(const workload *w) { return w->p.op == ATTN_OP_MHA || w->p.op == ATTN_OP_HAN; }

static attn_status check_mha(const workload *w, const attn_accuracy *acc, int64_t max_rows, attn_compare *res,
                             const char **stage) {
  const attn_problem *p = &w->p, *f = &w->full;
  const float *xkv = p->self ? w->xq : w->xkv;
  static const char *const names[] = {"Q projection", "K projection", "V projection", "attention",
                                      "output projection"};
  attn_compare c[5];
  attn_status s = ATTN_OK;
  int64_t nq, nk, na;
  int64_t *rq = spread_rows(p->b * p->lq, max_rows, &nq), *rk = spread_rows(p->b * p->lk, max_rows, &nk),
          *ra = spread_rows(p->b * p->h * p->lq, max_rows, &na);
  if ((nq < p->b * p->lq && !rq) || (nk < p->b * p->lk && !rk) || (na < p->b * p->h * p->lq && !ra))
    s = ATTN_ENOMEM;
  if (s == ATTN_OK)
    s = attn_check_projection(p->b, p->lq, p->dm, p->h, p->d, w->xq, w->wq, w->in.q, rq, nq, &c[0]);
  if (s == ATTN_OK)
    s = attn_check_projection(p->b, p->lk, p->dm, p->hkv, p->d, xkv, w->wk, w->in.k, rk, nk, &c[1]);
  if (s == ATTN_OK)
    s = attn_check_projection(p->b, p->lk, p->dm, p->hkv, p->dv, xkv, w->wv, w->in.v, rk, nk, &c[2]);
  if (s == ATTN_OK) { /* on the heads the backend projected, as a plain attention check */
    attn_tensors t = bench_tensors(&w->in);
    s = check_level(f, &t, acc, ra, na, w->in.o, &c[3]);
  }
  if (s == ATTN_OK) s = attn_check_out_projection(p, w->in.o, w->wo, w->y, rq, nq, &c[4]);
  free(rq);
  free(rk);
  free(ra);
  if (s != ATTN_OK) return s;
  combine_stages(c, names, 5, res, stage);
  return ATTN_OK;
}

attn_status workload_check_staged(const workload *w, const attn_accuracy *acc, int64_t max_rows,
                                  attn_compare *res, const char **stage) {
  return w->p.op == ATTN_OP_HAN ? check_han(w, acc, max_rows, res, stage)
                                : check_mha(w, acc, max_rows, res, stage);
}

attn_status workload_run(workload *w, const attn_backend *be, void *plan) {
  if (w->p.op == ATTN_OP_MHA) return mha_run(w, be, plan);
  if (w->p.op == ATTN_OP_HAN) return han_run(w, be, plan);
  if (w->p.op == ATTN_OP_ATTN) {
    attn_tensors t = bench_tensors(&w->in);
    return be->run(plan, &t);
  }
  attn_status s = ATTN_OK;
  for (int64_t t = 0; t < w->p.steps && s == ATTN_OK; t++) s = decode_step(w, be, plan, t);
  return s;
}

int64_t workload_check_rows(const workload *w, int64_t **rows) {
  *rows = NULL;
  if (w->p.op != ATTN_OP_DECODE) return 0;
  const int64_t steps = w->p.steps, heads = w->full.b * w->full.h;
  const int64_t picks[3] = {0, steps / 2, steps - 1};
  const int npicks = steps >= 3 ? 3 : (int)steps;
  *rows = malloc((size_t)(heads * npicks) * sizeof(int64_t));
  if (!*rows) return -1;
  int64_t n = 0;
  for (int64_t r = 0; r < heads; r++)
    for (int i = 0; i < npicks; i++) (*rows)[n++] = r * steps + (npicks == 3 ? picks[i] : i);
  return n;
}

attn_status workload_verify(const workload *w, const attn_accuracy *acc, const attn_oracle *orc,
                            int64_t max_rows, attn_compare *res, const char **stage) {
  *stage = NULL;
  if (workload_staged(w)) return workload_check_staged(w, acc, max_rows, res, stage);
  if (orc) {
    attn_oracle_check(orc, acc, w->in.o, res);
    return ATTN_OK;
  }
  const attn_problem *f = &w->full;
  int64_t n;
  int64_t *rows = spread_rows(f->b * f->h * f->lq, max_rows, &n);
  attn_oracle own;
  attn_tensors t = bench_tensors(&w->in);
  const attn_status s = attn_oracle_compute_rows(f, &t, rows, rows ? n : 0, &own);
  free(rows);
  if (s != ATTN_OK) return s;
  attn_oracle_check(&own, acc, w->in.o, res);
  attn_oracle_free(&own);
  return ATTN_OK;
}

/* ---- non-finite outputs ---- */

static int finite_all(const float *x, int64_t n) {
  for (int64_t i = 0; x && i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* Whether every input the workload reads is finite: then no NaN or infinity
 * in the output comes from them. */
static int inputs_finite(const workload *w) {
  const attn_problem *p = &w->p, *f = &w->full;
  if (p->op == ATTN_OP_MHA) {
    int64_t sz[11];
    mha_sizes(p, sz);
    return finite_all(w->xq, sz[0]) && (p->self || finite_all(w->xkv, sz[1])) && finite_all(w->wq, sz[2]) &&
           finite_all(w->wk, sz[3]) && finite_all(w->wv, sz[4]) && finite_all(w->wo, sz[5]);
  }
  if (p->op == ATTN_OP_HAN) {
    const int64_t wt = p->da * p->d;
    return finite_all(w->in.v, attn_v_elems(f)) && finite_all(w->ww, wt) && finite_all(w->ws, wt) &&
           finite_all(w->bw, p->da) && finite_all(w->bs, p->da) && finite_all(w->cw, p->da) &&
           finite_all(w->cs, p->da);
  }
  const bench_inputs *in = &w->in;
  return finite_all(in->q, attn_q_elems(f)) && finite_all(in->k, attn_kv_elems(f)) &&
         finite_all(in->v, attn_v_elems(f)) && finite_all(in->w, attn_w_elems(f)) &&
         finite_all(in->w1, attn_wa_elems(f)) && finite_all(in->w2, attn_wa_elems(f)) &&
         finite_all(in->u, attn_u_elems(f)) && finite_all(in->wp, attn_wp_elems(f)) &&
         finite_all(in->vp, attn_vp_elems(f));
}

/* The largest |scale q.k_j| of query row r (flat [b][h][lq]) over the keys
 * its mask shows, in double: what an fp32 kernel must hold as a score. */
static double row_score_max(const workload *w, int64_t r) {
  const attn_problem *f = &w->full;
  const int64_t bi = r / (f->h * f->lq), hd = r / f->lq % f->h, i = r % f->lq;
  const float *q = w->in.q + r * f->d, *k = w->in.k + (bi * f->hkv + attn_kv_head(f, hd)) * f->lk * f->d;
  const int64_t end = attn_visible_end(f, w->in.lens, bi, i);
  double m = 0;
  for (int64_t j = 0; j < end; j++) {
    double s = 0;
    for (int64_t c = 0; c < f->d; c++) s += (double)q[c] * (double)k[j * f->d + c];
    s = fabs(s * (double)attn_scale(f));
    if (s > m) m = s;
  }
  return m;
}

workload_nonfinite workload_explain_nonfinite(const workload *w, char *why, size_t n) {
  const float *o = workload_output(w);
  const int64_t elems = workload_output_elems(w);
  int64_t at = 0;
  while (at < elems && isfinite(o[at])) at++;
  if (at == elems) return NONFINITE_NONE;
  if (!inputs_finite(w)) return NONFINITE_FROM_INPUTS;
  const attn_problem *f = &w->full;
  const int dot = w->p.op != ATTN_OP_MHA && w->p.op != ATTN_OP_HAN &&
                  (f->score == ATTN_SCORE_SCALED || f->score == ATTN_SCORE_DOT);
  const double smax = dot ? row_score_max(w, at / f->dv) : 0;
  if (smax > FLT_MAX) {
    snprintf(why, n,
             "output element %lld is %g from finite inputs: its row's scores reach %.3g, beyond the fp32 "
             "range (%.3g), which no fp32 kernel can hold",
             (long long)at, (double)o[at], smax, (double)FLT_MAX);
    return NONFINITE_SCORES_RANGE;
  }
  snprintf(why, n, "output element %lld is %g although every input is finite", (long long)at, (double)o[at]);
  return NONFINITE_UNEXPLAINED;
}
