/* The CBLAS the blas backend calls, bound at run time with dlopen.
 *
 * Run-time binding, not link-time, because OpenBLAS picks its kernels from
 * OPENBLAS_CORETYPE once, when it loads: the backend has to decide before
 * that moment (see openblas.c), and a library missing at run time becomes a
 * reason in supports() instead of a binary that does not start.
 *
 * One file per vendor implements blas_lib_load(); the CMake cache variable
 * ATTNBENCH_BLAS_VENDOR (OpenBLAS or BLIS) picks which one is compiled:
 * openblas.c or blis.c. */
#ifndef ATTNBENCH_BLAS_LIB_H
#define ATTNBENCH_BLAS_LIB_H

#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The CBLAS enumerator values, fixed by the CBLAS ABI every vendor shares;
 * passed as int, which is how those enums are passed on x86-64. */
enum { BLAS_ROW_MAJOR = 101, BLAS_NO_TRANS = 111, BLAS_TRANS = 112 };

/* cblas_sgemm with 32-bit integers (LP64 CBLAS: Debian's OpenBLAS and BLIS). */
typedef void (*blas_sgemm_fn)(int order, int transa, int transb, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb, float beta, float *c,
                              int ldc);

/* cblas_sgemv, same conventions: M = 1 products (decode) run at memory speed
 * through gemv, where sgemm would first pack all of K or V. */
typedef void (*blas_sgemv_fn)(int order, int trans, int m, int n, float alpha, const float *a, int lda,
                              const float *x, int incx, float beta, float *y, int incy);

typedef struct blas_lib {
  int ok;              /* usable; else error says why */
  char error[320];     /* why the library could not be used */
  const char *vendor;  /* "OpenBLAS", "BLIS" */
  char path[PATH_MAX]; /* the file the dynamic loader resolved the soname to */
  char version[256];   /* the library's own version/configuration string */
  char core[64];       /* the kernel set it runs ("SkylakeX", "zen3", ...) */
  char core_from[256]; /* how that kernel set was chosen */
  char threading[64];  /* how the library threads: "pthreads", "OpenMP", "none" */
  int can_thread;      /* set_threads(n > 1) makes sgemm use n threads */
  blas_sgemm_fn sgemm;
  blas_sgemv_fn sgemv;
  /* Threads for the library's next calls; a process-wide setting. Cheap once
   * the library's pool holds that many threads (grow it outside timing). */
  void (*set_threads)(int n);
  /* Address space (common/headroom.h) the library maps as it works: a
   * buffer of buffer_bytes per thread of its pool and per calling thread,
   * and a stack per pool thread; pool: the threads it started when it
   * loaded, the caller included. */
  int64_t buffer_bytes;
  int pool;
  int lowmem; /* not loaded: the address-space limit left too little (error says so) */
} blas_lib;

/* dlsym into a function pointer: ISO C has no conversion from void *, POSIX
 * guarantees the representation, memcpy says so without a cast. A missing
 * symbol makes lib->error name it and `cause`, the likely reason. */
static inline int blas_bind(void *h, const char *soname, const char *cause, const char *name, void *fnptr,
                            size_t size, blas_lib *lib) {
  void *sym = dlsym(h, name);
  if (!sym) {
    snprintf(lib->error, sizeof lib->error, "%s has no symbol %s: %s", soname, name, cause);
    return 0;
  }
  memcpy(fnptr, &sym, size);
  return 1;
}

/* Loads and binds the library on first use (thread-safe; later calls are
 * cheap). Never NULL; check ->ok. */
const blas_lib *blas_lib_get(void);

/* Implemented once per vendor; called once by blas_lib_get. */
void blas_lib_load(blas_lib *lib);

/* Implemented once per vendor: sets lib->vendor and returns the address
 * space loading the library maps (its files, the threads it starts), for
 * blas_lib_get to check before it loads anything. */
int64_t blas_lib_load_bytes(blas_lib *lib);

#endif
