/* The machine's roofline: fp32 FMA peak per ISA and thread count, and read
 * bandwidth, measured by `attnbench info --peak` and cached in a small JSON
 * file so that reports can say how close a result came without measuring
 * again.
 *
 * The cache is keyed by the machine (CPU model, core count, usable ISA list,
 * which ATTNBENCH_MAX_ISA narrows): a file written elsewhere, or under
 * another ISA cap, describes a different roofline and is ignored. */
#ifndef ATTNBENCH_PEAK_H
#define ATTNBENCH_PEAK_H

#include <stddef.h>

/* The vector ISAs with a peak loop; names as the backends spell them. */
enum { BENCH_PEAK_AVX2, BENCH_PEAK_AVX512, BENCH_PEAK_NISA };
/* "avx2", "avx512", or NULL past the end. */
const char *bench_peak_isa_name(int isa);

/* Runs per measurement, of which the best counts: other work on the
 * machine only ever slows a run down. */
#define BENCH_PEAK_RUNS 5

/* Enough for every count of a 16-core machine, or the sparse counts of any
 * larger one (bench_peak_measure). */
#define BENCH_PEAK_MAX_POINTS 64

typedef struct bench_peak_point {
  int threads;
  double fma_gflops[BENCH_PEAK_NISA]; /* 0: ISA not usable here */
  double read_gbs;                    /* 0: not measured (no memory for it) */
} bench_peak_point;

typedef struct bench_peak_key {
  char cpu_model[128];
  int cores;
  char isa[256];
} bench_peak_key;

typedef struct bench_peak {
  bench_peak_key key;
  char measured[32]; /* UTC, ISO 8601 */
  int pinned;        /* every team was pinned one thread per core */
  int npoints;
  bench_peak_point points[BENCH_PEAK_MAX_POINTS]; /* ascending threads */
} bench_peak;

/* This machine's key. */
void bench_peak_key_current(bench_peak_key *k);

/* Measures every ISA this CPU runs at thread counts 1 .. bench_default_threads()
 * (all of them up to 16; beyond, 1..8, the powers of two and the total, and
 * lookups interpolate), each team pinned one thread per core; the OpenMP
 * threads stay pinned afterwards. Takes a few seconds per thread count. */
void bench_peak_measure(bench_peak *out);

/* Read bandwidth in GB/s of `threads` threads summing a 1 GiB buffer, best
 * of BENCH_PEAK_RUNS passes; 0 if the buffer cannot be had. */
double bench_read_bandwidth(int threads);

/* The cache file: $ATTNBENCH_PEAK_FILE, else $XDG_CACHE_HOME/attnbench/peak.json,
 * else $HOME/.cache/attnbench/peak.json. -1 if none of them is set. */
int bench_peak_path(char *buf, size_t n);

/* Writes atomically, creating the parent directories. 0, or -1 and err. */
int bench_peak_save(const char *path, const bench_peak *pk, char *err, size_t n);

/* 0: *out holds the file's values. 1: there is no file. -1: the file is
 * unusable (unreadable, malformed, implausible values, or measured on a
 * machine other than `expect`) and err says why. *out is zeroed unless 0 is
 * returned; its strings are printable, one line. */
int bench_peak_read(const char *path, const bench_peak_key *expect, bench_peak *out, char *err, size_t n);

/* This machine's cached peak: 0, or -1 when there is none, with a one-line
 * note on stderr when a file exists but cannot be used. */
int bench_peak_load(bench_peak *out);

/* Peak GFLOP/s of `isa` (NULL: the best ISA) with `threads` threads; 0 if
 * unknown. Between measured counts the value is interpolated where the
 * measurement skips counts by design (beyond 16 threads), and unknown where
 * the file lacks a count it should hold; past the last it stays at the last
 * if that is every core, since extra threads share the same FMA units. */
double bench_peak_gflops(const bench_peak *pk, const char *isa, int threads);
/* Read bandwidth in GB/s with `threads` threads; 0 if unknown. */
double bench_peak_read_gbs(const bench_peak *pk, int threads);

/* The roofline bound in GFLOP/s of a run doing `flops` over `bytes` of
 * memory traffic: min(peak, flops / bytes * bandwidth). Without a bandwidth
 * (or bytes <= 0) the compute peak alone; 0 if the peak is unknown. */
double bench_roofline_gflops(const bench_peak *pk, const char *isa, int threads, double flops, double bytes);

#endif
