/* The onednn backend's GEMM for op=mha (onednn_gemm.c): one matmul primitive
 * per shape, created in plan. */
#ifndef ATTNBENCH_ONEDNN_GEMM_H
#define ATTNBENCH_ONEDNN_GEMM_H

#include "attnbench/attn.h"

attn_status onednn_gemm_plan(const attn_gemm_shape *g, const attn_config *cfg, void **plan, char *why,
                             size_t n);
attn_status onednn_gemm_run(void *plan, const float *a, const float *b, float *c);
void onednn_gemm_destroy(void *plan);

/* Hands ATTNBENCH_MAX_ISA to oneDNN, which takes it only before its first
 * call: each entry point into oneDNN calls this first (onednn.c). */
void onednn_cap_isa(void);

/* Address space oneDNN maps for a plan beyond the plan's own buffers (onednn.c). */
int64_t onednn_lib_bytes(int threads);

#endif
