/* avx2 backend: micro-kernels (avx2_kernels.c). Prototypes are ISA-free; the
 * definitions need AVX2 + FMA and run only after attn_cpu_has_avx2().
 *
 * Layouts: row-major with explicit leading dimensions (in floats). Scores are
 * in log2 units (queries pre-scaled by scale*log2(e)). Pointers marked
 * "aligned" are 32-byte aligned with leading dimensions multiple of 8. */
#ifndef ATTNBENCH_AVX2_KERNELS_H
#define ATTNBENCH_AVX2_KERNELS_H

#include "common/gemm_blocked.h"

/* op=mha's projections: common/gemm_blocked.c's loops around this 6 x 16
 * tile (avx2_gemm.c). */
extern const gemm_kernel avx2_sgemm_6x16;

#include <stdint.h>

/* The relative error bound of avx2_exp2_u3 (exp2_avx2.h) over results in
 * the normal range; the backend declares it as its exp_rel_err. */
#define AVX2_EXP2_REL_ERR (3.0 * 0x1p-24)

/* s[i][0..16) = sum_c q[i][c] * kt[c][0..16) for i < mr (mr <= 6).
 * kt and s aligned. The 6-row version holds 12 accumulators, two K^T
 * vectors and one broadcast: 15 of the 16 ymm registers. */
void avx2_qk_6x16(int64_t d, const float *q, int64_t ldq, const float *kt, int64_t ldk, float *s,
                  int64_t lds);
void avx2_qk_mx16(int64_t mr, int64_t d, const float *q, int64_t ldq, const float *kt, int64_t ldk, float *s,
                  int64_t lds);

/* o[i][0..nc) = alpha[i] * o[i][0..nc) + sum_{j<nk} p[i][j] * v[j][0..nc) for
 * i < mr. o aligned; v unaligned. The 6x16 version takes nc == 16; the edge
 * version any mr <= 6, nc <= 16, reading v with masked loads so that
 * columns past dv are never touched (o's padding columns get zeros). */
void avx2_pv_6x16(int64_t nk, const float *p, int64_t ldp, const float *v, int64_t ldv, float *o, int64_t ldo,
                  const float *alpha);
void avx2_pv_mxn(int64_t mr, int64_t nc, int64_t nk, const float *p, int64_t ldp, const float *v, int64_t ldv,
                 float *o, int64_t ldo, const float *alpha);

/* K^T of keys k[0..nk) (row stride d): kt[c][j] = k[j][c], and zeros for
 * j in [nk, nkp). kt aligned, ldk >= nkp. */
void avx2_pack_kt(int64_t nk, int64_t nkp, int64_t d, const float *k, float *kt, int64_t ldk);

/* One online-softmax step over a block of scores s[rows][nkp] (aligned).
 * Row i sees its first cnt[i] keys (cnt == NULL: all nkp); the rest are
 * masked. Updates the running max m and sum l, writes alpha[i] (the factor
 * the row's accumulator must be scaled by) and overwrites s with the
 * unnormalised weights exp2(s - m_new), zero where masked. A row with no
 * visible key in this block gets alpha = 1 and zero weights. */
void avx2_softmax_block(int64_t rows, int64_t nkp, float *s, int64_t lds, const int64_t *cnt, float *m,
                        float *l, float *alpha);

#endif
