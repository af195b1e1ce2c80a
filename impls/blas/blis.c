/* BLIS's CBLAS, bound at run time (blas_lib.h says why); compiled instead of
 * openblas.c when ATTNBENCH_BLAS_VENDOR=BLIS.
 *
 * Which kernels: a BLIS "x86_64" family build holds several sub-configurations
 * and picks one in bli_init(), from BLIS_ARCH_TYPE (a numeric arch_t id) or
 * its CPUID table. BLIS 0.9.0 (Debian bookworm) does not know AMD Zen 5 and
 * falls back to "generic", reference kernels at ~15 GFLOP/s on one core,
 * where its "skx" (AVX-512) kernels run ~130-150 and "zen3" ~75. So, as for
 * OpenBLAS: when AVX-512 is usable, the user has not set BLIS_ARCH_TYPE and
 * the library holds an AVX-512 sub-configuration, the backend asks for skx
 * before initialising BLIS. Ids differ between BLIS versions, so skx's id is
 * looked up by name; an id without a compiled-in sub-configuration makes
 * BLIS abort the process, hence the check that the build has 64-byte SIMD.
 *
 * Which file: the soname libblis.so.4, which Debian points at the OpenMP,
 * pthreads or serial build through update-alternatives. */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/cpu.h"
#include "blas/blas_lib.h"
#include "common/headroom.h"

#ifndef ATTNBENCH_BLIS_SONAME
#define ATTNBENCH_BLIS_SONAME "libblis.so.4"
#endif

/* BLIS's integers (dim_t, gint_t) are int64_t in its default builds. */
static void (*bli_thread_set_num_threads_p)(int64_t);

static void set_threads(int n) { bli_thread_set_num_threads_p(n); }

#define BIND(h, name, fp, lib)                                                                               \
  blas_bind(h, ATTNBENCH_BLIS_SONAME, "BLIS built without CBLAS, or too old", name, &(fp), sizeof(fp), lib)

/* Address space BLIS maps: its library (a few MiB with every
 * sub-configuration), so 16 MiB to load; no threads at load; per thread, the
 * packed blocks of A and B from its pools (KC x NC floats of B: 384 x 3072 x 4
 * bytes, 4.5 MiB, for skx's sgemm), so 8 MiB. It allocates them with malloc
 * and aborts when that fails, hence the check. */
#define BLIS_LOAD_BYTES   (16 * ATTN_MIB)
#define BLIS_BUFFER_BYTES (8 * ATTN_MIB)

int64_t blas_lib_load_bytes(blas_lib *lib) {
  lib->vendor = "BLIS";
  return BLIS_LOAD_BYTES;
}

void blas_lib_load(blas_lib *lib) {
  lib->vendor = "BLIS";
  lib->buffer_bytes = BLIS_BUFFER_BYTES;
  lib->pool = 1;
  void *h = dlopen(ATTNBENCH_BLIS_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(lib->error, sizeof lib->error,
             "cannot load %s (%s); install libblis4-openmp or libblis4-pthread", ATTNBENCH_BLIS_SONAME,
             e ? e : "unknown error");
    return;
  }
  void (*init)(void);
  int (*arch_query_id)(void);
  const char *(*arch_string)(int);
  const char *(*version)(void);
  int64_t (*simd_size)(void), (*blas_int_size)(void), (*has_openmp)(void), (*has_pthreads)(void);
  if (!BIND(h, "cblas_sgemm", lib->sgemm, lib) || !BIND(h, "cblas_sgemv", lib->sgemv, lib) ||
      !BIND(h, "bli_thread_set_num_threads", bli_thread_set_num_threads_p, lib) ||
      !BIND(h, "bli_init", init, lib) || !BIND(h, "bli_arch_query_id", arch_query_id, lib) ||
      !BIND(h, "bli_arch_string", arch_string, lib) || !BIND(h, "bli_info_get_version_str", version, lib) ||
      !BIND(h, "bli_info_get_simd_size", simd_size, lib) ||
      !BIND(h, "bli_info_get_blas_int_type_size", blas_int_size, lib) ||
      !BIND(h, "bli_info_get_enable_openmp", has_openmp, lib) ||
      !BIND(h, "bli_info_get_enable_pthreads", has_pthreads, lib))
    return; /* the handle stays open: BLIS may have started threads */
  if (blas_int_size() != 32) {
    snprintf(lib->error, sizeof lib->error,
             "%s uses %lld-bit BLAS integers; the backend calls the 32-bit CBLAS", ATTNBENCH_BLIS_SONAME,
             (long long)blas_int_size());
    return;
  }
  lib->set_threads = set_threads;

  /* skx's id, by name: the table ends with "generic" in every BLIS release. */
  int skx = -1;
  for (int id = 0; id < 64; id++) {
    const char *name = arch_string(id);
    if (!name || !strcmp(name, "generic")) break;
    if (!strcmp(name, "skx")) skx = id;
  }
  const char *user = getenv("BLIS_ARCH_TYPE");
  int requested = -1;
  if (user && user[0]) {
    snprintf(lib->core_from, sizeof lib->core_from, "BLIS_ARCH_TYPE=%s from the environment", user);
  } else if (attn_cpu_has_avx512() && skx >= 0 && simd_size() >= 64) {
    requested = skx;
    snprintf(lib->core_from, sizeof lib->core_from,
             "default: strongest for this CPU (AVX-512 usable: skx; BLIS_ARCH_TYPE overrides)");
  } else {
    snprintf(lib->core_from, sizeof lib->core_from,
             "default: the library's own CPU detection (BLIS_ARCH_TYPE overrides)");
  }
  /* BLIS reads the variable in bli_init (once per process); removed again
   * afterwards so the environment stays as the user left it. Not thread-safe
   * against a concurrent getenv: this runs once, from the harness's main
   * thread, before any timed work. */
  if (requested >= 0) {
    char id[16];
    snprintf(id, sizeof id, "%d", requested);
    setenv("BLIS_ARCH_TYPE", id, 1);
  }
  init();
  if (requested >= 0) unsetenv("BLIS_ARCH_TYPE");

  const int arch = arch_query_id();
  const char *core = arch_string(arch);
  snprintf(lib->core, sizeof lib->core, "%s", core ? core : "?");
  if (requested >= 0 && arch != requested) {
    const size_t used = strlen(lib->core_from);
    snprintf(lib->core_from + used, sizeof lib->core_from - used,
             " [asked for skx; BLIS was initialised earlier and runs %s]", lib->core);
  }
  snprintf(lib->version, sizeof lib->version, "BLIS %s", version());
  snprintf(lib->threading, sizeof lib->threading, "%s",
           has_openmp()     ? "OpenMP"
           : has_pthreads() ? "pthreads"
                            : "none");
  lib->can_thread = has_openmp() || has_pthreads();

  struct link_map *lm = NULL;
  char real[PATH_MAX];
  const char *path = ATTNBENCH_BLIS_SONAME;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && lm->l_name[0])
    path = realpath(lm->l_name, real) ? real : lm->l_name;
  snprintf(lib->path, sizeof lib->path, "%s", path);
  lib->ok = 1;
}
