/* libFuzzer target: the .npy reader. Each input is written to a file and
 * read back: it is either refused with a one-line message naming the file,
 * or accepted with a shape whose element count and payload agree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_FILE "/tmp/attnbench-fuzz-npy-%ld.npy"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (write_input(data, size)) return 0;
  npy_array a;
  char err[512] = "";
  if (npy_read(path, &a, err, sizeof err) == 0) {
    int64_t count = 1;
    for (int i = 0; i < a.ndim; i++) count *= a.shape[i];
    if (count != a.count || (a.count > 0 && !a.data)) {
      fprintf(stderr, "accepted an inconsistent array: count %lld\n", (long long)a.count);
      abort();
    }
    npy_free(&a);
  } else if (!strstr(err, path) && strncmp(err, "cannot open", 11)) {
    fprintf(stderr, "message does not name the file: '%s'\n", err);
    abort();
  } else if (strchr(err, '\n')) {
    fprintf(stderr, "message is not one line: '%s'\n", err);
    abort();
  }
  return 0;
}
