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
 *                    rows would make every thread read all of K and V)
 *
 * The seq2seq scores and modes (attn.h) reuse that path:
 *   general   Q' = Q W once per run (one sgemm per thread over its rows), then
 *             the scaled path on Q': W is folded into the queries
 *   cosine    Q and K rows normalised once per run, then the scaled path
 *   hard      the same score chunks, then per row the first maximum over its
 *             visible keys and a copy of that value row: no softmax, no PV
 *   local-m   the score sgemm of a chunk spans only the keys its rows'
 *             windows reach (a band: rows + 2 * window columns, never lk),
 *             the softmax only each row's own window, PV over the band;
 *             chunks of max(LOCAL_M_MIN_ROWS, 2 * window + 1) rows
 *   local-p   centres from Q Wp^T (one sgemm per chunk of LOCAL_P_ROWS rows),
 *             then per row sgemv over its own window of at most 2 * window + 1
 *             keys for scores and for PV, the Gaussian factor on the weights
 * additive is declined: its scores are a tanh per key and attention unit,
 * not a product a BLAS computes (avx512 and naive implement it). */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "attnbench/attn.h"
#include "blas/blas_lib.h"
#include "blas/softmax.h"
#include "common/headroom.h"
#include "common/mem.h"
#include "common/rescue.h"
#include "common/seq2seq.h"
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
/* mode=local-m: a chunk of R rows multiplies R + 2 * window keys for R * (2 *
 * window + 1) useful scores, so R near the window wastes at most 2x; below
 * LOCAL_M_MIN_ROWS rows sgemm's call overhead dominates instead. */
#define LOCAL_M_MIN_ROWS 32
/* mode=local-p: query rows per Q Wp^T sgemm (each row's window then runs
 * alone: windows are not monotone in the row). */
#define LOCAL_P_ROWS 64
/* Rows per sgemm over the keys a block of rows shares (visible_values): each
 * row's remaining keys, fewer than this under the causal masks, are added in
 * plain C. 16: smaller blocks make more, less efficient sgemm calls; larger
 * ones leave more per-row work. */
#define PV_BLOCK 16
/* Rows per sgemm call of the W fold: m stays within CBLAS's 32-bit int. */
#define FOLD_ROWS ((int64_t)1 << 20)

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

/* Per-worker buffer sizes, in elements; shared by workspace_size and plan. */
typedef struct blas_sizes {
  int64_t cols;   /* score columns: lk, a local-m band or a local-p window */
  int64_t scores; /* floats of scores */
  int64_t rows;   /* entries of inv, starts, ends, idx */
  int64_t proj;   /* local-p: floats of Q Wp^T, then centres of its rows */
  int64_t q, k;   /* plan-wide: folded or normalised Q, normalised K (floats) */
} blas_sizes;

/* One worker's buffers. */
typedef struct blas_work {
  float *s;
  float *inv;      /* 1 / row sum */
  int64_t *starts; /* a row's visible keys [starts, ends), relative to the unit's first key */
  int64_t *ends;
  int64_t *idx;   /* mode=hard: the chosen key */
  float *proj;    /* mode=local-p: Q Wp^T of the unit's rows */
  float *centres; /* mode=local-p */
} blas_work;

typedef struct blas_plan {
  attn_problem p;
  const blas_lib *lib;
  const blas_softmax_impl *softmax;
  blas_shape sh;
  blas_sizes sz;
  int threads;     /* OpenMP threads (heads-parallel) or library threads */
  float *scores;   /* [workers][sz.scores] */
  float *inv;      /* [workers][sz.rows] */
  int64_t *ends;   /* [workers][sz.rows] */
  int64_t *starts; /* [workers][sz.rows] */
  int64_t *idx;    /* [workers][sz.rows] */
  float *proj;     /* [workers][sz.proj + sz.rows] */
  float *q, *k;    /* score=general, cosine: what the scores read instead of Q, K */
  attn_rescue rescue;
  char note[256];
} blas_plan;

/* What a unit reads: the caller's tensors, and the queries and keys its
 * scores take (the caller's, or the plan's folded or normalised copies). */
typedef struct blas_inputs {
  const attn_tensors *t;
  const float *q, *k;
} blas_inputs;

/* ---- the library, loaded once; its process-wide state ---- */

/* lib_mu guards loading and everything below: the library's thread count is
 * one setting for the whole process, and so is the address space it has
 * mapped. */
static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lib_cv = PTHREAD_COND_INITIALIZER;
static blas_lib the_lib, lowmem_lib;
static int lib_loaded;
/* The threads the library's pool holds (the caller included), and the
 * buffers for calling threads it has mapped or that a plan's check counted
 * on: both only grow (the library keeps them). */
static int lib_pool, lib_callers;
/* The thread count every current user of the library runs with, and how
 * many users there are (see lib_enter); the threads the library has started. */
static int lib_count, lib_users, lib_started;

/* A pthreads OpenBLAS's new pool threads map their buffers as they start,
 * after the call that started them returned: wait (at most a second) until
 * the process has grown by `bytes` since it was `v0`, so that the next
 * headroom check sees those buffers instead of counting their space free. */
static void await_mapped(const blas_lib *lib, int64_t v0, int64_t bytes) {
  if (v0 < 0 || bytes <= 0 || strcmp(lib->threading, "pthreads") != 0) return;
  for (int i = 0; i < 1000 && attn_vsize() < v0 + bytes; i++) nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* What a plan's check allows for besides the library's own mappings: the
 * harness's allocations between plan and the first run (report rows, a
 * thread's TLS), small next to the library's buffers. */
#define LIB_SLACK_BYTES (16 * ATTN_MIB)

/* Loads the library on first use. Not when the address-space limit leaves
 * less than loading maps (OpenBLAS kills the process when its threads cannot
 * start): then a library that is not ok, lowmem, whose error says so, and a
 * later call tries again. */
const blas_lib *blas_lib_get(void) {
  const blas_lib *lib = &the_lib;
  pthread_mutex_lock(&lib_mu);
  if (!lib_loaded) {
    const int64_t need = blas_lib_load_bytes(&lowmem_lib);
    char what[64];
    snprintf(what, sizeof what, "loading %s", lowmem_lib.vendor);
    if (attn_as_check(need, what, lowmem_lib.error, sizeof lowmem_lib.error)) {
      lowmem_lib.lowmem = 1;
      lib = &lowmem_lib;
    } else {
      const int64_t v0 = attn_vsize();
      blas_lib_load(&the_lib);
      lib_loaded = 1;
      lib_pool = lib_started = the_lib.pool;
      await_mapped(&the_lib, v0, (the_lib.pool - 1) * (attn_thread_stack_bytes() + the_lib.buffer_bytes));
    }
  }
  pthread_mutex_unlock(&lib_mu);
  return lib;
}

/* Before a plan: whether the address space holds what its runs make the
 * library map, beyond what it has: a buffer per calling thread (`callers` at
 * once) and per pool thread, a stack per pool thread (`pool` in all), and
 * the stacks of our OpenMP team of `team` (if it does not exist yet). Counted
 * as mapped once checked, so later plans do not count it again. */
static attn_status lib_room(const blas_lib *lib, int callers, int pool, int team, char *why, size_t n) {
  if (lib->lowmem) {
    snprintf(why, n, "%s", lib->error);
    return ATTN_ENOMEM;
  }
  pthread_mutex_lock(&lib_mu);
  const int64_t stack = attn_thread_stack_bytes(), buf = lib->buffer_bytes;
  /* Two buffers per calling thread: under LLVM's libomp a team thread of
   * OpenBLAS 0.3.21 was seen mapping a second buffer while it kept its first
   * (strace, clang build); counting one made runs at the edge hang. */
  callers *= 2;
  const int64_t need = LIB_SLACK_BYTES + (callers > lib_callers ? callers - lib_callers : 0) * buf +
                       (pool > lib_pool ? pool - lib_pool : 0) * (stack + buf) + (team - 1) * stack;
  const int fits = attn_as_check(need, lib->vendor, why, n) == 0;
  if (fits) {
    if (callers > lib_callers) lib_callers = callers;
    if (pool > lib_pool) lib_pool = pool;
  }
  pthread_mutex_unlock(&lib_mu);
  return fits ? ATTN_OK : ATTN_ENOMEM;
}

/* Runs with the library at `count` threads, until lib_leave. The count is
 * process-wide: a run at 1 (our OpenMP threads each calling a single-threaded
 * sgemm) beside a run at N would have its calls split N ways, or the other's
 * split 1 way, and a different split rounds differently (tail kernels), so
 * two concurrent runs gave other bits about once in a hundred. Runs at the
 * same count go on together; a run at another count waits until they end. */
static void lib_enter(const blas_lib *lib, int count) {
  pthread_mutex_lock(&lib_mu);
  while (lib_users > 0 && lib_count != count) pthread_cond_wait(&lib_cv, &lib_mu);
  if (lib_count != count) {
    const int64_t v0 = attn_vsize();
    lib->set_threads(count);
    lib_count = count;
    if (count > lib_started) {
      await_mapped(lib, v0, (count - lib_started) * (attn_thread_stack_bytes() + lib->buffer_bytes));
      lib_started = count;
    }
  }
  lib_users++;
  pthread_mutex_unlock(&lib_mu);
}

static void lib_leave(void) {
  pthread_mutex_lock(&lib_mu);
  if (--lib_users == 0) pthread_cond_broadcast(&lib_cv);
  pthread_mutex_unlock(&lib_mu);
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

/* The keys a local-m chunk of `rows` rows (or a local-p row, rows = 1)
 * reaches: rows - 1 + 2 * window + 1, at most lk. */
static int64_t band_width(const attn_problem *p, int64_t rows) {
  const int64_t lk = p->lk > 0 ? p->lk : 1;
  return p->window >= lk || rows - 1 + 2 * p->window + 1 >= lk ? lk : rows + 2 * p->window;
}

/* mode=local-p: chunks of LOCAL_P_ROWS rows of one head, our threads over them. */
static blas_shape local_p_shape(const attn_problem *p, int threads) {
  const int64_t group = p->hkv > 0 && p->h >= p->hkv ? p->h / p->hkv : 1;
  blas_shape sh = {.arrangement = HEADS_PARALLEL, .workers = threads, .stack = 1, .per_group = group};
  sh.rows = clamp_rows(LOCAL_P_ROWS, p->lq);
  sh.nchunks = cdiv(p->lq, sh.rows);
  sh.unit_rows = sh.rows;
  return sh;
}

static blas_shape choose_shape(const attn_problem *p, int threads, int lib_can_thread) {
  if (p->mode == ATTN_MODE_LOCAL_P) return local_p_shape(p, threads);
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
  if (p->mode == ATTN_MODE_LOCAL_M && p->window < budget) {
    const int64_t local_rows = 2 * p->window + 1 > LOCAL_M_MIN_ROWS ? 2 * p->window + 1 : LOCAL_M_MIN_ROWS;
    if (local_rows < budget) budget = local_rows;
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

static blas_sizes sizes_of(const attn_problem *p, const blas_shape *sh) {
  blas_sizes z = {.rows = sh->unit_rows, .cols = p->lk};
  if (p->mode == ATTN_MODE_LOCAL_M) z.cols = band_width(p, sh->rows);
  if (p->mode == ATTN_MODE_LOCAL_P) z.cols = band_width(p, 1);
  z.scores = (p->mode == ATTN_MODE_LOCAL_P ? 1 : sh->unit_rows) * z.cols;
  if (p->mode == ATTN_MODE_LOCAL_P) z.proj = sh->rows * p->da;
  if (p->score == ATTN_SCORE_GENERAL || p->score == ATTN_SCORE_COSINE) z.q = p->b * p->h * p->lq * p->d;
  if (p->score == ATTN_SCORE_COSINE) z.k = p->b * p->hkv * p->lk * p->d;
  return z;
}

static size_t sizes_bytes(const blas_sizes *z, int64_t workers) {
  const size_t per_worker = (size_t)z->scores * sizeof(float) +
                            (size_t)z->rows * (2 * sizeof(float) + 3 * sizeof(int64_t)) +
                            (size_t)z->proj * sizeof(float);
  return (size_t)workers * per_worker + (size_t)(z->q + z->k) * sizeof(float);
}

/* ---- the vtable ---- */

static int blas_available(void) { return 1; /* x86-64 runs it; a missing library is a supports() reason */ }

/* The window and width a mode needs (the problem parser checks them too;
 * a hand-made descriptor may not have been through it). */
static attn_status mode_params_ok(const attn_problem *p, char *why, size_t n) {
  if (p->mode == ATTN_MODE_LOCAL_M && p->window < 0) {
    snprintf(why, n, "mode=local-m needs window >= 0");
    return ATTN_EINVAL;
  }
  if (p->mode == ATTN_MODE_LOCAL_P && (p->window < 1 || p->da < 1 || p->da > INT_MAX)) {
    snprintf(why, n, "mode=local-p needs window >= 1 (sigma = window/2) and 1 <= da <= INT_MAX");
    return ATTN_EINVAL;
  }
  return ATTN_OK;
}

static attn_status blas_supports(const attn_problem *p, char *why, size_t n) {
  const unsigned scores = ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT) |
                          ATTN_SCORE_BIT(ATTN_SCORE_GENERAL) | ATTN_SCORE_BIT(ATTN_SCORE_COSINE),
                 modes = ATTN_MODE_BIT(ATTN_MODE_SOFT) | ATTN_MODE_BIT(ATTN_MODE_HARD) |
                         ATTN_MODE_BIT(ATTN_MODE_LOCAL_M) | ATTN_MODE_BIT(ATTN_MODE_LOCAL_P);
  attn_status vs = attn_variant_supported(p, scores, modes, "blas", why, n);
  if (vs != ATTN_OK && p->score == ATTN_SCORE_ADDITIVE)
    snprintf(why, n, "score=additive is not a GEMM: blas has no tanh kernel; see avx512 or naive");
  if (vs == ATTN_OK) vs = mode_params_ok(p, why, n);
  if (vs != ATTN_OK) return vs;
  const blas_lib *lib = blas_lib_get();
  if (!lib->ok && !lib->lowmem) { /* lowmem: plan says ENOMEM */
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
  const blas_sizes z = sizes_of(p, &sh);
  return sizes_bytes(&z, sh.workers);
}

static void blas_destroy(void *plan) {
  blas_plan *pl = plan;
  if (!pl) return;
  free(pl->scores);
  free(pl->inv);
  free(pl->ends);
  free(pl->starts);
  free(pl->idx);
  free(pl->proj);
  free(pl->q);
  free(pl->k);
  attn_rescue_free(&pl->rescue);
  free(pl);
}

/* Worker w's share of the plan's buffers. */
static blas_work work_of(const blas_plan *pl, int64_t w) {
  const blas_sizes *z = &pl->sz;
  float *proj = pl->proj + w * (z->proj + z->rows);
  return (blas_work){.s = pl->scores + w * z->scores,
                     .inv = pl->inv + w * z->rows,
                     .starts = pl->starts + w * z->rows,
                     .ends = pl->ends + w * z->rows,
                     .idx = pl->idx + w * z->rows,
                     .proj = proj,
                     .centres = proj + z->proj};
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
  pl->sz = sizes_of(p, &pl->sh);
  const size_t w = (size_t)pl->sh.workers, r = (size_t)pl->sz.rows;
  pl->scores = attn_alloc_touched(w * (size_t)pl->sz.scores * sizeof(float));
  pl->inv = attn_alloc_touched(w * r * sizeof(float));
  pl->ends = attn_alloc_touched(w * r * sizeof(int64_t));
  pl->starts = attn_alloc_touched(w * r * sizeof(int64_t));
  pl->idx = attn_alloc_touched(w * r * sizeof(int64_t));
  pl->proj = attn_alloc_touched(w * (size_t)(pl->sz.proj + pl->sz.rows) * sizeof(float));
  if (pl->sz.q) pl->q = attn_alloc_touched((size_t)pl->sz.q * sizeof(float));
  if (pl->sz.k) pl->k = attn_alloc_touched((size_t)pl->sz.k * sizeof(float));
  if (!pl->scores || !pl->inv || !pl->ends || !pl->starts || !pl->idx || !pl->proj || (pl->sz.q && !pl->q) ||
      (pl->sz.k && !pl->k) || attn_rescue_plan(&pl->rescue, p) != ATTN_OK) {
    snprintf(why, n, "no memory for %zu x %lld scores and %lld floats of prepared queries and keys", w,
             (long long)pl->sz.scores, (long long)(pl->sz.q + pl->sz.k));
    blas_destroy(pl);
    return ATTN_ENOMEM;
  }
  /* Calling threads: our team in heads-parallel, and when Q W or the
   * normalisation runs first (prepare: our team, single-threaded sgemm). */
  const int lib_threads = pl->sh.arrangement == SGEMM_THREADED ? pl->threads : 1;
  const int callers = lib_threads == 1 || pl->sz.q ? pl->threads : 1;
  s = lib_room(pl->lib, callers, lib_threads, pl->threads, why, n);
  if (s != ATTN_OK) {
    blas_destroy(pl);
    return s;
  }
  /* Grow the library's thread pool here: setting a count it already has is
   * all run() does. Heads-parallel wants 1, which needs no pool. */
  lib_enter(pl->lib, lib_threads);
  lib_leave();
  char unit[96];
  if (pl->sh.stack > 1)
    snprintf(unit, sizeof unit, "units of %lld heads", (long long)pl->sh.stack);
  else
    snprintf(unit, sizeof unit, "%lld-row chunks", (long long)pl->sh.rows);
  if (p->mode == ATTN_MODE_LOCAL_P)
    snprintf(unit, sizeof unit, "%lld-row Q Wp^T chunks, sgemv windows of <= %lld keys",
             (long long)pl->sh.rows, (long long)pl->sz.cols);
  else if (p->mode == ATTN_MODE_LOCAL_M)
    snprintf(unit + strlen(unit), sizeof unit - strlen(unit), " x <= %lld-key bands", (long long)pl->sz.cols);
  const char *prep = p->score == ATTN_SCORE_GENERAL  ? ", Q W folded first"
                     : p->score == ATTN_SCORE_COSINE ? ", Q and K normalised first"
                                                     : "";
  const char *hard = p->mode == ATTN_MODE_HARD ? ", hard: max + copy, no softmax or PV" : "";
  if (pl->sh.arrangement == HEADS_PARALLEL)
    snprintf(pl->note, sizeof pl->note, "heads-parallel: %d OpenMP threads x sgemm 1 thread, %s, %s %s%s%s",
             pl->threads, unit, pl->lib->vendor, pl->lib->core, prep, hard);
  else
    snprintf(pl->note, sizeof pl->note, "sgemm-threaded: one unit at a time, sgemm %d threads, %s, %s %s%s%s",
             pl->threads, unit, pl->lib->vendor, pl->lib->core, prep, hard);
  *out = pl;
  return ATTN_OK;
}

/* The keys [*lo, *hi) that query row i of batch bi attends to: the mask's
 * prefix, intersected with the local-m window. */
static void row_keys(const attn_problem *p, const int32_t *lens, int64_t bi, int64_t i, int64_t *lo,
                     int64_t *hi) {
  const int64_t end = attn_visible_end(p, lens, bi, i);
  if (p->mode == ATTN_MODE_LOCAL_M) {
    attn_window(p, (double)attn_local_m_centre(p, i), end, lo, hi);
  } else {
    *lo = 0;
    *hi = end;
  }
}

static int row_empty(const attn_problem *p, const int32_t *lens, int64_t bi, int64_t i) {
  int64_t lo, hi;
  row_keys(p, lens, bi, i, &lo, &hi);
  return lo >= hi;
}

/* S[m][n] = scale * Q[m][d] K[n][d]^T: sgemv for one row (it streams K
 * where sgemm would first pack it). */
static void scores_of(const blas_plan *pl, const float *q, const float *k, int64_t m, int64_t n, float *s) {
  const blas_lib *lib = pl->lib;
  const int d = (int)pl->p.d;
  if (m == 1)
    lib->sgemv(BLAS_ROW_MAJOR, BLAS_NO_TRANS, (int)n, d, attn_scale(&pl->p), k, d, q, 1, 0.0f, s, 1);
  else
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_TRANS, (int)m, (int)n, d, attn_scale(&pl->p), q, d, k, d,
               0.0f, s, (int)n);
}

/* O[m][dv] = W[m][n] V[n][dv], then row r scaled by inv[r]. */
static void weighted_values(const blas_plan *pl, const float *s, const float *v, const float *inv, int64_t m,
                            int64_t n, float *o) {
  const blas_lib *lib = pl->lib;
  const int64_t dv = pl->p.dv;
  if (m == 1)
    lib->sgemv(BLAS_ROW_MAJOR, BLAS_TRANS, (int)n, (int)dv, 1.0f, v, (int)dv, s, 1, 0.0f, o, 1);
  else
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_NO_TRANS, (int)m, (int)dv, (int)n, 1.0f, s, (int)n, v,
               (int)dv, 0.0f, o, (int)dv);
  for (int64_t r = 0; r < m; r++) {
    float *row = o + r * dv;
    for (int64_t c = 0; c < dv; c++) row[c] *= inv[r];
  }
}

/* The keys [*lo, *hi) every row of [r0, r1) sees, over rows that see any
 * (empty if they share none or none sees a key). */
static void shared_keys(const int64_t *starts, const int64_t *ends, int64_t r0, int64_t r1, int64_t *lo,
                        int64_t *hi) {
  *lo = INT64_MIN, *hi = INT64_MAX;
  for (int64_t r = r0; r < r1; r++)
    if (starts[r] < ends[r]) {
      if (starts[r] > *lo) *lo = starts[r];
      if (ends[r] < *hi) *hi = ends[r];
    }
  if (*hi <= *lo || *lo == INT64_MIN) *lo = *hi = 0;
}

/* O[r0, r1) += W[r0, r1)[a, b) V[a, b): one sgemm (sgemv for one row). */
static void add_values(const blas_plan *pl, const float *s, int64_t n, const float *v, int64_t r0, int64_t r1,
                       int64_t a, int64_t b, float *o) {
  const blas_lib *lib = pl->lib;
  const int dv = (int)pl->p.dv;
  if (b <= a || r1 <= r0) return;
  if (r1 - r0 == 1)
    lib->sgemv(BLAS_ROW_MAJOR, BLAS_TRANS, (int)(b - a), dv, 1.0f, v + a * dv, dv, s + r0 * n + a, 1, 1.0f,
               o + r0 * dv, 1);
  else
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_NO_TRANS, (int)(r1 - r0), dv, (int)(b - a), 1.0f,
               s + r0 * n + a, (int)n, v + a * dv, dv, 1.0f, o + r0 * dv, dv);
}

/* Row r of O += its weights on keys [a, b) times their value rows, in plain
 * C: at most PV_BLOCK - 1 keys, too few for a library call to pay. */
static void add_row_values(const float *w, const float *v, int64_t a, int64_t b, int64_t dv, float *o) {
  for (int64_t j = a; j < b; j++)
    for (int64_t c = 0; c < dv; c++) o[c] += w[j] * v[j * dv + c];
}

/* O = (W V) / rowsum over only the keys each row sees, then rows that see
 * none zeroed. A masked key's weight is 0, but 0 x NaN (or inf) in its value
 * row is NaN: one product over the unit's span would put it into rows that
 * must not see it (under causal masks, a chunk's earlier rows). So: one sgemm
 * over the keys every row sees; per block of PV_BLOCK rows, sgemm over the
 * further keys the whole block sees; per row, the rest of its own keys, a
 * triangle of fewer than PV_BLOCK keys per row under the causal masks. */
static void visible_values(const blas_plan *pl, const float *s, const float *v, const float *inv,
                           const int64_t *starts, const int64_t *ends, int64_t m, int64_t n, float *o) {
  const int64_t dv = pl->p.dv;
  int64_t lo, hi;
  shared_keys(starts, ends, 0, m, &lo, &hi);
  memset(o, 0, (size_t)(m * dv) * sizeof *o);
  add_values(pl, s, n, v, 0, m, lo, hi, o);
  for (int64_t b0 = 0; b0 < m; b0 += PV_BLOCK) {
    const int64_t b1 = b0 + PV_BLOCK < m ? b0 + PV_BLOCK : m;
    int64_t blo, bhi; /* contains [lo, hi) when that is not empty */
    shared_keys(starts, ends, b0, b1, &blo, &bhi);
    if (hi > lo) {
      add_values(pl, s, n, v, b0, b1, blo, lo, o);
      add_values(pl, s, n, v, b0, b1, hi, bhi, o);
    } else {
      add_values(pl, s, n, v, b0, b1, blo, bhi, o);
    }
    for (int64_t r = b0; r < b1; r++) {
      if (starts[r] >= ends[r]) continue;
      const float *w = s + r * n;
      float *row = o + r * dv;
      if (bhi > blo) {
        add_row_values(w, v, starts[r], blo, dv, row);
        add_row_values(w, v, bhi, ends[r], dv, row);
      } else {
        add_row_values(w, v, starts[r], ends[r], dv, row);
      }
    }
  }
  for (int64_t r = 0; r < m; r++) {
    float *row = o + r * dv;
    if (starts[r] >= ends[r])
      memset(row, 0, (size_t)dv * sizeof *row);
    else
      for (int64_t c = 0; c < dv; c++) row[c] *= inv[r];
  }
}

/* mode=hard: each row's argmax idx[r] (-1: no key) refined by the shared
 * near-tie pick (common/seq2seq.h), since equal keys need not score equal in
 * the library's GEMM. */
static void refine_hard(const attn_problem *p, const float *s, int64_t n, const float *q, const float *k,
                        const int64_t *starts, const int64_t *ends, int64_t m, int64_t *idx) {
  const int64_t d = p->d;
  const double kmax = attn_max_row_norm(k, n, d);
  for (int64_t r = 0; r < m; r++) {
    if (idx[r] < 0) continue;
    const float *row = s + r * n;
    idx[r] = attn_hard_pick(row, starts[r], ends[r], row[idx[r]], q + r * d, k, d, attn_scale(p), kmax);
  }
}

/* mode=hard: each row a copy of its chosen value row (idx -1: no key, zero). */
static void copy_chosen(const int64_t *idx, const float *v, int64_t m, int64_t dv, float *o) {
  for (int64_t r = 0; r < m; r++) {
    if (idx[r] < 0)
      memset(o + r * dv, 0, (size_t)dv * sizeof *o);
    else
      memcpy(o + r * dv, v + idx[r] * dv, (size_t)dv * sizeof *o);
  }
}

/* Rows [i0, i0 + rows) of query heads h0 .. h0 + nh - 1 (one key/value group;
 * nh > 1 only for whole heads, whose rows are then contiguous), on one
 * worker's buffers: soft, hard and local-m. */
static void attend_unit(const blas_plan *pl, const blas_inputs *in, int64_t bi, int64_t h0, int64_t nh,
                        int64_t i0, const blas_work *w) {
  const attn_problem *p = &pl->p;
  const attn_tensors *t = in->t;
  const int64_t d = p->d, dv = p->dv, lk = p->lk, kvh = attn_kv_head(p, h0);
  const int64_t rows = i0 + pl->sh.rows < p->lq ? pl->sh.rows : p->lq - i0;
  const float *q = in->q + ((bi * p->h + h0) * p->lq + i0) * d;
  const float *k = in->k + (bi * p->hkv + kvh) * lk * d;
  const float *v = t->v + (bi * p->hkv + kvh) * lk * dv;
  float *o = t->o + ((bi * p->h + h0) * p->lq + i0) * dv;
  int64_t *starts = w->starts, *ends = w->ends;

  /* Under the prefix masks, rows that see no key lead a head's chunk: skip
   * them when the unit is one head (stacked heads keep them, and the
   * softmax gives them zero weights). */
  int64_t first = 0;
  if (nh == 1) {
    while (first < rows && row_empty(p, t->lens, bi, i0 + first)) first++;
    if (first > 0) memset(o, 0, (size_t)(first * dv) * sizeof *o);
  }
  const int64_t m = nh * rows - first;
  if (m == 0) return;
  /* The keys this unit multiplies: from the lowest first key of a row to
   * the highest end (a prefix but for local-m). Empty rows become [0, 0). */
  int64_t c0 = lk, c1 = 0;
  for (int64_t r = 0; r < m; r++) {
    row_keys(p, t->lens, bi, i0 + (first + r) % rows, &starts[r], &ends[r]);
    if (starts[r] >= ends[r]) {
      starts[r] = ends[r] = -1;
      continue;
    }
    if (starts[r] < c0) c0 = starts[r];
    if (ends[r] > c1) c1 = ends[r];
  }
  q += first * d;
  o += first * dv;
  if (c1 <= c0) { /* e.g. pad length 0: every row of the unit is empty */
    memset(o, 0, (size_t)(m * dv) * sizeof *o);
    return;
  }
  for (int64_t r = 0; r < m; r++) {
    const int empty = starts[r] < 0;
    starts[r] = empty ? 0 : starts[r] - c0;
    ends[r] = empty ? 0 : ends[r] - c0;
  }
  const int64_t n = c1 - c0;

  scores_of(pl, q, k + c0 * d, m, n, w->s);
  if (p->mode == ATTN_MODE_HARD) {
    pl->softmax->argmax(w->s, m, n, starts, ends, w->idx);
    refine_hard(p, w->s, n, q, k + c0 * d, starts, ends, m, w->idx);
    copy_chosen(w->idx, v + c0 * dv, m, dv, o);
    return;
  }
  pl->softmax->band(w->s, m, n, starts, ends, w->inv);
  visible_values(pl, w->s, v + c0 * dv, w->inv, starts, ends, m, n, o);
}

/* mode=local-p, one row: its window around centre c, clipped to the
 * visible prefix [0, end); scores, softmax, the Gaussian factor (the
 * weights are not renormalised after it), PV. */
static void local_p_row(const blas_plan *pl, const float *q, const float *k, const float *v, float c,
                        int64_t end, const blas_work *w, float *o) {
  const attn_problem *p = &pl->p;
  int64_t lo, hi;
  attn_window(p, (double)c, end, &lo, &hi);
  if (hi <= lo) {
    memset(o, 0, (size_t)p->dv * sizeof *o);
    return;
  }
  const int64_t n = hi - lo, zero = 0;
  scores_of(pl, q, k + lo * p->d, 1, n, w->s);
  pl->softmax->band(w->s, 1, n, &zero, &n, w->inv);
  /* Vectorised where the CPU has AVX2: expf per key cost as much as the rest of the row. */
  attn_local_p_gauss_row(w->s, n, lo, c, p->window);
  weighted_values(pl, w->s, v + lo * p->dv, w->inv, 1, n, o);
}

/* mode=local-p: rows [i0, i0 + rows) of query head hd. Centres from the
 * caller's queries (the score's fold or normalisation does not enter them). */
static void attend_local_p(const blas_plan *pl, const blas_inputs *in, int64_t bi, int64_t hd, int64_t i0,
                           const blas_work *w) {
  const attn_problem *p = &pl->p;
  const attn_tensors *t = in->t;
  const blas_lib *lib = pl->lib;
  const int64_t d = p->d, dv = p->dv, lk = p->lk, da = p->da, kvh = attn_kv_head(p, hd);
  const int64_t rows = i0 + pl->sh.rows < p->lq ? pl->sh.rows : p->lq - i0,
                row0 = (bi * p->h + hd) * p->lq + i0;
  const float *k = in->k + (bi * p->hkv + kvh) * lk * d, *v = t->v + (bi * p->hkv + kvh) * lk * dv;
  if (rows == 1)
    lib->sgemv(BLAS_ROW_MAJOR, BLAS_NO_TRANS, (int)da, (int)d, 1.0f, t->wp, (int)d, t->q + row0 * d, 1, 0.0f,
               w->proj, 1);
  else
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_TRANS, (int)rows, (int)da, (int)d, 1.0f, t->q + row0 * d,
               (int)d, t->wp, (int)d, 0.0f, w->proj, (int)da);
  attn_local_p_centres(w->proj, t->vp, 0, rows, da, lk, w->centres);
  for (int64_t r = 0; r < rows; r++)
    local_p_row(pl, in->q + (row0 + r) * d, k, v, w->centres[r], attn_visible_end(p, t->lens, bi, i0 + r), w,
                t->o + (row0 + r) * dv);
}

/* Unit number u (0 .. units - 1) of chunk c, on worker w's buffers. */
static void run_unit(const blas_plan *pl, const blas_inputs *in, int64_t u, int64_t c, int64_t w) {
  const attn_problem *p = &pl->p;
  const blas_shape *sh = &pl->sh;
  const int64_t group = p->h / p->hkv, g = u / sh->per_group, j = u % sh->per_group;
  const int64_t bi = g / p->hkv, h0 = (g % p->hkv) * group + j * sh->stack;
  const int64_t nh = h0 + sh->stack <= (g % p->hkv + 1) * group ? sh->stack : (g % p->hkv + 1) * group - h0;
  const blas_work work = work_of(pl, w);
  if (p->mode == ATTN_MODE_LOCAL_P)
    attend_local_p(pl, in, bi, h0, c * sh->rows, &work);
  else
    attend_unit(pl, in, bi, h0, nh, c * sh->rows, &work);
}

/* score=general: rows [r0, r1) of Q' = Q W, in sgemm calls of at most FOLD_ROWS rows. */
static void fold_rows(const blas_lib *lib, const float *q, const float *wt, float *qf, int64_t r0, int64_t r1,
                      int64_t d) {
  for (int64_t r = r0; r < r1; r += FOLD_ROWS) {
    const int64_t m = r1 - r < FOLD_ROWS ? r1 - r : FOLD_ROWS;
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_NO_TRANS, (int)m, (int)d, (int)d, 1.0f, q + r * d, (int)d,
               wt, (int)d, 0.0f, qf + r * d, (int)d);
  }
}

/* What the scores read: Q W (general), unit rows of Q and K (cosine), else
 * the caller's Q and K. O(rows * d^2) at most, split over our threads, each
 * a single-threaded sgemm: the library's pool stays out of our team. */
static blas_inputs prepare(const blas_plan *pl, const attn_tensors *t) {
  const attn_problem *p = &pl->p;
  blas_inputs in = {.t = t, .q = t->q, .k = t->k};
  if (p->score != ATTN_SCORE_GENERAL && p->score != ATTN_SCORE_COSINE) return in;
  const int64_t nq = p->b * p->h * p->lq, nk = p->b * p->hkv * p->lk, d = p->d;
  lib_enter(pl->lib, 1);
#pragma omp parallel num_threads(pl->threads)
  {
    const int64_t tid = omp_get_thread_num(), nt = omp_get_num_threads();
    if (p->score == ATTN_SCORE_GENERAL) {
      fold_rows(pl->lib, t->q, t->w, pl->q, nq * tid / nt, nq * (tid + 1) / nt, d);
    } else {
      attn_normalize_rows(t->q, pl->q, nq * tid / nt, nq * (tid + 1) / nt, d);
      attn_normalize_rows(t->k, pl->k, nk * tid / nt, nk * (tid + 1) / nt, d);
    }
  }
  lib_leave();
  in.q = pl->q;
  if (p->score == ATTN_SCORE_COSINE) in.k = pl->k;
  return in;
}

static attn_status blas_forward(void *plan, const attn_tensors *t) {
  const blas_plan *pl = plan;
  const attn_problem *p = &pl->p;
  const blas_shape *sh = &pl->sh;
  if (!t || !t->q || !t->k || !t->v || !t->o || (p->mask == ATTN_MASK_PAD && !t->lens) ||
      (p->score == ATTN_SCORE_GENERAL && !t->w) || (p->mode == ATTN_MODE_LOCAL_P && (!t->wp || !t->vp)))
    return ATTN_EINVAL;
  const blas_inputs in = prepare(pl, t);
  const int64_t units = p->b * p->hkv * sh->per_group, items = units * sh->nchunks;

  if (sh->arrangement == HEADS_PARALLEL) {
    lib_enter(pl->lib, 1);
    /* Dynamic, last chunks first: under a causal mask a head's last chunk is
     * its most expensive, so the long items start early and the short ones
     * fill the gaps at the end. */
#pragma omp parallel for num_threads(pl->threads) schedule(dynamic, 1)
    for (int64_t it = 0; it < items; it++)
      run_unit(pl, &in, it % units, sh->nchunks - 1 - it / units, omp_get_thread_num());
  } else {
    lib_enter(pl->lib, pl->threads);
    for (int64_t it = 0; it < items; it++) run_unit(pl, &in, it / sh->nchunks, it % sh->nchunks, 0);
  }
  lib_leave();
  return ATTN_OK;
}

static attn_status blas_run(void *plan, const attn_tensors *t) {
  if (!plan) return ATTN_EINVAL;
  return attn_run_rescued(&((const blas_plan *)plan)->rescue, blas_forward, plan, t);
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
  snprintf(buf, sizeof buf,
           "scores scaled, dot, general (Q W folded by sgemm), cosine (unit rows); modes soft, hard (max, "
           "near ties rescored in double, copy), local-m (chunks of >= %d rows x their key band), local-p "
           "(Q Wp^T per %d rows, sgemv per window); additive declined",
           LOCAL_M_MIN_ROWS, LOCAL_P_ROWS);
  emit(ctx, "seq2seq", buf);
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
    return lib->lowmem ? ATTN_ENOMEM : ATTN_UNSUPPORTED;
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
  const attn_status s = lib_room(lib, pl->lib_threads > 1 ? 1 : pl->threads, pl->lib_threads,
                                 pl->lib_threads > 1 ? 1 : pl->threads, why, n);
  if (s != ATTN_OK) {
    free(pl);
    return s;
  }
  lib_enter(lib, pl->lib_threads); /* grow the pool here, not in the timed run */
  lib_leave();
  *out = pl;
  return ATTN_OK;
}

static attn_status blas_gemm_run(void *plan, const float *a, const float *b, float *c) {
  const blas_gemm *pl = plan;
  const blas_lib *lib = pl->lib;
  const int m = (int)pl->g.m, nn = (int)pl->g.n, k = (int)pl->g.k;
  lib_enter(lib, pl->lib_threads);
  if (pl->lib_threads > 1 || pl->threads == 1) {
    lib->sgemm(BLAS_ROW_MAJOR, BLAS_NO_TRANS, BLAS_NO_TRANS, m, nn, k, 1.0f, a, k, b, nn, 0.0f, c, nn);
    lib_leave();
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
  lib_leave();
  return ATTN_OK;
}

const attn_backend attn_backend_blas = {
    .name = "blas",
    .summary =
        "CBLAS sgemm for QK^T and PV around a vectorised two-pass softmax, chunked rows; local modes banded",
    /* The softmax's expf_u10, and glibc's expf in local-p's centres' sigmoid
     * (and its Gaussian factor without AVX2): within 1 ulp, so 2^-23
     * relative, the same bound. The AVX2 Gaussian (13 * 2^-24) fits the
     * model's allowance for it (common/seq2seq.h). tanh_abs_err: the
     * centres' tanh, AVX2 or tanhf (common/seq2seq.h), local-p only. */
    .accuracy = {.exp_rel_err = BLAS_EXPF_U10_REL_ERR,
                 .key_block = 0,
                 .tanh_abs_err = ATTN_LOCAL_P_TANH_ABS_ERR},
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
