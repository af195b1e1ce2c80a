/* attnbench: one binary, subcommands list, check, bench, run, info, compare, report. */
#include <stdio.h>
#include <string.h>

#include "attnbench/cpu.h"
#include "harness.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *what;
} commands[] = {
    {"list", cmd_list, "backends available on this CPU and what each supports"},
    {"check", cmd_check, "conformance of backends against the double-precision reference"},
    {"bench", cmd_bench, "throughput across problem sizes"},
    {"run", cmd_run, "compute once on inputs from .npy files"},
    {"info", cmd_info, "the machine, its ISA extensions and each backend's libraries"},
    {"compare", cmd_compare, "two bench --format json results, case by case, with a significance test"},
    {"report", cmd_report, "one HTML (or Markdown) page from bench and check results, plots included"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: attnbench COMMAND [OPTIONS]   (attnbench COMMAND --help for its options)\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].what);
}

/* A misspelt ATTNBENCH_MAX_ISA would otherwise cap every command at the
 * baseline without a word; refused before any command runs. */
static int check_isa_cap(void) {
  attn_isa_cap cap;
  if (attn_cpu_isa_cap(&cap) == ATTN_OK) return 0;
  char names[64] = "";
  size_t at = 0;
  for (int c = ATTN_ISA_CAP_SSE42; c < ATTN_ISA_CAP_NONE && at < sizeof names; c++)
    at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", at ? ", " : "",
                           attn_isa_cap_name((attn_isa_cap)c));
  bench_error("ATTNBENCH_MAX_ISA must be one of %s (unset or empty: no cap)", names);
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (check_isa_cap()) return 2;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  bench_error("unknown command '%s' (try attnbench --help)", argv[1]);
  return 2;
}
