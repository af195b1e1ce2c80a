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

/* The absolute error bound of avx2_tanh_a3 (tanh_avx2.h). */
#define AVX2_TANH_ABS_ERR (3.0 * 0x1p-24)

/* s[i][0..16) = sum_c q[i][c] * kt[c][0..16) for i < mr (mr <= 6).
 * kt and s aligned. The 6-row version holds 12 accumulators, two K^T
 * vectors and one broadcast: 15 of the 16 ymm registers. */
void avx2_qk_6x16(int64_t d, const float *q, int64_t ldq, const float *kt, int64_t ldk, float *s,
                  int64_t lds);
void avx2_qk_mx16(int64_t mr, int64_t d, const float *q, int64_t ldq, const float *kt, int64_t ldk, float *s,
                  int64_t lds);

/* score=additive: s[i][0..16) = sum_a ul[a] tanh(qa[i][a] + kat[a][0..16))
 * for i < mr (mr <= 6), a < da; ul = u * log2(e) (scores in log2 units),
 * qa = Q W2^T, kat = (K W1^T)^T packed like K^T. kat and s aligned. The sum
 * is one FMA per term, in order of a. */
void avx2_additive_mx16(int64_t mr, int64_t da, const float *qa, int64_t ldq, const float *kat, int64_t ldk,
                        const float *ul, float *s, int64_t lds);

/* o[i][0..nc) = alpha[i] * o[i][0..nc) + sum_{j<nk} p[i][j] * v[j][0..nc) for
 * i < mr. o aligned; v unaligned. The 6x16 version takes nc == 16; the edge
 * version any mr <= 6, nc <= 16, reading v with masked loads so that
 * columns past dv are never touched (o's padding columns get zeros). blo,
 * bhi (NULL: all of [0, nk)): row i sums only blo[i] <= j < bhi[i], so that
 * a value row it does not see cannot reach it through 0 * NaN. */
void avx2_pv_6x16(int64_t nk, const float *p, int64_t ldp, const float *v, int64_t ldv, float *o, int64_t ldo,
                  const float *alpha, const int64_t *blo, const int64_t *bhi);
void avx2_pv_mxn(int64_t mr, int64_t nc, int64_t nk, const float *p, int64_t ldp, const float *v, int64_t ldv,
                 float *o, int64_t ldo, const float *alpha, const int64_t *blo, const int64_t *bhi);

/* The split-k merge of one row (avx2_loops.c): split s's max, sum and
 * accumulator row at m[s * stride], l[s * stride], acc + s * astride (dv
 * rounded up to 16 floats, zero-padded); dst[0..dv) = sum_s f_s acc_s /
 * sum_s f_s l_s, f_s = 2^(m_s - max m) over the splits with l_s != 0 (the
 * others saw no key), summed in split (key) order; zeros if none saw a key.
 * A NaN m or l (a NaN score) makes the row NaN. ns <= AVX2_MERGE_MAX_SPLITS. */
#define AVX2_MERGE_MAX_SPLITS 64
void avx2_merge_row(int64_t ns, const float *m, const float *l, int64_t stride, const float *acc,
                    int64_t astride, int64_t dv, float *dst);

/* K^T of keys k[0..nk) (row stride d): kt[c][j] = k[j][c], and zeros for
 * j in [nk, nkp). kt aligned, ldk >= nkp. */
void avx2_pack_kt(int64_t nk, int64_t nkp, int64_t d, const float *k, float *kt, int64_t ldk);

/* One online-softmax step over a block of scores s[rows][nkp] (aligned).
 * Row i sees columns [lo[i], hi[i]) (lo == hi == NULL: all nkp); the rest
 * are masked. Updates the running max m and sum l, writes alpha[i] (the
 * factor the row's accumulator must be scaled by) and overwrites s with the
 * unnormalised weights exp2(s - m_new), zero where masked. A row with no
 * visible column gets alpha = 1 and zero weights. */
void avx2_softmax_block(int64_t rows, int64_t nkp, float *s, int64_t lds, const int64_t *lo,
                        const int64_t *hi, float *m, float *l, float *alpha);

/* mode=hard's step over the same block: for each row, the first visible
 * column whose score exceeds the row's best so far m (any score when
 * arg < 0) becomes arg = base + column, m its score. Masked columns of s are
 * overwritten. Ties keep the lower index: blocks arrive in key order. */
void avx2_argmax_block(int64_t rows, int64_t nkp, float *s, int64_t lds, const int64_t *lo, const int64_t *hi,
                       int64_t base, float *m, int64_t *arg);

/* mode=local-p's Gaussian factor on a block of weights s[rows][ncols]
 * (aligned, ncols a multiple of 8): s[i][j] *= 2^(k2 (key0 + j - c[i])^2),
 * k2 = -2 log2(e) / window^2 rounded to float, so the factor is
 * exp(-(j - c)^2 / (2 sigma^2)), sigma = window / 2. For |j - c| <= window
 * its relative error is at most 10u + AVX2_EXP2_REL_ERR (u = 2^-24): the
 * argument carries 5 roundings (j - c, its square, k2, the product) on a
 * magnitude of at most 2 log2(e), i.e. 10u relative in the result. The
 * tolerance allows 3 (exp_rel_err + 4u). Columns outside a row's window hold
 * zero weights and stay zero (the factor is finite, in [0, 1]). key0 + ncols
 * <= 2^24 keeps every key index exact in float. */
void avx2_gauss_block(int64_t rows, int64_t ncols, float *s, int64_t lds, const float *c, int64_t key0,
                      float k2);

#endif
