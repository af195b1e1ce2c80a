/* attnbench list: the backends compiled in, whether this CPU runs them, and
 * which problems of the full suite each declines, with its reasons. */
#include <string.h>

#include "harness.h"
#include "workload.h"

/* Distinct decline reasons of a backend over the full suite. */
static void print_declines(const attn_backend *be, const strlist *problems) {
  char seen[8][ERRLEN];
  int nseen = 0, declined = 0;
  for (size_t i = 0; i < problems->n; i++) {
    attn_problem p;
    char err[ERRLEN], why[ERRLEN] = "";
    if (attn_problem_parse(problems->items[i], &p, err, sizeof err) != ATTN_OK) continue;
    if (workload_supports(&p, be, why, sizeof why) == ATTN_OK) continue;
    declined++;
    int dup = 0;
    for (int k = 0; k < nseen; k++) dup |= !strcmp(seen[k], why);
    if (!dup && nseen < 8) snprintf(seen[nseen++], ERRLEN, "%s", why);
  }
  if (!declined) {
    printf("           supports: every problem of the full suite\n");
    return;
  }
  printf("           supports: %zu of %zu full-suite problems; declines %d:\n",
         problems->n - (size_t)declined, problems->n, declined);
  for (int k = 0; k < nseen; k++) printf("             - %s\n", seen[k]);
}

int cmd_list(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    if (strcmp(argv[1], "--help")) bench_error("list: unexpected argument '%s'", argv[1]);
    printf("usage: attnbench list\n");
    return strcmp(argv[1], "--help") ? 2 : 0;
  }
  strlist problems = {0};
  char err[ERRLEN];
  bench_load_suite("full", &problems, err, sizeof err);
  for (size_t i = 0; i < attn_backend_count(); i++) {
    const attn_backend *be = attn_backend_get(i);
    if (!be->available()) {
      printf("%-10s (compiled in, but this CPU cannot run it) %s\n", be->name, be->summary);
      continue;
    }
    printf("%-10s %s\n", be->name, be->summary);
    print_declines(be, &problems);
  }
  strlist_free(&problems);
  return 0;
}
