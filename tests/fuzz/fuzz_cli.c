/* libFuzzer target: command-line flags. The first byte picks a subcommand
 * (check, bench, run, compare, info), the rest is its argument vector, one
 * argument per NUL- or newline-separated piece. The subcommand is called as
 * main calls it, with a last argument that no parse accepts appended
 * (`--backend` naming no backend; for compare two files that do not exist;
 * for info an unknown flag), so that every option is parsed and checked,
 * and every list, suite and problem string the options name is loaded and
 * parsed, and then the command fails before any real work: the parsers are
 * inside each cmd_* function, not separable from it. Findings are crashes,
 * sanitizer reports and leaks on those paths, and an exit status other than
 * 0 (--help) or 2 (an error).
 *
 * Inputs with an argument holding a '/' are skipped, so that no option names
 * a file outside the working directory (a suite read from /dev/zero never
 * ends); the target cannot change directory, since libFuzzer reads and
 * writes its corpus by relative paths. Inputs with more than 48 commas are
 * skipped too:
 * bench expands --lq, --lk, --heads and --d to every combination before it
 * checks anything, so four lists of 64 values are 16.7 million problem
 * strings, gigabytes; that is bench taking a sweep at its word, not a parser
 * bug, and it would be the only thing this target ever reported. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *guard[4]; /* appended: makes the command fail after parsing */
  } commands[] = {
      {"check", cmd_check, {"--backend", "\x01", NULL}},
      {"bench", cmd_bench, {"--backend", "\x01", NULL}},
      {"run", cmd_run, {"--backend", "\x01", NULL}},
      {"compare", cmd_compare, {"--", "\x01no-such-file", "\x01no-such-file", NULL}},
      {"info", cmd_info, {"\x01", NULL}},
  };
  if (size < 1) return 0;
  const size_t which = data[0] % (sizeof commands / sizeof commands[0]);
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = 0;
  int commas = 0;
  for (size_t i = 0; i + 1 < size; i++) commas += text[i] == ',';
  char *argv[MAX_ARGS + 8];
  int argc = 0, ok = commas <= 48;
  argv[argc++] = (char *)commands[which].name;
  for (char *at = text; ok && at < text + size - 1 && argc < MAX_ARGS;) {
    size_t len = strcspn(at, "\n");
    at[len] = 0;
    if (strchr(at, '/')) ok = 0;
    argv[argc++] = at;
    at += len + 1;
  }
  for (int g = 0; ok && commands[which].guard[g]; g++) argv[argc++] = (char *)commands[which].guard[g];
  argv[argc] = NULL;
  if (ok) {
    optind = 0; /* getopt_long's state starts afresh, as in a new process */
    const int rc = commands[which].fn(argc, argv);
    if (rc != 0 && rc != 2) {
      fprintf(stderr,
              "attnbench %s returned %d, neither 0 (--help) nor 2 (an error); args:", commands[which].name,
              rc);
      for (int i = 1; i < argc; i++) fprintf(stderr, " '%s'", argv[i]);
      fprintf(stderr, "\n");
      abort();
    }
  }
  free(text);
  return 0;
}
