/* A small, strict .npy reader and writer: enough for float32 tensors and
 * int32/int64 length vectors, refusing anything it does not fully understand. */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

void npy_free(npy_array *a) {
  free(a->data);
  memset(a, 0, sizeof *a);
}

void npy_shape_str(const int64_t *shape, int ndim, char *buf, size_t n) {
  size_t at = (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < ndim && at < n; i++)
    at += (size_t)snprintf(buf + at, n - at, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (at < n) snprintf(buf + at, n - at, ndim == 1 ? ",)" : ")");
}

/* Finds 'key': in the header dict and returns a pointer past the colon. */
static const char *dict_value(const char *hdr, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *at = strstr(hdr, pat);
  if (!at) return NULL;
  at += strlen(pat);
  while (*at == ' ') at++;
  if (*at != ':') return NULL;
  at++;
  while (*at == ' ') at++;
  return at;
}

static int parse_header(const char *hdr, npy_array *a, char *err, size_t n, const char *path) {
  const char *d = dict_value(hdr, "descr"), *f = dict_value(hdr, "fortran_order"),
             *s = dict_value(hdr, "shape");
  if (!d || !f || !s || *d != '\'' || *s != '(') {
    snprintf(err, n, "%s: malformed .npy header", path);
    return -1;
  }
  const char *end = strchr(d + 1, '\'');
  if (!end || (size_t)(end - d - 1) >= sizeof a->descr) {
    snprintf(err, n, "%s: malformed dtype in .npy header", path);
    return -1;
  }
  memcpy(a->descr, d + 1, (size_t)(end - d - 1));
  a->descr[end - d - 1] = 0;
  if (strncmp(f, "False", 5)) {
    snprintf(err, n, "%s: Fortran-order arrays are not supported (save a C-order array)", path);
    return -1;
  }
  a->ndim = 0;
  a->count = 1;
  for (s++;;) {
    while (*s == ' ' || *s == ',') s++;
    if (*s == ')') break;
    char *stop;
    errno = 0;
    long long x = strtoll(s, &stop, 10);
    if (stop == s || errno || x < 0 || a->ndim == NPY_MAX_DIMS || (x && a->count > INT64_MAX / x)) {
      snprintf(err, n, "%s: malformed shape in .npy header", path);
      return -1;
    }
    a->shape[a->ndim++] = x;
    a->count *= x;
    s = stop;
  }
  return 0;
}

static size_t descr_size(const char *descr) {
  if (!strcmp(descr, "<f4") || !strcmp(descr, "<i4")) return 4;
  if (!strcmp(descr, "<i8") || !strcmp(descr, "<f8")) return 8;
  return 0;
}

int npy_read(const char *path, npy_array *a, char *err, size_t n) {
  memset(a, 0, sizeof *a);
  if (err && n) err[0] = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, n, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  unsigned char pre[12];
  char *hdr = NULL;
  int rc = -1;
  size_t hlen = 0, pre_len = 10;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, magic, 6) || pre[6] < 1 || pre[6] > 3) {
    snprintf(err, n, "%s: not a .npy file (bad magic or version)", path);
    goto out;
  }
  if (pre[6] == 1) {
    hlen = pre[8] | (size_t)pre[9] << 8;
  } else {
    if (fread(pre + 10, 1, 2, f) != 2) {
      snprintf(err, n, "%s: truncated .npy header", path);
      goto out;
    }
    hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    pre_len = 12;
  }
  if (hlen > (1 << 20) || !(hdr = calloc(1, hlen + 1)) || fread(hdr, 1, hlen, f) != hlen) {
    snprintf(err, n, "%s: truncated or oversized .npy header", path);
    goto out;
  }
  if (parse_header(hdr, a, err, n, path)) goto out;
  const size_t esize = descr_size(a->descr);
  if (!esize) {
    snprintf(err, n, "%s: dtype '%s' is not supported", path, a->descr);
    goto out;
  }
  /* The payload must be exactly what the header promises. */
  if (fseek(f, 0, SEEK_END)) goto out;
  const long total = ftell(f);
  const double want = (double)pre_len + (double)hlen + (double)a->count * (double)esize;
  if (total < 0 || (double)total != want) {
    char shape[256];
    npy_shape_str(a->shape, a->ndim, shape, sizeof shape);
    snprintf(err, n,
             "%s: file holds %ld bytes but its header's %s array of '%s' needs %.0f (truncated or corrupt)",
             path, total, shape, a->descr, want);
    goto out;
  }
  if (fseek(f, (long)(pre_len + hlen), SEEK_SET)) goto out;
  a->data = malloc(a->count ? (size_t)a->count * esize : 1);
  if (!a->data) {
    snprintf(err, n, "%s: cannot allocate %.2f GiB", path, (double)a->count * (double)esize / (1 << 30));
    goto out;
  }
  if (fread(a->data, esize, (size_t)a->count, f) != (size_t)a->count) {
    snprintf(err, n, "%s: read failed", path);
    goto out;
  }
  rc = 0;
out:
  if (rc) {
    npy_free(a);
    if (err && n && !err[0]) snprintf(err, n, "%s: cannot read: %s", path, strerror(errno));
    /* The message may quote header bytes: keep it one printable line. */
    for (char *c = err; c && n && *c; c++)
      if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
  }
  free(hdr);
  fclose(f);
  return rc;
}

typedef struct npy_out {
  const float *data;
  const int64_t *shape;
  int ndim;
  int64_t count;
} npy_out;

static int write_npy_cb(FILE *f, void *ctx) {
  const npy_out *o = ctx;
  char shape[256], dict[384];
  npy_shape_str(o->shape, o->ndim, shape, sizeof shape);
  int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
  /* Pad with spaces so that the data starts on a 64-byte boundary. */
  const int total = 10 + len + 1, padded = (total + 63) / 64 * 64;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  const int hlen = padded - 10;
  pre[8] = (unsigned char)(hlen & 0xff);
  pre[9] = (unsigned char)(hlen >> 8);
  fwrite(pre, 1, 10, f);
  fwrite(dict, 1, (size_t)len, f);
  for (int i = 0; i < padded - total; i++) fputc(' ', f);
  fputc('\n', f);
  return fwrite(o->data, sizeof(float), (size_t)o->count, f) == (size_t)o->count ? 0 : -1;
}

int npy_write_f32(const char *path, const float *data, const int64_t *shape, int ndim, char *err, size_t n) {
  npy_out o = {data, shape, ndim, 1};
  for (int i = 0; i < ndim; i++) o.count *= shape[i];
  return bench_write_atomic(path, write_npy_cb, &o, err, n);
}
