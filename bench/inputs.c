/* A problem's input and output tensors: allocated, touched and filled before
 * anything is timed. */
#include <stdlib.h>
#include <string.h>

#include "attnbench/reference.h"
#include "harness.h"

double bench_weight_elems(const attn_problem *p) {
  return (double)attn_w_elems(p) + 2.0 * (double)attn_wa_elems(p) + (double)attn_u_elems(p) +
         (double)attn_wp_elems(p) + (double)attn_vp_elems(p);
}

double bench_inputs_bytes(const attn_problem *p) {
  return 4.0 * ((double)attn_q_elems(p) + (double)attn_kv_elems(p) + (double)attn_v_elems(p) +
                (double)attn_o_elems(p) + bench_weight_elems(p)) +
         4.0 * (double)p->b;
}

attn_status bench_memory_check(const attn_problem *sized, const attn_problem *shown, double extra_bytes,
                               char *err, size_t n) {
  const double need = bench_inputs_bytes(sized) + extra_bytes, have = bench_mem_available();
  if (have > 0 && need > have) {
    char s[ATTN_PROBLEM_STRLEN];
    snprintf(err, n, "problem %s needs %.2f GiB but only %.2f GiB of memory is available",
             attn_problem_format(shown, s, sizeof s), need / (1 << 30), have / (1 << 30));
    return ATTN_ENOMEM;
  }
  return ATTN_OK;
}

void bench_inputs_free(bench_inputs *in) {
  free(in->q);
  free(in->k);
  free(in->v);
  free(in->o);
  free(in->lens);
  float *weights[] = {in->w, in->w1, in->w2, in->u, in->wp, in->vp};
  for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++) free(weights[i]);
  memset(in, 0, sizeof *in);
}

void *bench_alloc_touched(int64_t elems, size_t size) {
  const size_t bytes = elems > 0 ? (size_t)elems * size : 1;
  void *x = malloc(bytes);
  if (x) memset(x, 0, bytes);
  return x;
}

/* A weight of elems floats, or NULL when the problem has none (elems 0):
 * *ok drops to 0 if one that is needed cannot be had. */
static float *weight(int64_t elems, int *ok) {
  if (elems <= 0) return NULL;
  float *x = bench_alloc_touched(elems, sizeof(float));
  *ok &= x != NULL;
  return x;
}

attn_status bench_inputs_alloc(const attn_problem *p, int fill, bench_inputs *in, char *err, size_t n) {
  memset(in, 0, sizeof *in);
  in->p = *p;
  in->q = bench_alloc_touched(attn_q_elems(p), sizeof(float));
  in->k = bench_alloc_touched(attn_kv_elems(p), sizeof(float));
  in->v = bench_alloc_touched(attn_v_elems(p), sizeof(float));
  in->o = bench_alloc_touched(attn_o_elems(p), sizeof(float));
  in->lens = bench_alloc_touched(p->b, sizeof(int32_t));
  int ok = in->q && in->k && in->v && in->o && in->lens;
  in->w = weight(attn_w_elems(p), &ok);
  in->w1 = weight(attn_wa_elems(p), &ok);
  in->w2 = weight(attn_wa_elems(p), &ok);
  in->u = weight(attn_u_elems(p), &ok);
  in->wp = weight(attn_wp_elems(p), &ok);
  in->vp = weight(attn_vp_elems(p), &ok);
  if (!ok) {
    char s[ATTN_PROBLEM_STRLEN];
    snprintf(err, n, "cannot allocate %.2f GiB for the tensors of %s", bench_inputs_bytes(p) / (1 << 30),
             attn_problem_format(p, s, sizeof s));
    bench_inputs_free(in);
    return ATTN_ENOMEM;
  }
  for (int64_t bi = 0; bi < p->b; bi++) in->lens[bi] = (int32_t)p->lk;
  if (fill) {
    attn_fill_inputs(p, in->q, in->k, in->v, in->lens);
    attn_fill_weights(p, in->w, in->w1, in->w2, in->u, in->wp, in->vp);
  }
  return ATTN_OK;
}

attn_tensors bench_tensors(const bench_inputs *in) {
  attn_tensors t = {.q = in->q,
                    .k = in->k,
                    .v = in->v,
                    .lens = in->lens,
                    .o = in->o,
                    .w = in->w,
                    .w1 = in->w1,
                    .w2 = in->w2,
                    .u = in->u,
                    .wp = in->wp,
                    .vp = in->vp};
  return t;
}
