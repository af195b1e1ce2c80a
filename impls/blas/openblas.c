/* OpenBLAS, bound at run time (blas_lib.h says why).
 *
 * Which kernels: OpenBLAS (DYNAMIC_ARCH builds) picks its kernel set once,
 * when the library loads, from OPENBLAS_CORETYPE or else its own CPUID table,
 * and a release that does not know a CPU may fall back to weaker kernels. On
 * AMD Zen 5, 0.3.21's AVX-512 sgemm kernels (SkylakeX; Cooperlake, which
 * 0.3.21 picks there by itself, shares them) run ~180 GFLOP/s on one core,
 * its Haswell (AVX2) kernels ~95. So when the CPU and OS support AVX-512 and
 * the user has not set OPENBLAS_CORETYPE, the backend asks for SkylakeX
 * before loading: every AVX-512 kernel set of OpenBLAS (SkylakeX, Cooperlake,
 * SapphireRapids) shares those sgemm kernels, so the request can only lift
 * sgemm, never lower it. A user's own OPENBLAS_CORETYPE always wins, and
 * describe() and every plan note say which kernels ran and why.
 *
 * Which file: the soname libopenblas.so.0, which Debian points at the
 * pthreads, OpenMP or serial build through update-alternatives; the backend
 * follows the system's choice and reports the resolved file and how it
 * threads. RTLD_LOCAL keeps OpenBLAS's symbols out of the global scope, where
 * they could interpose on another BLAS another backend uses. */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "attnbench/cpu.h"
#include "blas/blas_lib.h"
#include "common/headroom.h"

#ifndef ATTNBENCH_OPENBLAS_SONAME
#define ATTNBENCH_OPENBLAS_SONAME "libopenblas.so.0"
#endif

static void (*openblas_set_num_threads_p)(int);

/* Address space OpenBLAS 0.3.21 maps (Debian's DYNAMIC_ARCH pthreads build,
 * seen with strace): about 38 MiB for the library with every kernel set, a
 * few more for libgfortran and libquadmath, so 48 MiB to load; and its
 * BUFFER_SIZE, 128 MiB (32 << 22 on x86-64), per thread: each thread of its
 * pool maps one as it starts and keeps it, and each thread calling a level-3
 * routine takes one from a shared table, mapped on first need and then kept
 * for reuse. The pool starts at load, with a stack each. Below these it does
 * not fail: it raises SIGINT (no thread) or retries the mmap forever. */
#define OPENBLAS_LOAD_BYTES   (48 * ATTN_MIB)
#define OPENBLAS_BUFFER_BYTES (128 * ATTN_MIB)

/* The threads OpenBLAS starts with, the caller included (blas_get_cpu_number):
 * the first positive of OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS,
 * OMP_NUM_THREADS, else the CPU count, and never more than the CPU count. */
static int initial_pool(void) {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
  static const char *const vars[] = {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"};
  long n = 0;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0] && n <= 0; i++)
    n = getenv(vars[i]) ? atol(getenv(vars[i])) : 0;
  return (int)(n > 0 && n < cpus ? n : cpus);
}

int64_t blas_lib_load_bytes(blas_lib *lib) {
  lib->vendor = "OpenBLAS";
  return OPENBLAS_LOAD_BYTES + (initial_pool() - 1) * (attn_thread_stack_bytes() + OPENBLAS_BUFFER_BYTES);
}

static void set_threads(int n) { openblas_set_num_threads_p(n); }

#define BIND(h, name, fp, lib)                                                                               \
  blas_bind(h, ATTNBENCH_OPENBLAS_SONAME, "not OpenBLAS, or too old", name, &(fp), sizeof(fp), lib)

/* The file an already-loaded object came from, resolved through symlinks. */
static void file_of(const char *loaded_name, char *out, size_t n) {
  char real[PATH_MAX];
  const char *name = loaded_name && loaded_name[0] ? loaded_name : "?";
  if (realpath(name, real)) name = real;
  snprintf(out, n, "%s", name);
}

void blas_lib_load(blas_lib *lib) {
  lib->vendor = "OpenBLAS";

  /* Another OpenBLAS in the global scope (e.g. the OpenBLAS build of
   * libblas.so.3 linked by something else) keeps its own thread pool and its
   * own kernel choice; say so rather than silently measuring next to it. */
  char other[PATH_MAX] = "";
  void *global = dlsym(RTLD_DEFAULT, "openblas_get_config");
  Dl_info info;
  if (global && dladdr(global, &info)) file_of(info.dli_fname, other, sizeof other);

  /* Already loaded under our soname: its kernels were chosen at that time. */
  void *h = dlopen(ATTNBENCH_OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  const char *user = getenv("OPENBLAS_CORETYPE");
  const char *requested = NULL;
  if (h) {
    snprintf(lib->core_from, sizeof lib->core_from,
             "the library's choice when something else loaded it before this backend");
  } else if (user && user[0]) {
    snprintf(lib->core_from, sizeof lib->core_from, "OPENBLAS_CORETYPE=%s from the environment%s", user,
             attn_cpu_has_avx512() && strcasecmp(user, "SkylakeX") != 0
                 ? " (the default here would be SkylakeX; unset it to get that)"
                 : "");
  } else if (attn_cpu_has_avx512()) {
    requested = "SkylakeX";
    snprintf(lib->core_from, sizeof lib->core_from,
             "default: strongest for this CPU (AVX-512 usable: SkylakeX sgemm kernels; OPENBLAS_CORETYPE "
             "overrides)");
  } else {
    snprintf(lib->core_from, sizeof lib->core_from,
             "default: the library's own CPU detection (no AVX-512 here; OPENBLAS_CORETYPE overrides)");
  }

  if (!h) {
    /* The variable is read by the library's constructor during dlopen, and
     * removed again afterwards so that the process environment (and any child
     * process) stays as the user left it. setenv is not thread-safe against a
     * concurrent getenv: blas_lib_get runs from the harness's main thread,
     * before any timed work. */
    if (requested) setenv("OPENBLAS_CORETYPE", requested, 1);
    h = dlopen(ATTNBENCH_OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (requested) unsetenv("OPENBLAS_CORETYPE");
  }
  if (!h) {
    const char *e = dlerror();
    snprintf(lib->error, sizeof lib->error, "cannot load %s (%s); install libopenblas0-pthread",
             ATTNBENCH_OPENBLAS_SONAME, e ? e : "unknown error");
    return;
  }

  char *(*get_config)(void);
  char *(*get_corename)(void);
  int (*get_parallel)(void);
  if (!BIND(h, "cblas_sgemm", lib->sgemm, lib) || !BIND(h, "cblas_sgemv", lib->sgemv, lib) ||
      !BIND(h, "openblas_set_num_threads", openblas_set_num_threads_p, lib) ||
      !BIND(h, "openblas_get_config", get_config, lib) ||
      !BIND(h, "openblas_get_corename", get_corename, lib) ||
      !BIND(h, "openblas_get_parallel", get_parallel, lib))
    return; /* the handle stays open: unloading a library that started threads is not safe */
  lib->set_threads = set_threads;
  lib->buffer_bytes = OPENBLAS_BUFFER_BYTES;
  lib->pool = initial_pool();

  struct link_map *lm = NULL;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm)
    file_of(lm->l_name, lib->path, sizeof lib->path);
  else
    snprintf(lib->path, sizeof lib->path, "%s", ATTNBENCH_OPENBLAS_SONAME);
  snprintf(lib->version, sizeof lib->version, "%s", get_config());
  snprintf(lib->core, sizeof lib->core, "%s", get_corename());

  /* openblas_get_parallel: 0 sequential build, 1 pthreads, 2 OpenMP. */
  const int par = get_parallel();
  snprintf(lib->threading, sizeof lib->threading, "%s", par == 1 ? "pthreads" : par == 2 ? "OpenMP" : "none");
  lib->can_thread = par != 0;

  if (requested && strcasecmp(lib->core, requested) != 0) {
    const size_t used = strlen(lib->core_from);
    snprintf(lib->core_from + used, sizeof lib->core_from - used, " [asked for %s, the library runs %s]",
             requested, lib->core);
  }
  if (other[0] && strcmp(other, lib->path) != 0) {
    const size_t used = strlen(lib->core_from);
    snprintf(lib->core_from + used, sizeof lib->core_from - used,
             " [another OpenBLAS is loaded in this process: %s]", other);
  }
  lib->ok = 1;
}
