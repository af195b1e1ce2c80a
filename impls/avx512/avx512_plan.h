/* The avx512 backend's plan: what avx512.c (configuration, baseline flags)
 * decides and avx512_loops.c (blocking and threading) executes. ISA-free. */
#ifndef ATTNBENCH_AVX512_PLAN_H
#define ATTNBENCH_AVX512_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/attn.h"
#include "common/rescue.h"

/* Keys per block: every key block rescales the running state once, so this
 * is also the key_block the backend declares (.accuracy). */
#define AVX512_BLOCK_K 128

/* Rows of a job below which the narrow (keys-in-lanes) kernels run. */
#define AVX512_NARROW_ROWS 16

/* mode=local-p: rows are sorted by centre and cut into jobs of at most bq
 * rows whose windows overlap; a job of at least this many rows runs the wide
 * kernels, a smaller one the narrow kernels. */
#define AVX512_LP_WIDE_ROWS 8

/* Split-k (avx512.c, decide()): problems of fewer jobs than this cut each
 * job's keys into parts until there are at least this many, each part at
 * least AVX512_SPLIT_MIN_BLOCKS key blocks long. Constants, not the thread
 * count, so that every thread count sums in the same order. */
#define AVX512_SPLIT_TASKS      32
#define AVX512_SPLIT_MIN_BLOCKS 2

typedef struct avx512_plan {
  attn_problem p;
  int threads;
  int narrow;       /* 1: keys-in-lanes kernels (jobs of < 16 rows) */
  int split;        /* parts each job's key range is cut into (a function of the problem); 1: whole jobs */
  int64_t wave;     /* split-k: jobs whose parts are in flight together */
  int64_t bq, bk;   /* query rows per block (multiple of 16; the job's rows if narrow), keys per block */
  int64_t group;    /* query heads per kv head */
  int64_t job_rows; /* group * lq: the rows that share one kv head's keys and values */
  int64_t qblocks;  /* query blocks per (batch, kv head) */
  int64_t jobs;     /* b * hkv * qblocks */
  float qscale;     /* scale * log2(e): scores come out in log2 units, weights are exp2 */
  int64_t dp, dvp;  /* d, dv rounded up to 16 */

  /* Per-thread workspace, allocated and touched by plan(). */
  size_t thread_bytes;
  unsigned char *ws; /* [threads][thread_bytes] */
  /* Split-k partial states of one wave: [wave * split][rmax] m and l,
   * [wave * split][rmax][dvp] acc. */
  int64_t rmax;
  float *part_m, *part_l, *part_acc;
  int32_t *part_idx; /* mode=hard: the parts' argmax keys ([wave * split][rmax]) */

  /* The seq2seq scores and modes (attn.h). run() first turns the inputs into
   * what the attention loops read (avx512_prep.c): the loops then only ever
   * see dot-product or additive scores, and a key window per row. */
  int additive;    /* score=additive: tanh tiles over A and B instead of Q.K */
  int sorted;      /* mode=local-p: jobs are runs of rows sorted by centre */
  int64_t da;      /* width of W1, W2, Wp (0 when unused) */
  int64_t lq_rows; /* b * h * lq */
  int64_t lk_rows; /* b * hkv * lk */
  float *qx;       /* score=general: Q W; cosine: unit Q rows ([lq_rows][d]); NULL: t->q */
  float *knorm;    /* score=cosine: |k_j| per key ([lk_rows]), dividing the scores */
  float *wt;       /* W1^T, W2^T, Wp^T as GEMM operands: 3 x [d][da] */
  float *ka;       /* score=additive: A = K W1^T, [lk_rows][da] */
  float *qb;       /* ... B = Q W2^T, [lq_rows][da] */
  float *u2;       /* ... u * log2(e), [da] */
  float *qp;       /* mode=local-p: Q Wp^T, [lq_rows][da] */
  float *cent;     /* ... centres, [lq_rows] */
  int32_t *perm;   /* ... per (batch, kv head): its job_rows rows in centre order */
  int32_t *seg;    /* ... per (batch, kv head): job k is rows [seg[2k], seg[2k] + seg[2k+1]) of perm */
  int64_t *seg_at; /* ... [b * hkv + 1]: jobs before each (batch, kv head); the last is the total */
  int32_t *count;  /* ... counting-sort buckets, [threads][job_rows + 1] */
  void *gemm_qd;   /* GEMM plans: Q W (m = lq_rows, n = k = d) */
  void *gemm_qa;   /* Q W2^T and Q Wp^T (m = lq_rows, n = da, k = d) */
  void *gemm_ka;   /* K W1^T (m = lk_rows, n = da, k = d) */
  attn_rescue rescue;
  char note[64];
} avx512_plan;

/* Per-thread workspace carved from plan->ws (avx512_loops.c). */
size_t avx512_thread_bytes(const avx512_plan *pl);

attn_status avx512_run_loops(const avx512_plan *pl, const attn_tensors *t);

/* The seq2seq plan buffers and GEMM plans (avx512_prep.c): their bytes, their
 * allocation (touched) by plan(), their release, and run()'s first phase,
 * which fills them from the inputs and returns in *tx the tensors the loops
 * read (Q replaced where the score transforms it). */
size_t avx512_prep_bytes(const avx512_plan *pl);
attn_status avx512_prep_alloc(avx512_plan *pl, const attn_config *cfg, char *why, size_t n);
void avx512_prep_free(avx512_plan *pl);
attn_status avx512_prepare(const avx512_plan *pl, const attn_tensors *t, attn_tensors *tx);

#endif
