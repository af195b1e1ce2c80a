/* The loops and packing of the blocked GEMM (gemm_blocked.h). For each kc
 * slice of k and nc panel of B: the team packs the B panel together, then
 * each work item (an MC block of rows, and a share of the panel's NR columns
 * when there are fewer row blocks than threads) packs its A block into its
 * thread's buffer and runs the micro-kernel over it. Tails are zero-padded in
 * the packed panels, so the kernel always runs full tiles and masks stores. */
#include "common/gemm_blocked.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

typedef struct gemm_plan {
  const gemm_kernel *kern;
  attn_gemm_shape g;
  int threads;
  int64_t nc; /* columns per B panel, a multiple of NR */
  float *bp;  /* [kc][nc] packed */
  float *ap;  /* [threads][MC][kc] packed */
} gemm_plan;

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

void gemm_blocked_destroy(void *plan) {
  gemm_plan *pl = plan;
  if (!pl) return;
  free(pl->bp);
  free(pl->ap);
  free(pl);
}

attn_status gemm_blocked_plan(const gemm_kernel *kern, const attn_gemm_shape *g, const attn_config *cfg,
                              void **out, char *why, size_t n) {
  *out = NULL;
  if (g->m < 1 || g->n < 1 || g->k < 1 || GEMM_MC % kern->mr || GEMM_NC % kern->nr) {
    snprintf(why, n, "GEMM shape %lldx%lldx%lld or kernel %s unsupported", (long long)g->m, (long long)g->n,
             (long long)g->k, kern->name);
    return ATTN_EINVAL;
  }
  gemm_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return ATTN_ENOMEM;
  pl->kern = kern;
  pl->g = *g;
  pl->threads = cfg->threads > 0 ? cfg->threads : 1;
  pl->nc = min64(GEMM_NC, cdiv(g->n, kern->nr) * kern->nr);
  const int64_t kc = min64(GEMM_KC, g->k);
  pl->bp = attn_alloc_touched((size_t)(kc * pl->nc) * sizeof(float));
  pl->ap = attn_alloc_touched((size_t)pl->threads * GEMM_MC * (size_t)kc * sizeof(float));
  if (!pl->bp || !pl->ap) {
    gemm_blocked_destroy(pl);
    snprintf(why, n, "no memory for the GEMM's packed panels");
    return ATTN_ENOMEM;
  }
  *out = pl;
  return ATTN_OK;
}

/* B[p0 .. p0+kc)[j0 .. j0+nc) into NR-wide panels, panels [q0, q1). */
static void pack_b(const gemm_plan *pl, const float *b, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                   int64_t q0, int64_t q1) {
  const int64_t nr = pl->kern->nr, n = pl->g.n;
  for (int64_t q = q0; q < q1; q++) {
    float *dst = pl->bp + q * kc * nr;
    const int64_t cols = min64(nr, nc - q * nr);
    for (int64_t t = 0; t < kc; t++) {
      const float *src = b + (p0 + t) * n + j0 + q * nr;
      for (int64_t j = 0; j < cols; j++) dst[t * nr + j] = src[j];
      for (int64_t j = cols; j < nr; j++) dst[t * nr + j] = 0;
    }
  }
}

/* A[i0 .. i0+mc)[p0 .. p0+kc) into MR-tall panels. */
static void pack_a(const gemm_plan *pl, const float *a, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                   float *ap) {
  const int64_t mr = pl->kern->mr, k = pl->g.k;
  for (int64_t r0 = 0; r0 < mc; r0 += mr) {
    float *dst = ap + r0 * kc;
    const int64_t rows = min64(mr, mc - r0);
    for (int64_t r = 0; r < rows; r++) {
      const float *src = a + (i0 + r0 + r) * k + p0;
      for (int64_t t = 0; t < kc; t++) dst[t * mr + r] = src[t];
    }
    for (int64_t r = rows; r < mr; r++)
      for (int64_t t = 0; t < kc; t++) dst[t * mr + r] = 0;
  }
}

attn_status gemm_blocked_run(void *plan, const float *a, const float *b, float *c) {
  const gemm_plan *pl = plan;
  const int64_t m = pl->g.m, n = pl->g.n, k = pl->g.k, MR = pl->kern->mr, NR = pl->kern->nr;
  const int64_t mblocks = cdiv(m, GEMM_MC);
#pragma omp parallel num_threads(pl->threads)
  {
    float *ap = pl->ap + (size_t)omp_get_thread_num() * GEMM_MC * (size_t)min64(GEMM_KC, k);
    for (int64_t p0 = 0; p0 < k; p0 += GEMM_KC) {
      const int64_t kc = min64(GEMM_KC, k - p0);
      for (int64_t j0 = 0; j0 < n; j0 += pl->nc) {
        const int64_t nc = min64(pl->nc, n - j0), panels = cdiv(nc, NR);
        /* Fewer row blocks than threads (short inputs): split the panel's
         * columns too, each share re-packing its A block. */
        const int64_t shares = min64(panels, cdiv(pl->threads, mblocks)), items = mblocks * shares;
#pragma omp for schedule(static)
        for (int64_t q = 0; q < panels; q++) pack_b(pl, b, p0, kc, j0, nc, q, q + 1);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
          const int64_t i0 = (it / shares) * GEMM_MC, mc = min64(GEMM_MC, m - i0), s = it % shares;
          const int64_t q0 = panels * s / shares, q1 = panels * (s + 1) / shares;
          pack_a(pl, a, i0, mc, p0, kc, ap);
          for (int64_t q = q0; q < q1; q++)
            for (int64_t r0 = 0; r0 < mc; r0 += MR)
              pl->kern->fn(kc, ap + r0 * kc, pl->bp + q * kc * NR, c + (i0 + r0) * n + j0 + q * NR, n,
                           min64(MR, mc - r0), min64(NR, nc - q * NR), p0 > 0);
        }
      }
    }
  }
  return ATTN_OK;
}
