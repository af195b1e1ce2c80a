/* The readers under fuzz take a path, so each input is written to one file
 * per process (removed at exit). The including file defines FUZZ_INPUT_FILE,
 * a printf pattern with one %ld for the process id. */
#ifndef ATTNBENCH_FUZZ_INPUT_H
#define ATTNBENCH_FUZZ_INPUT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];

static void remove_input(void) { remove(path); }

/* 0, or -1 if the file could not be written (the input is then skipped). */
static int write_input(const uint8_t *data, size_t size) {
  if (!path[0]) {
    snprintf(path, sizeof path, FUZZ_INPUT_FILE, (long)getpid());
    atexit(remove_input);
  }
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  const int ok = fwrite(data, 1, size, f) == size;
  return fclose(f) == 0 && ok ? 0 : -1;
}

#endif
