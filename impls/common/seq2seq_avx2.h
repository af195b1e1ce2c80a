/* The AVX2 + FMA instances of common/seq2seq.h's vectorised routines
 * (seq2seq_avx2.c, the only file compiled with -mavx2 -mfma). Prototypes are
 * ISA-free; seq2seq.c calls them only after attn_cpu_has_avx2(), so one
 * binary still runs on a machine without AVX2. */
#ifndef ATTNBENCH_IMPLS_SEQ2SEQ_AVX2_H
#define ATTNBENCH_IMPLS_SEQ2SEQ_AVX2_H

#include <stdint.h>

void attn_local_p_centres_avx2(const float *proj, const float *vp, int64_t r0, int64_t r1, int64_t da,
                               int64_t lk, float *centres);
float attn_exp2_shifted_avx2(float *s, int64_t n, float m);
/* key0 + n <= 2^24, so that every key index is exact in float. */
void attn_local_p_gauss_row_avx2(float *w, int64_t n, int64_t key0, float c, float k2);
int32_t attn_row_max_ordered_avx2(const float *s, int32_t n);
int32_t attn_count_at_least_ordered_avx2(const float *s, int32_t n, int32_t thr, int32_t *first);

#endif
