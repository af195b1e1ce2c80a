/* op=mha's projections on oneDNN: a matmul primitive (C = A B, f32, plain
 * row-major) created once in plan with its memory objects; run only swaps
 * the data handles and executes. oneDNN's OpenMP runtime sizes its team from
 * omp_get_max_threads(), at creation (blocking) and at execution, so the
 * thread count is set around both, as in onednn.c. */
#include "onednn/onednn_gemm.h"

#include <stdio.h>
#include <stdlib.h>

#include <dnnl.h>
#include <omp.h>

#include "common/headroom.h"

typedef struct onednn_gemm {
  int threads;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_memory_t a, b, c;
} onednn_gemm;

void onednn_gemm_destroy(void *plan) {
  onednn_gemm *pl = plan;
  if (!pl) return;
  if (pl->a) dnnl_memory_destroy(pl->a);
  if (pl->b) dnnl_memory_destroy(pl->b);
  if (pl->c) dnnl_memory_destroy(pl->c);
  if (pl->prim) dnnl_primitive_destroy(pl->prim);
  if (pl->pd) dnnl_primitive_desc_destroy(pl->pd);
  if (pl->stream) dnnl_stream_destroy(pl->stream);
  if (pl->engine) dnnl_engine_destroy(pl->engine);
  free(pl);
}

static attn_status create(onednn_gemm *pl, const attn_gemm_shape *g, char *why, size_t n) {
  const dnnl_dims_t ad = {g->m, g->k}, bd = {g->k, g->n}, cd = {g->m, g->n};
  dnnl_memory_desc_t amd, bmd, cmd;
  dnnl_matmul_desc_t op;
  const char *what = "engine_create";
  dnnl_status_t s = dnnl_engine_create(&pl->engine, dnnl_cpu, 0);
  if (s == dnnl_success)
    what = "stream_create", s = dnnl_stream_create(&pl->stream, pl->engine, dnnl_stream_default_flags);
  if (s == dnnl_success)
    what = "memory_desc_init", s = dnnl_memory_desc_init_by_tag(&amd, 2, ad, dnnl_f32, dnnl_ab);
  if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab);
  if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_f32, dnnl_ab);
  if (s == dnnl_success) what = "matmul_desc_init", s = dnnl_matmul_desc_init(&op, &amd, &bmd, NULL, &cmd);
  if (s == dnnl_success)
    what = "matmul primitive_desc_create",
    s = dnnl_primitive_desc_create(&pl->pd, &op, NULL, pl->engine, NULL);
  if (s == dnnl_success) what = "primitive_create", s = dnnl_primitive_create(&pl->prim, pl->pd);
  if (s == dnnl_success)
    what = "memory_create", s = dnnl_memory_create(&pl->a, &amd, pl->engine, DNNL_MEMORY_NONE);
  if (s == dnnl_success) s = dnnl_memory_create(&pl->b, &bmd, pl->engine, DNNL_MEMORY_NONE);
  if (s == dnnl_success) s = dnnl_memory_create(&pl->c, &cmd, pl->engine, DNNL_MEMORY_NONE);
  if (s == dnnl_success) return ATTN_OK;
  snprintf(why, n, "oneDNN %s failed (status %d) for a %lldx%lldx%lld GEMM", what, (int)s, (long long)g->m,
           (long long)g->n, (long long)g->k);
  return s == dnnl_unimplemented ? ATTN_UNSUPPORTED : ATTN_EBACKEND;
}

attn_status onednn_gemm_plan(const attn_gemm_shape *g, const attn_config *cfg, void **out, char *why,
                             size_t n) {
  *out = NULL;
  onednn_gemm *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  pl->threads = cfg->threads > 0 ? cfg->threads : 1;
  onednn_cap_isa();
  /* Before the first call into oneDNN, as in onednn.c's plan. */
  if (attn_as_check(onednn_lib_bytes(pl->threads), "oneDNN", why, n)) {
    free(pl);
    return ATTN_ENOMEM;
  }
  const int prev = omp_get_max_threads();
  omp_set_num_threads(pl->threads);
  attn_status s = create(pl, g, why, n);
  omp_set_num_threads(prev);
  if (s != ATTN_OK) {
    onednn_gemm_destroy(pl);
    return s;
  }
  *out = pl;
  return ATTN_OK;
}

attn_status onednn_gemm_run(void *plan, const float *a, const float *b, float *c) {
  const onednn_gemm *pl = plan;
  dnnl_status_t s = dnnl_memory_set_data_handle(pl->a, (void *)a);
  if (s == dnnl_success) s = dnnl_memory_set_data_handle(pl->b, (void *)b);
  if (s == dnnl_success) s = dnnl_memory_set_data_handle(pl->c, c);
  if (s != dnnl_success) return ATTN_EBACKEND;
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, pl->a}, {DNNL_ARG_WEIGHTS, pl->b}, {DNNL_ARG_DST, pl->c}};
  const int prev = omp_get_max_threads();
  omp_set_num_threads(pl->threads);
  s = dnnl_primitive_execute(pl->prim, pl->stream, 3, args);
  if (s == dnnl_success) s = dnnl_stream_wait(pl->stream);
  omp_set_num_threads(prev);
  return s == dnnl_success ? ATTN_OK : ATTN_EBACKEND;
}
