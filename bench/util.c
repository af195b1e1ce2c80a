/* Small shared pieces of the command: messages, string lists, backend
 * selection, opening the files it reads and writing the files it writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

void bench_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("attnbench: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int strlist_push(strlist *l, const char *s) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **items = realloc(l->items, cap * sizeof *items);
    if (!items) return -1;
    l->items = items;
    l->cap = cap;
  }
  if (!(l->items[l->n] = strdup(s))) return -1;
  l->n++;
  return 0;
}

void strlist_free(strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
  memset(l, 0, sizeof *l);
}

static int push_trimmed(strlist *l, const char *begin, const char *end) {
  while (begin < end && (*begin == ' ' || *begin == '\t' || *begin == '\r')) begin++;
  while (end > begin && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
  if (begin == end || *begin == '#') return 0;
  char *s = strndup(begin, (size_t)(end - begin));
  if (!s) return -1;
  int rc = strlist_push(l, s);
  free(s);
  return rc;
}

int strlist_push_lines(strlist *l, const char *text) {
  for (const char *s = text; *s;) {
    const char *nl = strchr(s, '\n');
    if (!nl) nl = s + strlen(s);
    if (push_trimmed(l, s, nl)) return -1;
    s = *nl ? nl + 1 : nl;
  }
  return 0;
}

int strlist_push_csv(strlist *l, const char *s) {
  for (;;) {
    const char *c = strchr(s, ',');
    if (!c) return push_trimmed(l, s, s + strlen(s));
    if (push_trimmed(l, s, c)) return -1;
    s = c + 1;
  }
}

int bench_select_backends(const char *spec, const attn_backend **out, size_t cap, char *err, size_t n) {
  size_t count = 0;
  if (!spec || !strcmp(spec, "all")) {
    for (size_t i = 0; i < attn_backend_count() && count < cap; i++)
      if (attn_backend_get(i)->available()) out[count++] = attn_backend_get(i);
    return (int)count;
  }
  strlist names = {0};
  if (strlist_push_csv(&names, spec) || names.n == 0) {
    snprintf(err, n, "--backend: empty list");
    strlist_free(&names);
    return -1;
  }
  for (size_t i = 0; i < names.n; i++) {
    const attn_backend *be = attn_backend_find(names.items[i]);
    if (!be) {
      int compiled = 0;
      for (size_t j = 0; j < attn_backend_count(); j++)
        compiled |= !strcmp(attn_backend_get(j)->name, names.items[i]);
      snprintf(err, n,
               compiled ? "--backend: '%s' cannot run on this CPU (see attnbench list)"
                        : "--backend: unknown backend '%s' (see attnbench list)",
               names.items[i]);
      strlist_free(&names);
      return -1;
    }
    if (count < cap) out[count++] = be;
  }
  strlist_free(&names);
  return (int)count;
}

/* What a file that is not a regular one is, for messages. */
static const char *file_kind(mode_t mode) {
  return S_ISDIR(mode)    ? "a directory"
         : S_ISFIFO(mode) ? "a FIFO"
         : S_ISCHR(mode)  ? "a character device"
         : S_ISBLK(mode)  ? "a block device"
         : S_ISSOCK(mode) ? "a socket"
         : S_ISLNK(mode)  ? "a symbolic link"
         : S_ISREG(mode)  ? "a regular file"
                          : "of an unknown kind";
}

static int clear_nonblock(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

FILE *bench_open_input(const char *path, char *err, size_t n) {
  /* Without O_NONBLOCK, opening a FIFO waits for a writer, and what a file
   * is can only be asked of it once it is open. */
  const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    snprintf(err, n, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  FILE *f = NULL;
  if (fstat(fd, &st))
    snprintf(err, n, "cannot open %s: %s", path, strerror(errno));
  else if (!S_ISREG(st.st_mode))
    snprintf(err, n, "'%s' is not a regular file (%s)", path, file_kind(st.st_mode));
  else if (clear_nonblock(fd) || !(f = fdopen(fd, "rb")))
    snprintf(err, n, "cannot open %s: %s", path, strerror(errno));
  if (!f) close(fd);
  return f;
}

int bench_out_not_input(const char *out_flag, const char *out, const bench_file_arg *in, size_t nin,
                        char *err, size_t n) {
  struct stat o, s;
  if (!out || stat(out, &o)) return 0;
  for (size_t i = 0; i < nin; i++)
    if (in[i].path && stat(in[i].path, &s) == 0 && s.st_dev == o.st_dev && s.st_ino == o.st_ino) {
      snprintf(err, n, "%s '%s' is the same file as %s '%s'; writing it would destroy that input", out_flag,
               out, in[i].what, in[i].path);
      return -1;
    }
  return 0;
}

/* Where a write to path lands, into buf: path, or the end of its chain of
 * symbolic links, which need not exist yet. */
static int follow_links(const char *path, char *buf, size_t n) {
  if (snprintf(buf, n, "%s", path) >= (int)n) return errno = ENAMETOOLONG, -1;
  for (int hops = 0; hops < 40; hops++) { /* the kernel's own limit */
    struct stat st;
    if (lstat(buf, &st)) return errno == ENOENT ? 0 : -1;
    if (!S_ISLNK(st.st_mode)) return 0;
    char link[PATH_MAX];
    const ssize_t len = readlink(buf, link, sizeof link - 1);
    if (len < 0) return -1;
    link[len] = 0;
    /* A relative link is relative to the directory holding it. */
    const char *slash = strrchr(buf, '/');
    const size_t keep = link[0] == '/' || !slash ? 0 : (size_t)(slash + 1 - buf);
    if (keep + (size_t)len >= n) return errno = ENAMETOOLONG, -1;
    memcpy(buf + keep, link, (size_t)len + 1);
  }
  return errno = ELOOP, -1;
}

/* The directory part of path ("." when it has none). */
static int dir_of(const char *path, char *buf, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash) return snprintf(buf, n, ".") >= (int)n ? -1 : 0;
  const size_t len = slash == path ? 1 : (size_t)(slash - path);
  if (len >= n) return -1;
  memcpy(buf, path, len);
  buf[len] = 0;
  return 0;
}

/* Named temporary files of an atomic write carry the writer's pid, so that
 * one left by a writer that was killed can be told from one being written. */
#define TEMP_PREFIX ".attnbench-tmp."

static int temp_name(const char *dir, char *buf, size_t n) {
  static unsigned seq;
  return snprintf(buf, n, "%s/" TEMP_PREFIX "%ld.%u", dir, (long)getpid(), seq++) >= (int)n ? -1 : 0;
}

/* SIGKILL runs no cleanup: the temporary files in dir of writers that are
 * gone are removed by the next write there. Only regular files of our
 * naming and owner, so that nothing else is ever deleted. */
static void remove_stale_temps(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  const size_t plen = strlen(TEMP_PREFIX);
  for (struct dirent *e; (e = readdir(d));) {
    const char *num = e->d_name + plen;
    char *end;
    struct stat st;
    if (strncmp(e->d_name, TEMP_PREFIX, plen) || *num < '0' || *num > '9') continue;
    const long pid = strtol(num, &end, 10);
    if (*end != '.' || pid <= 0 || pid > INT_MAX || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        st.st_uid == geteuid())
      unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

/* A new file under a temporary name in dir, which tmp receives; -1 with
 * tmp empty if none can be made. */
static int open_named_temp(const char *dir, char *tmp, size_t n) {
  for (int tries = 0; tries < 100; tries++) {
    if (temp_name(dir, tmp, n)) {
      errno = ENAMETOOLONG;
      break;
    }
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST) break;
  }
  tmp[0] = 0;
  return -1;
}

/* Names the complete unnamed file fd `target`. linkat cannot replace a
 * name, so over an earlier file it goes through a temporary name and
 * rename, the one moment a SIGKILL could leave a name behind. */
static int link_into_place(int fd, const char *dir, const char *target, int replace) {
  char proc[64], tmp[PATH_MAX];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (!replace) return linkat(AT_FDCWD, proc, AT_FDCWD, target, AT_SYMLINK_FOLLOW);
  for (int tries = 0; tries < 100; tries++) {
    if (temp_name(dir, tmp, sizeof tmp)) return errno = ENAMETOOLONG, -1;
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) {
      if (rename(tmp, target) == 0) return 0;
      const int e = errno;
      unlink(tmp);
      return errno = e, -1;
    }
    if (errno != EEXIST) return -1;
  }
  return -1;
}

/* The replacement keeps the earlier file's permission bits, where a new
 * file gets 0666 less the umask, and its owner (root rewriting a user's
 * result). -1 if either could not be kept: only root may give a file away,
 * and for anyone else it stays the writer's, as a new file would. */
static int keep_owner_and_mode(int fd, const struct stat *old) {
  const int other = old->st_uid != geteuid() || old->st_gid != getegid();
  const int owner_kept = !other || fchown(fd, old->st_uid, old->st_gid) == 0;
  return fchmod(fd, old->st_mode & 0777) == 0 && owner_kept ? 0 : -1;
}

/* A regular file, or none yet, is replaced whole: the bytes go to a file
 * without a name (O_TMPFILE) in the target's directory, named only once
 * complete and on disk, so that a writer stopped at any point leaves the
 * earlier file as it was and nothing else. Filesystems without O_TMPFILE
 * get a named temporary file, which remove_stale_temps collects after a
 * SIGKILL. old: the earlier file, or NULL. */
static int write_replacing(const char *path, const char *target, const struct stat *old,
                           int (*write_fn)(FILE *f, void *ctx), void *ctx, char *err, size_t n) {
  char dir[PATH_MAX], tmp[PATH_MAX] = "";
  if (dir_of(target, dir, sizeof dir)) {
    snprintf(err, n, "cannot write %s: %s", path, strerror(ENAMETOOLONG));
    return -1;
  }
  remove_stale_temps(dir);
  int fd = -1;
  if (access("/proc/self/fd", X_OK) == 0) { /* linkat names the file through /proc */
    fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      snprintf(err, n, "cannot write %s: %s", path, strerror(errno));
      return -1;
    }
  }
  if (fd < 0 && (fd = open_named_temp(dir, tmp, sizeof tmp)) < 0) {
    snprintf(err, n, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  if (old) keep_owner_and_mode(fd, old); /* at worst the file is as a new one would be */
  FILE *f = fdopen(fd, "wb");
  int rc = -1;
  if (f) {
    errno = 0;
    rc = write_fn(f, ctx);
    if (fflush(f) || ferror(f)) rc = -1;
  }
  if (rc == 0 && fsync(fd)) rc = -1;
  if (rc == 0) rc = tmp[0] ? rename(tmp, target) : link_into_place(fd, dir, target, old != NULL);
  const int e = errno;
  if (f ? fclose(f) : close(fd)) rc = -1;
  if (rc && tmp[0]) unlink(tmp);
  if (rc) snprintf(err, n, "cannot write %s: %s", path, e ? strerror(e) : "write failed");
  return rc;
}

/* A FIFO or a character device is written where it is: replacing it would
 * turn /dev/null into a file, or leave whoever reads the FIFO waiting. */
static int write_in_place(const char *path, mode_t kind, int (*write_fn)(FILE *f, void *ctx), void *ctx,
                          char *err, size_t n) {
  /* O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of
   * waiting for one. */
  const int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    snprintf(err, n, "cannot write %s: %s", path,
             kind == S_IFIFO && errno == ENXIO ? "a FIFO with no reader" : strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) || (st.st_mode & S_IFMT) != kind) {
    snprintf(err, n, "cannot write %s: it was replaced while being opened", path);
    close(fd);
    return -1;
  }
  FILE *f = clear_nonblock(fd) ? NULL : fdopen(fd, "wb");
  int rc = -1;
  if (f) {
    errno = 0;
    rc = write_fn(f, ctx);
    if (fflush(f) || ferror(f)) rc = -1;
  }
  const int e = errno;
  if (f ? fclose(f) : close(fd)) rc = -1;
  if (rc) snprintf(err, n, "cannot write %s: %s", path, e ? strerror(e) : "write failed");
  return rc;
}

int bench_write_atomic(const char *path, int (*write_fn)(FILE *f, void *ctx), void *ctx, char *err,
                       size_t n) {
  char target[PATH_MAX];
  struct stat st;
  const int exists = stat(path, &st) == 0;
  if (!exists && errno != ENOENT) {
    snprintf(err, n, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  /* Opened by the name given, which the kernel follows further than a
   * readlink can (/dev/stdout onto a pipe). */
  if (exists && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
    return write_in_place(path, st.st_mode & S_IFMT, write_fn, ctx, err, n);
  if (exists && !S_ISREG(st.st_mode)) {
    snprintf(err, n, "cannot write %s: it is %s, not a regular file, a FIFO or a character device", path,
             file_kind(st.st_mode));
    return -1;
  }
  if (follow_links(path, target, sizeof target)) {
    snprintf(err, n, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return write_replacing(path, target, exists ? &st : NULL, write_fn, ctx, err, n);
}
