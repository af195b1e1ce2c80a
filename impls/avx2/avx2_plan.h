/* avx2 backend: the plan shared by the baseline-compiled vtable (avx2.c) and
 * the AVX2-compiled loops (avx2_loops.c). ISA-free on purpose. */
#ifndef ATTNBENCH_AVX2_PLAN_H
#define ATTNBENCH_AVX2_PLAN_H

#include "attnbench/attn.h"
#include "common/rescue.h"

/* Micro-kernel tile: the row and column granularity the loops block by. */
#define AVX2_MR 6
#define AVX2_NR 16

/* The smallest key block any plan uses; the tolerance assumes no more
 * rescales than one per this many keys (avx2.c declares it). */
#define AVX2_MIN_KEY_BLOCK 32

/* Split-k (avx2.c, avx2_layout): problems of fewer items than this cut each
 * item's keys into parts until there are at least this many tasks, each part
 * at least AVX2_SPLIT_MIN_BLOCKS key blocks. Constants, not the thread
 * count, so that every thread count sums in the same order. */
#define AVX2_SPLIT_TASKS      32
#define AVX2_SPLIT_MIN_BLOCKS 2

typedef struct avx2_blocking {
  int64_t rows; /* Br: query rows per block, counted across the grouped heads */
  int64_t keys; /* Bc: keys per block, a multiple of AVX2_NR */
} avx2_blocking;

/* One thread's scratch, carved from the plan's arena and touched in plan().
 * A row block's slot r holds item row row[r] (the identity except for
 * mode=local-p, whose rows are sorted by centre so that a tile's windows
 * overlap). */
typedef struct avx2_ws {
  float *q;     /* [rows][dk]: the row block's queries times scale*log2(e) */
  float *kt;    /* [dk][keys]: K^T of one key block, zero-padded to AVX2_NR */
  float *s;     /* [rows][keys]: scores, then unnormalised weights */
  float *o;     /* [rows][dvp]: unnormalised output accumulator */
  float *m;     /* [rows]: running max (log2 units) */
  float *l;     /* [rows]: running sum of weights */
  float *alpha; /* [rows]: this block's rescale factor */
  float *c;     /* [rows]: mode=local-p: the window centre */
  int64_t *lo;  /* [rows]: the row's keys [lo, hi): mask and window; lo = lk, hi = 0 if none */
  int64_t *hi;  /* [rows] */
  int64_t *blo; /* [rows]: the row's keys within the current tile's columns, [blo, bhi) */
  int64_t *bhi; /* [rows] */
  int64_t *arg; /* [rows]: mode=hard: the best key so far, -1 before any */
  int64_t *row; /* [rows]: slot -> item row */
  int64_t *t0;  /* [rows / AVX2_MR + 1]: first column (a multiple of AVX2_NR) each row tile processes */
  int64_t *tk;  /* [rows / AVX2_MR + 1]: end of the columns each row tile processes; 0: skipped */
} avx2_ws;

typedef struct avx2_plan {
  attn_problem p;
  int threads;
  avx2_blocking blk;
  int64_t group;  /* query heads per kv head, processed together */
  int64_t qpos;   /* query positions per row block: rows = group * qpos */
  int64_t rows;   /* group * qpos: the largest row block */
  int64_t nqb;    /* row blocks per (batch, kv head) */
  int64_t items;  /* b * hkv * nqb */
  int64_t nsplit; /* key-range splits per item (flash-decoding; a function of the problem); 1: none */
  int64_t kspan;  /* keys per split, a multiple of blk.keys */
  int64_t dvp;    /* dv rounded up to AVX2_NR: accumulator row stride */
  int64_t da;     /* score=additive, mode=local-p: rows of W1, W2, Wp; 0 otherwise */
  float qscale;   /* scale * log2(e): scores come out in log2 units */
  float gauss_k2; /* mode=local-p: -2 log2(e) / window^2, the Gaussian's exponent per squared key */
  avx2_ws *ws;    /* [threads] */
  float *partial; /* nsplit > 1: [items * nsplit][rows * (dvp + 2)]: acc, m, l */
  int64_t *parg;  /* nsplit > 1, mode=hard: [items * nsplit][rows]: best key of each split */
  /* Score and mode preparation, once per run before the attention. The
   * loops read rows of width dk from qx and kx in place of Q and K. */
  int64_t dk;     /* d; da for score=additive */
  float *qx;      /* general: Q W; cosine: Q's rows normalised; additive: Q W2^T. [b*h*lq][dk] */
  float *kx;      /* cosine: K's rows normalised; additive: K W1^T. [b*hkv*lk][dk] */
  float *w1t;     /* additive: W1^T [d][da] */
  float *w2t;     /* additive: W2^T [d][da] */
  float *ul;      /* additive: u * log2(e) [da] */
  float *wpt;     /* local-p: Wp^T [d][da] */
  float *proj;    /* local-p: Q Wp^T [b*h*lq][da] */
  float *centres; /* local-p: [b*h*lq] */
  void *gemm_w;   /* general: the GEMM plan of Q W */
  void *gemm_qa;  /* additive, local-p: Q times a [d][da] matrix (W2^T, Wp^T) */
  void *gemm_ka;  /* additive: K W1^T */
  void *arena;
  attn_rescue rescue;
  char note[128];
} avx2_plan;

/* The loops (avx2_loops.c, AVX2-compiled): the whole forward pass, after
 * avx2.c has run the plan's GEMMs. */
attn_status avx2_forward(const avx2_plan *pl, const attn_tensors *t);

#endif
