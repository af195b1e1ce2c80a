/* attnbench info: the machine (hwloc), its ISA extensions, its roofline
 * (measured with --peak, cached otherwise), and what each backend reports of
 * itself: library versions, kernels, block sizes. */
#include <omp.h>
#include <string.h>

#include "harness.h"
#include "peak.h"

static void emit_line(void *ctx, const char *key, const char *value) {
  (void)ctx;
  printf("    %-18s %s\n", key, value);
}

/* The roofline table: one row per measured thread count, one column per
 * ISA this machine runs. */
static void print_peak(const bench_peak *pk, const char *path) {
  printf("peak (fp32 FMA loops, best of %d; 1 GiB read-sum; measured %s%s)\n", BENCH_PEAK_RUNS, pk->measured,
         pk->pinned ? ", threads pinned one per core" : ", threads NOT pinned");
  int shown[BENCH_PEAK_NISA] = {0};
  printf("    %-18s", "threads");
  for (int k = 0; k < BENCH_PEAK_NISA; k++) {
    for (int i = 0; i < pk->npoints; i++) shown[k] |= pk->points[i].fma_gflops[k] > 0;
    char head[32];
    snprintf(head, sizeof head, "%s GFLOP/s", bench_peak_isa_name(k));
    if (shown[k]) printf(" %16s", head);
  }
  printf(" %12s\n", "read GB/s");
  for (int i = 0; i < pk->npoints; i++) {
    printf("    %-18d", pk->points[i].threads);
    for (int k = 0; k < BENCH_PEAK_NISA; k++)
      if (shown[k]) printf(" %16.1f", pk->points[i].fma_gflops[k]);
    printf(" %12.1f\n", pk->points[i].read_gbs);
  }
  printf("    %-18s %s\n", "cache", path ? path : "(not written)");
}

int cmd_info(int argc, char **argv) {
  int measure = 0, peak = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--measure")) {
      measure = 1;
      continue;
    }
    if (!strcmp(argv[i], "--peak")) {
      peak = 1;
      continue;
    }
    int help = !strcmp(argv[i], "--help");
    if (!help) bench_error("info: unexpected argument '%s'", argv[i]);
    printf("usage: attnbench info [--measure] [--peak]\n"
           "--measure adds the read bandwidth of a 1 GiB read-sum loop on all cores.\n"
           "--peak    measures the roofline (fp32 FMA peak per ISA and thread count, read\n"
           "          bandwidth) and caches it for reports: $ATTNBENCH_PEAK_FILE, else\n"
           "          $XDG_CACHE_HOME/attnbench/peak.json or ~/.cache/attnbench/peak.json.\n"
           "          Without it, info shows the cached values.\n");
    return help ? 0 : 2;
  }
  bench_machine m;
  bench_machine_read(&m);
  printf("machine\n");
  printf("    %-18s %s\n", "host", m.hostname);
  printf("    %-18s %s\n", "cpu", m.cpu_model);
  if (m.cpu_family >= 0)
    printf("    %-18s %s family %d model %d\n", "cpu_id", m.cpu_vendor[0] ? m.cpu_vendor : "?", m.cpu_family,
           m.cpu_model_number);
  printf("    %-18s %d package(s), %d NUMA node%s, %d core(s), %d hardware thread(s)\n", "topology",
         m.packages, m.numa_nodes, m.numa_nodes == 1 ? "" : "s", m.cores, m.pus);
  printf(
      "    %-18s threads pinned one per core, memory bound to their NUMA nodes (bench --no-bind: neither)\n",
      "binding");
  printf("    %-18s L1d %ld KiB, L2 %ld KiB, L3 %ld KiB\n", "caches (hwloc)", m.l1d >> 10, m.l2 >> 10,
         m.l3 >> 10);
  printf("    %-18s %s\n", "isa", m.isa);
  printf("    %-18s %.1f GiB\n", "memory available", bench_mem_available() / (1 << 30));
  printf("    %-18s %d (OpenMP, _OPENMP %d)\n", "default threads", bench_default_threads(), _OPENMP);
  if (measure)
    printf("    %-18s %.1f GB/s (1 GiB read-sum, %d threads, best of %d)\n", "read bandwidth",
           bench_read_bandwidth(bench_default_threads()), bench_default_threads(), BENCH_PEAK_RUNS);
  int rc = 0;
  char path[4096], err[ERRLEN];
  const int have_path = bench_peak_path(path, sizeof path) == 0;
  bench_peak pk;
  if (peak) {
    fflush(stdout);
    fprintf(stderr, "attnbench: measuring the roofline at 1..%d threads, a few seconds per count\n",
            bench_default_threads());
    bench_peak_measure(&pk);
    if (!have_path) {
      bench_error("info --peak: nowhere to cache the result (set HOME or ATTNBENCH_PEAK_FILE)");
      rc = 2;
    } else if (bench_peak_save(path, &pk, err, sizeof err)) {
      bench_error("info --peak: %s", err);
      rc = 2;
    }
    print_peak(&pk, rc ? NULL : path);
  } else if (have_path && bench_peak_load(&pk) == 0) {
    print_peak(&pk, path);
  } else {
    printf("peak\n    %-18s attnbench info --peak measures it\n", "not measured");
  }
  for (size_t i = 0; i < attn_backend_count(); i++) {
    const attn_backend *be = attn_backend_get(i);
    printf("backend %s%s\n", be->name, be->available() ? "" : " (not available on this CPU)");
    printf("    %-18s %s\n", "summary", be->summary);
    char acc[64];
    snprintf(acc, sizeof acc, "%.3g", be->accuracy.exp_rel_err);
    printf("    %-18s %s\n", "exp rel. error", acc);
    if (be->available() && be->describe) be->describe(emit_line, NULL);
  }
  return rc;
}
