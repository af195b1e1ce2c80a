/* Software prefetch spread over a kernel's inner loop, for the avx512
 * kernel files (which are compiled with the avx512 flags).
 *
 * Keys and values stream from memory once per query block (wide) or once
 * per kv head (narrow), and the hardware prefetcher alone does not stay far
 * enough ahead of a loop that also computes: measured here, a 64 KiB-per-step
 * stream with compute in between reached well under half of the bandwidth of
 * a bare read loop. So each kernel asks for the next key block while it
 * computes this one, a line or a few per inner-loop step, so that the
 * requests never pile up in the L1 miss buffers (a burst of a whole block at
 * once measured no better than no prefetch at all). */
#ifndef ATTNBENCH_AVX512_PREFETCH_H
#define ATTNBENCH_AVX512_PREFETCH_H

#ifndef __AVX512F__
#error "avx512_prefetch.h is for the avx512 kernel files"
#endif

#include <immintrin.h>
#include <stdint.h>

typedef struct pf_stream {
  const char *at, *end;
  int64_t per; /* lines per step */
} pf_stream;

/* floats from `from`, spread over `steps` calls of pf_step. */
static inline pf_stream pf_make(const float *from, int64_t floats, int64_t steps) {
  pf_stream s = {(const char *)from, (const char *)(from + floats), 0};
  const int64_t lines = (floats * (int64_t)sizeof(float) + 63) / 64;
  s.per = steps > 0 ? (lines + steps - 1) / steps : lines;
  return s;
}

static inline __attribute__((always_inline)) void pf_step(pf_stream *s) {
  for (int64_t i = 0; i < s->per && s->at < s->end; i++, s->at += 64) _mm_prefetch(s->at, _MM_HINT_T0);
}

/* Whatever the estimate of steps left over. */
static inline void pf_rest(pf_stream *s) {
  for (; s->at < s->end; s->at += 64) _mm_prefetch(s->at, _MM_HINT_T0);
}

#endif
