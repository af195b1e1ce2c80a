/* onednn: attention composed of oneDNN 2.x primitives, the library baseline.
 *
 * The score tensor is cut into tiles of kv-head groups x query rows (see
 * tiling_of); small problems are a single tile, all b*h heads in one execution
 * of each primitive. Per tile:
 *   qk       matmul S = scale * Q K^T (output-scales attribute; K^T is K seen
 *            through column-major strides, no copy)
 *   mask     causal: a reorder with a sum post-op adds a -inf triangle to the
 *            diagonal block of S only; pad: a binary add of a [b*hkv, 1, 1, lk]
 *            -inf row, fused into qk as a post-op when oneDNN has an optimised
 *            kernel for that, else a binary primitive
 *   softmax  softmax primitive on the last axis, in place
 *   pv       matmul O = P V, written straight into the output rows
 *
 * Heads are viewed as [b*hkv, g, rows, dim] with g = h / hkv: query heads that
 * share a key/value head are adjacent in Q and O, and K, V have a size-1 g
 * dimension that matmul broadcasts. (A stride-0 g dimension is accepted too,
 * but oneDNN 2.6 then falls back to its reference matmul.) Causal tiles only
 * compute the keys their last row sees.
 *
 * A row with no visible key must be zero, while softmax of all -inf is NaN:
 * causal rows that see nothing (lq > lk) are left out of the tiles and zeroed,
 * and batches with pad length 0 are zeroed after the primitives ran.
 *
 * Everything oneDNN needs is created in plan(); run() sets data handles and
 * executes. Inside execute oneDNN still allocates a little bookkeeping, and
 * its gemm:jit matmul (which it picks for row tiles: its brg kernels need
 * dense batch strides) its packing buffers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "attnbench/attn.h"
#include "common/mem.h"
#include "onednn/onednn_gemm.h"
#include "common/variant.h"

/* Tiling of the scores [b*hkv][g][lq][lk]. Measured at h=16, lq=lk=4096,
 * d=128 on one core (oneDNN 2.6, AVX-512): one tile of all heads x 256 rows
 * (64 MiB) ran at 68-72 ms per head, one head x 1024 rows (16 MiB) at 54-56:
 * the scores are written by qk, read and written by softmax and read by pv,
 * and a tile that stays in cache between them saves three memory passes;
 * below ~256 rows the matmuls lose efficiency (64 rows: 74 ms). */
#define ONEDNN_TILE_BYTES ((int64_t)16 << 20) /* target score tile */
#define ONEDNN_MIN_ROWS   256                 /* query rows per tile, if lq has them */
#define ONEDNN_CAP_BYTES  ((int64_t)64 << 20) /* hard bound: lq = lk = 16384 stays bounded */
/* Causal tiles compute only the keys up to their last row, so shorter tiles
 * skip more of the masked triangle, against less efficient matmuls: lq / 8
 * rows within [128, 256]. At h=16, d=128, 2 threads, lq=512 ran at 242
 * GFLOP/s in 256-row tiles, 291 in 128; lq=1024 289 and 327; from lq=2048
 * 256 rows won (323 against 307 in 128, 303 in 512). */
#define ONEDNN_CAUSAL_MIN_ROWS 128
#define ONEDNN_CAUSAL_MAX_ROWS 256

enum { STEP_QK, STEP_MASK, STEP_SOFTMAX, STEP_PV, STEPS };
static const char *const step_names[STEPS] = {"qk", "mask", "softmax", "pv"};

typedef enum mask_path {
  MASK_NONE,
  MASK_TRIANGLE, /* causal: reorder + sum of a -inf triangle into S's diagonal block */
  MASK_PAD,      /* pad: binary add of a -inf row, fused into qk or a primitive of its own */
} mask_path;

typedef struct onednn_step {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_memory_t scratch;
  dnnl_exec_arg_t args[5];
  int nargs;
} onednn_step;

/* The primitives of one chunk shape; chunks of equal shape share them. */
typedef struct onednn_set {
  int64_t groups; /* kv-head groups (of b*hkv) in the chunk */
  int64_t rows;   /* query rows in the chunk */
  int64_t cols;   /* keys any row of the chunk sees: columns of S */
  int64_t masked; /* trailing columns that only some rows see (causal) */
  int fused;      /* pad: the mask is a post-op of qk, else a binary primitive */
  int stacked;    /* whole heads: a group's g heads are one matrix of g*rows rows */
  dnnl_memory_t q, k, s, v, o, mask_src, mask_dst;
  onednn_step step[STEPS];
} onednn_set;

typedef struct onednn_chunk {
  int64_t x0; /* first kv-head group, of b*hkv */
  int64_t i0; /* first query row */
  int set;
} onednn_chunk;

typedef struct onednn_plan {
  attn_problem p;
  int threads;
  mask_path mask;
  int64_t r0;   /* causal, lq > lk: rows [0, r0) see no key and are zeroed */
  int64_t rc;   /* query rows per chunk */
  int64_t xc;   /* kv-head groups per chunk */
  int64_t trow; /* row stride of the triangle */
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  float *scores;   /* [groups][g][rows][cols] of the current chunk */
  float *triangle; /* [rc][trow]: 0 where column < row, else -inf */
  float *padmask;  /* [b*hkv][lk]: 0 for j < lens[batch], else -inf; written by run() */
  void *scratch;   /* shared by every primitive: they run one after another */
  size_t scratch_bytes;
  onednn_set *sets;
  int nsets;
  onednn_chunk *chunks;
  int64_t nchunks;
  char note[512];
} onednn_plan;

static attn_status from_dnnl(dnnl_status_t s, const char *what, char *why, size_t n) {
  if (why && n) snprintf(why, n, "oneDNN %s: %s", what, dnnl_status2str(s));
  if (s == dnnl_out_of_memory) return ATTN_ENOMEM;
  if (s == dnnl_unimplemented) return ATTN_UNSUPPORTED; /* no implementation for this shape */
  return ATTN_EBACKEND;
}

#define TRY(what, call)                                                                                      \
  do {                                                                                                       \
    dnnl_status_t s_ = (call);                                                                               \
    if (s_ != dnnl_success) return from_dnnl(s_, what, why, n);                                              \
  } while (0)

static const char *isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
  case dnnl_cpu_isa_all: return "all";
  case dnnl_cpu_isa_sse41: return "sse41";
  case dnnl_cpu_isa_avx: return "avx";
  case dnnl_cpu_isa_avx2: return "avx2";
  case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
  case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
  case dnnl_cpu_isa_avx512_core: return "avx512_core";
  case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
  case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
  case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
  case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
  }
  return "unknown";
}

static int onednn_available(void) { return dnnl_engine_get_count(dnnl_cpu) > 0; }

static attn_status onednn_supports(const attn_problem *p, char *why, size_t n) {
  attn_status vs =
      attn_variant_supported(p, ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT),
                             ATTN_MODE_BIT(ATTN_MODE_SOFT), "onednn", why, n);
  if (vs != ATTN_OK) return vs;
  if (p->dtype != ATTN_F32) {
    if (why && n) snprintf(why, n, "only f32 is wired up");
    return ATTN_UNSUPPORTED;
  }
  /* The accuracy this backend declares holds for oneDNN's AVX2 and AVX-512
   * exp; its SSE4.1 exp was measured 35 * 2^-23 off (see .accuracy). */
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  if ((isa & dnnl_cpu_isa_avx2) != dnnl_cpu_isa_avx2) {
    if (why && n)
      snprintf(why, n,
               "oneDNN dispatches below AVX2 here (max ISA %s), where its exp exceeds the declared bound",
               isa_name(isa));
    return ATTN_UNSUPPORTED;
  }
  return ATTN_OK;
}

/* The end of the visible key prefix every chunk is planned for; pad lengths
 * arrive with the tensors, so pad is planned as all keys plus a mask. */
static int64_t plan_end(const attn_problem *p, int64_t i) {
  return p->mask == ATTN_MASK_PAD ? p->lk : attn_visible_end(p, NULL, 0, i);
}

/* Rows with no visible key at all (causal with lq > lk) are left out of the
 * chunks; visible ends are nondecreasing in the row, so they come first. */
static int64_t first_row(const attn_problem *p) {
  int64_t r = 0;
  while (r < p->lq && plan_end(p, r) == 0) r++;
  return r;
}

typedef struct tiling {
  int64_t r0; /* first row with a visible key */
  int64_t rc; /* query rows per tile */
  int64_t xc; /* kv-head groups per tile */
} tiling;

/* Rows first (enough for the matmuls, few enough for the tile), then as many
 * kv-head groups as the tile target holds. Causal tiles take the fewest rows:
 * a tile computes the triangle above its rows' visible ends and masks it, a
 * share of rows / (2 * mean visible keys), 25% at lq = lk = 4096 with 1024
 * rows, 6% with 256 (measured there: 1024 rows 1.5x slower than 256). One
 * query row of one group larger than the cap (g*lk > 16M floats) still makes
 * a tile of one row. */
static tiling tiling_of(const attn_problem *p) {
  const int64_t g = p->h / p->hkv, row = g * p->lk * (int64_t)sizeof(float);
  const int causal = p->mask == ATTN_MASK_CAUSAL || p->mask == ATTN_MASK_CAUSAL_TL;
  tiling t = {.r0 = first_row(p)};
  if (causal) {
    t.rc = p->lq / 8;
    if (t.rc < ONEDNN_CAUSAL_MIN_ROWS) t.rc = ONEDNN_CAUSAL_MIN_ROWS;
    if (t.rc > ONEDNN_CAUSAL_MAX_ROWS) t.rc = ONEDNN_CAUSAL_MAX_ROWS;
  } else {
    t.rc = ONEDNN_TILE_BYTES / row;
    if (t.rc < ONEDNN_MIN_ROWS) t.rc = ONEDNN_MIN_ROWS;
  }
  if (t.rc > ONEDNN_CAP_BYTES / row) t.rc = ONEDNN_CAP_BYTES / row;
  if (t.rc < 1) t.rc = 1;
  if (t.rc > p->lq - t.r0) t.rc = p->lq - t.r0;
  t.xc = ONEDNN_TILE_BYTES / (t.rc * row);
  if (t.xc < 1) t.xc = 1;
  if (t.xc > p->b * p->hkv) t.xc = p->b * p->hkv;
  return t;
}

static int64_t triangle_width(const attn_problem *p, int64_t rc) { return rc < p->lk ? rc : p->lk; }

static size_t onednn_workspace(const attn_problem *p, const attn_config *cfg) {
  (void)cfg;
  const tiling t = tiling_of(p);
  size_t bytes = (size_t)(t.xc * (p->h / p->hkv) * t.rc * p->lk) * sizeof(float);
  if (p->mask == ATTN_MASK_CAUSAL || p->mask == ATTN_MASK_CAUSAL_TL)
    bytes += (size_t)(t.rc * triangle_width(p, t.rc)) * sizeof(float);
  if (p->mask == ATTN_MASK_PAD) bytes += (size_t)(p->b * p->hkv * p->lk) * sizeof(float);
  return bytes; /* plus each primitive's scratchpad, known only once planned */
}

static attn_status md_strided(dnnl_memory_desc_t *md, const dnnl_dims_t dims, const dnnl_dims_t strides,
                              char *why, size_t n) {
  TRY("memory_desc_init_by_strides", dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides));
  return ATTN_OK;
}

static attn_status mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t e, void *handle,
                       char *why, size_t n) {
  /* DNNL_MEMORY_NONE: the handle is set before each execution, nothing allocated. */
  TRY("memory_create", dnnl_memory_create(m, md, e, handle ? handle : DNNL_MEMORY_NONE));
  return ATTN_OK;
}

/* An attribute with a user scratchpad: one buffer that plan() allocates and
 * touches, shared by all primitives since they run one after another, rather
 * than a private library-owned one per primitive (Debian builds oneDNN with
 * DNNL_ENABLE_CONCURRENT_EXEC). */
static attn_status attr_new(dnnl_primitive_attr_t *a, char *why, size_t n) {
  TRY("primitive_attr_create", dnnl_primitive_attr_create(a));
  dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(*a, dnnl_scratchpad_mode_user);
  if (s != dnnl_success) {
    dnnl_primitive_attr_destroy(*a);
    *a = NULL;
    return from_dnnl(s, "primitive_attr_set_scratchpad_mode", why, n);
  }
  return ATTN_OK;
}

static const char *impl_of(const onednn_step *st) {
  const char *impl = NULL;
  if (!st->pd || dnnl_primitive_desc_query(st->pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success)
    return NULL;
  return impl;
}

/* Creates the primitive of a step whose pd is set, and records the scratchpad it needs. */
static attn_status step_finish(onednn_plan *pl, onednn_step *st, char *why, size_t n) {
  TRY("primitive_create", dnnl_primitive_create(&st->prim, st->pd));
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(st->pd, dnnl_query_scratchpad_md, 0);
  size_t bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
  if (bytes > pl->scratch_bytes) pl->scratch_bytes = bytes;
  return ATTN_OK;
}

static void arg(onednn_step *st, int kind, dnnl_memory_t m) {
  st->args[st->nargs].arg = kind;
  st->args[st->nargs].memory = m;
  st->nargs++;
}

static attn_status matmul_pd(onednn_plan *pl, onednn_step *st, const dnnl_memory_desc_t *src,
                             const dnnl_memory_desc_t *wei, const dnnl_memory_desc_t *dst, const float *scale,
                             const dnnl_memory_desc_t *post_add, char *why, size_t n) {
  dnnl_matmul_desc_t op;
  TRY("matmul_desc_init", dnnl_matmul_desc_init(&op, src, wei, NULL, dst));
  dnnl_primitive_attr_t attr;
  attn_status rc = attr_new(&attr, why, n);
  if (rc != ATTN_OK) return rc;
  dnnl_post_ops_t po = NULL;
  dnnl_status_t s = dnnl_success;
  const char *what = "primitive_attr_set_output_scales";
  if (scale) s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, scale);
  if (s == dnnl_success && post_add) {
    what = "post_ops (binary add)";
    s = dnnl_post_ops_create(&po);
    if (s == dnnl_success) s = dnnl_post_ops_append_binary(po, dnnl_binary_add, post_add);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
  }
  if (s == dnnl_success) {
    what = "matmul primitive_desc_create";
    s = dnnl_primitive_desc_create(&st->pd, &op, attr, pl->engine, NULL);
  }
  if (po) dnnl_post_ops_destroy(po);
  dnnl_primitive_attr_destroy(attr);
  if (s != dnnl_success) {
    st->pd = NULL;
    return from_dnnl(s, what, why, n);
  }
  return ATTN_OK;
}

/* Builds the primitives for chunks of `rows` rows that see `cols` keys, the
 * last `masked` of them only partly. */
static attn_status set_build(onednn_plan *pl, onednn_set *set, char *why, size_t n) {
  const attn_problem *p = &pl->p;
  const int64_t x = set->groups, cols = set->cols;
  const int64_t d = p->d, dv = p->dv, lq = p->lq, lk = p->lk;
  /* A chunk of whole heads under a mask that is the same for every head's
   * row i (none, pad) stacks the g heads of a group into one matrix of g*lq
   * rows: their rows are adjacent in Q, S and O. One matmul then reads each
   * K and V once per group instead of once per head, which decode (lq = 1,
   * an M = 1 product per head) is bound by. */
  const int stacked = set->stacked = set->rows == lq && pl->mask != MASK_TRIANGLE;
  const int64_t group = p->h / p->hkv, g = stacked ? 1 : group, rows = stacked ? group * lq : set->rows;
  const float scale = attn_scale(p);
  dnnl_memory_desc_t qmd, kmd, smd, vmd, omd, padmd;
  attn_status rc;

  /* Q rows [i0, i0 + rows) of the chunk's heads: strides are the full
   * tensor's (with stacked heads, g = 1 and rows spans the group). */
  if ((rc = md_strided(&qmd, (dnnl_dims_t){x, g, rows, d}, (dnnl_dims_t){group * lq * d, lq * d, d, 1}, why,
                       n)))
    return rc;
  /* K^T: the first `cols` keys, read column-major. */
  if ((rc = md_strided(&kmd, (dnnl_dims_t){x, 1, d, cols}, (dnnl_dims_t){lk * d, lk * d, 1, d}, why, n)))
    return rc;
  if ((rc = md_strided(&smd, (dnnl_dims_t){x, g, rows, cols},
                       (dnnl_dims_t){g * rows * cols, rows * cols, cols, 1}, why, n)))
    return rc;
  if ((rc = md_strided(&vmd, (dnnl_dims_t){x, 1, cols, dv}, (dnnl_dims_t){lk * dv, lk * dv, dv, 1}, why, n)))
    return rc;
  if ((rc = md_strided(&omd, (dnnl_dims_t){x, g, rows, dv}, (dnnl_dims_t){group * lq * dv, lq * dv, dv, 1},
                       why, n)))
    return rc;
  if ((rc = mem(&set->q, &qmd, pl->engine, NULL, why, n)) ||
      (rc = mem(&set->k, &kmd, pl->engine, NULL, why, n)) ||
      (rc = mem(&set->s, &smd, pl->engine, pl->scores, why, n)) ||
      (rc = mem(&set->v, &vmd, pl->engine, NULL, why, n)) ||
      (rc = mem(&set->o, &omd, pl->engine, NULL, why, n)))
    return rc;

  onednn_step *qk = &set->step[STEP_QK];
  if (pl->mask == MASK_PAD) {
    if ((rc = md_strided(&padmd, (dnnl_dims_t){x, 1, 1, cols}, (dnnl_dims_t){lk, lk, lk, 1}, why, n)) ||
        (rc = mem(&set->mask_src, &padmd, pl->engine, pl->padmask, why, n)))
      return rc;
    /* Fused only if oneDNN has an optimised kernel for it (the broadcast
     * strategies of its post-op injector are limited); a reference matmul
     * would cost far more than the extra pass of a binary primitive. */
    if ((rc = matmul_pd(pl, qk, &qmd, &kmd, &smd, &scale, &padmd, why, n))) return rc;
    const char *impl = impl_of(qk);
    set->fused = !(impl && strncmp(impl, "ref", 3) == 0);
    if (!set->fused) {
      dnnl_primitive_desc_destroy(qk->pd);
      qk->pd = NULL;
    }
  }
  if (!qk->pd && (rc = matmul_pd(pl, qk, &qmd, &kmd, &smd, &scale, NULL, why, n))) return rc;
  if ((rc = step_finish(pl, qk, why, n))) return rc;
  arg(qk, DNNL_ARG_SRC, set->q);
  arg(qk, DNNL_ARG_WEIGHTS, set->k);
  arg(qk, DNNL_ARG_DST, set->s);
  if (set->fused) arg(qk, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, set->mask_src);

  onednn_step *mk = &set->step[STEP_MASK];
  dnnl_primitive_attr_t attr;
  if (pl->mask == MASK_TRIANGLE && set->masked > 0) {
    /* S[.., r, c0 + x] += triangle[r][x], c0 = cols - masked: the same lower
     * triangle for every chunk (visible ends grow by one per row), read with
     * stride 0 across heads. Reorder with sum is oneDNN's strided in-place
     * add: a binary primitive on a strided view of S is reference-only. */
    const int64_t mw = set->masked;
    dnnl_memory_desc_t tmd, dmd;
    if ((rc = md_strided(&tmd, (dnnl_dims_t){x, g, rows, mw}, (dnnl_dims_t){0, 0, pl->trow, 1}, why, n)) ||
        (rc = md_strided(&dmd, (dnnl_dims_t){x, g, rows, mw},
                         (dnnl_dims_t){g * rows * cols, rows * cols, cols, 1}, why, n)) ||
        (rc = mem(&set->mask_src, &tmd, pl->engine, pl->triangle, why, n)) ||
        (rc = mem(&set->mask_dst, &dmd, pl->engine, pl->scores + (cols - mw), why, n)))
      return rc;
    if ((rc = attr_new(&attr, why, n))) return rc;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t s = dnnl_post_ops_create(&po);
    if (s == dnnl_success) s = dnnl_post_ops_append_sum(po, 1.0f);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    if (s == dnnl_success)
      s = dnnl_reorder_primitive_desc_create(&mk->pd, &tmd, pl->engine, &dmd, pl->engine, attr);
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) {
      mk->pd = NULL;
      return from_dnnl(s, "reorder (masked add) primitive_desc_create", why, n);
    }
    if ((rc = step_finish(pl, mk, why, n))) return rc;
    arg(mk, DNNL_ARG_FROM, set->mask_src);
    arg(mk, DNNL_ARG_TO, set->mask_dst);
  } else if (pl->mask == MASK_PAD && !set->fused) {
    dnnl_binary_desc_t op;
    TRY("binary_desc_init", dnnl_binary_desc_init(&op, dnnl_binary_add, &smd, &padmd, &smd));
    if ((rc = attr_new(&attr, why, n))) return rc;
    dnnl_status_t s = dnnl_primitive_desc_create(&mk->pd, &op, attr, pl->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) {
      mk->pd = NULL;
      return from_dnnl(s, "binary primitive_desc_create", why, n);
    }
    if ((rc = step_finish(pl, mk, why, n))) return rc;
    arg(mk, DNNL_ARG_SRC_0, set->s);
    arg(mk, DNNL_ARG_SRC_1, set->mask_src);
    arg(mk, DNNL_ARG_DST, set->s);
  }

  onednn_step *sm = &set->step[STEP_SOFTMAX];
  dnnl_softmax_desc_t smop;
  TRY("softmax_forward_desc_init", dnnl_softmax_forward_desc_init(&smop, dnnl_forward_inference, &smd, 3));
  if ((rc = attr_new(&attr, why, n))) return rc;
  dnnl_status_t s = dnnl_primitive_desc_create(&sm->pd, &smop, attr, pl->engine, NULL);
  dnnl_primitive_attr_destroy(attr);
  if (s != dnnl_success) {
    sm->pd = NULL;
    return from_dnnl(s, "softmax primitive_desc_create", why, n);
  }
  if ((rc = step_finish(pl, sm, why, n))) return rc;
  arg(sm, DNNL_ARG_SRC, set->s);
  arg(sm, DNNL_ARG_DST, set->s);

  onednn_step *pv = &set->step[STEP_PV];
  if ((rc = matmul_pd(pl, pv, &smd, &vmd, &omd, NULL, NULL, why, n)) || (rc = step_finish(pl, pv, why, n)))
    return rc;
  arg(pv, DNNL_ARG_SRC, set->s);
  arg(pv, DNNL_ARG_WEIGHTS, set->v);
  arg(pv, DNNL_ARG_DST, set->o);
  return ATTN_OK;
}

/* Hands the shared scratchpad to every step that wants one. */
static attn_status attach_scratch(onednn_plan *pl, char *why, size_t n) {
  if (pl->scratch_bytes == 0) return ATTN_OK;
  pl->scratch = attn_alloc_touched(pl->scratch_bytes);
  if (!pl->scratch) return ATTN_ENOMEM;
  for (int i = 0; i < pl->nsets; i++)
    for (int j = 0; j < STEPS; j++) {
      onednn_step *st = &pl->sets[i].step[j];
      if (!st->pd) continue;
      const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(st->pd, dnnl_query_scratchpad_md, 0);
      if (!smd || dnnl_memory_desc_get_size(smd) == 0) continue;
      TRY("memory_create (scratchpad)", dnnl_memory_create(&st->scratch, smd, pl->engine, pl->scratch));
      arg(st, DNNL_ARG_SCRATCHPAD, st->scratch);
    }
  return ATTN_OK;
}

/* The impl string each step chose, distinct values joined by '|'. */
static void build_note(onednn_plan *pl) {
  size_t at = 0, cap = sizeof pl->note;
  pl->note[0] = 0;
  for (int j = 0; j < STEPS; j++) {
    const char *seen[4];
    int nseen = 0;
    for (int i = 0; i < pl->nsets && nseen < 4; i++) {
      const char *impl = impl_of(&pl->sets[i].step[j]);
      int dup = !impl;
      for (int k = 0; k < nseen && !dup; k++) dup = !strcmp(seen[k], impl);
      if (!dup) seen[nseen++] = impl;
    }
    if (!nseen) continue;
    const char *kind = "";
    if (j == STEP_MASK) kind = pl->mask == MASK_TRIANGLE ? "reorder+sum:" : "binary:";
    int w = snprintf(pl->note + at, cap - at, "%s%s=%s", at ? " " : "", step_names[j], kind);
    at += w > 0 && (size_t)w < cap - at ? (size_t)w : 0;
    for (int k = 0; k < nseen; k++) {
      w = snprintf(pl->note + at, cap - at, "%s%s", k ? "|" : "", seen[k]);
      at += w > 0 && (size_t)w < cap - at ? (size_t)w : 0;
    }
    if (j == STEP_QK && pl->mask == MASK_PAD && pl->sets[0].fused) {
      w = snprintf(pl->note + at, cap - at, "+pad-post-op");
      at += w > 0 && (size_t)w < cap - at ? (size_t)w : 0;
    }
  }
  snprintf(pl->note + at, cap - at, " chunks=%lld(%lldkvh x %lldrows%s) sets=%d", (long long)pl->nchunks,
           (long long)pl->xc, (long long)pl->rc, pl->nsets && pl->sets[0].stacked ? ", heads stacked" : "",
           pl->nsets);
}

static void onednn_destroy(void *plan) {
  onednn_plan *pl = plan;
  if (!pl) return;
  for (int i = 0; i < pl->nsets; i++) {
    onednn_set *set = &pl->sets[i];
    for (int j = 0; j < STEPS; j++) {
      onednn_step *st = &set->step[j];
      if (st->prim) dnnl_primitive_destroy(st->prim);
      if (st->pd) dnnl_primitive_desc_destroy(st->pd);
      if (st->scratch) dnnl_memory_destroy(st->scratch);
    }
    dnnl_memory_t mems[] = {set->q, set->k, set->s, set->v, set->o, set->mask_src, set->mask_dst};
    for (size_t k = 0; k < sizeof mems / sizeof mems[0]; k++)
      if (mems[k]) dnnl_memory_destroy(mems[k]);
  }
  if (pl->stream) dnnl_stream_destroy(pl->stream);
  if (pl->engine) dnnl_engine_destroy(pl->engine);
  free(pl->sets);
  free(pl->chunks);
  free(pl->scores);
  free(pl->triangle);
  free(pl->padmask);
  free(pl->scratch);
  free(pl);
}

static attn_status plan_build(onednn_plan *pl, char *why, size_t n) {
  const attn_problem *p = &pl->p;
  TRY("engine_create", dnnl_engine_create(&pl->engine, dnnl_cpu, 0));
  TRY("stream_create", dnnl_stream_create(&pl->stream, pl->engine, dnnl_stream_default_flags));

  const tiling t = tiling_of(p);
  const int64_t x = p->b * p->hkv, g = p->h / p->hkv;
  const int64_t nrow = (p->lq - t.r0 + t.rc - 1) / t.rc, nx = (x + t.xc - 1) / t.xc;
  pl->r0 = t.r0, pl->rc = t.rc, pl->xc = t.xc;
  pl->nchunks = nrow * nx;
  pl->chunks = calloc((size_t)pl->nchunks, sizeof *pl->chunks);
  pl->sets = calloc((size_t)pl->nchunks, sizeof *pl->sets); /* at most one per chunk */
  if (!pl->chunks || !pl->sets) return ATTN_ENOMEM;

  /* Chunk shapes first: the score buffer is sized by the largest. Groups are
   * the outer loop, so a group's K and V stay in cache across its rows. */
  int64_t score_floats = 0, c = 0;
  for (int64_t x0 = 0; x0 < x; x0 += t.xc)
    for (int64_t i0 = t.r0; i0 < p->lq; i0 += t.rc, c++) {
      const int64_t groups = x0 + t.xc <= x ? t.xc : x - x0, rows = i0 + t.rc <= p->lq ? t.rc : p->lq - i0;
      /* Ends are nondecreasing: the last row sees the most, the first row's
       * prefix is seen by all. */
      const int64_t cols = plan_end(p, i0 + rows - 1), masked = cols - plan_end(p, i0);
      int s = 0;
      while (s < pl->nsets && !(pl->sets[s].groups == groups && pl->sets[s].rows == rows &&
                                pl->sets[s].cols == cols && pl->sets[s].masked == masked))
        s++;
      if (s == pl->nsets) {
        onednn_set *set = &pl->sets[pl->nsets++];
        set->groups = groups, set->rows = rows, set->cols = cols, set->masked = masked;
        if (groups * g * rows * cols > score_floats) score_floats = groups * g * rows * cols;
      }
      pl->chunks[c] = (onednn_chunk){.x0 = x0, .i0 = i0, .set = s};
    }
  pl->scores = attn_alloc_touched((size_t)score_floats * sizeof(float));
  if (!pl->scores) return ATTN_ENOMEM;

  if (pl->mask == MASK_TRIANGLE) {
    pl->trow = triangle_width(p, pl->rc);
    pl->triangle = attn_alloc_touched((size_t)(pl->rc * pl->trow) * sizeof(float));
    if (!pl->triangle) return ATTN_ENOMEM;
    /* -inf, not a large negative number: the softmax's exp maps it to an
     * exact 0, so masked keys add nothing even to logits of order 1e4. */
    for (int64_t r = 0; r < pl->rc; r++)
      for (int64_t col = r; col < pl->trow; col++) pl->triangle[r * pl->trow + col] = -INFINITY;
  }
  if (pl->mask == MASK_PAD) {
    pl->padmask = attn_alloc_touched((size_t)(p->b * p->hkv * p->lk) * sizeof(float));
    if (!pl->padmask) return ATTN_ENOMEM;
  }

  attn_status rc;
  for (int s = 0; s < pl->nsets; s++)
    if ((rc = set_build(pl, &pl->sets[s], why, n))) return rc;
  if ((rc = attach_scratch(pl, why, n))) return rc;
  build_note(pl);
  return ATTN_OK;
}

/* oneDNN here runs on OpenMP (dnnl_version()->cpu_runtime): it sizes its
 * teams from omp_get_max_threads(), both when a primitive is created (its
 * blocking) and when it executes. So cfg->threads is set around both, and the
 * caller's setting is restored. */
static attn_status onednn_plan_create(const attn_problem *p, const attn_config *cfg, void **out, char *why,
                                      size_t n) {
  attn_status rc = onednn_supports(p, why, n);
  if (rc != ATTN_OK) return rc;
  onednn_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  pl->p = *p;
  pl->threads = cfg->threads > 0 ? cfg->threads : 1;
  pl->mask = p->mask == ATTN_MASK_PAD                                        ? MASK_PAD
             : p->mask == ATTN_MASK_CAUSAL || p->mask == ATTN_MASK_CAUSAL_TL ? MASK_TRIANGLE
                                                                             : MASK_NONE;
  const int prev = omp_get_max_threads();
  omp_set_num_threads(pl->threads);
  rc = plan_build(pl, why, n);
  omp_set_num_threads(prev);
  if (rc != ATTN_OK) {
    onednn_destroy(pl);
    return rc;
  }
  *out = pl;
  return ATTN_OK;
}

static attn_status onednn_run(void *plan, const attn_tensors *t) {
  onednn_plan *pl = plan;
  const attn_problem *p = &pl->p;
  const int64_t x = p->b * p->hkv, g = p->h / p->hkv, lk = p->lk;
  /* Pad lengths come with the tensors, so this mask is the one thing run()
   * writes itself: b*hkv*lk floats, against b*h*lq*lk scores. */
  if (pl->mask == MASK_PAD) {
    for (int64_t r = 0; r < x; r++) {
      const int64_t end = attn_visible_end(p, t->lens, r / p->hkv, 0);
      float *m = pl->padmask + r * lk;
      for (int64_t j = 0; j < lk; j++) m[j] = j < end ? 0.0f : -INFINITY;
    }
  }
  const int prev = omp_get_max_threads();
  omp_set_num_threads(pl->threads);
  attn_status rc = ATTN_OK;
  for (int64_t c = 0; c < pl->nchunks && rc == ATTN_OK; c++) {
    onednn_set *set = &pl->sets[pl->chunks[c].set];
    const int64_t x0 = pl->chunks[c].x0, i0 = pl->chunks[c].i0, row0 = x0 * g * p->lq + i0;
    /* oneDNN takes non-const handles; it only reads q, k and v. */
    dnnl_status_t s = dnnl_memory_set_data_handle(set->q, (void *)(t->q + row0 * p->d));
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(set->k, (void *)(t->k + x0 * lk * p->d));
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(set->v, (void *)(t->v + x0 * lk * p->dv));
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(set->o, t->o + row0 * p->dv);
    if (s == dnnl_success && pl->mask == MASK_PAD)
      s = dnnl_memory_set_data_handle(set->mask_src, pl->padmask + x0 * lk);
    for (int j = 0; j < STEPS && s == dnnl_success; j++)
      if (set->step[j].prim)
        s = dnnl_primitive_execute(set->step[j].prim, pl->stream, set->step[j].nargs, set->step[j].args);
    if (s == dnnl_success) s = dnnl_stream_wait(pl->stream);
    if (s != dnnl_success) rc = from_dnnl(s, "execute", NULL, 0);
  }
  omp_set_num_threads(prev);
  if (rc != ATTN_OK) return rc;

  /* Rows with no visible key must be zero. Causal rows before r0 were never
   * computed; a pad length of 0 left softmax with only -inf, hence NaN. */
  const int64_t rows_bytes = p->lq * p->dv * (int64_t)sizeof(float);
  if (pl->r0 > 0)
    for (int64_t hd = 0; hd < p->b * p->h; hd++)
      memset(t->o + hd * p->lq * p->dv, 0, (size_t)(pl->r0 * p->dv) * sizeof(float));
  if (p->mask == ATTN_MASK_PAD)
    for (int64_t bi = 0; bi < p->b; bi++)
      if (attn_visible_end(p, t->lens, bi, 0) == 0)
        memset(t->o + bi * p->h * p->lq * p->dv, 0, (size_t)(p->h * rows_bytes));
  return ATTN_OK;
}

static const char *onednn_plan_note(const void *plan) {
  const onednn_plan *pl = plan;
  return pl ? pl->note : NULL;
}

static const char *runtime_name(unsigned rt) {
  switch (rt) {
  case DNNL_RUNTIME_NONE: return "none";
  case DNNL_RUNTIME_SEQ: return "sequential";
  case DNNL_RUNTIME_OMP: return "OpenMP";
  case DNNL_RUNTIME_TBB: return "TBB";
  case DNNL_RUNTIME_THREADPOOL: return "threadpool";
  }
  return "unknown";
}

static void onednn_describe(attn_emit_fn emit, void *ctx) {
  const dnnl_version_t *v = dnnl_version();
  char buf[160];
  snprintf(buf, sizeof buf, "%d.%d.%d (commit %s)", v->major, v->minor, v->patch, v->hash);
  emit(ctx, "onednn_version", buf);
  emit(ctx, "cpu_runtime", runtime_name(v->cpu_runtime));
  emit(ctx, "threads",
       v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp_set_num_threads(threads) around plan and run"
                                          : "library default (not OpenMP)");
  emit(ctx, "isa", isa_name(dnnl_get_effective_cpu_isa()));
  snprintf(buf, sizeof buf,
           "target %lld MiB, at least %d query rows, cap %lld MiB; causal: lq/8 rows in [%d, %d]",
           (long long)(ONEDNN_TILE_BYTES >> 20), ONEDNN_MIN_ROWS, (long long)(ONEDNN_CAP_BYTES >> 20),
           ONEDNN_CAUSAL_MIN_ROWS, ONEDNN_CAUSAL_MAX_ROWS);
  emit(ctx, "score_tile", buf);
  /* Impl strings are chosen per primitive and shape: show a sample plan's. */
  static const struct {
    const char *key;
    attn_mask mask;
  } samples[] = {
      {"sample_none", ATTN_MASK_NONE}, {"sample_causal", ATTN_MASK_CAUSAL}, {"sample_pad", ATTN_MASK_PAD}};
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    attn_problem p = {
        .b = 1, .h = 4, .hkv = 2, .lq = 512, .lk = 512, .d = 64, .dv = 64, .mask = samples[i].mask};
    attn_config cfg = {.threads = 1};
    void *plan = NULL;
    char why[256] = "";
    attn_status s = onednn_plan_create(&p, &cfg, &plan, why, sizeof why);
    emit(ctx, samples[i].key, s == ATTN_OK ? onednn_plan_note(plan) : why);
    onednn_destroy(plan);
  }
}

const attn_backend attn_backend_onednn = {
    .name = "onednn",
    .summary = "oneDNN 2.x primitives: matmul, mask, softmax, matmul over cache-sized tiles of heads x rows",
    /* Two-pass softmax. oneDNN's jit exp (AVX2 and AVX-512 paths), measured on
     * every float in [ln(FLT_MIN), 0] against double exp: at most 3.3 * 2^-23
     * relative (largest for large |x|; results below 2^-125 may be flushed,
     * which the model's underflow term covers). Its softmax then multiplies
     * each weight by a rounded 1/sum, one rounding (2^-24) more per weight
     * than the model's single division. 2^-20 = 8 * 2^-23 covers both with
     * a margin of two. (The SSE4.1 path measured 35 * 2^-23: declined.) */
    .accuracy = {.exp_rel_err = 0x1p-20, .key_block = 0},
    .available = onednn_available,
    .supports = onednn_supports,
    .workspace_size = onednn_workspace,
    .plan = onednn_plan_create,
    .run = onednn_run,
    .destroy = onednn_destroy,
    .plan_note = onednn_plan_note,
    .describe = onednn_describe,
    .gemm_plan = onednn_gemm_plan,
    .gemm_run = onednn_gemm_run,
    .gemm_destroy = onednn_gemm_destroy,
};
