/* Scalar building blocks of the seq2seq scores and modes (attn.h) that every
 * backend may share: the pieces that are O(rows * d), not O(lq * lk). Each
 * takes a row range so that a backend can split it across its threads. */
#ifndef ATTNBENCH_IMPLS_SEQ2SEQ_H
#define ATTNBENCH_IMPLS_SEQ2SEQ_H

#include <stdint.h>
#include <string.h>

/* Rows [r0, r1) of x [rows][d] scaled to unit length into y; a zero row stays
 * zero (score=cosine's rule). fp32 with a correctly rounded sqrt and
 * division: the gamma(d+4) per component that the tolerance assumes. */
void attn_normalize_rows(const float *x, float *y, int64_t r0, int64_t r1, int64_t d);

/* mode=local-p: centres[r] = lk * sigmoid(vp . tanh(proj[r])) for rows
 * [r0, r1), proj [rows][da] = Q Wp^T computed by the caller's GEMM. tanh is
 * avx2_tanh_a3 (impls/avx2/tanh_avx2.h) where attn_cpu_has_avx2(), else
 * glibc's tanhf: a tanhf per element made the centres most of local-p's time.
 * The sigmoid is expf, within 1 ulp. */
void attn_local_p_centres(const float *proj, const float *vp, int64_t r0, int64_t r1, int64_t da, int64_t lk,
                          float *centres);

/* The tanh error of attn_local_p_centres, for accuracy.tanh_abs_err of the
 * backends that call it: avx2_tanh_a3's 3 * 2^-24 (AVX2_TANH_ABS_ERR,
 * asserted by tests/impls/test_tanh_avx2.c), which is 1.5 times tanhf's
 * 2^-23 (ATTN_TANHF_ABS_ERR), so it covers both paths. Declaring 0 (tanhf)
 * would not cover the AVX2 one. */
#define ATTN_LOCAL_P_TANH_ABS_ERR (3.0 * 0x1p-24)

/* s[j] = 2^(s[j] - m) for j < n, returning their sum (summed in any order):
 * a two-pass softmax's weights for scores in log2 units, m their maximum.
 * avx2_exp2_u3 (relative error <= 3 * 2^-24) where attn_cpu_has_avx2(), else
 * glibc's exp2f (1 ulp): a libm call per weight cost more than the window's
 * dot products. Scores in log2 units (pre-multiplied by log2(e)) put that
 * multiply's rounding in the score, where the tolerance model counts it. */
float attn_exp2_shifted(float *s, int64_t n, float m);

/* mode=local-p: the Gaussian factor exp(-(j - c)^2 / (2 sigma^2)), sigma =
 * window / 2, of key j for centre c. */
float attn_local_p_gauss(int64_t j, float c, int64_t window);

/* w[j] *= attn_local_p_gauss(key0 + j, c, window) for j < n: one row's window
 * of keys. Where attn_cpu_has_avx2() (and key0 + n <= 2^24), 2^(k2 (j - c)^2)
 * by avx2_exp2_u3, k2 = -2 log2(e) / window^2 rounded to float: for
 * |j - c| <= window the argument's five roundings (j - c, the square, k2, the
 * product) on a magnitude of at most 2 log2(e) and the exp give at most
 * 10 * 2^-24 + 3 * 2^-24 relative, within the 3 (exp_rel_err + 4u) the
 * tolerance model allows the Gaussian for any exp_rel_err >= 2^-24. Else
 * expf per key, as attn_local_p_gauss. */
void attn_local_p_gauss_row(float *w, int64_t n, int64_t key0, float c, int64_t window);

/* dst [cols][rows] = src [rows][cols]^T: weights stored [out][in] turned into
 * a GEMM's [k][n] operand. */
void attn_transpose(const float *src, float *dst, int64_t rows, int64_t cols);

/* mode=hard's row scans over computed scores, in the integers of the same
 * order as the floats (attn_float_ordered: -0 just below +0, NaN above
 * +inf), which vectorise where float selects would not: the largest, and
 * how many are at least thr and the first of them (n if none). */
static inline int32_t attn_float_ordered(float x) {
  int32_t b;
  memcpy(&b, &x, sizeof b);
  return b ^ (-(int32_t)((uint32_t)b >> 31) & 0x7fffffff);
}
int32_t attn_row_max_ordered(const float *s, int32_t n);
int32_t attn_count_at_least_ordered(const float *s, int32_t n, int32_t thr, int32_t *first);

/* a . b in 8 float lanes: vectorises without reassociation (any summation
 * order is within the tolerance model's gamma(n)). */
float attn_dot8(const float *a, const float *b, int64_t n);
/* The largest Euclidean norm of n rows of k [n][d]. */
double attn_max_row_norm(const float *k, int64_t n, int64_t d);

/* mode=hard for backends whose scores come from a library GEMM: the first
 * maximum of the computed scores need not be the first exact one, since
 * equal keys need not score equal (a GEMM's kernels for a tail of columns
 * may round differently: in OpenBLAS's 13x17x13 sgemm the 17th column of
 * identical keys came out 1 ulp apart), so the lowest index can lose a tie.
 * Every key of [lo, hi) whose computed score s[j] is within 2.5 times the
 * score's error bound of the computed maximum smax is rescored in double
 * (products of floats are exact there, the same arithmetic for every key)
 * and the first maximum of those is returned. The bound: gamma(d + 2)
 * |scale| sum_k |q_k k_jk| <= ... |q|_2 kmax, kmax the keys' largest norm.
 * s and k are indexed by the same key j; hi - lo must fit in 32 bits. */
int64_t attn_hard_pick(const float *s, int64_t lo, int64_t hi, float smax, const float *q, const float *k,
                       int64_t d, double scale, double kmax);

#endif
