/* avx2: flash-attention style fp32 forward with AVX2 + FMA micro-kernels.
 *
 * This file is compiled with the baseline flags: it holds the vtable, the
 * CPU check, the block-size table and the plan, and must be safe to run on
 * any x86-64. The loops (avx2_loops.c) and micro-kernels (avx2_kernels.c)
 * are compiled with -mavx2 -mfma and are only entered through run(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnbench/attn.h"
#include "attnbench/cpu.h"
#include "avx2_kernels.h"
#include "avx2_plan.h"
#include "common/mem.h"
#include "common/seq2seq.h"
#include "common/variant.h"

/* Block sizes by cache size, first matching row wins. Bigger row blocks
 * pack each K block for more rows and re-read K/V less often; bigger key
 * blocks mean fewer rescales, accumulator passes and per-row softmax
 * overheads. The limit is L2: a thread's working set (Q block, K^T block,
 * score block, accumulator) stays within half of it for d = dv = 128, and
 * avx2_layout shrinks the blocks for larger head dims. What must be L1-hot
 * is smaller: the scores of one 6-row tile (6 x keys floats) between the
 * QK^T micro-kernel and the softmax step, and one 16-column V panel
 * (keys x 64 bytes) while the P.V micro-kernel walks the row tiles; P rows
 * stream from L2, each line feeding 16 broadcasts. The first row is the
 * best-time choice of sweeps on Zen 5 (48K L1d, 1M L2; rows 48..288 x keys
 * 32..192, lq = lk = 2048 and 4096, d = 64 and 128), in which rows 96..192
 * x keys 64..128 came within the noise of shared cores of each other; the
 * other rows scale it to the L2 they have. */
typedef struct avx2_block_row {
  long l1d, l2; /* bytes; the row applies when the CPU has at least these */
  avx2_blocking blk;
} avx2_block_row;

static const avx2_block_row avx2_block_table[] = {
    {48 * 1024, 1024 * 1024, {192, 128}}, /* Zen 4/5, Ice Lake and later */
    {32 * 1024, 512 * 1024, {96, 128}},   /* Zen 2/3 */
    {32 * 1024, 256 * 1024, {48, 64}},    /* Haswell to Skylake client */
    {0, 0, {48, AVX2_MIN_KEY_BLOCK}},     /* caches unknown */
};

static long cache_size(int name) {
  const long v = sysconf(name);
  return v > 0 ? v : 0;
}

static avx2_block_row machine_blocks(void) {
  const long l1d = cache_size(_SC_LEVEL1_DCACHE_SIZE), l2 = cache_size(_SC_LEVEL2_CACHE_SIZE);
  const size_t n = sizeof avx2_block_table / sizeof avx2_block_table[0];
  for (size_t i = 0; i + 1 < n; i++)
    if (l1d >= avx2_block_table[i].l1d && l2 >= avx2_block_table[i].l2) {
      avx2_block_row row = avx2_block_table[i];
      row.l1d = l1d, row.l2 = l2;
      return row;
    }
  avx2_block_row row = avx2_block_table[n - 1];
  row.l1d = l1d, row.l2 = l2;
  return row;
}

#define AVX2_LOG2E 1.4426950408889634074

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
static int64_t gcd64(int64_t a, int64_t b) { return b ? gcd64(b, a % b) : a; }
static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Bytes of one thread's scratch. */
static size_t ws_bytes(int64_t rows, int64_t keys, int64_t d, int64_t dvp) {
  const size_t tiles = (size_t)(rows / AVX2_MR + 1);
  return align64((size_t)(rows * d) * sizeof(float)) + align64((size_t)(d * keys) * sizeof(float)) +
         align64((size_t)(rows * keys) * sizeof(float)) + align64((size_t)(rows * dvp) * sizeof(float)) +
         4 * align64((size_t)rows * sizeof(float)) + 6 * align64((size_t)rows * sizeof(int64_t)) +
         2 * align64(tiles * sizeof(int64_t));
}

/* Everything plan() decides, without allocating: shared with workspace_size. */
static void avx2_layout(const attn_problem *p, int threads, avx2_plan *pl) {
  const avx2_block_row row = machine_blocks();
  avx2_blocking blk = row.blk;
  const int64_t dvp = round_up(p->dv, AVX2_NR);
  const int64_t da =
      p->score == ATTN_SCORE_ADDITIVE || p->mode == ATTN_MODE_LOCAL_P ? (p->da > 0 ? p->da : p->d) : 0;
  const int64_t dk = p->score == ATTN_SCORE_ADDITIVE ? da : p->d;
  /* Large head dims: shrink the row block, then the key block, until a
   * thread's working set is at most half of L2. */
  const size_t budget = row.l2 > 0 ? (size_t)row.l2 / 2 : (size_t)256 * 1024;
  while (blk.rows > AVX2_MR && ws_bytes(blk.rows, blk.keys, dk, dvp) > budget) blk.rows -= AVX2_MR;
  while (blk.keys > AVX2_MIN_KEY_BLOCK && ws_bytes(blk.rows, blk.keys, dk, dvp) > budget) blk.keys -= AVX2_NR;

  const int64_t group = p->h / p->hkv, heads = p->b * p->hkv;
  /* Positions per block in units that make rows a multiple of AVX2_MR, so
   * that only the last block of a head has edge tiles. */
  const int64_t unit = AVX2_MR / gcd64(AVX2_MR, group);
  int64_t qpos = blk.rows / group;
  if (qpos >= unit) qpos -= qpos % unit;
  if (qpos < 1) qpos = 1;
  if (qpos > p->lq) qpos = p->lq;
  int64_t nqb = ceil_div(p->lq, qpos);
  /* The split-k decision (below) reads the items before any thread-driven
   * refinement: it changes each row's summation order, so it must be a
   * function of the problem alone for 1 and N threads to agree bitwise. */
  const int64_t items0 = heads * nqb;
  /* Too few items for the threads: cut the query blocks finer first, down
   * to one micro-tile of rows (a row's arithmetic does not depend on which
   * rows share its block: every row keeps the same key blocks, and the
   * columns a tile adds for its other rows hold exact zeros)... */
  const int64_t want = 2 * (int64_t)threads;
  if (threads > 1 && heads * nqb < want) {
    const int64_t finest = ceil_div(p->lq, ceil_div(AVX2_MR, group));
    nqb = ceil_div(want, heads);
    if (nqb > finest) nqb = finest;
  }
  /* ...and even the sizes out so that the last block is not a sliver. */
  qpos = round_up(ceil_div(p->lq, nqb), unit);
  if (qpos > p->lq) qpos = p->lq;
  nqb = ceil_div(p->lq, qpos);

  pl->p = *p;
  pl->threads = threads;
  pl->blk = blk;
  pl->group = group;
  pl->qpos = qpos;
  pl->rows = group * qpos;
  pl->nqb = nqb;
  pl->items = heads * nqb;
  pl->dvp = dvp;
  pl->da = da;
  pl->dk = dk;
  /* additive has no scale: its log2(e) goes into u (ul), and the queries
   * are copied as they are. */
  pl->qscale = p->score == ATTN_SCORE_ADDITIVE ? 1.0f : (float)((double)attn_scale(p) * AVX2_LOG2E);
  pl->gauss_k2 = p->window > 0 ? (float)(-2 * AVX2_LOG2E / ((double)p->window * (double)p->window)) : 0;
  /* ...then split the key range (flash-decoding), at key-block boundaries
   * so that a row is rescaled no more often than without the split: problems
   * of fewer than AVX2_SPLIT_TASKS items get parts of at least
   * AVX2_SPLIT_MIN_BLOCKS key blocks until there are that many tasks. Fixed
   * targets, not the thread count: the parts, and the key order the merge
   * adds them in, are the same at every thread count, and so are the bits.
   * One thread pays only the merge. */
  const int64_t nkb = ceil_div(p->lk, blk.keys);
  int64_t nsplit = 1;
  if (items0 < AVX2_SPLIT_TASKS) {
    nsplit = ceil_div(AVX2_SPLIT_TASKS, items0);
    if (nsplit > nkb / AVX2_SPLIT_MIN_BLOCKS) nsplit = nkb / AVX2_SPLIT_MIN_BLOCKS;
    if (nsplit < 1) nsplit = 1;
  }
  pl->kspan = ceil_div(nkb, nsplit) * blk.keys;
  pl->nsplit = ceil_div(p->lk, pl->kspan);
}

static size_t partial_bytes(const avx2_plan *pl) {
  return pl->nsplit > 1 ? (size_t)(pl->items * pl->nsplit * pl->rows * (pl->dvp + 2)) * sizeof(float) : 0;
}

static size_t parg_bytes(const avx2_plan *pl) {
  return pl->nsplit > 1 && pl->p.mode == ATTN_MODE_HARD
             ? (size_t)(pl->items * pl->nsplit * pl->rows) * sizeof(int64_t)
             : 0;
}

/* The buffers the scores and modes prepare once per run (avx2_plan). */
typedef struct avx2_prep_sizes {
  size_t qx, kx, w1t, w2t, ul, wpt, proj, centres; /* floats */
} avx2_prep_sizes;

static avx2_prep_sizes prep_sizes(const avx2_plan *pl) {
  const attn_problem *p = &pl->p;
  const size_t nq = (size_t)(p->b * p->h * p->lq), nk = (size_t)(p->b * p->hkv * p->lk);
  const size_t d = (size_t)p->d, da = (size_t)pl->da, dk = (size_t)pl->dk;
  avx2_prep_sizes z = {0, 0, 0, 0, 0, 0, 0, 0};
  if (p->score == ATTN_SCORE_GENERAL || p->score == ATTN_SCORE_COSINE || p->score == ATTN_SCORE_ADDITIVE)
    z.qx = nq * dk;
  if (p->score == ATTN_SCORE_COSINE || p->score == ATTN_SCORE_ADDITIVE) z.kx = nk * dk;
  if (p->score == ATTN_SCORE_ADDITIVE) z.w1t = z.w2t = d * da, z.ul = da;
  if (p->mode == ATTN_MODE_LOCAL_P) z.wpt = d * da, z.proj = nq * da, z.centres = nq;
  return z;
}

static size_t prep_bytes(const avx2_prep_sizes *z) {
  const size_t n[] = {z->qx, z->kx, z->w1t, z->w2t, z->ul, z->wpt, z->proj, z->centres};
  size_t bytes = 0;
  for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) bytes += align64(n[i] * sizeof(float));
  return bytes;
}

static size_t arena_bytes(const avx2_plan *pl) {
  const avx2_prep_sizes z = prep_sizes(pl);
  return align64((size_t)pl->threads * sizeof(avx2_ws)) +
         (size_t)pl->threads * ws_bytes(pl->rows, pl->blk.keys, pl->dk, pl->dvp) +
         align64(partial_bytes(pl)) + align64(parg_bytes(pl)) + prep_bytes(&z);
}

/* The GEMMs of the preparation, m == 0 where a problem has none:
 * [0] general's Q W; [1] Q times a [d][da] matrix (additive's W2^T,
 * local-p's Wp^T: one shape, one plan); [2] additive's K W1^T. */
enum { AVX2_GEMM_W, AVX2_GEMM_QA, AVX2_GEMM_KA, AVX2_GEMMS };

static void prep_gemms(const avx2_plan *pl, attn_gemm_shape g[AVX2_GEMMS]) {
  const attn_problem *p = &pl->p;
  const int64_t nq = p->b * p->h * p->lq, nk = p->b * p->hkv * p->lk;
  const int additive = p->score == ATTN_SCORE_ADDITIVE;
  g[AVX2_GEMM_W] = (attn_gemm_shape){p->score == ATTN_SCORE_GENERAL ? nq : 0, p->d, p->d};
  g[AVX2_GEMM_QA] = (attn_gemm_shape){additive || p->mode == ATTN_MODE_LOCAL_P ? nq : 0, pl->da, p->d};
  g[AVX2_GEMM_KA] = (attn_gemm_shape){additive ? nk : 0, pl->da, p->d};
}

/* What gemm_blocked_plan allocates for shape g (its packed B panel and one
 * packed A block per thread), for workspace_size. */
static size_t gemm_bytes(const attn_gemm_shape *g, int threads) {
  const int64_t kc = g->k < GEMM_KC ? g->k : GEMM_KC, nr = avx2_sgemm_6x16.nr;
  int64_t nc = (g->n + nr - 1) / nr * nr;
  if (nc > GEMM_NC) nc = GEMM_NC;
  return (size_t)(kc * nc + (int64_t)threads * GEMM_MC * kc) * sizeof(float);
}

static int avx2_available(void) { return attn_cpu_has_avx2(); }

static attn_status avx2_supports(const attn_problem *p, char *why, size_t n) {
  const unsigned scores = ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT) |
                          ATTN_SCORE_BIT(ATTN_SCORE_GENERAL) | ATTN_SCORE_BIT(ATTN_SCORE_COSINE) |
                          ATTN_SCORE_BIT(ATTN_SCORE_ADDITIVE);
  const unsigned modes = ATTN_MODE_BIT(ATTN_MODE_SOFT) | ATTN_MODE_BIT(ATTN_MODE_HARD) |
                         ATTN_MODE_BIT(ATTN_MODE_LOCAL_M) | ATTN_MODE_BIT(ATTN_MODE_LOCAL_P);
  attn_status vs = attn_variant_supported(p, scores, modes, "avx2", why, n);
  if (vs != ATTN_OK) return vs;
  if (p->dtype != ATTN_F32) {
    snprintf(why, n, "only f32");
    return ATTN_UNSUPPORTED;
  }
  if (p->mode == ATTN_MODE_LOCAL_P && p->window < 1) {
    snprintf(why, n, "local-p needs window >= 1 (sigma = window/2)");
    return ATTN_EINVAL;
  }
  return ATTN_OK;
}

static size_t avx2_workspace(const attn_problem *p, const attn_config *cfg) {
  const int threads = cfg->threads > 0 ? cfg->threads : 1;
  avx2_plan pl;
  avx2_layout(p, threads, &pl);
  attn_gemm_shape g[AVX2_GEMMS];
  prep_gemms(&pl, g);
  size_t bytes = arena_bytes(&pl);
  for (int i = 0; i < AVX2_GEMMS; i++)
    if (g[i].m > 0) bytes += gemm_bytes(&g[i], threads);
  return bytes;
}

static char *carve(char **at, size_t bytes) {
  char *p = *at;
  *at += align64(bytes);
  return p;
}

static void avx2_destroy(void *plan) {
  avx2_plan *pl = plan;
  if (!pl) return;
  gemm_blocked_destroy(pl->gemm_w);
  gemm_blocked_destroy(pl->gemm_qa);
  gemm_blocked_destroy(pl->gemm_ka);
  attn_rescue_free(&pl->rescue);
  free(pl->arena);
  free(pl);
}

static void carve_ws(avx2_plan *pl, char **at) {
  const int64_t rows = pl->rows, keys = pl->blk.keys, d = pl->dk, tiles = rows / AVX2_MR + 1;
  const size_t fr = (size_t)rows * sizeof(float), ir = (size_t)rows * sizeof(int64_t);
  for (int i = 0; i < pl->threads; i++) {
    avx2_ws *w = &pl->ws[i];
    w->q = (float *)carve(at, (size_t)(rows * d) * sizeof(float));
    w->kt = (float *)carve(at, (size_t)(d * keys) * sizeof(float));
    w->s = (float *)carve(at, (size_t)(rows * keys) * sizeof(float));
    w->o = (float *)carve(at, (size_t)(rows * pl->dvp) * sizeof(float));
    w->m = (float *)carve(at, fr);
    w->l = (float *)carve(at, fr);
    w->alpha = (float *)carve(at, fr);
    w->c = (float *)carve(at, fr);
    w->lo = (int64_t *)carve(at, ir);
    w->hi = (int64_t *)carve(at, ir);
    w->blo = (int64_t *)carve(at, ir);
    w->bhi = (int64_t *)carve(at, ir);
    w->arg = (int64_t *)carve(at, ir);
    w->row = (int64_t *)carve(at, ir);
    w->t0 = (int64_t *)carve(at, (size_t)tiles * sizeof(int64_t));
    w->tk = (int64_t *)carve(at, (size_t)tiles * sizeof(int64_t));
  }
}

static float *carve_floats(char **at, size_t n) { return n ? (float *)carve(at, n * sizeof(float)) : NULL; }

static void carve_prep(avx2_plan *pl, char **at) {
  const avx2_prep_sizes z = prep_sizes(pl);
  pl->qx = carve_floats(at, z.qx);
  pl->kx = carve_floats(at, z.kx);
  pl->w1t = carve_floats(at, z.w1t);
  pl->w2t = carve_floats(at, z.w2t);
  pl->ul = carve_floats(at, z.ul);
  pl->wpt = carve_floats(at, z.wpt);
  pl->proj = carve_floats(at, z.proj);
  pl->centres = carve_floats(at, z.centres);
}

static attn_status plan_gemms(avx2_plan *pl, const attn_config *cfg, char *why, size_t n) {
  attn_gemm_shape g[AVX2_GEMMS];
  prep_gemms(pl, g);
  void **slot[AVX2_GEMMS] = {&pl->gemm_w, &pl->gemm_qa, &pl->gemm_ka};
  for (int i = 0; i < AVX2_GEMMS; i++) {
    if (g[i].m == 0) continue;
    const attn_status st = gemm_blocked_plan(&avx2_sgemm_6x16, &g[i], cfg, slot[i], why, n);
    if (st != ATTN_OK) return st;
  }
  return ATTN_OK;
}

static void plan_note(avx2_plan *pl) {
  const attn_problem *p = &pl->p;
  const char *score = p->score == ATTN_SCORE_GENERAL    ? ", general: Q W by GEMM"
                      : p->score == ATTN_SCORE_COSINE   ? ", cosine: unit rows"
                      : p->score == ATTN_SCORE_ADDITIVE ? ", additive: avx2_tanh_a3"
                                                        : "";
  const char *mode = p->mode == ATTN_MODE_HARD      ? ", hard: argmax"
                     : p->mode == ATTN_MODE_LOCAL_M ? ", local-m: banded"
                     : p->mode == ATTN_MODE_LOCAL_P ? ", local-p: banded, rows by centre"
                                                    : "";
  char split[48] = "row blocks";
  if (pl->nsplit > 1) snprintf(split, sizeof split, "split-k x%lld (flash-decoding)", (long long)pl->nsplit);
  snprintf(pl->note, sizeof pl->note, "%s, rows %lld = %lld heads x %lld, keys %lld%s%s", split,
           (long long)pl->rows, (long long)pl->group, (long long)pl->qpos, (long long)pl->blk.keys, score,
           mode);
}

static attn_status avx2_plan_create(const attn_problem *p, const attn_config *cfg, void **out, char *why,
                                    size_t n) {
  const attn_status sup = avx2_supports(p, why, n);
  if (sup != ATTN_OK) return sup;
  if (!attn_cpu_has_avx2()) {
    snprintf(why, n, "this CPU or OS lacks AVX2/FMA");
    return ATTN_UNSUPPORTED;
  }
  avx2_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  avx2_layout(p, cfg->threads > 0 ? cfg->threads : 1, pl);
  /* Touched now: a first touch costs ~15 us per 4 KiB page on some VMs,
   * which must not land in the timed run(). */
  pl->arena = attn_alloc_touched(arena_bytes(pl));
  if (!pl->arena) {
    free(pl);
    return ATTN_ENOMEM;
  }
  char *at = pl->arena;
  pl->ws = (avx2_ws *)carve(&at, (size_t)pl->threads * sizeof(avx2_ws));
  carve_ws(pl, &at);
  pl->partial = pl->nsplit > 1 ? (float *)carve(&at, partial_bytes(pl)) : NULL;
  pl->parg = parg_bytes(pl) ? (int64_t *)carve(&at, parg_bytes(pl)) : NULL;
  carve_prep(pl, &at);
  attn_status st = plan_gemms(pl, cfg, why, n);
  if (st == ATTN_OK) st = attn_rescue_plan(&pl->rescue, p);
  if (st != ATTN_OK) {
    avx2_destroy(pl);
    return st;
  }
  plan_note(pl);
  *out = pl;
  return ATTN_OK;
}

/* The GEMMs and weight transposes of the scores and modes; they run their
 * own thread team, and the rest of the preparation runs in the forward
 * pass's (avx2_forward). */
static attn_status prepare_gemms(const avx2_plan *pl, const attn_tensors *t) {
  const attn_problem *p = &pl->p;
  attn_status st = ATTN_OK;
  if (p->score == ATTN_SCORE_GENERAL) st = gemm_blocked_run(pl->gemm_w, t->q, t->w, pl->qx);
  if (st == ATTN_OK && p->score == ATTN_SCORE_ADDITIVE) {
    attn_transpose(t->w1, pl->w1t, pl->da, p->d);
    attn_transpose(t->w2, pl->w2t, pl->da, p->d);
    for (int64_t a = 0; a < pl->da; a++) pl->ul[a] = (float)((double)t->u[a] * AVX2_LOG2E);
    st = gemm_blocked_run(pl->gemm_ka, t->k, pl->w1t, pl->kx);
    if (st == ATTN_OK) st = gemm_blocked_run(pl->gemm_qa, t->q, pl->w2t, pl->qx);
  }
  if (st == ATTN_OK && p->mode == ATTN_MODE_LOCAL_P) {
    attn_transpose(t->wp, pl->wpt, pl->da, p->d);
    st = gemm_blocked_run(pl->gemm_qa, t->q, pl->wpt, pl->proj);
  }
  return st;
}

static attn_status avx2_forward_all(void *plan, const attn_tensors *t) {
  const avx2_plan *pl = plan;
  if (!pl || !t || !t->q || !t->k || !t->v || !t->o || (pl->p.mask == ATTN_MASK_PAD && !t->lens))
    return ATTN_EINVAL;
  const attn_problem *p = &pl->p;
  if ((p->score == ATTN_SCORE_GENERAL && !t->w) ||
      (p->score == ATTN_SCORE_ADDITIVE && (!t->w1 || !t->w2 || !t->u)) ||
      (p->mode == ATTN_MODE_LOCAL_P && (!t->wp || !t->vp)))
    return ATTN_EINVAL;
  const attn_status st = prepare_gemms(pl, t);
  return st == ATTN_OK ? avx2_forward(pl, t) : st;
}

static attn_status avx2_run(void *plan, const attn_tensors *t) {
  if (!plan) return ATTN_EINVAL;
  return attn_run_rescued(&((const avx2_plan *)plan)->rescue, avx2_forward_all, plan, t);
}

static const char *avx2_plan_note(const void *plan) { return ((const avx2_plan *)plan)->note; }

static void avx2_describe(attn_emit_fn emit, void *ctx) {
  const avx2_block_row row = machine_blocks();
  char buf[64];
  snprintf(buf, sizeof buf, "%ld KiB", row.l1d / 1024);
  emit(ctx, "l1d", buf);
  snprintf(buf, sizeof buf, "%ld KiB", row.l2 / 1024);
  emit(ctx, "l2", buf);
  snprintf(buf, sizeof buf, "%lld", (long long)row.blk.rows);
  emit(ctx, "block_rows", buf);
  snprintf(buf, sizeof buf, "%lld", (long long)row.blk.keys);
  emit(ctx, "block_keys", buf);
  emit(ctx, "qk_kernel", "avx2_qk_6x16");
  emit(ctx, "pv_kernel", "avx2_pv_6x16");
  emit(ctx, "exp", "avx2_exp2_u3 (rel err <= 3*2^-24)");
  emit(ctx, "tanh", "avx2_tanh_a3 (abs err <= 3*2^-24)");
  emit(ctx, "additive_kernel", "avx2_additive_mx16");
  emit(ctx, "gauss", "avx2_gauss_block (exp2, rel err <= 10*2^-24 + exp's)");
}

static attn_status avx2_gemm_plan(const attn_gemm_shape *g, const attn_config *cfg, void **plan, char *why,
                                  size_t n) {
  return gemm_blocked_plan(&avx2_sgemm_6x16, g, cfg, plan, why, n);
}

const attn_backend attn_backend_avx2 = {
    .name = "avx2",
    .summary =
        "flash attention, fp32 AVX2+FMA 6x16 micro-kernels, online softmax; every score and mode (AVX2 tanh)",
    /* exp: avx2_exp2_u3's bound (exp2_avx2.h, asserted by test_exp_avx2);
     * it also covers glibc's expf and exp2f (< 1 ulp, 2^-23) in local-p's
     * sigmoid and the split merge. key_block: the smallest key block a plan
     * can choose; fewer keys per block would mean more rescales than the
     * tolerance allows for. tanh (additive scores, local-p centres):
     * avx2_tanh_a3's bound (tanh_avx2.h, asserted by test_tanh_avx2) plus
     * 2^-24 for the one rounding of u * log2(e) that each additive term
     * carries and the additive score error has no other slot for: with
     * |tanh| <= 1 it is at most |u_a| 2^-24. */
    .accuracy = {.exp_rel_err = AVX2_EXP2_REL_ERR,
                 .key_block = AVX2_MIN_KEY_BLOCK,
                 .tanh_abs_err = AVX2_TANH_ABS_ERR + 0x1p-24},
    .available = avx2_available,
    .supports = avx2_supports,
    .workspace_size = avx2_workspace,
    .plan = avx2_plan_create,
    .run = avx2_run,
    .destroy = avx2_destroy,
    .plan_note = avx2_plan_note,
    .describe = avx2_describe,
    .gemm_plan = avx2_gemm_plan,
    .gemm_run = gemm_blocked_run,
    .gemm_destroy = gemm_blocked_destroy,
};
