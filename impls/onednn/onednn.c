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
 *            then -inf set in C past each row's end (mask_fill: an unseen NaN
 *            key would survive the add)
 *   softmax  softmax primitive on the last axis, in place
 *   pv       matmul O = P V, written straight into the output rows; if V holds
 *            a NaN or infinity, on a copy with those elements 0, and each
 *            added back in C to the rows that see it (finite_values)
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
 * The seq2seq scores and modes (attn.h), around the same primitives:
 *   general   Q' = Q W once per run by a matmul created in plan (onednn_gemm),
 *             then the path above on Q': W is folded into the queries
 *   cosine    Q and K rows normalised once per run (plain C, our threads)
 *   hard      qk only, then per row in plain C the first maximum over its
 *             visible keys and a copy of that value row: no softmax, no pv
 *   local-m   tiles of max(LOCAL_M_MIN_ROWS, 2 * window + 1) rows whose qk and
 *             pv span only the band of keys their rows' windows reach
 *             (rows + 2 * window, not lk); between qk and softmax a plain C
 *             pass sets the keys outside each row's own window (and mask) to
 *             -inf, replacing the mask primitives
 *   local-p   centres from Q Wp^T (a matmul created in plan, on Wp transposed
 *             into a plan buffer), then each row's window of at most
 *             2 * window + 1 keys in plain C: no tile ever spans lk
 * additive is declined: its scores are a tanh per key and attention unit,
 * not a matmul (avx512 and naive implement it).
 *
 * Everything oneDNN needs is created in plan(); run() sets data handles and
 * executes. Inside execute oneDNN still allocates a little bookkeeping, and
 * its gemm:jit matmul (which it picks for row tiles: its brg kernels need
 * dense batch strides) its packing buffers. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "attnbench/attn.h"
#include "attnbench/cpu.h"
#include "common/headroom.h"
#include "common/mem.h"
#include "common/rescue.h"
#include "common/seq2seq.h"
#include "common/variant.h"
#include "onednn/onednn_gemm.h"

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
/* mode=local-m: a tile of R rows spans R + 2 * window keys for 2 * window + 1
 * useful ones per row, so R near the window wastes at most 2x; fewer rows
 * than this make each primitive execution too small. */
#define ONEDNN_LOCAL_M_MIN_ROWS 32

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
  int64_t c0; /* first key of the chunk's columns (a local-m band; else 0) */
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
  /* seq2seq: what the scores read instead of Q and K, and local-p's buffers */
  void *fold;     /* score=general: Q' = Q W, an onednn_gemm */
  void *project;  /* mode=local-p: Q Wp^T, an onednn_gemm */
  float *q, *k;   /* general: Q'; cosine: Q and K with unit rows */
  float *wpt;     /* local-p: Wp^T [d][da] */
  float *proj;    /* local-p: [b*h*lq][da] */
  float *centres; /* local-p: [b*h*lq] */
  float *rowbuf;  /* local-p: [threads][window_cols] scores of one row */
  double *kmax;   /* hard: [xc] largest key norm of each kv-head group of a chunk */
  /* pv's values (see finite_values): per value row of V, whether it holds a
   * NaN or infinity; V with those elements 0, used only when some do. */
  unsigned char *vbad; /* [b*hkv][lk] */
  float *vfinite;      /* [b*hkv][lk][dv], touched only by runs that need it */
  int vpoisoned;       /* this run: some element of V is not finite */
  int64_t window_cols;
  attn_rescue rescue;
  char note[512];
} onednn_plan;

/* Address space oneDNN 2.6 maps for a plan beyond the plan's own buffers
 * (onednn_workspace): 16 MiB for its JIT code, primitive descriptors and
 * cache (a few MiB for a plan's handful of primitives; its whole library is
 * already mapped), 4 MiB per thread for the packing buffers its gemm:jit
 * matmul allocates inside execute (blocks of A and B, about 2 MiB a thread
 * for f32), and a stack per thread of the OpenMP team, which may not exist
 * yet. In the tests' problem with 2 threads it ran in 12 MiB and crashed in
 * none; the margin is for larger primitives' code. */
int64_t onednn_lib_bytes(int threads) {
  return 16 * ATTN_MIB + threads * (4 * ATTN_MIB) + (threads - 1) * attn_thread_stack_bytes();
}

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

/* ATTNBENCH_MAX_ISA's level in oneDNN's terms. avx512 leaves avx512_vnni and
 * avx512_bf16 visible (common/cpu.c), hence AVX512_CORE_BF16; AMX is above
 * it. oneDNN has no SSE4.2 level: SSE4.1 is the last one below AVX. */
static dnnl_cpu_isa_t dnnl_isa_of(attn_isa_cap cap) {
  switch (cap) {
  case ATTN_ISA_CAP_SSE42: return dnnl_cpu_isa_sse41;
  case ATTN_ISA_CAP_AVX2: return dnnl_cpu_isa_avx2;
  case ATTN_ISA_CAP_AVX512: return dnnl_cpu_isa_avx512_core_bf16;
  case ATTN_ISA_CAP_NONE: break;
  }
  return dnnl_cpu_isa_all;
}

static void set_isa_cap(void) {
  attn_isa_cap cap;
  (void)attn_cpu_isa_cap(&cap); /* a bad name caps at the baseline, as attn_cpu() does */
  if (cap != ATTN_ISA_CAP_NONE) (void)dnnl_set_max_cpu_isa(dnnl_isa_of(cap));
}

/* oneDNN takes its ISA limit only before its first call, and only once;
 * pthread_once makes every entry point wait for it. A limit that could not
 * be set (oneDNN entered earlier by someone else) is caught by
 * isa_within_cap. */
void onednn_cap_isa(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, set_isa_cap);
}

/* oneDNN's ISA values are nested bit sets (SSE41 0x1 within AVX2 0x7 within
 * AVX512_CORE 0x27 ...), so an ISA within the cap has no bit outside it. */
static int isa_within_cap(dnnl_cpu_isa_t isa, attn_isa_cap *cap) {
  (void)attn_cpu_isa_cap(cap);
  return *cap == ATTN_ISA_CAP_NONE || ((unsigned)isa & ~(unsigned)dnnl_isa_of(*cap)) == 0;
}

static int onednn_available(void) {
  onednn_cap_isa();
  return dnnl_engine_get_count(dnnl_cpu) > 0;
}

/* The window and width a mode needs (the problem parser checks them too;
 * a hand-made descriptor may not have been through it). */
static attn_status mode_params_ok(const attn_problem *p, char *why, size_t n) {
  if (p->mode == ATTN_MODE_LOCAL_M && p->window < 0) {
    if (why && n) snprintf(why, n, "mode=local-m needs window >= 0");
    return ATTN_EINVAL;
  }
  if (p->mode == ATTN_MODE_LOCAL_P && (p->window < 1 || p->da < 1)) {
    if (why && n) snprintf(why, n, "mode=local-p needs window >= 1 (sigma = window/2) and da >= 1");
    return ATTN_EINVAL;
  }
  return ATTN_OK;
}

static attn_status onednn_supports(const attn_problem *p, char *why, size_t n) {
  const unsigned scores = ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT) |
                          ATTN_SCORE_BIT(ATTN_SCORE_GENERAL) | ATTN_SCORE_BIT(ATTN_SCORE_COSINE),
                 modes = ATTN_MODE_BIT(ATTN_MODE_SOFT) | ATTN_MODE_BIT(ATTN_MODE_HARD) |
                         ATTN_MODE_BIT(ATTN_MODE_LOCAL_M) | ATTN_MODE_BIT(ATTN_MODE_LOCAL_P);
  attn_status vs = attn_variant_supported(p, scores, modes, "onednn", why, n);
  if (vs != ATTN_OK && p->score == ATTN_SCORE_ADDITIVE && why && n)
    snprintf(why, n, "score=additive is not a GEMM: onednn has no tanh kernel; see avx512 or naive");
  if (vs == ATTN_OK) vs = mode_params_ok(p, why, n);
  if (vs != ATTN_OK) return vs;
  if (p->mode == ATTN_MODE_HARD && p->lk > INT32_MAX) {
    if (why && n)
      snprintf(why, n, "mode=hard scans rows of 32-bit length: lk=%lld is too long", (long long)p->lk);
    return ATTN_UNSUPPORTED;
  }
  if (p->dtype != ATTN_F32) {
    if (why && n) snprintf(why, n, "only f32 is wired up");
    return ATTN_UNSUPPORTED;
  }
  /* The accuracy this backend declares holds for oneDNN's AVX2 and AVX-512
   * exp; its SSE4.1 exp was measured 35 * 2^-23 off (see .accuracy). */
  onednn_cap_isa();
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  attn_isa_cap cap;
  if (!isa_within_cap(isa, &cap)) {
    if (why && n)
      snprintf(why, n, "oneDNN already dispatches to %s, above ATTNBENCH_MAX_ISA=%s (it was entered first)",
               isa_name(isa), attn_isa_cap_name(cap));
    return ATTN_UNSUPPORTED;
  }
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

/* The keys [*lo, *hi) row i is planned for: the visible prefix, within the
 * local-m window. Both ends are nondecreasing in i. */
static void plan_keys(const attn_problem *p, int64_t i, int64_t *lo, int64_t *hi) {
  const int64_t end = plan_end(p, i);
  if (p->mode == ATTN_MODE_LOCAL_M) {
    attn_window(p, (double)attn_local_m_centre(p, i), end, lo, hi);
  } else {
    *lo = 0;
    *hi = end;
  }
}

/* Rows with no visible key at all (causal with lq > lk; local-m windows that
 * end before key 0 or start past the causal end) are left out of the chunks;
 * by the monotone ends they come first. */
static int64_t first_row(const attn_problem *p) {
  int64_t r = 0, lo, hi;
  while (r < p->lq && (plan_keys(p, r, &lo, &hi), lo >= hi)) r++;
  return r;
}

/* The keys a local-m tile of `rows` rows spans: rows - 1 + 2 * window + 1,
 * at most lk; lk for the other modes. */
static int64_t tile_width(const attn_problem *p, int64_t rows) {
  if (p->mode != ATTN_MODE_LOCAL_M || p->window >= p->lk || rows - 1 + 2 * p->window + 1 >= p->lk)
    return p->lk;
  return rows + 2 * p->window;
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
  if (p->mode == ATTN_MODE_LOCAL_M && p->window < p->lk) {
    const int64_t local =
        2 * p->window + 1 > ONEDNN_LOCAL_M_MIN_ROWS ? 2 * p->window + 1 : ONEDNN_LOCAL_M_MIN_ROWS;
    if (local < t.rc) t.rc = local;
  }
  if (t.rc > ONEDNN_CAP_BYTES / row) t.rc = ONEDNN_CAP_BYTES / row;
  if (t.rc < 1) t.rc = 1;
  if (t.rc > p->lq - t.r0) t.rc = p->lq - t.r0;
  if (t.rc < 1) t.rc = 1; /* every row empty (a local-m window past the keys): no tiles */
  t.xc = ONEDNN_TILE_BYTES / (t.rc * g * tile_width(p, t.rc) * (int64_t)sizeof(float));
  if (t.xc < 1) t.xc = 1;
  if (t.xc > p->b * p->hkv) t.xc = p->b * p->hkv;
  return t;
}

static int64_t triangle_width(const attn_problem *p, int64_t rc) { return rc < p->lk ? rc : p->lk; }

/* How the mask enters: by primitives for soft; hard and local-m apply it per
 * row in their plain C passes, local-p in its rows. */
static mask_path mask_path_of(const attn_problem *p) {
  if (p->mode != ATTN_MODE_SOFT) return MASK_NONE;
  if (p->mask == ATTN_MASK_PAD) return MASK_PAD;
  if (p->mask == ATTN_MASK_CAUSAL || p->mask == ATTN_MASK_CAUSAL_TL) return MASK_TRIANGLE;
  return MASK_NONE;
}

/* local-p: the keys of one row's window, 2 * window + 1 at most lk. */
static int64_t window_cols(const attn_problem *p) {
  return p->window >= p->lk || 2 * p->window + 1 >= p->lk ? p->lk : 2 * p->window + 1;
}

/* Floats of the seq2seq buffers: Q', unit Q and K rows, local-p's. */
static size_t seq2seq_floats(const attn_problem *p, int threads) {
  const int64_t nq = p->b * p->h * p->lq;
  size_t f = 0;
  if (p->score == ATTN_SCORE_GENERAL || p->score == ATTN_SCORE_COSINE) f += (size_t)(nq * p->d);
  if (p->score == ATTN_SCORE_COSINE) f += (size_t)(p->b * p->hkv * p->lk * p->d);
  if (p->mode == ATTN_MODE_LOCAL_P) f += (size_t)(p->da * p->d + nq * (p->da + 1) + threads * window_cols(p));
  return f;
}

static size_t onednn_workspace(const attn_problem *p, const attn_config *cfg) {
  const int threads = cfg && cfg->threads > 0 ? cfg->threads : 1;
  size_t bytes = seq2seq_floats(p, threads) * sizeof(float);
  if (p->mode == ATTN_MODE_LOCAL_P) return bytes; /* no tiles */
  const tiling t = tiling_of(p);
  bytes += (size_t)(t.xc * (p->h / p->hkv) * t.rc * tile_width(p, t.rc)) * sizeof(float);
  if (mask_path_of(p) == MASK_TRIANGLE) bytes += (size_t)(t.rc * triangle_width(p, t.rc)) * sizeof(float);
  if (mask_path_of(p) == MASK_PAD) bytes += (size_t)(p->b * p->hkv * p->lk) * sizeof(float);
  if (p->mode == ATTN_MODE_HARD)
    bytes += (size_t)t.xc * sizeof(double);
  else
    bytes += (size_t)(p->b * p->hkv * p->lk) * (1 + (size_t)p->dv * sizeof(float));
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

  if (p->mode == ATTN_MODE_HARD) return ATTN_OK; /* argmax and copy in plain C */

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
  const attn_problem *p = &pl->p;
  const char *mode = p->mode == ATTN_MODE_HARD      ? " hard=max+copy in C"
                     : p->mode == ATTN_MODE_LOCAL_M ? " local-m=band mask in C"
                                                    : "";
  const char *prep = p->score == ATTN_SCORE_GENERAL  ? " fold=Q W matmul"
                     : p->score == ATTN_SCORE_COSINE ? " cosine=unit rows in C"
                                                     : "";
  snprintf(pl->note + at, cap - at, "%s%s chunks=%lld(%lldkvh x %lldrows%s) sets=%d", mode, prep,
           (long long)pl->nchunks, (long long)pl->xc, (long long)pl->rc,
           pl->nsets && pl->sets[0].stacked ? ", heads stacked" : "", pl->nsets);
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
  attn_rescue_free(&pl->rescue);
  onednn_gemm_destroy(pl->fold);
  onednn_gemm_destroy(pl->project);
  free(pl->q);
  free(pl->k);
  free(pl->wpt);
  free(pl->proj);
  free(pl->centres);
  free(pl->rowbuf);
  free(pl->kmax);
  free(pl->vbad);
  free(pl->vfinite);
  free(pl);
}

/* score=general's fold, cosine's unit rows and local-p's projection and
 * row buffers. */
static attn_status seq2seq_build(onednn_plan *pl, char *why, size_t n) {
  const attn_problem *p = &pl->p;
  const attn_config cfg = {.threads = pl->threads};
  const int64_t nq = p->b * p->h * p->lq;
  attn_status rc;
  if (p->score == ATTN_SCORE_GENERAL || p->score == ATTN_SCORE_COSINE) {
    if (!(pl->q = attn_alloc_touched((size_t)(nq * p->d) * sizeof(float)))) return ATTN_ENOMEM;
  }
  if (p->score == ATTN_SCORE_GENERAL) {
    const attn_gemm_shape fold = {.m = nq, .n = p->d, .k = p->d};
    if ((rc = onednn_gemm_plan(&fold, &cfg, &pl->fold, why, n))) return rc;
  }
  if (p->score == ATTN_SCORE_COSINE) {
    if (!(pl->k = attn_alloc_touched((size_t)(p->b * p->hkv * p->lk * p->d) * sizeof(float))))
      return ATTN_ENOMEM;
  }
  if (p->mode == ATTN_MODE_LOCAL_P) {
    const attn_gemm_shape project = {.m = nq, .n = p->da, .k = p->d};
    if ((rc = onednn_gemm_plan(&project, &cfg, &pl->project, why, n))) return rc;
    pl->window_cols = window_cols(p);
    pl->wpt = attn_alloc_touched((size_t)(p->da * p->d) * sizeof(float));
    pl->proj = attn_alloc_touched((size_t)(nq * p->da) * sizeof(float));
    pl->centres = attn_alloc_touched((size_t)nq * sizeof(float));
    pl->rowbuf = attn_alloc_touched((size_t)(pl->threads * pl->window_cols) * sizeof(float));
    if (!pl->wpt || !pl->proj || !pl->centres || !pl->rowbuf) return ATTN_ENOMEM;
  }
  return ATTN_OK;
}

static attn_status plan_build(onednn_plan *pl, char *why, size_t n) {
  const attn_problem *p = &pl->p;
  TRY("engine_create", dnnl_engine_create(&pl->engine, dnnl_cpu, 0));
  TRY("stream_create", dnnl_stream_create(&pl->stream, pl->engine, dnnl_stream_default_flags));
  attn_status rc0 = seq2seq_build(pl, why, n);
  if (rc0 != ATTN_OK) return rc0;
  if (p->mode == ATTN_MODE_LOCAL_P) { /* rows of at most 2 * window + 1 keys: plain C, no tiles */
    snprintf(pl->note, sizeof pl->note, "local-p: Q Wp^T by matmul, rows of <= %lld keys in plain C",
             (long long)pl->window_cols);
    return ATTN_OK;
  }

  const tiling t = tiling_of(p);
  const int64_t x = p->b * p->hkv, g = p->h / p->hkv;
  const int64_t nrow = (p->lq - t.r0 + t.rc - 1) / t.rc, nx = (x + t.xc - 1) / t.xc;
  pl->r0 = t.r0, pl->rc = t.rc, pl->xc = t.xc;
  pl->nchunks = nrow * nx;
  /* At most one set per chunk; at least one entry (local-m may have no chunk). */
  pl->chunks = calloc((size_t)(pl->nchunks ? pl->nchunks : 1), sizeof *pl->chunks);
  pl->sets = calloc((size_t)(pl->nchunks ? pl->nchunks : 1), sizeof *pl->sets);
  if (!pl->chunks || !pl->sets) return ATTN_ENOMEM;

  /* Chunk shapes first: the score buffer is sized by the largest. Groups are
   * the outer loop, so a group's K and V stay in cache across its rows. */
  int64_t score_floats = 0, c = 0;
  for (int64_t x0 = 0; x0 < x; x0 += t.xc)
    for (int64_t i0 = t.r0; i0 < p->lq; i0 += t.rc, c++) {
      const int64_t groups = x0 + t.xc <= x ? t.xc : x - x0, rows = i0 + t.rc <= p->lq ? t.rc : p->lq - i0;
      /* Both ends of a row's keys are nondecreasing: the chunk spans the
       * first row's first key to the last row's end, and under a causal
       * mask its last `masked` columns are not seen by every row. */
      int64_t lo0, hi0, lo1, hi1;
      plan_keys(p, i0, &lo0, &hi0);
      plan_keys(p, i0 + rows - 1, &lo1, &hi1);
      const int64_t cols = hi1 - lo0, masked = pl->mask == MASK_TRIANGLE ? hi1 - hi0 : 0;
      int s = 0;
      while (s < pl->nsets && !(pl->sets[s].groups == groups && pl->sets[s].rows == rows &&
                                pl->sets[s].cols == cols && pl->sets[s].masked == masked))
        s++;
      if (s == pl->nsets) {
        onednn_set *set = &pl->sets[pl->nsets++];
        set->groups = groups, set->rows = rows, set->cols = cols, set->masked = masked;
        if (groups * g * rows * cols > score_floats) score_floats = groups * g * rows * cols;
      }
      pl->chunks[c] = (onednn_chunk){.x0 = x0, .i0 = i0, .c0 = lo0, .set = s};
    }
  pl->scores = attn_alloc_touched((size_t)score_floats * sizeof(float));
  if (!pl->scores) return ATTN_ENOMEM;
  if (p->mode == ATTN_MODE_HARD && !(pl->kmax = attn_alloc_touched((size_t)t.xc * sizeof(double))))
    return ATTN_ENOMEM;
  if (p->mode != ATTN_MODE_HARD) {
    /* vfinite is not touched here: only inputs with a NaN or infinity in V
     * write it, and a clean run should not pay for its pages in RSS. */
    pl->vbad = attn_alloc_touched((size_t)(x * p->lk));
    pl->vfinite = malloc((size_t)(x * p->lk * p->dv) * sizeof(float));
    if (!pl->vbad || !pl->vfinite) return ATTN_ENOMEM;
  }

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
  pl->mask = mask_path_of(p);
  /* Before the first call into oneDNN: version 2.6 does not fail cleanly
   * when it runs out of address space while it creates a primitive (SIGSEGV,
   * or a std::bad_alloc through its C API: SIGABRT). */
  if (attn_as_check((int64_t)onednn_workspace(p, cfg) + onednn_lib_bytes(pl->threads), "oneDNN", why, n)) {
    onednn_destroy(pl);
    return ATTN_ENOMEM;
  }
  const int prev = omp_get_max_threads();
  omp_set_num_threads(pl->threads);
  rc = plan_build(pl, why, n);
  omp_set_num_threads(prev);
  if (rc == ATTN_OK && attn_rescue_plan(&pl->rescue, p) != ATTN_OK) rc = ATTN_ENOMEM;
  if (rc != ATTN_OK) {
    onednn_destroy(pl);
    return rc;
  }
  *out = pl;
  return ATTN_OK;
}

/* ---- seq2seq: the plain C passes around the primitives ---- */

/* The keys [*lo, *hi) query row i of kv-head group x attends to at run time:
 * the mask's prefix (pad lengths now known), within the local-m window. */
static void row_keys(const attn_problem *p, const int32_t *lens, int64_t x, int64_t i, int64_t *lo,
                     int64_t *hi) {
  const int64_t end = attn_visible_end(p, lens, x / p->hkv, i);
  if (p->mode == ATTN_MODE_LOCAL_M) {
    attn_window(p, (double)attn_local_m_centre(p, i), end, lo, hi);
  } else {
    *lo = 0;
    *hi = end;
  }
}

/* One row of a chunk: its scores, its output row, and its keys relative to
 * the chunk's first column (an empty row has lo >= hi). */
typedef struct chunk_row {
  float *s, *o;
  const float *v; /* the chunk's first value row of this row's kv head */
  int64_t lo, hi;
} chunk_row;

static chunk_row row_of(const onednn_plan *pl, const attn_tensors *t, const onednn_chunk *ch, int64_t flat) {
  const attn_problem *p = &pl->p;
  const onednn_set *set = &pl->sets[ch->set];
  const int64_t g = p->h / p->hkv, r = flat % set->rows, gi = flat / set->rows % g,
                x = ch->x0 + flat / (set->rows * g);
  const int64_t i = ch->i0 + r;
  chunk_row row = {.s = pl->scores + flat * set->cols,
                   .o = t->o + ((x * g + gi) * p->lq + i) * p->dv,
                   .v = t->v + (x * p->lk + ch->c0) * p->dv};
  row_keys(p, t->lens, x, i, &row.lo, &row.hi);
  row.lo -= ch->c0;
  row.hi -= ch->c0;
  if (row.hi > set->cols) row.hi = set->cols;
  if (row.lo < 0) row.lo = 0;
  return row;
}

static int64_t chunk_rows(const onednn_plan *pl, const onednn_chunk *ch) {
  const onednn_set *set = &pl->sets[ch->set];
  return set->groups * (pl->p.h / pl->p.hkv) * set->rows;
}

/* An integer of attn_float_ordered's order back to its float. */
static inline float from_ordered(int32_t m) {
  m ^= -(int32_t)((uint32_t)m >> 31) & 0x7fffffff;
  float f;
  memcpy(&f, &m, sizeof f);
  return f;
}

/* mode=hard, one row: the shared near-tie pick (common/seq2seq.h) from the
 * computed maximum. */
static int64_t hard_choice(const attn_problem *p, const chunk_row *row, const float *q, const float *k,
                           double kmax) {
  const int32_t n = (int32_t)(row->hi - row->lo); /* chunk columns fit int32 (onednn_supports) */
  const float smax = from_ordered(attn_row_max_ordered(row->s + row->lo, n));
  return attn_hard_pick(row->s, row->lo, row->hi, smax, q, k, p->d, attn_scale(p), kmax);
}

/* mode=hard: each row a copy of the value row of its chosen key, or zero
 * when it sees no key. q and k are what the scores read. */
static void hard_rows(const onednn_plan *pl, const attn_tensors *t, const float *q, const float *k,
                      const onednn_chunk *ch) {
  const attn_problem *p = &pl->p;
  const onednn_set *set = &pl->sets[ch->set];
  const int64_t rows = chunk_rows(pl, ch), d = p->d, dv = p->dv, g = p->h / p->hkv, per_group = g * set->rows;
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t xg = 0; xg < set->groups; xg++) {
    pl->kmax[xg] = attn_max_row_norm(k + ((ch->x0 + xg) * p->lk + ch->c0) * d, set->cols, d);
  }
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t f = 0; f < rows; f++) {
    const chunk_row row = row_of(pl, t, ch, f);
    if (row.lo >= row.hi) {
      memset(row.o, 0, (size_t)dv * sizeof(float));
      continue;
    }
    const int64_t xg = f / per_group, x = ch->x0 + xg, gi = f / set->rows % g, i = ch->i0 + f % set->rows;
    const float *qr = q + ((x * g + gi) * p->lq + i) * d, *kx = k + (x * p->lk + ch->c0) * d;
    memcpy(row.o, row.v + hard_choice(p, &row, qr, kx, pl->kmax[xg]) * dv, (size_t)dv * sizeof(float));
  }
}

/* mode=local-m, between qk and softmax: -inf outside each row's window and
 * mask. An empty row gets finite scores (softmax of all -inf is NaN) and is
 * zeroed after pv by band_zero_empty. */
static void band_mask(const onednn_plan *pl, const attn_tensors *t, const onednn_chunk *ch) {
  const int64_t rows = chunk_rows(pl, ch), cols = pl->sets[ch->set].cols;
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t f = 0; f < rows; f++) {
    const chunk_row row = row_of(pl, t, ch, f);
    if (row.lo >= row.hi) {
      memset(row.s, 0, (size_t)cols * sizeof(float));
      continue;
    }
    for (int64_t j = 0; j < row.lo; j++) row.s[j] = -INFINITY;
    for (int64_t j = row.hi; j < cols; j++) row.s[j] = -INFINITY;
  }
}

static void band_zero_empty(const onednn_plan *pl, const attn_tensors *t, const onednn_chunk *ch) {
  const int64_t rows = chunk_rows(pl, ch);
  for (int64_t f = 0; f < rows; f++) {
    const chunk_row row = row_of(pl, t, ch, f);
    if (row.lo >= row.hi) memset(row.o, 0, (size_t)pl->p.dv * sizeof(float));
  }
}

/* Soft mode, after the mask primitives: -inf past each row's visible end.
 * The primitives add -inf to those scores, and a NaN score (a NaN or
 * infinite key the row does not see) stays NaN under that add and would
 * reach the row through the softmax; clean scores are -inf already, so this
 * changes no clean output. Only the masked columns are written. */
static void mask_fill(const onednn_plan *pl, const attn_tensors *t, const onednn_chunk *ch) {
  const int64_t rows = chunk_rows(pl, ch), cols = pl->sets[ch->set].cols;
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t f = 0; f < rows; f++) {
    const chunk_row row = row_of(pl, t, ch, f);
    for (int64_t j = row.hi > 0 ? row.hi : 0; j < cols; j++) row.s[j] = -INFINITY;
  }
}

static inline int not_finite(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return (b & 0x7f800000u) == 0x7f800000u;
}

/* pv multiplies every key of the tile by its weight, and a key a row does not
 * see has weight 0, but 0 x NaN (or inf) is NaN. So before the tiles: flag
 * the value rows that hold a non-finite element, and if any does, pv reads
 * vfinite, V with those elements 0 (0 x 0 = 0 for the rows that do not see
 * them), and value_fixup adds each back to the rows that see it. A clean V is
 * read once more than before (the scan), nothing else. */
static void finite_values(onednn_plan *pl, const float *v) {
  const attn_problem *p = &pl->p;
  const int64_t n = p->b * p->hkv * p->lk, dv = p->dv;
  int any = 0;
#pragma omp parallel for num_threads(pl->threads) schedule(static) reduction(| : any)
  for (int64_t j = 0; j < n; j++) {
    int bad = 0;
    for (int64_t c = 0; c < dv; c++) bad |= not_finite(v[j * dv + c]);
    pl->vbad[j] = (unsigned char)bad;
    any |= bad;
  }
  pl->vpoisoned = any;
  if (!any) return;
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t j = 0; j < n; j++) {
    float *w = pl->vfinite + j * dv;
    memcpy(w, v + j * dv, (size_t)dv * sizeof *w);
    if (pl->vbad[j])
      for (int64_t c = 0; c < dv; c++)
        if (not_finite(w[c])) w[c] = 0;
  }
}

/* After pv on vfinite: each non-finite value element a row sees, times its
 * weight, added to that row's column, which makes it NaN or +-inf as the
 * policy says; its other columns are what they are without it. */
static void value_fixup(const onednn_plan *pl, const attn_tensors *t, const onednn_chunk *ch) {
  const attn_problem *p = &pl->p;
  const onednn_set *set = &pl->sets[ch->set];
  const int64_t rows = chunk_rows(pl, ch), dv = p->dv, per_group = (p->h / p->hkv) * set->rows;
#pragma omp parallel for num_threads(pl->threads) schedule(static)
  for (int64_t f = 0; f < rows; f++) {
    const chunk_row row = row_of(pl, t, ch, f);
    const unsigned char *bad = pl->vbad + (ch->x0 + f / per_group) * p->lk + ch->c0;
    for (int64_t j = row.lo; j < row.hi; j++) {
      if (!bad[j]) continue;
      const float *vj = row.v + j * dv;
      for (int64_t c = 0; c < dv; c++)
        if (not_finite(vj[c])) row.o[c] += row.s[j] * vj[c];
    }
  }
}

/* mode=local-p, one row: scores over its window [lo, hi) of at most
 * 2 * window + 1 keys, two-pass softmax, each weight times the Gaussian factor
 * without renormalising, the weighted values, one division by the sum. The
 * exponentials go through common/seq2seq.h's row routines (AVX2 where the CPU
 * has it): expf per weight and per Gaussian factor made this path slower than
 * soft attention on the same shape. Scores in log2 units for
 * attn_exp2_shifted: qscale = scale * log2(e). */
static void local_p_row(const attn_problem *p, const float *q, const float *k, const float *v, float c,
                        int64_t end, float qscale, float *s, float *o) {
  const int64_t d = p->d, dv = p->dv;
  int64_t lo, hi;
  attn_window(p, (double)c, end, &lo, &hi);
  memset(o, 0, (size_t)dv * sizeof *o);
  if (hi <= lo) return;
  const int64_t n = hi - lo;
  float m = -INFINITY;
  for (int64_t j = 0; j < n; j++) {
    s[j] = qscale * attn_dot8(q, k + (lo + j) * d, d);
    if (s[j] > m) m = s[j];
  }
  const float z = attn_exp2_shifted(s, n, m);
  attn_local_p_gauss_row(s, n, lo, c, p->window);
  for (int64_t j = 0; j < n; j++) {
    const float w = s[j], *vj = v + (lo + j) * dv;
    for (int64_t col = 0; col < dv; col++) o[col] += w * vj[col];
  }
  for (int64_t col = 0; col < dv; col++) o[col] /= z;
}

/* mode=local-p: centres from Q Wp^T, then every row on its own. q and k are
 * what the scores read; the centres take the caller's queries. */
static attn_status run_local_p(onednn_plan *pl, const attn_tensors *t, const float *q, const float *k) {
  const attn_problem *p = &pl->p;
  const int64_t nq = p->b * p->h * p->lq, d = p->d;
  const float qscale = (float)((double)attn_scale(p) * 1.4426950408889634074); /* log2(e) */
  attn_transpose(t->wp, pl->wpt, p->da, d);
  attn_status rc = onednn_gemm_run(pl->project, t->q, pl->wpt, pl->proj);
  if (rc != ATTN_OK) return rc;
#pragma omp parallel num_threads(pl->threads)
  {
    const int64_t tid = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t r0 = nq * tid / nt, r1 = nq * (tid + 1) / nt;
    float *s = pl->rowbuf + tid * pl->window_cols;
    attn_local_p_centres(pl->proj, t->vp, r0, r1, p->da, p->lk, pl->centres);
    for (int64_t r = r0; r < r1; r++) {
      const int64_t bi = r / (p->h * p->lq), hd = r / p->lq % p->h, i = r % p->lq;
      const int64_t kv = bi * p->hkv + attn_kv_head(p, hd);
      local_p_row(p, q + r * d, k + kv * p->lk * d, t->v + kv * p->lk * p->dv, pl->centres[r],
                  attn_visible_end(p, t->lens, bi, i), qscale, s, t->o + r * p->dv);
    }
  }
  return ATTN_OK;
}

/* What the scores read: Q W (general, by the fold matmul), unit rows of Q
 * and K (cosine, split over our threads), else the caller's Q and K. */
static attn_status prepare(onednn_plan *pl, const attn_tensors *t, const float **q, const float **k) {
  const attn_problem *p = &pl->p;
  *q = t->q;
  *k = t->k;
  if (p->score == ATTN_SCORE_GENERAL) {
    attn_status rc = onednn_gemm_run(pl->fold, t->q, t->w, pl->q);
    if (rc != ATTN_OK) return rc;
    *q = pl->q;
  } else if (p->score == ATTN_SCORE_COSINE) {
    const int64_t nq = p->b * p->h * p->lq, nk = p->b * p->hkv * p->lk;
#pragma omp parallel num_threads(pl->threads)
    {
      const int64_t tid = omp_get_thread_num(), nt = omp_get_num_threads();
      attn_normalize_rows(t->q, pl->q, nq * tid / nt, nq * (tid + 1) / nt, p->d);
      attn_normalize_rows(t->k, pl->k, nk * tid / nt, nk * (tid + 1) / nt, p->d);
    }
    *q = pl->q;
    *k = pl->k;
  }
  return ATTN_OK;
}

/* Executes steps [from, to) of a set; waits for them. */
static dnnl_status_t execute(onednn_plan *pl, onednn_set *set, int from, int to) {
  dnnl_status_t s = dnnl_success;
  for (int j = from; j < to && s == dnnl_success; j++)
    if (set->step[j].prim)
      s = dnnl_primitive_execute(set->step[j].prim, pl->stream, set->step[j].nargs, set->step[j].args);
  if (s == dnnl_success) s = dnnl_stream_wait(pl->stream);
  return s;
}

static attn_status run_chunk(onednn_plan *pl, const attn_tensors *t, const float *q, const float *k,
                             const onednn_chunk *ch) {
  const attn_problem *p = &pl->p;
  onednn_set *set = &pl->sets[ch->set];
  const int64_t g = p->h / p->hkv, lk = p->lk, row0 = ch->x0 * g * p->lq + ch->i0;
  /* oneDNN takes non-const handles; it only reads q, k and v. */
  dnnl_status_t s = dnnl_memory_set_data_handle(set->q, (void *)(q + row0 * p->d));
  if (s == dnnl_success) s = dnnl_memory_set_data_handle(set->k, (void *)(k + (ch->x0 * lk + ch->c0) * p->d));
  const float *v = pl->vpoisoned ? pl->vfinite : t->v;
  if (s == dnnl_success)
    s = dnnl_memory_set_data_handle(set->v, (void *)(v + (ch->x0 * lk + ch->c0) * p->dv));
  if (s == dnnl_success) s = dnnl_memory_set_data_handle(set->o, t->o + row0 * p->dv);
  if (s == dnnl_success && pl->mask == MASK_PAD)
    s = dnnl_memory_set_data_handle(set->mask_src, pl->padmask + ch->x0 * lk);
  if (s == dnnl_success) s = execute(pl, set, STEP_QK, STEP_SOFTMAX);
  if (s == dnnl_success && p->mode == ATTN_MODE_HARD) {
    hard_rows(pl, t, q, k, ch);
    return ATTN_OK;
  }
  if (s == dnnl_success && p->mode == ATTN_MODE_LOCAL_M) band_mask(pl, t, ch);
  if (s == dnnl_success && pl->mask != MASK_NONE) mask_fill(pl, t, ch);
  if (s == dnnl_success) s = execute(pl, set, STEP_SOFTMAX, STEPS);
  if (s != dnnl_success) return from_dnnl(s, "execute", NULL, 0);
  if (pl->vpoisoned) value_fixup(pl, t, ch);
  if (p->mode == ATTN_MODE_LOCAL_M) band_zero_empty(pl, t, ch);
  return ATTN_OK;
}

static attn_status onednn_forward(void *plan, const attn_tensors *t) {
  onednn_plan *pl = plan;
  const attn_problem *p = &pl->p;
  if (!t || !t->q || !t->k || !t->v || !t->o || (p->mask == ATTN_MASK_PAD && !t->lens) ||
      (p->score == ATTN_SCORE_GENERAL && !t->w) || (p->mode == ATTN_MODE_LOCAL_P && (!t->wp || !t->vp)))
    return ATTN_EINVAL;
  const int64_t x = p->b * p->hkv, lk = p->lk;
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
  const float *q, *k;
  attn_status rc = prepare(pl, t, &q, &k);
  if (rc == ATTN_OK && p->mode == ATTN_MODE_LOCAL_P) rc = run_local_p(pl, t, q, k);
  pl->vpoisoned = 0;
  if (rc == ATTN_OK && pl->vbad) finite_values(pl, t->v);
  for (int64_t c = 0; c < pl->nchunks && rc == ATTN_OK; c++) rc = run_chunk(pl, t, q, k, &pl->chunks[c]);
  omp_set_num_threads(prev);
  if (rc != ATTN_OK || p->mode == ATTN_MODE_LOCAL_P) return rc;

  /* Rows with no visible key must be zero. Rows before r0 were never
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

static attn_status onednn_run(void *plan, const attn_tensors *t) {
  if (!plan) return ATTN_EINVAL;
  return attn_run_rescued(&((const onednn_plan *)plan)->rescue, onednn_forward, plan, t);
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
  onednn_cap_isa();
  const dnnl_version_t *v = dnnl_version();
  char buf[320];
  snprintf(buf, sizeof buf, "%d.%d.%d (commit %s)", v->major, v->minor, v->patch, v->hash);
  emit(ctx, "onednn_version", buf);
  emit(ctx, "cpu_runtime", runtime_name(v->cpu_runtime));
  emit(ctx, "threads",
       v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp_set_num_threads(threads) around plan and run"
                                          : "library default (not OpenMP)");
  attn_isa_cap cap;
  (void)attn_cpu_isa_cap(&cap);
  const int at = snprintf(buf, sizeof buf, "%s", isa_name(dnnl_get_effective_cpu_isa()));
  if (cap != ATTN_ISA_CAP_NONE)
    snprintf(buf + at, sizeof buf - (size_t)at, ", capped by ATTNBENCH_MAX_ISA=%s", attn_isa_cap_name(cap));
  emit(ctx, "isa", buf);
  snprintf(buf, sizeof buf,
           "target %lld MiB, at least %d query rows, cap %lld MiB; causal: lq/8 rows in [%d, %d]",
           (long long)(ONEDNN_TILE_BYTES >> 20), ONEDNN_MIN_ROWS, (long long)(ONEDNN_CAP_BYTES >> 20),
           ONEDNN_CAUSAL_MIN_ROWS, ONEDNN_CAUSAL_MAX_ROWS);
  emit(ctx, "score_tile", buf);
  snprintf(buf, sizeof buf,
           "scores scaled, dot, general (Q W matmul), cosine (unit rows in C); modes soft, hard (qk, then "
           "max, near ties rescored in double, copy in C), local-m (tiles of >= %d rows x their key band, "
           "band mask in C), local-p (Q Wp^T matmul, windows in C); additive declined",
           ONEDNN_LOCAL_M_MIN_ROWS);
  emit(ctx, "seq2seq", buf);
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
     * a margin of two. (The SSE4.1 path measured 35 * 2^-23: declined.)
     * The same bound covers local-p's exponentials (common/seq2seq.h):
     * avx2_exp2_u3 (3 * 2^-24) or glibc's exp2f and expf (1 ulp, 2^-23) in
     * its rows, the sigmoid of its centres and its Gaussian factor.
     * tanh_abs_err: the centres' tanh, AVX2 or tanhf, local-p only. */
    .accuracy = {.exp_rel_err = 0x1p-20, .key_block = 0, .tanh_abs_err = ATTN_LOCAL_P_TANH_ABS_ERR},
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
