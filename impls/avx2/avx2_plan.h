/* avx2 backend: the plan shared by the baseline-compiled vtable (avx2.c) and
 * the AVX2-compiled loops (avx2_loops.c). ISA-free on purpose. */
#ifndef ATTNBENCH_AVX2_PLAN_H
#define ATTNBENCH_AVX2_PLAN_H

#include "attnbench/attn.h"

/* Micro-kernel tile: the row and column granularity the loops block by. */
#define AVX2_MR 6
#define AVX2_NR 16

/* The smallest key block any plan uses; the tolerance assumes no more
 * rescales than one per this many keys (avx2.c declares it). */
#define AVX2_MIN_KEY_BLOCK 32

typedef struct avx2_blocking {
  int64_t rows; /* Br: query rows per block, counted across the grouped heads */
  int64_t keys; /* Bc: keys per block, a multiple of AVX2_NR */
} avx2_blocking;

/* One thread's scratch, carved from the plan's arena and touched in plan(). */
typedef struct avx2_ws {
  float *q;     /* [rows][d]: the row block's queries times scale*log2(e) */
  float *kt;    /* [d][keys]: K^T of one key block, zero-padded to AVX2_NR */
  float *s;     /* [rows][keys]: scores, then unnormalised weights */
  float *o;     /* [rows][dvp]: unnormalised output accumulator */
  float *m;     /* [rows]: running max (log2 units) */
  float *l;     /* [rows]: running sum of weights */
  float *alpha; /* [rows]: this block's rescale factor */
  int64_t *end; /* [rows]: visible key end of each row */
  int64_t *cnt; /* [rows]: visible keys of each row in the current block */
  int64_t *tk;  /* [rows / AVX2_MR + 1]: keys each row tile processes in the current block */
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
  int64_t nsplit; /* key-range splits per item (flash-decoding); 1: none */
  int64_t kspan;  /* keys per split, a multiple of blk.keys */
  int64_t dvp;    /* dv rounded up to AVX2_NR: accumulator row stride */
  float qscale;   /* scale * log2(e): scores come out in log2 units */
  avx2_ws *ws;    /* [threads] */
  float *partial; /* nsplit > 1: [items * nsplit][rows * (dvp + 2)]: acc, m, l */
  void *arena;
  char note[96];
} avx2_plan;

/* The loops (avx2_loops.c, AVX2-compiled): the whole forward pass. */
attn_status avx2_forward(const avx2_plan *pl, const attn_tensors *t);

#endif
