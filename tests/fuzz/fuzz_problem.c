/* libFuzzer target: problem strings. Any input either fails to parse with a
 * message, or parses to a descriptor whose canonical string parses back to
 * the same canonical string (the promise that a printed case, pasted back,
 * reproduces it). Crashes, hangs and sanitizer reports are findings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  char err[512] = "", once[ATTN_PROBLEM_STRLEN], twice[ATTN_PROBLEM_STRLEN];
  attn_problem p, q;
  if (attn_problem_parse(s, &p, err, sizeof err) == ATTN_OK) {
    attn_problem_format(&p, once, sizeof once);
    if (attn_problem_parse(once, &q, err, sizeof err) != ATTN_OK) {
      fprintf(stderr, "canonical string '%s' does not parse back: %s\n", once, err);
      abort();
    }
    attn_problem_format(&q, twice, sizeof twice);
    if (strcmp(once, twice)) {
      fprintf(stderr, "round trip changed '%s' into '%s'\n", once, twice);
      abort();
    }
  } else if (!err[0] || strchr(err, '\n')) {
    fprintf(stderr, "rejected without a one-line message: '%s'\n", err);
    abort();
  }
  free(s);
  return 0;
}
