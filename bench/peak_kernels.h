/* The FMA peak loops behind `attnbench info --peak`: ISA-free prototypes, so
 * that peak.c (baseline flags) can call them. The definitions live in
 * peak_avx2.c and peak_avx512.c, compiled with their ISA's flags only and
 * reached only after attn_cpu_has_avx2() / attn_cpu_has_avx512().
 *
 * Each runs `iters` steps of independent fp32 FMA chains on operands that
 * stay in registers, and returns a value that depends on every chain so that
 * no compiler can drop the work. Chains needed to keep the FMA pipes full:
 * pipes x latency, 2 x 4 on Intel since Skylake-SP and on AMD Zen 4/5; the
 * counts below leave margin for a longer latency without spilling (16 ymm,
 * 32 zmm registers). */
#ifndef ATTNBENCH_PEAK_KERNELS_H
#define ATTNBENCH_PEAK_KERNELS_H

#include <stdint.h>

/* 12 ymm chains: 12 * 8 lanes * 2 flops per step. */
#define PEAK_AVX2_FLOPS_PER_STEP (12 * 8 * 2)
double bench_peak_fma_avx2_ymm12(int64_t iters, float seed);

/* 16 zmm chains: 16 * 16 lanes * 2 flops per step. */
#define PEAK_AVX512_FLOPS_PER_STEP (16 * 16 * 2)
double bench_peak_fma_avx512_zmm16(int64_t iters, float seed);

#endif
