/* The avx512 backend's micro-kernels: ISA-free prototypes, so that the loops
 * (avx512_loops.c, baseline flags) can call them. The definitions live in
 * avx512_wide.c and avx512_narrow.c, compiled with the avx512 flags and only
 * ever reached after attn_cpu_has_avx512().
 *
 * Two formulations share one online softmax (scores and maxima in log2 units:
 * queries are pre-multiplied by scale * log2(e), weights are exp2(s - m)):
 *
 * wide    query rows in vector lanes (a block of nv * 16 rows). Q is packed
 *         transposed once per query block (qt[d][nv*16]); keys and values are
 *         read in place and broadcast, so no key block is ever repacked, the
 *         row maxima and sums are lane-wise, and any d, dv or key count is
 *         just a loop bound. S^T and P^T are [keys][nv*16], the accumulator
 *         O^T is [dv][nv*16].
 * narrow  keys in lanes, for jobs of fewer than 16 rows (decode): a lane per
 *         query row would leave most of a vector idle, so each score is a
 *         dot product over d and 16 of them are reduced together; values
 *         are FMAed as whole rows. s, p are [rows][ld], acc is [rows][ld].
 *
 * Tiles (register blocks):
 *   avx512_qkt_6x64, _8x48, _12x32, _12x16   S^T: keys x queries, 24 accumulators
 *   avx512_pvt_6x64, _8x48, _12x32, _12x16   O^T: value dims x queries, 24 accumulators
 *   avx512_qk_4x16                            s: 4 rows x 16 keys (d in lanes), 16
 *                                             accumulators per pass of 4 keys
 *   avx512_qk_1x16                            s: 1 row x 16 keys (the remainder rows)
 *   avx512_pv_4x64                            acc: 4 rows x 64 value dims, 16 accumulators
 * Remainders use smaller instances of the same bodies. */
#ifndef ATTNBENCH_AVX512_KERNELS_H
#define ATTNBENCH_AVX512_KERNELS_H

#include "common/gemm_blocked.h"

/* op=mha's projections: common/gemm_blocked.c's loops around this 12 x 32
 * tile (avx512_gemm.c). */
extern const gemm_kernel avx512_sgemm_12x32;

#include <stdint.h>

/* Spellings the kernel files share. */
#define INLINE static inline __attribute__((always_inline))
/* Tile loops must be fully unrolled so that accumulator arrays live in
 * registers; each compiler has its own spelling. */
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif
#define NOINLINE static __attribute__((noinline))

/* Register tile of the wide kernels for nv query vectors: keys (qk) or value
 * dims (pv) per tile. Shared with the loops so that describe() names it. */
static inline int avx512_wide_tile(int nv) { return nv == 4 ? 6 : nv == 3 ? 8 : 12; }

/* ---- wide: query rows in lanes, ld = nv * 16 for qt, st, ot ---- */

/* st[j][:] = K[j] . Q^T for j < nb (k: nb rows of d floats, in place); bmax
 * (nv*16) = max over those rows. Meanwhile prefetches the next block: next_nb
 * rows of keys (d floats) and values (dv floats). */
void avx512_qkt_block(int nv, int64_t nb, int64_t d, const float *k, const float *qt, float *st, float *bmax,
                      const float *next_k, const float *next_v, int64_t next_nb, int64_t dv);

/* Masks key j0 + j of row r to -inf unless j0 + j < ends[r]; recomputes bmax. */
void avx512_maskt_block(int nv, int64_t nb, int64_t j0, const int32_t *ends, float *st, float *bmax);

/* The online softmax step of one key block: m <- max(m, bmax), alpha =
 * exp2(m_old - m), l <- alpha * l + sum_j p, st <- p = exp2(st - m) in place.
 * A row whose maximum is still -inf uses 0 as its reference, so masked
 * entries give p = 0 and alpha = 0, never NaN. */
void avx512_softmaxt_block(int nv, int64_t nb, float *st, const float *bmax, float *m, float *l,
                           float *alpha);

/* ot[c][:] = alpha * ot[c][:] + sum_{j < nb} v[j][c] * pt[j][:] for c < dv
 * (v: nb rows of dv floats, in place). first: ot is not read (treated as 0).
 * starts, ends (NULL: every row sees every key): row r sums only the keys
 * starts[r] <= j0 + j < ends[r], so that a value row it does not see, NaN
 * or infinite, cannot reach it through a weight of 0; nb <=
 * AVX512_PVT_MAX_KEYS then. */
#define AVX512_PVT_MAX_KEYS 128
void avx512_pvt_block(int nv, int64_t nb, int64_t dv, const float *v, const float *pt, float *ot,
                      const float *alpha, int first, int64_t j0, const int32_t *starts, const int32_t *ends);

/* The wide split-k merge: parts states in the wide layout (part t: m, l at
 * m + t * pstride, l + t * pstride, nv*16 lanes; acc [dv][nv*16] at acc + t *
 * astride) into ot = sum_t w_t acc_t and lsum = sum_t w_t l_t, w_t =
 * exp2(m_t - max m), summed in part (key) order; then avx512_scalet_block
 * finishes it. A row whose parts saw no key gets lsum = 0 (a zero row); a NaN
 * maximum or sum (a NaN score) makes the row NaN. */
void avx512_merget_block(int nv, int parts, int64_t dv, const float *m, const float *l, int64_t pstride,
                         const float *acc, int64_t astride, float *ot, float *lsum);

/* ot[c][r] /= l[r] for c < dv (0 where l[r] == 0: no visible key). */
void avx512_scalet_block(int nv, int64_t dv, float *ot, const float *l);

/* ---- narrow: keys in lanes ---- */

/* s[r][j] = q[r] . k[j] for j < nb, then -inf for j >= vis[r] (vis[r] <= nb;
 * also -inf up to the next multiple of 16). q rows: ldq floats, zero past d.
 * Meanwhile prefetches next_nb key rows from next_k (the next block). */
void avx512_qk_rows_block(int rows, int64_t nb, int64_t d, const float *k, const float *q, int64_t ldq,
                          const int64_t *vis, float *s, int64_t lds, const float *next_k, int64_t next_nb);

/* The online softmax step per row over s[r][0:nbp], nbp a multiple of 16. */
void avx512_softmax_rows_block(int rows, int64_t nbp, float *s, int64_t lds, float *m, float *l,
                               float *alpha);

/* acc[r][:] = alpha[r] * acc[r][:] + sum_{j < nb} p[r][j] * v[j][:] (v: nb rows of
 * dv floats; acc rows hold dv rounded up to 16, the padding stays 0); with
 * lo, hi (NULL: every row sees every key) row r sums only lo[r] <= j < hi[r],
 * so that a value row it does not see cannot reach it through 0 * NaN.
 * Meanwhile prefetches next_nb value rows from next_v. */
void avx512_pv_rows_block(int rows, int64_t nb, int64_t dv, const float *v, const float *p, int64_t ldp,
                          float *acc, int64_t lda, const float *alpha, int first, const int64_t *lo,
                          const int64_t *hi, const float *next_v, int64_t next_nb);

/* ---- output ---- */

/* o[r][:dv] = acc[r][:dv] / l[r], or zeros when l[r] == 0 (no visible key). */
void avx512_finish_rows(int rows, int64_t dv, const float *acc, int64_t lda, const float *l, float *const *o);

/* Merges parts partial states (m, l, acc: part t of row r at index t * pstride
 * + r for m and l, (t * pstride + r) * lda for acc) into o[r] = sum_t w_t acc_t
 * / sum_t w_t l_t with w_t = exp2(m_t - max m); parts <= AVX512_MERGE_MAX_PARTS. */
#define AVX512_MERGE_MAX_PARTS 64
void avx512_merge_rows(int parts, int rows, int64_t pstride, int64_t dv, const float *m, const float *l,
                       const float *acc, int64_t lda, float *const *o);

/* ---- seq2seq (avx512_seq2seq.c) ---- */

/* score=additive, wide: st[j][:] = sum_{a < da} u2[a] tanh(a_rows[j][a] + bt[a][:])
 * for j < nb (a_rows: nb rows of da floats; bt: [da][nv*16]); bmax as in
 * avx512_qkt_block. u2 = u * log2(e). */
void avx512_addt_block(int nv, int64_t nb, int64_t da, const float *a_rows, const float *bt, const float *u2,
                       float *st, float *bmax);

/* score=additive, narrow: s[r][j] = sum_a u2[a] tanh(a_rows[j][a] + bs[r * ldb + a])
 * for lo[r] <= j < hi[r], -inf elsewhere up to nb rounded up to 16 (a_rows:
 * nb rows of da floats; bs rows padded with zeros to a multiple of 16). */
void avx512_add_rows_block(int rows, int64_t nb, int64_t da, const float *a_rows, const float *bs,
                           int64_t ldb, const float *u2, const int64_t *lo, const int64_t *hi, float *s,
                           int64_t lds);

/* Masks key j0 + j of row r to -inf unless starts[r] <= j0 + j < ends[r];
 * recomputes bmax (the windowed form of avx512_maskt_block). */
void avx512_maskt_range_block(int nv, int64_t nb, int64_t j0, const int32_t *starts, const int32_t *ends,
                              float *st, float *bmax);

/* s[r][j] = -inf for j < lo[r] (narrow rows; the upper end is the score
 * kernel's vis). */
void avx512_mask_rows_lo(int rows, const int64_t *lo, float *s, int64_t lds);

/* mode=local-p: weights of key j0 + j times exp(-2 (j0 + j - c_r)^2 / window^2),
 * after the softmax step (which keeps l unweighted: no renormalising).
 * Wide: st[j][r], cent[r] per lane; narrow: s[r][j] for j < nbp. */
void avx512_gausst_block(int nv, int64_t nb, int64_t j0, const float *cent, int64_t window, float *st);
void avx512_gauss_rows_block(int rows, int64_t nbp, int64_t j0, const float *cent, int64_t window, float *s,
                             int64_t lds);

/* mode=hard: best[r], idx[r] <- the first maximum of row r's scores so far
 * (strictly greater wins, so ties go to the lowest key). Wide: st[j][r] for
 * j < nb; narrow: s[r][j] for j < nbp. Masked scores are -inf and never win. */
void avx512_argmaxt_block(int nv, int64_t nb, int64_t j0, const float *st, float *best, int32_t *idx);
void avx512_argmax_rows_block(int rows, int64_t nbp, int64_t j0, const float *s, int64_t lds, float *best,
                              int32_t *idx);

/* mode=local-p: centres[r] = lk * sigmoid(vp . tanh(proj[r])) for rows [r0, r1)
 * (attn_local_p_centres with avx512_tanh_a22 in place of tanhf: a tanhf per
 * term would cost more than the windows' attention). */
void avx512_local_p_centres(const float *proj, const float *vp, int64_t r0, int64_t r1, int64_t da,
                            int64_t lk, float *centres);

/* score=cosine: rows [r0, r1) of x [rows][d] scaled to unit length into y;
 * zero rows stay zero (attn_normalize_rows, vectorised). */
void avx512_normalize_rows(const float *x, float *y, int64_t r0, int64_t r1, int64_t d);

/* score=cosine's keys: norm[r] = |x_r| for rows [r0, r1) (1 for a zero row,
 * whose scores are 0 anyway), by which the scores of the unit queries with
 * the unnormalised keys are divided instead of writing unit keys: K is read
 * once more, never written. The queries then carry no scale: it is applied
 * here, after the division. Wide: st[j][:] = st[j][:] / norm[j] * qscale for
 * j < nb, bmax recomputed; narrow: s[r][j] likewise for j < nb. */
void avx512_key_norms(const float *x, float *norm, int64_t r0, int64_t r1, int64_t d);
void avx512_scale_keyst(int nv, int64_t nb, const float *norm, float qscale, float *st, float *bmax);
void avx512_scale_keys_rows(int rows, int64_t nb, const float *norm, float qscale, float *s, int64_t lds);

#endif
