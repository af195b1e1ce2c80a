/* attnbench info: the machine (hwloc), its ISA extensions, and what each
 * backend reports of itself: library versions, kernels, block sizes. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void emit_line(void *ctx, const char *key, const char *value) {
  (void)ctx;
  printf("    %-18s %s\n", key, value);
}

/* Read bandwidth: every thread sums its share of a 1 GiB buffer (far beyond
 * any cache), best of five passes. The roofline for memory-bound cases such
 * as decode steps. Returns GB/s, or 0 if the buffer cannot be had. */
static double measure_read_bandwidth(int threads) {
  const size_t n = (size_t)1 << 28; /* floats: 1 GiB */
  float *buf = malloc(n * sizeof(float));
  if (!buf) return 0;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
  double best = 0, sink = 0;
  for (int pass = 0; pass < 5; pass++) {
    double t0 = bench_now(), sum = 0;
    /* Sixteen running sums per thread, so the loop waits on memory, not on
     * the latency of one chain of additions. */
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    {
      float acc[16] = {0};
#pragma omp for schedule(static)
      for (size_t i = 0; i < n; i += 16)
        for (int l = 0; l < 16; l++) acc[l] += buf[i + l];
      for (int l = 0; l < 16; l++) sum += acc[l];
    }
    double dt = bench_now() - t0;
    sink += sum;
    if (n * sizeof(float) / dt > best) best = (double)(n * sizeof(float)) / dt;
  }
  free(buf);
  return sink >= 0 ? best / 1e9 : 0; /* sink keeps the sums alive */
}

int cmd_info(int argc, char **argv) {
  int measure = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--measure")) {
      measure = 1;
      continue;
    }
    int help = !strcmp(argv[i], "--help");
    if (!help) bench_error("info: unexpected argument '%s'", argv[i]);
    printf("usage: attnbench info [--measure]\n"
           "--measure adds the read bandwidth of a 1 GiB read-sum loop on all cores.\n");
    return help ? 0 : 2;
  }
  bench_machine m;
  bench_machine_read(&m);
  printf("machine\n");
  printf("    %-18s %s\n", "host", m.hostname);
  printf("    %-18s %s\n", "cpu", m.cpu_model);
  printf("    %-18s %d package(s), %d core(s), %d hardware thread(s)\n", "topology", m.packages, m.cores,
         m.pus);
  printf("    %-18s L1d %ld KiB, L2 %ld KiB, L3 %ld KiB\n", "caches (hwloc)", m.l1d >> 10, m.l2 >> 10,
         m.l3 >> 10);
  printf("    %-18s %s\n", "isa", m.isa);
  printf("    %-18s %.1f GiB\n", "memory available", bench_mem_available() / (1 << 30));
  printf("    %-18s %d (OpenMP, _OPENMP %d)\n", "default threads", bench_default_threads(), _OPENMP);
  if (measure)
    printf("    %-18s %.1f GB/s (1 GiB read-sum, %d threads, best of 5)\n", "read bandwidth",
           measure_read_bandwidth(bench_default_threads()), bench_default_threads());
  for (size_t i = 0; i < attn_backend_count(); i++) {
    const attn_backend *be = attn_backend_get(i);
    printf("backend %s%s\n", be->name, be->available() ? "" : " (not available on this CPU)");
    printf("    %-18s %s\n", "summary", be->summary);
    char acc[64];
    snprintf(acc, sizeof acc, "%.3g", be->accuracy.exp_rel_err);
    printf("    %-18s %s\n", "exp rel. error", acc);
    if (be->available() && be->describe) be->describe(emit_line, NULL);
  }
  return 0;
}
