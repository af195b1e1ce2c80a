/* libFuzzer target: suite files, the `--suite FILE` path of check and bench
 * (bench_load_suite, then strlist_push_lines). Each input is written to a
 * file and loaded. What the code promises (harness.h): the list holds each
 * non-comment line of the text, so it must equal an independent model of
 * that, line by line: up to the first NUL, split at '\n', spaces, tabs and
 * '\r' trimmed at both ends, blank lines and lines starting with '#' left
 * out. check and bench then parse every item before any work and refuse the
 * run with the parser's message, so each item must either parse or be
 * refused with a non-empty one-line message free of control characters (the
 * file's bytes are quoted in it). A file without an item is refused, with
 * such a message: a suite of nothing would pass for a successful run.
 * Crashes and sanitizer reports are findings too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnbench/problem.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_FILE "/tmp/attnbench-fuzz-suite-%ld.txt"
#include "fuzz_input.h"

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* The next expected item of text at *at (which advances), or NULL at the end;
 * written to buf, which holds the whole text. */
static const char *next_line(const char **at, const char *end, char *buf) {
  while (*at < end) {
    const char *s = *at, *e = s;
    while (e < end && *e != '\n') e++;
    *at = e < end ? e + 1 : e;
    while (s < e && blank(*s)) s++;
    while (e > s && blank(e[-1])) e--;
    if (s == e || *s == '#') continue;
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = 0;
    return buf;
  }
  return NULL;
}

/* Non-empty, one line, no control characters. */
static int clean_message(const char *err) {
  int bad = !err[0];
  for (const char *c = err; *c; c++) bad |= (unsigned char)*c < 0x20 || *c == 0x7f;
  return !bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (write_input(data, size)) return 0;
  strlist items = {0};
  char err[ERRLEN] = "";
  const int refused = bench_load_suite(path, &items, err, sizeof err);
  char *want = malloc(size + 1);
  if (!want) abort();
  const char *text = (const char *)data, *end = memchr(data, 0, size);
  if (!end) end = text + size;
  const char *at = text, *line;
  if (refused) { /* the file exists: it holds no item, or memory ran out */
    const int empty = next_line(&at, end, want) == NULL;
    free(want);
    strlist_free(&items);
    if (empty && !clean_message(err)) {
      fprintf(stderr, "a suite without items refused without a clean one-line message: '%s'\n", err);
      abort();
    }
    return 0;
  }
  size_t i = 0;
  for (; (line = next_line(&at, end, want)) != NULL; i++)
    if (i >= items.n || strcmp(items.items[i], line)) {
      fprintf(stderr, "item %zu is '%s', want '%s'\n", i, i < items.n ? items.items[i] : "(missing)", line);
      abort();
    }
  if (i != items.n) {
    fprintf(stderr, "%zu items, want %zu\n", items.n, i);
    abort();
  }
  if (i == 0) {
    fprintf(stderr, "a suite without items was accepted\n");
    abort();
  }
  free(want);
  for (i = 0; i < items.n; i++) {
    attn_problem p;
    err[0] = 0;
    if (attn_problem_parse(items.items[i], &p, err, sizeof err) == ATTN_OK) continue;
    if (!clean_message(err)) {
      fprintf(stderr, "item %zu refused without a clean one-line message: '%s'\n", i, err);
      abort();
    }
  }
  strlist_free(&items);
  return 0;
}
