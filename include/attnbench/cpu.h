/* What this CPU and its OS can run: CPUID feature bits, confirmed against
 * XCR0 so that the OS actually saves the vector registers. */
#ifndef ATTNBENCH_CPU_H
#define ATTNBENCH_CPU_H

#include <stddef.h>

typedef struct attn_cpu_features {
  int sse42, avx, avx2, fma, f16c;
  int avx512f, avx512bw, avx512vl, avx512dq, avx512cd, avx512_vnni, avx512_bf16;
} attn_cpu_features;

/* Detected once; safe to call from any thread. The environment variable
 * ATTNBENCH_MAX_ISA=avx2|sse4.2 hides the extensions above that level. */
const attn_cpu_features *attn_cpu(void);

/* avx2 + fma usable (ymm state enabled by the OS). */
int attn_cpu_has_avx2(void);
/* avx512 f/bw/vl/dq usable (zmm and opmask state enabled by the OS). */
int attn_cpu_has_avx512(void);

/* Space-separated names of the usable extensions. */
void attn_cpu_describe(char *buf, size_t n);

#endif
