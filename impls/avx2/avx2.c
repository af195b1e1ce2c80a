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

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
static int64_t gcd64(int64_t a, int64_t b) { return b ? gcd64(b, a % b) : a; }
static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Bytes of one thread's scratch. */
static size_t ws_bytes(int64_t rows, int64_t keys, int64_t d, int64_t dvp) {
  return align64((size_t)(rows * d) * sizeof(float)) + align64((size_t)(d * keys) * sizeof(float)) +
         align64((size_t)(rows * keys) * sizeof(float)) + align64((size_t)(rows * dvp) * sizeof(float)) +
         3 * align64((size_t)rows * sizeof(float)) + 2 * align64((size_t)rows * sizeof(int64_t)) +
         align64((size_t)(rows / AVX2_MR + 1) * sizeof(int64_t));
}

/* Everything plan() decides, without allocating: shared with workspace_size. */
static void avx2_layout(const attn_problem *p, int threads, avx2_plan *pl) {
  const avx2_block_row row = machine_blocks();
  avx2_blocking blk = row.blk;
  const int64_t dvp = round_up(p->dv, AVX2_NR);
  /* Large head dims: shrink the row block, then the key block, until a
   * thread's working set is at most half of L2. */
  const size_t budget = row.l2 > 0 ? (size_t)row.l2 / 2 : (size_t)256 * 1024;
  while (blk.rows > AVX2_MR && ws_bytes(blk.rows, blk.keys, p->d, dvp) > budget) blk.rows -= AVX2_MR;
  while (blk.keys > AVX2_MIN_KEY_BLOCK && ws_bytes(blk.rows, blk.keys, p->d, dvp) > budget)
    blk.keys -= AVX2_NR;

  const int64_t group = p->h / p->hkv, heads = p->b * p->hkv;
  /* Positions per block in units that make rows a multiple of AVX2_MR, so
   * that only the last block of a head has edge tiles. */
  const int64_t unit = AVX2_MR / gcd64(AVX2_MR, group);
  int64_t qpos = blk.rows / group;
  if (qpos >= unit) qpos -= qpos % unit;
  if (qpos < 1) qpos = 1;
  if (qpos > p->lq) qpos = p->lq;
  int64_t nqb = ceil_div(p->lq, qpos);
  /* Too few items for the threads: cut the query blocks finer first, down
   * to one micro-tile of rows... */
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
  pl->qscale = (float)((double)attn_scale(p) * 1.4426950408889634074);
  /* ...then split the key range (flash-decoding), at key-block boundaries
   * so that a row is rescaled no more often than without the split. */
  const int64_t nkb = ceil_div(p->lk, blk.keys);
  int64_t nsplit = 1;
  if (threads > 1 && pl->items < want && nkb > 1) {
    nsplit = ceil_div(2 * want, pl->items);
    if (nsplit > nkb) nsplit = nkb;
  }
  pl->kspan = ceil_div(nkb, nsplit) * blk.keys;
  pl->nsplit = ceil_div(p->lk, pl->kspan);
}

static size_t partial_bytes(const avx2_plan *pl) {
  return pl->nsplit > 1 ? (size_t)(pl->items * pl->nsplit * pl->rows * (pl->dvp + 2)) * sizeof(float) : 0;
}

static size_t arena_bytes(const avx2_plan *pl) {
  return align64((size_t)pl->threads * sizeof(avx2_ws)) +
         (size_t)pl->threads * ws_bytes(pl->rows, pl->blk.keys, pl->p.d, pl->dvp) +
         align64(partial_bytes(pl));
}

static int avx2_available(void) { return attn_cpu_has_avx2(); }

static attn_status avx2_supports(const attn_problem *p, char *why, size_t n) {
  attn_status vs =
      attn_variant_supported(p, ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT),
                             ATTN_MODE_BIT(ATTN_MODE_SOFT), "avx2", why, n);
  if (vs != ATTN_OK) return vs;
  if (p->dtype != ATTN_F32) {
    snprintf(why, n, "only f32");
    return ATTN_UNSUPPORTED;
  }
  return ATTN_OK;
}

static size_t avx2_workspace(const attn_problem *p, const attn_config *cfg) {
  avx2_plan pl;
  avx2_layout(p, cfg->threads > 0 ? cfg->threads : 1, &pl);
  return arena_bytes(&pl);
}

static char *carve(char **at, size_t bytes) {
  char *p = *at;
  *at += align64(bytes);
  return p;
}

static attn_status avx2_plan_create(const attn_problem *p, const attn_config *cfg, void **out, char *why,
                                    size_t n) {
  if (avx2_supports(p, why, n) != ATTN_OK) return ATTN_UNSUPPORTED;
  if (!attn_cpu_has_avx2()) {
    snprintf(why, n, "this CPU or OS lacks AVX2/FMA");
    return ATTN_UNSUPPORTED;
  }
  avx2_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  avx2_layout(p, cfg->threads > 0 ? cfg->threads : 1, pl);
  const size_t bytes = arena_bytes(pl);
  pl->arena = aligned_alloc(64, align64(bytes));
  if (!pl->arena) {
    free(pl);
    return ATTN_ENOMEM;
  }
  /* Fault every page in now: a first touch costs ~15 us per 4 KiB page on
   * some VMs, which must not land in the timed run(). */
  memset(pl->arena, 0, align64(bytes));
  char *at = pl->arena;
  pl->ws = (avx2_ws *)carve(&at, (size_t)pl->threads * sizeof(avx2_ws));
  const int64_t rows = pl->rows, keys = pl->blk.keys, d = p->d;
  for (int i = 0; i < pl->threads; i++) {
    avx2_ws *w = &pl->ws[i];
    w->q = (float *)carve(&at, (size_t)(rows * d) * sizeof(float));
    w->kt = (float *)carve(&at, (size_t)(d * keys) * sizeof(float));
    w->s = (float *)carve(&at, (size_t)(rows * keys) * sizeof(float));
    w->o = (float *)carve(&at, (size_t)(rows * pl->dvp) * sizeof(float));
    w->m = (float *)carve(&at, (size_t)rows * sizeof(float));
    w->l = (float *)carve(&at, (size_t)rows * sizeof(float));
    w->alpha = (float *)carve(&at, (size_t)rows * sizeof(float));
    w->end = (int64_t *)carve(&at, (size_t)rows * sizeof(int64_t));
    w->cnt = (int64_t *)carve(&at, (size_t)rows * sizeof(int64_t));
    w->tk = (int64_t *)carve(&at, (size_t)(rows / AVX2_MR + 1) * sizeof(int64_t));
  }
  pl->partial = pl->nsplit > 1 ? (float *)carve(&at, partial_bytes(pl)) : NULL;
  if (pl->nsplit > 1)
    snprintf(
        pl->note, sizeof pl->note, "split-k x%lld (flash-decoding), rows %lld = %lld heads x %lld, keys %lld",
        (long long)pl->nsplit, (long long)rows, (long long)pl->group, (long long)pl->qpos, (long long)keys);
  else
    snprintf(pl->note, sizeof pl->note, "row blocks, rows %lld = %lld heads x %lld, keys %lld",
             (long long)rows, (long long)pl->group, (long long)pl->qpos, (long long)keys);
  *out = pl;
  return ATTN_OK;
}

static attn_status avx2_run(void *plan, const attn_tensors *t) {
  const avx2_plan *pl = plan;
  if (!pl || !t || !t->q || !t->k || !t->v || !t->o || (pl->p.mask == ATTN_MASK_PAD && !t->lens))
    return ATTN_EINVAL;
  return avx2_forward(pl, t);
}

static void avx2_destroy(void *plan) {
  avx2_plan *pl = plan;
  if (!pl) return;
  free(pl->arena);
  free(pl);
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
}

static attn_status avx2_gemm_plan(const attn_gemm_shape *g, const attn_config *cfg, void **plan, char *why,
                                  size_t n) {
  return gemm_blocked_plan(&avx2_sgemm_6x16, g, cfg, plan, why, n);
}

const attn_backend attn_backend_avx2 = {
    .name = "avx2",
    .summary = "flash attention, fp32 AVX2+FMA 6x16 micro-kernels, online softmax",
    /* exp: avx2_exp2_u3's bound (exp2_avx2.h, asserted by test_exp_avx2).
     * key_block: the smallest key block a plan can choose; fewer keys per
     * block would mean more rescales than the tolerance allows for. */
    .accuracy = {.exp_rel_err = AVX2_EXP2_REL_ERR, .key_block = AVX2_MIN_KEY_BLOCK},
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
