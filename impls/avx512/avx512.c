/* avx512: a flash-attention style fp32 kernel for AVX-512 CPUs.
 *
 * This file is the configuration (baseline flags, no intrinsics): the vtable,
 * availability, the block-size table and plan(). The loops are in
 * avx512_loops.c, the micro-kernels in avx512_wide.c / avx512_narrow.c
 * (compiled with the avx512 flags), the exp2 in avx512_exp.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include "attnbench/attn.h"
#include "attnbench/cpu.h"
#include "avx512/avx512_exp.h"
#include "avx512/avx512_kernels.h"
#include "avx512/avx512_plan.h"
#include "avx512/avx512_tanh.h"
#include "common/mem.h"
#include "common/variant.h"

/* Block sizes by cache size, first row that fits. A query block's working
 * set is Q^T (d x bq), O^T (dv x bq) and S^T (bk x bq) floats: 96 KiB at
 * bq = 64, bk = 128, d = dv = 128, L2-resident, while what a tile touches per
 * step (a few query vectors, a few key rows) stays in L1. Larger bq amortises
 * the K/V stream over more rows. bk is the same in every row: it is the
 * key_block the backend declares to the tolerance model (.accuracy), and on
 * Zen 5 bk = 64..128 and bq = 32..64 measured within noise of each other. */
typedef struct avx512_blocks {
  long l1d, l2; /* minimum cache sizes in bytes */
  int64_t bq, bk;
} avx512_blocks;

static const avx512_blocks block_table[] = {
    {48 * 1024, 1024 * 1024, 64, AVX512_BLOCK_K}, /* Zen 4/5, Ice Lake-SP and later */
    {32 * 1024, 1024 * 1024, 64, AVX512_BLOCK_K}, /* Skylake-SP, Cascade Lake */
    {32 * 1024, 256 * 1024, 32, AVX512_BLOCK_K},  /* small L2: halve Q^T, O^T and S^T */
    {0, 0, 32, AVX512_BLOCK_K},                   /* caches unknown */
};

static long cache_size(int name, long fallback) {
  const long v = sysconf(name);
  return v > 0 ? v : fallback;
}

static const avx512_blocks *blocks_for_this_cpu(long *l1d, long *l2) {
  *l1d = cache_size(_SC_LEVEL1_DCACHE_SIZE, 0);
  *l2 = cache_size(_SC_LEVEL2_CACHE_SIZE, 0);
  size_t i = 0;
  while (i + 1 < sizeof block_table / sizeof block_table[0] &&
         (*l1d < block_table[i].l1d || *l2 < block_table[i].l2))
    i++;
  return &block_table[i];
}

static int avx512_available(void) { return attn_cpu_has_avx512(); }

static attn_status check_problem(const attn_problem *p, char *why, size_t n) {
  if (p->dtype != ATTN_F32) {
    if (why && n) snprintf(why, n, "avx512 computes f32 only");
    return ATTN_UNSUPPORTED;
  }
  if (p->b < 1 || p->h < 1 || p->hkv < 1 || p->lq < 0 || p->lk < 0 || p->d < 1 || p->dv < 1 ||
      p->h % p->hkv) {
    if (why && n) snprintf(why, n, "malformed sizes (b, h, hkv, lq, lk, d, dv)");
    return ATTN_EINVAL;
  }
  if (p->lk > INT32_MAX || (p->h / p->hkv) * p->lq > INT32_MAX) {
    if (why && n)
      snprintf(why, n, "lk or (h / hkv) * lq above 2^31 - 1: keys and rows are kept as int32 lanes");
    return ATTN_UNSUPPORTED;
  }
  const int local = p->mode == ATTN_MODE_LOCAL_M || p->mode == ATTN_MODE_LOCAL_P;
  if (local && (p->window < (p->mode == ATTN_MODE_LOCAL_P) || p->window > INT32_MAX)) {
    if (why && n)
      snprintf(why, n, "mode=%s needs a window in %d..2^31 - 1", attn_mode_name(p->mode),
               p->mode == ATTN_MODE_LOCAL_P);
    return ATTN_EINVAL;
  }
  return ATTN_OK;
}

/* Every score with every mode: the score-tile producers (dot products on Q,
 * Q W or unit rows; additive tanh tiles) and the mode consumers (softmax,
 * argmax, windows, the Gaussian) are separate pieces (avx512_loops.c). */
static attn_status avx512_supports(const attn_problem *p, char *why, size_t n) {
  const unsigned scores = ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT) |
                          ATTN_SCORE_BIT(ATTN_SCORE_GENERAL) | ATTN_SCORE_BIT(ATTN_SCORE_ADDITIVE) |
                          ATTN_SCORE_BIT(ATTN_SCORE_COSINE);
  const unsigned modes = ATTN_MODE_BIT(ATTN_MODE_SOFT) | ATTN_MODE_BIT(ATTN_MODE_HARD) |
                         ATTN_MODE_BIT(ATTN_MODE_LOCAL_M) | ATTN_MODE_BIT(ATTN_MODE_LOCAL_P);
  const attn_status vs = attn_variant_supported(p, scores, modes, "avx512", why, n);
  if (vs != ATTN_OK) return vs;
  return check_problem(p, why, n);
}

/* mode=local-m: a query block of bq rows spans bq / group positions, so its
 * windows' union holds bq / group + 2 window + 1 keys against each row's
 * 2 window + 1: blocks no taller than a window's worth of rows keep the
 * wasted part of the work under half. */
static int64_t local_m_rows(const attn_problem *p, int64_t group, int64_t bq) {
  const int64_t fit = group * (2 * p->window + 1) / 16 * 16;
  return fit < 16 ? 16 : fit < bq ? fit : bq;
}

/* Key blocks a job walks (for the split-k decision): the union of its rows'
 * windows. */
static int64_t job_key_blocks(const attn_problem *p, const avx512_plan *pl) {
  int64_t keys = p->lk;
  if (p->mode == ATTN_MODE_LOCAL_M) {
    const int64_t band = (pl->bq + pl->group - 1) / pl->group + 2 * p->window + 1;
    keys = band < keys ? band : keys;
  }
  return (keys + pl->bk - 1) / pl->bk;
}

/* Everything plan() decides except the memory. */
static void decide(const attn_problem *p, int threads, avx512_plan *pl) {
  long l1d, l2;
  const avx512_blocks *bl = blocks_for_this_cpu(&l1d, &l2);
  pl->p = *p;
  pl->threads = threads > 0 ? threads : 1;
  pl->group = p->h / p->hkv;
  pl->job_rows = pl->group * p->lq;
  pl->additive = p->score == ATTN_SCORE_ADDITIVE;
  pl->sorted = p->mode == ATTN_MODE_LOCAL_P;
  pl->da = pl->additive || pl->sorted ? (p->da > 0 ? p->da : p->d) : 0;
  pl->lq_rows = p->b * p->h * p->lq;
  pl->lk_rows = p->b * p->hkv * p->lk;
  pl->narrow = pl->job_rows < AVX512_NARROW_ROWS && !pl->sorted;
  pl->bk = bl->bk;
  if (pl->narrow) {
    pl->bq = pl->job_rows;
    pl->qblocks = 1;
  } else {
    int64_t bq = bl->bq;
    /* Very wide heads: keep Q^T and O^T of a block within half of L2. */
    while (bq > 16 && l2 > 0 && (p->d + p->dv) * bq * (int64_t)sizeof(float) > l2 / 2) bq -= 16;
    if (p->mode == ATTN_MODE_LOCAL_M) bq = local_m_rows(p, pl->group, bq);
    const int64_t need = (pl->job_rows + 15) / 16 * 16;
    pl->bq = bq < need ? bq : need;
    /* local-p: jobs of up to bq rows come from the centres at run time
     * (avx512_prep.c), never split. */
    pl->qblocks = pl->sorted ? 0 : (pl->job_rows + pl->bq - 1) / pl->bq;
  }
  pl->jobs = p->b * p->hkv * pl->qblocks;
  /* Too few jobs to keep many threads busy to the end: cut each job's keys
   * into parts, handed out dynamically (a thread the OS preempts does not
   * hold up the others), whose partial states are merged in key order. The
   * parts are chosen from the problem alone, never from the thread count, so
   * that 1 and N threads sum in the same order and give the same bits: at
   * least AVX512_SPLIT_TASKS parts in all, each of at least
   * AVX512_SPLIT_MIN_BLOCKS key blocks (a merge per fewer keys would cost
   * more than it balances). On one thread the split costs the merge only. A
   * wave of jobs is in flight at once: one barrier per wave, and partial
   * states for at most about AVX512_SPLIT_TASKS parts. */
  const int64_t nblk = job_key_blocks(p, pl);
  int64_t parts = 1;
  if (!pl->sorted && pl->jobs > 0 && pl->jobs < AVX512_SPLIT_TASKS) {
    parts = (AVX512_SPLIT_TASKS + pl->jobs - 1) / pl->jobs;
    if (parts > nblk / AVX512_SPLIT_MIN_BLOCKS) parts = nblk / AVX512_SPLIT_MIN_BLOCKS;
    if (parts < 1) parts = 1;
  }
  pl->split = (int)parts;
  if (parts > 1) {
    const int64_t wave = AVX512_SPLIT_TASKS / parts;
    pl->wave = wave < 1 ? 1 : wave < pl->jobs ? wave : pl->jobs;
  } else {
    pl->wave = 0;
  }
  pl->qscale = (float)((double)attn_scale(p) * 1.4426950408889634);
  pl->dp = (p->d + 15) / 16 * 16;
  pl->dvp = (p->dv + 15) / 16 * 16;
  pl->rmax = pl->narrow ? AVX512_NARROW_ROWS : pl->bq;
  pl->thread_bytes = avx512_thread_bytes(pl);
  if (pl->sorted)
    snprintf(pl->note, sizeof pl->note, "centre-sorted jobs of <= %ld rows, bk %ld", (long)pl->bq,
             (long)pl->bk);
  else if (pl->split > 1)
    snprintf(pl->note, sizeof pl->note, "split-k x%d %s %ldx%ld", pl->split, pl->narrow ? "narrow" : "wide",
             (long)pl->bq, (long)pl->bk);
  else
    snprintf(pl->note, sizeof pl->note, "rows-parallel %s %ldx%ld", pl->narrow ? "narrow" : "wide",
             (long)pl->bq, (long)pl->bk);
}

static size_t part_floats(const avx512_plan *pl) {
  return pl->split > 1 ? (size_t)(pl->wave * pl->split * pl->rmax) * (size_t)(2 + pl->dvp) : 0;
}

/* mode=hard's split-k parts carry an argmax key per row besides the maximum. */
static size_t part_idx_count(const avx512_plan *pl) {
  return pl->split > 1 && pl->p.mode == ATTN_MODE_HARD ? (size_t)(pl->wave * pl->split * pl->rmax) : 0;
}

static size_t avx512_workspace(const attn_problem *p, const attn_config *cfg) {
  if (check_problem(p, NULL, 0) != ATTN_OK) return 0;
  avx512_plan pl;
  memset(&pl, 0, sizeof pl);
  decide(p, cfg->threads, &pl);
  return (size_t)pl.threads * pl.thread_bytes + part_floats(&pl) * sizeof(float) +
         part_idx_count(&pl) * sizeof(int32_t) + avx512_prep_bytes(&pl);
}

static void avx512_destroy(void *plan) {
  avx512_plan *pl = plan;
  if (!pl) return;
  free(pl->ws);
  free(pl->part_m);
  free(pl->part_idx);
  avx512_prep_free(pl);
  attn_rescue_free(&pl->rescue);
  free(pl);
}

static attn_status avx512_plan_create(const attn_problem *p, const attn_config *cfg, void **out, char *why,
                                      size_t n) {
  const attn_status st = check_problem(p, why, n);
  if (st != ATTN_OK) return st;
  avx512_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  decide(p, cfg->threads, pl);
  pl->ws = aligned_alloc(64, (size_t)pl->threads * pl->thread_bytes);
  const size_t pf = part_floats(pl);
  if (pf) {
    pl->part_m = aligned_alloc(64, (pf * sizeof(float) + 63) & ~(size_t)63);
    if (pl->part_m) {
      const size_t ms = (size_t)(pl->wave * pl->split * pl->rmax);
      pl->part_l = pl->part_m + ms;
      /* acc rows start on a cache line like the kernels' own buffers */
      pl->part_acc = pl->part_m + ((2 * ms + 15) & ~(size_t)15);
    }
  }
  const size_t pi = part_idx_count(pl);
  if (pi) pl->part_idx = attn_alloc_touched(pi * sizeof(int32_t));
  if (!pl->ws || (pf && !pl->part_m) || (pi && !pl->part_idx) ||
      attn_rescue_plan(&pl->rescue, p) != ATTN_OK) {
    avx512_destroy(pl);
    return ATTN_ENOMEM;
  }
  const attn_status ps = avx512_prep_alloc(pl, cfg, why, n);
  if (ps != ATTN_OK) {
    avx512_destroy(pl);
    return ps;
  }
  /* Each thread touches its own slice (page faults happen here, not in the
   * timed run, and pages land near the thread); this also starts the pool. */
#pragma omp parallel num_threads(pl->threads)
  for (int s = omp_get_thread_num(); s < pl->threads; s += omp_get_num_threads())
    memset(pl->ws + (size_t)s * pl->thread_bytes, 0, pl->thread_bytes);
  if (pf) memset(pl->part_m, 0, pf * sizeof(float));
  *out = pl;
  return ATTN_OK;
}

/* The weights the problem's score and mode read are there. */
static int has_weights(const attn_problem *p, const attn_tensors *t) {
  if (p->score == ATTN_SCORE_GENERAL && !t->w) return 0;
  if (p->score == ATTN_SCORE_ADDITIVE && (!t->w1 || !t->w2 || !t->u)) return 0;
  if (p->mode == ATTN_MODE_LOCAL_P && (!t->wp || !t->vp)) return 0;
  return 1;
}

static attn_status avx512_forward(void *plan, const attn_tensors *t) {
  const avx512_plan *pl = plan;
  if (!pl || !t || !t->q || !t->k || !t->v || !t->o || (pl->p.mask == ATTN_MASK_PAD && !t->lens) ||
      !has_weights(&pl->p, t))
    return ATTN_EINVAL;
  attn_tensors tx;
  const attn_status s = avx512_prepare(pl, t, &tx);
  return s == ATTN_OK ? avx512_run_loops(pl, &tx) : s;
}

static attn_status avx512_run(void *plan, const attn_tensors *t) {
  if (!plan) return ATTN_EINVAL;
  return attn_run_rescued(&((const avx512_plan *)plan)->rescue, avx512_forward, plan, t);
}

static const char *avx512_plan_note(const void *plan) {
  return plan ? ((const avx512_plan *)plan)->note : NULL;
}

static void avx512_describe(attn_emit_fn emit, void *ctx) {
  long l1d, l2;
  const avx512_blocks *bl = blocks_for_this_cpu(&l1d, &l2);
  char buf[96];
  snprintf(buf, sizeof buf, "%ld", (long)bl->bq);
  emit(ctx, "block_q", buf);
  snprintf(buf, sizeof buf, "%ld", (long)bl->bk);
  emit(ctx, "block_k", buf);
  snprintf(buf, sizeof buf, "L1d %ld KiB, L2 %ld KiB", l1d / 1024, l2 / 1024);
  emit(ctx, "block_table_key", buf);
  snprintf(buf, sizeof buf, "avx512_qkt_%dx%ld, avx512_pvt_%dx%ld (wide: query rows in lanes)",
           avx512_wide_tile((int)(bl->bq / 16)), (long)bl->bq, avx512_wide_tile((int)(bl->bq / 16)),
           (long)bl->bq);
  emit(ctx, "tiles", buf);
  emit(ctx, "decode_tiles", "avx512_qk_4x16, avx512_pv_4x64 (narrow: keys in lanes, jobs of < 16 rows)");
  snprintf(buf, sizeof buf, "%s, kc=%d mc=%d nc=%d (op=mha projections)", avx512_sgemm_12x32.name, GEMM_KC,
           GEMM_MC, GEMM_NC);
  emit(ctx, "gemm", buf);
  emit(ctx, "threads",
       "rows-parallel over (batch, kv head, query block) jobs; split-k (parts of >= 2 key blocks, "
       ">= 32 in all, merged in key order; the same at any thread count) when jobs < 32");
  snprintf(buf, sizeof buf, "avx512_exp2_u1 (max rel err %g)", AVX512_EXP2_REL_ERR);
  emit(ctx, "exp", buf);
  snprintf(buf, sizeof buf, "avx512_tanh_a22 (max abs err %g)", AVX512_TANH_ABS_ERR);
  emit(ctx, "tanh", buf);
  emit(ctx, "seq2seq",
       "general: Q W by the GEMM; cosine: unit queries, scores times 1/|k_j|; "
       "additive: K W1^T, Q W2^T by the GEMM, then avx512_addt_8x16/4x32/3x48/2x64 (wide), "
       "avx512_add_1x16 (narrow); hard: running argmax; local-m: only the key blocks of the rows' windows; "
       "local-p: rows sorted by centre, jobs of <= block_q rows");
}

static attn_status avx512_gemm_plan(const attn_gemm_shape *g, const attn_config *cfg, void **plan, char *why,
                                    size_t n) {
  return gemm_blocked_plan(&avx512_sgemm_12x32, g, cfg, plan, why, n);
}

const attn_backend attn_backend_avx512 = {
    .name = "avx512",
    .summary = "AVX-512 flash attention: tiled online softmax, fp32 FMA micro-kernels, split-k decode; "
               "every score and mode (vectorised tanh, banded local windows)",
    /* The exp2 bound (avx512_exp.h); the running maximum is rescaled at most
     * once per key block of AVX512_BLOCK_K keys, split-k merge included. The
     * tanh bound (avx512_tanh.h, additive scores and local-p centres) plus
     * 2^-23 for the rounding of u * log2(e) (avx512_prep.c), which the
     * tolerance sees per additive term as tanh error. */
    .accuracy = {.exp_rel_err = AVX512_EXP2_REL_ERR,
                 .key_block = AVX512_BLOCK_K,
                 .tanh_abs_err = AVX512_TANH_ABS_ERR + 0x1p-23},
    .available = avx512_available,
    .supports = avx512_supports,
    .workspace_size = avx512_workspace,
    .plan = avx512_plan_create,
    .run = avx512_run,
    .destroy = avx512_destroy,
    .plan_note = avx512_plan_note,
    .describe = avx512_describe,
    .gemm_plan = avx512_gemm_plan,
    .gemm_run = gemm_blocked_run,
    .gemm_destroy = gemm_blocked_destroy,
};
