/* CPUID + XCR0 feature detection. A CPUID bit alone is not enough: the OS
 * must also enable the register state (XCR0), or the first zmm instruction
 * faults. */
#include "attnbench/cpu.h"

#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t read_xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static attn_cpu_features detect(void) {
  attn_cpu_features f;
  memset(&f, 0, sizeof f);
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.sse42 = (c >> 20) & 1;
  const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  const int fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const int ymm_ok = (xcr0 & 0x6) == 0x6;             /* SSE + AVX state */
  const int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0; /* opmask + ZMM_Hi256 + Hi16_ZMM */
  f.avx = avx && ymm_ok;
  f.fma = fma && f.avx;
  f.f16c = f16c && f.avx;
  if (__get_cpuid_max(0, NULL) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = ((b >> 5) & 1) && f.avx;
  f.avx512f = ((b >> 16) & 1) && zmm_ok;
  f.avx512dq = ((b >> 17) & 1) && f.avx512f;
  f.avx512cd = ((b >> 28) & 1) && f.avx512f;
  f.avx512bw = ((b >> 30) & 1) && f.avx512f;
  f.avx512vl = ((b >> 31) & 1) && f.avx512f;
  f.avx512_vnni = ((c >> 11) & 1) && f.avx512f;
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512_bf16 = ((a >> 5) & 1) && f.avx512f;
  return f;
}

static const char *const cap_names[] = {
    [ATTN_ISA_CAP_SSE42] = "sse4.2", [ATTN_ISA_CAP_AVX2] = "avx2", [ATTN_ISA_CAP_AVX512] = "avx512"};

const char *attn_isa_cap_name(attn_isa_cap cap) {
  return cap >= ATTN_ISA_CAP_SSE42 && cap < ATTN_ISA_CAP_NONE ? cap_names[cap] : NULL;
}

attn_status attn_cpu_isa_cap(attn_isa_cap *cap) {
  const char *v = getenv("ATTNBENCH_MAX_ISA");
  *cap = ATTN_ISA_CAP_NONE;
  if (!v || !*v) return ATTN_OK;
  for (int c = ATTN_ISA_CAP_SSE42; c < ATTN_ISA_CAP_NONE; c++)
    if (!strcmp(v, cap_names[c])) {
      *cap = (attn_isa_cap)c;
      return ATTN_OK;
    }
  *cap = ATTN_ISA_CAP_SSE42;
  return ATTN_EINVAL;
}

/* ATTNBENCH_MAX_ISA hides the extensions above its level, so the dispatch of
 * a smaller machine can be exercised on a bigger one. */
static void apply_isa_cap(attn_cpu_features *f) {
  attn_isa_cap cap;
  (void)attn_cpu_isa_cap(&cap); /* a bad name caps at the baseline; the harness refuses it at startup */
  if (cap >= ATTN_ISA_CAP_AVX512) return;
  f->avx512f = f->avx512dq = f->avx512cd = f->avx512bw = f->avx512vl = f->avx512_vnni = f->avx512_bf16 = 0;
  if (cap == ATTN_ISA_CAP_AVX2) return;
  f->avx = f->avx2 = f->fma = f->f16c = 0;
}

const attn_cpu_features *attn_cpu(void) {
  /* Detection is idempotent, so a benign race on first use is harmless. */
  static attn_cpu_features cached;
  static volatile int ready;
  if (!ready) {
    cached = detect();
    apply_isa_cap(&cached);
    ready = 1;
  }
  return &cached;
}

int attn_cpu_has_avx2(void) { return attn_cpu()->avx2 && attn_cpu()->fma; }

int attn_cpu_has_avx512(void) {
  const attn_cpu_features *f = attn_cpu();
  return f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->fma;
}

void attn_cpu_describe(char *buf, size_t n) {
  const attn_cpu_features *f = attn_cpu();
  const struct {
    const char *name;
    int on;
  } all[] = {
      {"sse4.2", f->sse42},
      {"avx", f->avx},
      {"avx2", f->avx2},
      {"fma", f->fma},
      {"f16c", f->f16c},
      {"avx512f", f->avx512f},
      {"avx512dq", f->avx512dq},
      {"avx512cd", f->avx512cd},
      {"avx512bw", f->avx512bw},
      {"avx512vl", f->avx512vl},
      {"avx512_vnni", f->avx512_vnni},
      {"avx512_bf16", f->avx512_bf16},
  };
  size_t at = 0;
  if (n) buf[0] = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i].on && at < n) at += (size_t)snprintf(buf + at, n - at, "%s%s", at ? " " : "", all[i].name);
}
