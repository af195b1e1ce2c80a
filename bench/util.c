/* Small shared pieces of the command: messages, string lists, backend
 * selection, atomic file writes. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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

int bench_write_atomic(const char *path, int (*write_fn)(FILE *f, void *ctx), void *ctx, char *err,
                       size_t n) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
    snprintf(err, n, "%s: path too long", path);
    return -1;
  }
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    snprintf(err, n, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  int rc = write_fn(f, ctx);
  if (fflush(f) || ferror(f)) rc = -1;
  if (fsync(fileno(f))) rc = -1;
  if (fclose(f)) rc = -1;
  if (rc == 0 && rename(tmp, path)) rc = -1;
  if (rc) {
    snprintf(err, n, "cannot write %s: %s", path, errno ? strerror(errno) : "write failed");
    unlink(tmp);
    return -1;
  }
  return 0;
}
