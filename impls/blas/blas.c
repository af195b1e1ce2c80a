/* blas: attention as a CBLAS library plus a vectorised softmax compute it,
 * the baseline a fused kernel has to beat. Per unit of query rows:
 *
 *   S = scale * Q K^T        cblas_sgemm, over only the keys the unit sees
 *   W = exp(S - rowmax(S))   masked, two-pass, in place (softmax.c)
 *   O = (W V) / rowsum(W)    cblas_sgemm, then one multiply per output
 *
 * A unit is a chunk of rows of one head, or, when a whole head fits in one
 * chunk, several whole heads of one key/value group stacked into one sgemm:
 * their rows are contiguous in Q and O, and they share K and V, which are
 * then read once per unit instead of once per head (decode with grouped-query
 * heads is bound by exactly that traffic). A unit of one row uses sgemv, which
 * streams K and V where sgemm would first pack them (2x faster at lk=65536).
 * K and V are never copied: attn_kv_head's pointers are passed as they are.
 *
 * Chunks keep the score buffer at SCORE_BYTES per worker, so lq = lk = 65536
 * needs a few MiB instead of 16 GiB. Every mask makes the visible keys of row
 * i a prefix [0, end(i)) with end nondecreasing in i, so a unit multiplies
 * against keys [0, end(its last row)) and masks only its diagonal block.
 *
 * Threads come from one place at a time, never both (nesting our OpenMP team
 * and the library's pool would oversubscribe the cores):
 *   heads-parallel   our OpenMP threads over units, each calling a
 *                    single-threaded sgemm on its own buffers
 *   sgemm-threaded   one unit at a time, the library's threads inside sgemm,
 *                    for shapes with fewer units than threads (decode of a
 *                    single head: the library splits the keys, where splitting
 *                    rows would make every thread read all of K and V) */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "attnbench/attn.h"
#include "blas/blas_lib.h"
#include "blas/softmax.h"
#include "common/mem.h"
#include "common/variant.h"

/* Query rows per chunk: at least MIN_CHUNK_ROWS, more while the scores stay
 * within SCORE_BYTES per worker. Each chunk repacks the K and V rows it sees
 * inside sgemm, so fewer rows cost throughput: at lk = 65536 (2 threads),
 * 64 / 128 / 256 rows ran at 200 / 235 / 255 GFLOP/s, for 16 / 32 / 64 MiB
 * of scores per worker; at lk = 4096, 256 and 512 rows (4 and 8 MiB) tie
 * and 1024 is slower, the scores no longer staying in cache. */
#define SCORE_BYTES    ((int64_t)4 << 20)
#define MIN_CHUNK_ROWS 256
/* When there are fewer units than threads, heads-parallel splits a head's
 * rows down to this many per chunk; below it (decode) the library's own
 * threads, which split the keys, were as fast or faster. */
#define MIN_SPLIT_ROWS 32
/* Causal chunks see only the keys up to their last row, so smaller chunks
 * skip more of the masked triangle: lq / CAUSAL_CHUNKS rows, at least
 * CAUSAL_MIN_ROWS. At h=16, d=128, 2 threads: lq=1024 ran at 206 GFLOP/s in
 * one chunk, 307 in 128-row chunks; lq=2048 at 308 (512 rows), 334 (256). */
#define CAUSAL_CHUNKS   8
#define CAUSAL_MIN_ROWS 128

typedef enum { HEADS_PARALLEL, SGEMM_THREADED } blas_arrangement;

/* How a problem is cut into units; shared by workspace_size and plan. */
typedef struct blas_shape {
  blas_arrangement arrangement;
  int workers;       /* buffer sets: threads (heads-parallel) or 1 */
  int64_t rows;      /* query rows per chunk of a head */
  int64_t nchunks;   /* chunks per head: cdiv(lq, rows) */
  int64_t stack;     /* heads per unit; > 1 only when nchunks == 1 */
  int64_t per_group; /* units per key/value group: cdiv(h / hkv, stack) */
  int64_t unit_rows; /* rows * stack: the rows of a score buffer */
} blas_shape;

typedef struct blas_plan {
  attn_problem p;
  const blas_lib *lib;
  const blas_softmax_impl *softmax;
  blas_shape sh;
  int threads;   /* OpenMP threads (heads-parallel) or library threads */
  float *scores; /* [workers][unit_rows * lk] */
  float *inv;    /* [workers][unit_rows]: 1 / row sum */
  int64_t *ends; /* [workers][unit_rows]: visible keys per row */
  char note[256];
} blas_plan;

/* ---- the library, loaded once ---- */

static blas_lib the_lib;
static pthread_once_t the_lib_once = PTHREAD_ONCE_INIT;

static void load_once(void) { blas_lib_load(&the_lib); }

const blas_lib *blas_lib_get(void) {
  pthread_once(&the_lib_once, load_once);
  return &the_lib;
}

/* ---- shape decisions ---- */

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* At most `rows` rows per chunk, spread evenly over the chunks lq needs:
 * 300 rows in chunks of at most 256 are 2 x 150, not 256 + 44. */
static int64_t clamp_rows(int64_t rows, int64_t lq) {
  if (lq < 1) return 1;
  if (rows < 1) rows = 1;
  return rows >= lq ? lq : cdiv(lq, cdiv(lq, rows));
}

/* Optional overrides, for measuring the alternatives (describe lists them). */
static int64_t env_int(const char *name) {
  const char *s = getenv(name);
  return s ? atoll(s) : 0;
}

static blas_shape choose_shape(const attn_problem *p, int threads, int lib_can_thread) {
  blas_shape sh;
  /* p is valid here (supports() checked hkv), but workspace_size may see any. */
  const int64_t group = p->hkv > 0 && p->h >= p->hkv ? p->h / p->hkv : 1,
                groups = p->b * (p->hkv > 0 ? p->hkv : 1);
  int64_t budget = SCORE_BYTES / (p->lk > 0 ? p->lk * (int64_t)sizeof(float) : 1);
  if (budget < MIN_CHUNK_ROWS) budget = MIN_CHUNK_ROWS;
  if (p->mask == ATTN_MASK_CAUSAL || p->mask == ATTN_MASK_CAUSAL_TL) {
    const int64_t causal_rows =
        p->lq / CAUSAL_CHUNKS > CAUSAL_MIN_ROWS ? p->lq / CAUSAL_CHUNKS : CAUSAL_MIN_ROWS;
    if (causal_rows < budget) budget = causal_rows;
  }

  /* Heads-parallel whenever there are at least as many units as threads: its
   * sgemm calls are independent, where a threaded sgemm synchronises inside
   * every call and leaves the softmax to one thread. Stack as many heads as
   * the budget holds while that stays true. */
  sh.arrangement = HEADS_PARALLEL;
  sh.rows = clamp_rows(budget, p->lq);
  sh.nchunks = cdiv(p->lq, sh.rows);
  sh.stack = 1;
  if (sh.nchunks == 1) {
    int64_t s = budget / sh.rows;
    s = s < 1 ? 1 : s > group ? group : s;
    while (s > 1 && groups * cdiv(group, s) < threads) s--;
    sh.stack = cdiv(group, cdiv(group, s)); /* even units: 8 heads at most 5 a unit are 4 + 4 */
  }
  if (groups * cdiv(group, sh.stack) * sh.nchunks < threads) {
    /* Too few units even one head each: cut rows finer, while chunks keep
     * MIN_SPLIT_ROWS rows; else one unit at a time with the library's
     * threads, and all the workers' memory in one buffer. */
    const int64_t heads = p->b * p->h, split = p->lq / cdiv(threads, heads);
    if (split >= MIN_SPLIT_ROWS || !lib_can_thread) {
      sh.rows = clamp_rows(split, p->lq);
      sh.nchunks = cdiv(p->lq, sh.rows);
      sh.stack = 1;
    } else {
      sh.arrangement = SGEMM_THREADED;
      const int64_t big = budget * threads;
      sh.rows = clamp_rows(big, p->lq);
      sh.nchunks = cdiv(p->lq, sh.rows);
      sh.stack = 1;
      if (sh.nchunks == 1) {
        const int64_t s = big / sh.rows;
        sh.stack = s < 1 ? 1 : s > group ? group : s;
        sh.stack = cdiv(group, cdiv(group, sh.stack));
      }
    }
  }
  const char *force = getenv("ATTNBENCH_BLAS_THREADING");
  if (force && !strcmp(force, "heads")) sh.arrangement = HEADS_PARALLEL;
  if (force && !strcmp(force, "sgemm") && lib_can_thread) sh.arrangement = SGEMM_THREADED;
  if (env_int("ATTNBENCH_BLAS_CHUNK_ROWS") > 0) {
    sh.rows = clamp_rows(env_int("ATTNBENCH_BLAS_CHUNK_ROWS"), p->lq);
    sh.nchunks = cdiv(p->lq, sh.rows);
    if (sh.nchunks > 1) sh.stack = 1;
  }
  if (env_int("ATTNBENCH_BLAS_STACK") > 0 && sh.nchunks == 1)
    sh.stack = env_int("ATTNBENCH_BLAS_STACK") < group ? env_int("ATTNBENCH_BLAS_STACK") : group;
  sh.per_group = cdiv(group, sh.stack);
  sh.unit_rows = sh.rows * sh.stack;
  sh.workers = sh.arrangement == HEADS_PARALLEL ? threads : 1;
  return sh;
}

/* ---- the vtable ---- */

static int blas_available(void) { return 1; /* x86-64 runs it; a missing library is a supports() reason */ }

static attn_status blas_supports(const attn_problem *p, char *why, size_t n) {
  attn_status vs =
      attn_variant_supported(p, ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT),
                             ATTN_MODE_BIT(ATTN_MODE_SOFT), "blas", why, n);
  if (vs != ATTN_OK) return vs;
  const blas_lib *lib = blas_lib_get();
  if (!lib->ok) {
    snprintf(why, n, "%s", lib->error);
    return ATTN_UNSUPPORTED;
  }
  if (p->hkv < 1 || p->h % p->hkv != 0) {
    snprintf(why, n, "h=%lld is not a multiple of hkv=%lld", (long long)p->h, (long long)p->hkv);
    return ATTN_EINVAL;
  }
  if (p->mask != ATTN_MASK_NONE && p->mask != ATTN_MASK_CAUSAL && p->mask != ATTN_MASK_CAUSAL_TL &&
      p->mask != ATTN_MASK_PAD) {
    /* The units rely on prefix masks whose end is nondecreasing in the query
     * row; a new mask kind has to be checked against that first. */
    snprintf(why, n, "mask kind %d is not a nondecreasing key prefix", (int)p->mask);
    return ATTN_UNSUPPORTED;
  }
  /* CBLAS dimensions are 32-bit: m <= unit rows (<= h * lq), n <= lk. */
  if (p->lk > INT_MAX || p->d > INT_MAX || p->dv > INT_MAX || p->h * p->lq > INT_MAX) {
    snprintf(why, n, "lk, d, dv and h*lq must fit the 32-bit integers of %s's CBLAS", lib->vendor);
    return ATTN_UNSUPPORTED;
  }
  return ATTN_OK;
}

static size_t blas_workspace(const attn_problem *p, const attn_config *cfg) {
  const int threads = cfg->threads > 0 ? cfg->threads : 1;
  const blas_lib *lib = blas_lib_get();
  const blas_shape sh = choose_shape(p, threads, lib->ok && lib->can_thread);
  const size_t rows = (size_t)sh.unit_rows;
  return (size_t)sh.workers * rows * ((size_t)p->lk * sizeof(float) + sizeof(float) + sizeof(int64_t));
}

static void blas_destroy(void *plan) {
  blas_plan *pl = plan;
  if (!pl) return;
  free(pl->scores);
  free(pl->inv);
  free(pl->ends);
  free(pl);
}

static attn_status blas_plan_create(const attn_problem *p, const attn_config *cfg, void **out, char *why,
                                    size_t n) {
  *out = NULL;
  attn_status s = blas_supports(p, why, n);
  if (s != ATTN_OK) return s;
  blas_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  pl->p = *p;
  pl->lib = blas_lib_get();
  pl->softmax = blas_softmax_best();
  pl->threads = cfg->threads > 0 ? cfg->threads : 1;
  pl->sh = choose_shape(p, pl->threads, pl->lib->can_thread);
  const size_t w = (size_t)pl->sh.workers, r = (size_t)pl->sh.unit_rows;
  pl->scores = attn_alloc_touched(w * r * (size_t)p->lk * sizeof(float));
  pl->inv = attn_alloc_touched(w * r * sizeof(float));
  pl->ends = attn_alloc_touched(w * r * sizeof(int64_t));
  if (!pl->scores || !pl->inv || !pl->ends) {
    blas_destroy(pl);
    snprintf(why, n, "no memory for %zu x %zu rows x %lld keys of scores", w, r, (long long)p->lk);
    return ATTN_ENOMEM;
  }
  /* Grow the library's thread pool here: setting a count it already has is
   * all run() does. Heads-parallel wants 1, which needs no pool. */
  const int lib_threads = pl->sh.arrangement == SGEMM_THREADED ? pl->threads : 1;
  pl->lib->set_threads(lib_threads);
  char unit[64];
  if (pl->sh.stack > 1)
    snprintf(unit, sizeof unit, "units of %lld heads", (long long)pl->sh.stack);
  else
    snprintf(unit, sizeof unit, "%lld-row chunks", (long long)pl->sh.rows);
  if (pl->sh.arrangement == HEADS_PARALLEL)
    snprintf(pl->note, sizeof pl->note, "heads-parallel: %d OpenMP threads x sgemm 1 thread, %s, %s %s",
             pl->threads, unit, pl->lib->vendor, pl->lib->core);
  else
    snprintf(pl->note, sizeof pl->note, "sgemm-threaded: one unit at a time, sgemm %d threads, %s, %s %s",
             pl->threads, unit, pl->lib->vendor, pl->lib->core);
  *out = pl;
  return ATTN_OK;
}

/* Rows [i0, i0 + rows) of query heads h0 .. h0 + nh - 1 (one key/value group;
 * nh > 1 only for whole heads, whose rows are then contiguous), on one
 * worker's buffers. */
static void attend_unit(const blas_plan *pl, const attn_tensors *t, int64_t bi, int64_t h0, int64_t nh,
                        int64_t i0, float *s, float *inv, int64_t *ends) {
  const attn_problem *p = &pl->p;
  const blas_lib *lib = pl->lib;
  const int64_t d = p->d, dv = p->dv, lk = p->lk, kvh = attn_kv_head(p, h0);
  const int64_t rows = i0 + pl->sh.rows < p->lq ? pl->sh.rows : p->lq - i0;
  const float *q = t->q + ((bi * p->h + h0) * p->lq + i0) * d;
  const float *k = t->k + (bi * p->hkv + kvh) * lk * d;
  const float *v = t->v + (bi * p->hkv + kvh) * lk * dv;
  float *o = t->o + ((bi * p->h + h0) * p->lq + i0) * dv;

  /* Ends are nondecreasing, so rows that see no key lead a head's chunk:
   * skip them when the unit is one head (stacked heads keep them, and the
   * softmax gives them zero weights). */
  int64_t first = 0;
  if (nh == 1) {
    while (first < rows && attn_visible_end(p, t->lens, bi, i0 + first) == 0) first++;
    if (first > 0) memset(o, 0, (size_t)(first * dv) * sizeof *o);
  }
  const int64_t m = nh * rows - first;
  if (m == 0) return;
  for (int64_t r = 0; r < m; r++) ends[r] = attn_visible_end(p, t->lens, bi, i0 + (first + r) % rows);
  const int64_t n = ends[m - 1]; /* the widest row: the keys this unit multiplies */
  q += first * d;
  o += first * dv;
  if (n == 0) { /* pad length 0: every row of the unit is empty */
    memset(o, 0, (size_t)(m * dv) * sizeof *o);
    return;
  }

  if (m == 1) {
    lib->sgemv(BLAS_ROW_MAJOR, BLAS_NO_TRANS, (int)n, (int)d, attn_scale(p), k, (int)d, q, 1, 0.0f, s, 1);
    pl->softmax->rows(s, 1, n, ends, inv);
    lib->sgemv(BLAS_ROW_MAJOR, BLAS_TRANS, (int)n, (int)dv, 1.0f, v, (int)dv, s, 1, 0.0f, o, 1);
  } else {
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_TRANS, (int)m, (int)n, (int)d, attn_scale(p), q, (int)d, k,
               (int)d, 0.0f, s, (int)n);
    pl->softmax->rows(s, m, n, ends, inv);
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_NO_TRANS, (int)m, (int)dv, (int)n, 1.0f, s, (int)n, v,
               (int)dv, 0.0f, o, (int)dv);
  }
  for (int64_t r = 0; r < m; r++) {
    float *row = o + r * dv;
    for (int64_t c = 0; c < dv; c++) row[c] *= inv[r];
  }
}

/* Unit number u (0 .. units - 1) of chunk c, on worker w's buffers. */
static void run_unit(const blas_plan *pl, const attn_tensors *t, int64_t u, int64_t c, int64_t w) {
  const attn_problem *p = &pl->p;
  const blas_shape *sh = &pl->sh;
  const int64_t group = p->h / p->hkv, g = u / sh->per_group, j = u % sh->per_group;
  const int64_t bi = g / p->hkv, h0 = (g % p->hkv) * group + j * sh->stack;
  const int64_t nh = h0 + sh->stack <= (g % p->hkv + 1) * group ? sh->stack : (g % p->hkv + 1) * group - h0;
  const size_t at = (size_t)w * (size_t)sh->unit_rows;
  attend_unit(pl, t, bi, h0, nh, c * sh->rows, pl->scores + at * (size_t)p->lk, pl->inv + at, pl->ends + at);
}

static attn_status blas_run(void *plan, const attn_tensors *t) {
  const blas_plan *pl = plan;
  const attn_problem *p = &pl->p;
  const blas_shape *sh = &pl->sh;
  if (!t || !t->q || !t->k || !t->v || !t->o || (p->mask == ATTN_MASK_PAD && !t->lens)) return ATTN_EINVAL;
  const int64_t units = p->b * p->hkv * sh->per_group, items = units * sh->nchunks;

  if (sh->arrangement == HEADS_PARALLEL) {
    pl->lib->set_threads(1);
    /* Dynamic, last chunks first: under a causal mask a head's last chunk is
     * its most expensive, so the long items start early and the short ones
     * fill the gaps at the end. */
#pragma omp parallel for num_threads(pl->threads) schedule(dynamic, 1)
    for (int64_t it = 0; it < items; it++)
      run_unit(pl, t, it % units, sh->nchunks - 1 - it / units, omp_get_thread_num());
  } else {
    pl->lib->set_threads(pl->threads);
    for (int64_t it = 0; it < items; it++) run_unit(pl, t, it / sh->nchunks, it % sh->nchunks, 0);
  }
  return ATTN_OK;
}

static const char *blas_plan_note(const void *plan) { return ((const blas_plan *)plan)->note; }

static void blas_describe(attn_emit_fn emit, void *ctx) {
  const blas_lib *lib = blas_lib_get();
  char buf[256];
  if (!lib->ok) {
    emit(ctx, "library", lib->error);
    return;
  }
  emit(ctx, "library", lib->version);
  emit(ctx, "library_file", lib->path);
  emit(ctx, "core", lib->core);
  emit(ctx, "core_chosen_by", lib->core_from);
  emit(ctx, "library_threading", lib->threading);
  snprintf(buf, sizeof buf,
           "chunks of at least %d query rows, more while within %lld MiB of scores per worker; lq split "
           "evenly; causal: lq/%d rows, at least %d; whole heads of a kv group stacked while they fit",
           MIN_CHUNK_ROWS, (long long)(SCORE_BYTES >> 20), CAUSAL_CHUNKS, CAUSAL_MIN_ROWS);
  emit(ctx, "units", buf);
  snprintf(buf, sizeof buf, "two-pass, plain C vectorised exp (rel err <= 2^-23), %s code path",
           blas_softmax_best()->isa);
  emit(ctx, "softmax", buf);
  emit(ctx, "threads",
       "heads-parallel unless fewer units than threads, then sgemm-threaded; overrides: "
       "ATTNBENCH_BLAS_THREADING=heads|sgemm, ATTNBENCH_BLAS_CHUNK_ROWS=N, ATTNBENCH_BLAS_STACK=N");
}

/* ---- the GEMM op=mha projects with: one cblas_sgemm ----
 * Threads, as for attention, from one place only: the library's own when it
 * can thread (it splits the product as it sees fit), else our OpenMP threads
 * over row blocks, each a single-threaded sgemm. */

typedef struct blas_gemm {
  attn_gemm_shape g;
  const blas_lib *lib;
  int threads, lib_threads; /* lib_threads: the library threads (1: OpenMP over rows) */
} blas_gemm;

static attn_status blas_gemm_plan(const attn_gemm_shape *g, const attn_config *cfg, void **out, char *why,
                                  size_t n) {
  *out = NULL;
  const blas_lib *lib = blas_lib_get();
  if (!lib->ok) {
    snprintf(why, n, "%s", lib->error);
    return ATTN_UNSUPPORTED;
  }
  if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->m * g->k > INT_MAX * 64LL) {
    snprintf(why, n, "GEMM %lldx%lldx%lld exceeds the 32-bit integers of %s's CBLAS", (long long)g->m,
             (long long)g->n, (long long)g->k, lib->vendor);
    return ATTN_UNSUPPORTED;
  }
  blas_gemm *pl = malloc(sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  pl->g = *g;
  pl->lib = lib;
  pl->threads = cfg->threads > 0 ? cfg->threads : 1;
  pl->lib_threads = lib->can_thread ? pl->threads : 1;
  lib->set_threads(pl->lib_threads); /* grow the pool here, not in the timed run */
  *out = pl;
  return ATTN_OK;
}

static attn_status blas_gemm_run(void *plan, const float *a, const float *b, float *c) {
  const blas_gemm *pl = plan;
  const blas_lib *lib = pl->lib;
  const int m = (int)pl->g.m, nn = (int)pl->g.n, k = (int)pl->g.k;
  lib->set_threads(pl->lib_threads);
  if (pl->lib_threads > 1 || pl->threads == 1) {
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_NO_TRANS, m, nn, k, 1.0f, a, k, b, nn, 0.0f, c, nn);
    return ATTN_OK;
  }
#pragma omp parallel num_threads(pl->threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int r0 = (int)((int64_t)m * t / nt), r1 = (int)((int64_t)m * (t + 1) / nt);
    if (r1 > r0)
      lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_NO_TRANS, r1 - r0, nn, k, 1.0f, a + (int64_t)r0 * k, k,
                 b, nn, 0.0f, c + (int64_t)r0 * nn, nn);
  }
  return ATTN_OK;
}

const attn_backend attn_backend_blas = {
    .name = "blas",
    .summary = "CBLAS sgemm for QK^T and PV around a vectorised two-pass softmax, chunked rows",
    .accuracy = {.exp_rel_err = BLAS_EXPF_U10_REL_ERR, .key_block = 0},
    .available = blas_available,
    .supports = blas_supports,
    .workspace_size = blas_workspace,
    .plan = blas_plan_create,
    .run = blas_run,
    .destroy = blas_destroy,
    .plan_note = blas_plan_note,
    .describe = blas_describe,
    .gemm_plan = blas_gemm_plan,
    .gemm_run = blas_gemm_run,
    .gemm_destroy = free,
};
