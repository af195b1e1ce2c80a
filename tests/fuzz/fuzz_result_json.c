/* libFuzzer target: the result-file loader of `attnbench compare`
 * (cmp_file_load). Each input is written to a file and loaded. compare prints
 * a refusal as one line ("attnbench: error: compare: ..."), so a refused
 * input must come with a non-empty message without newlines or other control
 * characters (a case name or a JSON token quoted from the file must not break
 * the line or the terminal). An accepted file must hold data that the
 * comparison can use without checking again: every case named and indexed at
 * its own position, a repetition count within 0..cap, and every time (each
 * repetition, the median when present) finite and positive. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_FILE "/tmp/attnbench-fuzz-result-%ld.json"
#include "fuzz_input.h"

static void check_message(const char *err) {
  if (!err[0]) {
    fprintf(stderr, "refused without a message\n");
    abort();
  }
  for (const char *c = err; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) {
      fprintf(stderr, "message has control character 0x%02x at %zu: '%s'\n", (unsigned)(unsigned char)*c,
              (size_t)(c - err), err);
      abort();
    }
}

static void check_accepted(const cmp_file *f) {
  if (!f->host || !f->cpu || !f->date || json_object_size(f->index) != f->n || f->n > f->cap) {
    fprintf(stderr, "accepted a file with an inconsistent header or index (%zu cases)\n", f->n);
    abort();
  }
  for (size_t i = 0; i < f->n; i++) {
    const cmp_case *c = &f->cases[i];
    json_t *at = c->name ? json_object_get(f->index, c->name) : NULL;
    int bad =
        !at || json_integer_value(at) != (json_int_t)i || c->n < 0 || c->n > c->cap || (c->n > 0 && !c->ms);
    for (int r = 0; !bad && r < c->n; r++) bad = !(isfinite(c->ms[r]) && c->ms[r] > 0);
    if (c->has_median && !(isfinite(c->median_ms) && c->median_ms > 0)) bad = 1;
    if (bad) {
      fprintf(stderr, "accepted an inconsistent case %zu ('%s', %d repetitions)\n", i,
              c->name ? c->name : "(null)", c->n);
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (write_input(data, size)) return 0;
  cmp_file f;
  char err[1024] = "";
  if (cmp_file_load(&f, path, err, sizeof err) == 0)
    check_accepted(&f);
  else
    check_message(err);
  cmp_file_free(&f);
  return 0;
}
