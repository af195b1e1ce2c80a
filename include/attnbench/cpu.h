/* What this CPU and its OS can run: CPUID feature bits, confirmed against
 * XCR0 so that the OS actually saves the vector registers. */
#ifndef ATTNBENCH_CPU_H
#define ATTNBENCH_CPU_H

#include <stddef.h>

#include "attnbench/attn.h"

typedef struct attn_cpu_features {
  int sse42, avx, avx2, fma, f16c;
  int avx512f, avx512bw, avx512vl, avx512dq, avx512cd, avx512_vnni, avx512_bf16;
} attn_cpu_features;

/* The levels ATTNBENCH_MAX_ISA names, lowest first: sse4.2 hides every
 * vector extension above SSE4.2, avx2 those above AVX2 (AVX-512), avx512
 * none of ours (a library's newer ones, such as AMX, are above it). */
typedef enum attn_isa_cap {
  ATTN_ISA_CAP_SSE42,
  ATTN_ISA_CAP_AVX2,
  ATTN_ISA_CAP_AVX512,
  ATTN_ISA_CAP_NONE, /* ATTNBENCH_MAX_ISA unset or empty */
} attn_isa_cap;

/* The cap ATTNBENCH_MAX_ISA asks for. ATTN_EINVAL when it names no level;
 * *cap is then ATTN_ISA_CAP_SSE42, which attn_cpu() applies, so that code
 * that goes on regardless stays on the safe side. */
attn_status attn_cpu_isa_cap(attn_isa_cap *cap);
/* "sse4.2", "avx2", "avx512"; NULL for ATTN_ISA_CAP_NONE. */
const char *attn_isa_cap_name(attn_isa_cap cap);

/* Detected once, capped by ATTNBENCH_MAX_ISA; safe to call from any thread. */
const attn_cpu_features *attn_cpu(void);

/* avx2 + fma usable (ymm state enabled by the OS). */
int attn_cpu_has_avx2(void);
/* avx512 f/bw/vl/dq usable (zmm and opmask state enabled by the OS). */
int attn_cpu_has_avx512(void);

/* Space-separated names of the usable extensions. */
void attn_cpu_describe(char *buf, size_t n);

#endif
