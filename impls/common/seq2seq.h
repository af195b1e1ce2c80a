/* Scalar building blocks of the seq2seq scores and modes (attn.h) that every
 * backend may share: the pieces that are O(rows * d), not O(lq * lk). Each
 * takes a row range so that a backend can split it across its threads. */
#ifndef ATTNBENCH_IMPLS_SEQ2SEQ_H
#define ATTNBENCH_IMPLS_SEQ2SEQ_H

#include <stdint.h>

/* Rows [r0, r1) of x [rows][d] scaled to unit length into y; a zero row stays
 * zero (score=cosine's rule). fp32 with a correctly rounded sqrt and
 * division: the gamma(d+4) per component that the tolerance assumes. */
void attn_normalize_rows(const float *x, float *y, int64_t r0, int64_t r1, int64_t d);

/* mode=local-p: centres[r] = lk * sigmoid(vp . tanhf(proj[r])) for rows
 * [r0, r1), proj [rows][da] = Q Wp^T computed by the caller's GEMM. */
void attn_local_p_centres(const float *proj, const float *vp, int64_t r0, int64_t r1, int64_t da, int64_t lk,
                          float *centres);

/* mode=local-p: the Gaussian factor exp(-(j - c)^2 / (2 sigma^2)), sigma =
 * window / 2, of key j for centre c. */
float attn_local_p_gauss(int64_t j, float c, int64_t window);

/* dst [cols][rows] = src [rows][cols]^T: weights stored [out][in] turned into
 * a GEMM's [k][n] operand. */
void attn_transpose(const float *src, float *dst, int64_t rows, int64_t cols);

#endif
