/* A small, strict .npy reader and writer: enough for float32 tensors and
 * int32/int64 length vectors, refusing anything it does not fully understand. */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
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

/* ---- the header: the Python literal dict NumPy writes ----
 * NumPy reads it with ast.literal_eval, where a key given twice means its
 * last value and "(5)" is an int, not a shape. Whatever two readers could
 * take two ways, or NumPy would not load, is refused rather than guessed at:
 * exactly the keys descr, fortran_order and shape, once each, in any order;
 * a quoted dtype, True or False, a tuple of decimal ints; spaces between
 * tokens and an optional trailing comma; after the '}' only the padding
 * spaces and the newline. */

typedef struct hdr_cursor {
  const char *at, *end; /* the header's bytes: a NUL among them is a byte no rule accepts */
} hdr_cursor;

enum { KEY_DESCR, KEY_FORTRAN_ORDER, KEY_SHAPE, NKEYS };
static const char *const header_keys[NKEYS] = {"descr", "fortran_order", "shape"};

static void skip_spaces(hdr_cursor *c) {
  while (c->at < c->end && *c->at == ' ') c->at++;
}

/* Takes ch if it comes next, after any spaces. */
static int take(hdr_cursor *c, char ch) {
  skip_spaces(c);
  if (c->at == c->end || *c->at != ch) return 0;
  c->at++;
  return 1;
}

/* A single-quoted string. Without escapes: no key or dtype we read holds a
 * backslash, and refusing them leaves no doubt where a string ends. */
static int take_string(hdr_cursor *c, const char **s, size_t *len) {
  if (!take(c, '\'')) return 0;
  const char *begin = c->at;
  while (c->at < c->end && *c->at != '\'' && *c->at != '\\' && *c->at != 0) c->at++;
  if (c->at == c->end || *c->at != '\'') return 0;
  *s = begin;
  *len = (size_t)(c->at++ - begin);
  return 1;
}

static int is_name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* The Python name w itself, not the start of a longer one (Falsey). */
static int take_name(hdr_cursor *c, const char *w) {
  skip_spaces(c);
  const size_t len = strlen(w);
  if ((size_t)(c->end - c->at) < len || memcmp(c->at, w, len)) return 0;
  if (c->at + len < c->end && is_name_char(c->at[len])) return 0;
  c->at += len;
  return 1;
}

/* A non-negative decimal int as Python writes one: no sign, no leading zero. */
static int take_int(hdr_cursor *c, int64_t *x) {
  skip_spaces(c);
  const char *begin = c->at;
  for (*x = 0; c->at < c->end && *c->at >= '0' && *c->at <= '9'; c->at++) {
    const int digit = *c->at - '0';
    if (*x > (INT64_MAX - digit) / 10) return 0;
    *x = *x * 10 + digit;
  }
  return c->at > begin && (*begin != '0' || c->at == begin + 1);
}

/* "()", "(5,)", "(2, 3)" or "(2, 3,)" into a's shape; why not, or NULL. */
static const char *take_shape(hdr_cursor *c, npy_array *a) {
  a->ndim = 0;
  a->count = 1;
  if (!take(c, '(')) return "'shape' is not a tuple";
  if (take(c, ')')) return NULL;
  for (;;) {
    int64_t x;
    if (a->ndim == NPY_MAX_DIMS) return "'shape' has more dimensions than this reader takes";
    if (!take_int(c, &x)) return "'shape' holds something other than non-negative decimal ints";
    if (x && a->count > INT64_MAX / x) return "'shape' multiplies out beyond 2^63 elements";
    a->shape[a->ndim++] = x;
    a->count *= x;
    const int comma = take(c, ',');
    if (take(c, ')')) return comma || a->ndim > 1 ? NULL : "'shape' (N) is an int; a 1-d shape is (N,)";
    if (!comma) return "'shape' needs ',' or ')' after each dimension";
  }
}

/* The value of key k into a, or *fortran; why not, or NULL. */
static const char *take_value(hdr_cursor *c, int k, npy_array *a, int *fortran) {
  const char *s;
  size_t len;
  switch (k) {
  case KEY_DESCR:
    if (!take_string(c, &s, &len)) return "'descr' is not a quoted dtype string";
    if (len >= sizeof a->descr) return "'descr' is longer than any dtype this reader takes";
    memcpy(a->descr, s, len);
    a->descr[len] = 0;
    return NULL;
  case KEY_FORTRAN_ORDER:
    *fortran = take_name(c, "True");
    return *fortran || take_name(c, "False") ? NULL : "'fortran_order' is neither True nor False";
  default: return take_shape(c, a);
  }
}

static int key_index(const char *s, size_t len) {
  for (int k = 0; k < NKEYS; k++)
    if (strlen(header_keys[k]) == len && !memcmp(s, header_keys[k], len)) return k;
  return -1;
}

/* "PATH: malformed .npy header: ..." */
static int header_error(char *err, size_t n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int header_error(char *err, size_t n, const char *path, const char *fmt, ...) {
  const int at = snprintf(err, n, "%s: malformed .npy header: ", path);
  va_list ap;
  va_start(ap, fmt);
  if (at >= 0 && (size_t)at < n) vsnprintf(err + at, n - (size_t)at, fmt, ap);
  va_end(ap);
  return -1;
}

static int parse_header(const char *hdr, size_t hlen, npy_array *a, char *err, size_t n, const char *path) {
  hdr_cursor c = {hdr, hdr + hlen};
  unsigned seen = 0;
  int fortran = 0;
  if (!take(&c, '{')) return header_error(err, n, path, "not a dict");
  for (;;) {
    if (take(&c, '}')) break;
    const char *key, *why;
    size_t len;
    if (!take_string(&c, &key, &len) || !take(&c, ':'))
      return header_error(err, n, path, "expected a quoted key and ':'");
    const int k = key_index(key, len);
    if (k < 0) return header_error(err, n, path, "unknown key '%.*s'", len > 40 ? 40 : (int)len, key);
    if ((seen >> k) & 1) return header_error(err, n, path, "key '%s' given twice", header_keys[k]);
    seen |= 1u << k;
    if ((why = take_value(&c, k, a, &fortran))) return header_error(err, n, path, "%s", why);
    if (take(&c, ',')) continue;
    if (take(&c, '}')) break;
    return header_error(err, n, path, "expected ',' or '}' after the value of '%s'", header_keys[k]);
  }
  skip_spaces(&c);
  if (c.at < c.end && *c.at == '\n') c.at++;
  if (c.at != c.end) return header_error(err, n, path, "bytes after the dict's closing '}'");
  for (int k = 0; k < NKEYS; k++)
    if (!((seen >> k) & 1)) return header_error(err, n, path, "key '%s' missing", header_keys[k]);
  if (fortran) {
    snprintf(err, n, "%s: Fortran-order arrays are not supported (save a C-order array)", path);
    return -1;
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
  FILE *f = bench_open_input(path, err, n);
  if (!f) return -1;
  unsigned char pre[12];
  char *hdr = NULL;
  int rc = -1;
  size_t hlen = 0, pre_len = 10;
  /* Versions 1.0, 2.0 and 3.0 are all NumPy defines. */
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, magic, 6) || pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
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
  if (parse_header(hdr, hlen, a, err, n, path)) goto out;
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
    if (err && n) attn_printable_line(err);
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
