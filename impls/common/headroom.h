/* Address-space headroom under RLIMIT_AS: what a library may still map.
 *
 * Some libraries do not survive running out of address space: OpenBLAS
 * 0.3.21 raises SIGINT when it cannot start a thread and retries a failed
 * mmap of its buffer forever, oneDNN 2.6 crashes in primitive creation, hwloc
 * segfaults while loading a topology. They cannot be made to fail cleanly, so
 * the caller asks first: the limit against the process's current virtual
 * size, compared with what the library is known to map. */
#ifndef ATTNBENCH_IMPLS_HEADROOM_H
#define ATTNBENCH_IMPLS_HEADROOM_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define ATTN_MIB ((int64_t)1 << 20)

/* The process's virtual size in bytes, or -1 if it cannot be read. open/read
 * rather than stdio: fopen allocates, which is what may be failing. */
static inline int64_t attn_vsize(void) {
  const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t got = read(fd, buf, sizeof buf - 1);
  close(fd);
  const long page = sysconf(_SC_PAGESIZE);
  if (got <= 0 || page <= 0) return -1;
  buf[got] = 0;
  return strtoll(buf, NULL, 10) * page;
}

/* Bytes the process may still map, or -1 when there is no limit (or the
 * size cannot be read: then nothing is refused). */
static inline int64_t attn_as_headroom(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) || rl.rlim_cur == RLIM_INFINITY) return -1;
  const int64_t used = attn_vsize(), limit = (int64_t)rl.rlim_cur;
  if (used < 0) return -1;
  return limit > used ? limit - used : 0;
}

/* 0 if `need` bytes fit the headroom; else -1 with why = "address-space
 * limit leaves N MiB; WHAT needs about M MiB". */
static inline int attn_as_check(int64_t need, const char *what, char *why, size_t n) {
  const int64_t room = attn_as_headroom();
  if (room < 0 || room >= need) return 0;
  if (why && n)
    snprintf(why, n, "address-space limit leaves %lld MiB; %s needs about %lld MiB",
             (long long)(room / ATTN_MIB), what, (long long)((need + ATTN_MIB - 1) / ATTN_MIB));
  return -1;
}

/* The stack glibc gives a new thread by default: RLIMIT_STACK, or 32 MiB
 * (its ARCH_STACK_DEFAULT_SIZE on x86-64) when that is unlimited. */
static inline int64_t attn_thread_stack_bytes(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_STACK, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur == 0) return 32 * ATTN_MIB;
  return (int64_t)rl.rlim_cur;
}

#endif
