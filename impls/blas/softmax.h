/* The masked row softmax the blas backend runs between its two sgemm calls.
 *
 * Two passes per row, as the tolerance model's key_block = 0 assumes: the
 * exact row maximum, then w_j = exp(s_j - max) in place with their sum. The
 * weights stay unnormalised (the caller scales each output row by 1/sum
 * after the second sgemm: dv multiplies per row instead of n). */
#ifndef ATTNBENCH_BLAS_SOFTMAX_H
#define ATTNBENCH_BLAS_SOFTMAX_H

#include <stddef.h>
#include <stdint.h>

/* Row r of s (rows x n, row stride n) sees keys [0, ends[r]), ends[r] <= n.
 * On return s holds exp(s - rowmax) on those keys and 0 on the rest of the
 * row, and inv[r] = 1 / sum (0 for a row with no visible key). */
typedef void (*blas_softmax_fn)(float *s, int64_t rows, int64_t n, const int64_t *ends, float *inv);

/* The same for rows that see a band of keys [starts[r], ends[r]) (mode=local-m):
 * outside it the row is 0. starts NULL reads as all 0 (then it is rows()). */
typedef void (*blas_softmax_band_fn)(float *s, int64_t rows, int64_t n, const int64_t *starts,
                                     const int64_t *ends, float *inv);

/* mode=hard: idx[r] = the lowest j in [starts[r], ends[r]) with s[r][j] the
 * row's maximum there, -1 for an empty band. s is not modified. */
typedef void (*blas_argmax_fn)(const float *s, int64_t rows, int64_t n, const int64_t *starts,
                               const int64_t *ends, int64_t *idx);

/* One code path: the same plain C compiled for one ISA. */
typedef struct blas_softmax_impl {
  const char *isa;     /* "avx512", "avx2", "generic" */
  int (*usable)(void); /* this CPU and OS can run it */
  blas_softmax_fn rows;
  blas_softmax_band_fn band;
  blas_argmax_fn argmax;
  /* y[i] = expf_u10(x[i]), vectorised as in rows(): for the lane-by-lane test. */
  void (*exp)(const float *x, float *y, int64_t n);
} blas_softmax_impl;

/* Strongest first; the last one runs everywhere. */
extern const blas_softmax_impl blas_softmax_impls[];
extern const size_t blas_softmax_nimpls;

/* The first usable entry of blas_softmax_impls. */
const blas_softmax_impl *blas_softmax_best(void);

/* What expf_u10 promises over the arguments softmax gives it (x <= 0):
 * |y / exp(x) - 1| <= 2^-23 where exp(x) >= 2^-126, and |y - exp(x)| <=
 * 2^-126 below that (tiny weights may be flushed to zero). Measured over every
 * float in [-88, 0]: 0.71 * 2^-23 with and without FMA contraction. */
#define BLAS_EXPF_U10_REL_ERR 0x1p-23

#endif
