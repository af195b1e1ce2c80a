/* Workloads: what a problem's `op` asks for, driven through a backend's
 * attention forward. op=attn is one forward; op=decode is `steps` single-query
 * forwards against a K/V cache that grows by one key and value per step. */
#ifndef ATTNBENCH_WORKLOAD_H
#define ATTNBENCH_WORKLOAD_H

#include "harness.h"

typedef struct workload {
  attn_problem p;       /* as given */
  attn_problem full;    /* the attention whose output the workload produces, as the
                           oracle sees it; decode: causal, lq=steps, lk=lk+steps */
  attn_problem planned; /* what the backend is planned for; decode: one step, lq=1,
                           lk=lk+steps (the cache's capacity), mask=pad */
  bench_inputs in;      /* the inputs and output of `full` */
  /* decode: the cache the steps append to, the new tokens' keys and values,
   * one step's queries and outputs, and the cache lengths */
  float *kc, *vc, *ktok, *vtok, *qt, *ot;
  int32_t *lens;
} workload;

/* Checks memory, allocates, touches and (if fill) fills the inputs. A decode
 * built without fill must get workload_prepare once its inputs are in place. */
attn_status workload_init(const attn_problem *p, int fill, double extra_bytes, workload *w, char *err,
                          size_t n);
/* Derives the decode cache and new tokens from in.k and in.v. */
void workload_prepare(workload *w);
void workload_free(workload *w);

/* The whole workload once, with a plan made for w->planned; the output lands
 * in w->in.o. No allocation. */
attn_status workload_run(workload *w, const attn_backend *be, void *plan);

/* Query rows of `full` (flat [b][h][lq] indices) that a check compares: all of
 * them for op=attn (returns 0 and sets *rows NULL), or the first, a middle
 * and the last step of a decode. Caller frees *rows. */
int64_t workload_check_rows(const workload *w, int64_t **rows);

#endif
