/* Plan memory: what a backend's plan() allocates for its runs. */
#ifndef ATTNBENCH_IMPLS_MEM_H
#define ATTNBENCH_IMPLS_MEM_H

#include <stdlib.h>
#include <string.h>

/* bytes of 64-byte aligned memory (a valid pointer even for 0), zeroed here
 * so that its pages are faulted in by plan() and not inside a timed run; NULL
 * if it cannot be had. Free with free(). */
static inline void *attn_alloc_touched(size_t bytes) {
  void *m = NULL;
  if (posix_memalign(&m, 64, bytes ? bytes : 1)) return NULL;
  memset(m, 0, bytes);
  return m;
}

#endif
