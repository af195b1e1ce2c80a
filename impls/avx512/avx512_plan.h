/* The avx512 backend's plan: what avx512.c (configuration, baseline flags)
 * decides and avx512_loops.c (blocking and threading) executes. ISA-free. */
#ifndef ATTNBENCH_AVX512_PLAN_H
#define ATTNBENCH_AVX512_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/attn.h"

/* Keys per block: every key block rescales the running state once, so this
 * is also the key_block the backend declares (.accuracy). */
#define AVX512_BLOCK_K 128

/* Rows of a job below which the narrow (keys-in-lanes) kernels run. */
#define AVX512_NARROW_ROWS 16

typedef struct avx512_plan {
  attn_problem p;
  int threads;
  int narrow;       /* 1: keys-in-lanes kernels (jobs of < 16 rows) */
  int split;        /* parts each job's key range is cut into; 1: whole jobs spread over threads */
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
  char note[64];
} avx512_plan;

/* Per-thread workspace carved from plan->ws (avx512_loops.c). */
size_t avx512_thread_bytes(const avx512_plan *pl);

attn_status avx512_run_loops(const avx512_plan *pl, const attn_tensors *t);

#endif
