/* Lookup of the suites compiled into the binary (the text files of bench/suites). */
#include <string.h>

#include "harness.h"

extern const struct { const char *name, *text; } bench_suites[];

const char *bench_suite_text(const char *name) {
  if (!strcmp(name, "table")) name = "default"; /* the default suite's name before it was a file of its own */
  for (int i = 0; bench_suites[i].name; i++)
    if (!strcmp(bench_suites[i].name, name)) return bench_suites[i].text;
  return NULL;
}

const char *bench_suite_names(void) {
  static char names[256];
  size_t at = 0;
  names[0] = 0;
  for (int i = 0; bench_suites[i].name && at < sizeof names; i++)
    at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "", bench_suites[i].name);
  return names;
}
