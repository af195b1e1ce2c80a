/* attnbench info: the machine (hwloc), its ISA extensions, and what each
 * backend reports of itself: library versions, kernels, block sizes. */
#include <omp.h>
#include <string.h>

#include "harness.h"

static void emit_line(void *ctx, const char *key, const char *value) {
  (void)ctx;
  printf("    %-18s %s\n", key, value);
}

int cmd_info(int argc, char **argv) {
  if (argc > 1) {
    int help = !strcmp(argv[1], "--help");
    if (!help) bench_error("info: unexpected argument '%s'", argv[1]);
    printf("usage: attnbench info\n");
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
