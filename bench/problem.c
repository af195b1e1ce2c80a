/* The problem string <-> descriptor. Keys are a table: a new problem key is
 * one entry here (name, parser, printer, default test) and one descriptor
 * field, never an edit elsewhere in the harness. */
#include "attnbench/problem.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mask_names[] = {"none", "causal", "causal-tl", "pad"};
static const char *const op_names[] = {"attn", "decode", "mha", "han"};
static const char *const fill_names[] = {"random", "large", "same-keys", "const-v", "dominant", "huge-v"};
static const char *const score_names[] = {"scaled", "dot", "general", "additive", "cosine"};
static const char *const mode_names[] = {"soft", "hard", "local-m", "local-p"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *attn_mask_name(attn_mask m) { return (int)m < COUNT(mask_names) ? mask_names[m] : "?"; }
const char *attn_op_name(attn_op o) { return (int)o < COUNT(op_names) ? op_names[o] : "?"; }
const char *attn_fill_name(attn_fill f) { return (int)f < COUNT(fill_names) ? fill_names[f] : "?"; }
const char *attn_score_name(attn_score s) { return (int)s < COUNT(score_names) ? score_names[s] : "?"; }
const char *attn_mode_name(attn_mode m) { return (int)m < COUNT(mode_names) ? mode_names[m] : "?"; }

const char *attn_status_name(attn_status s) {
  switch (s) {
  case ATTN_OK: return "ok";
  case ATTN_UNSUPPORTED: return "unsupported";
  case ATTN_EINVAL: return "invalid argument";
  case ATTN_ENOMEM: return "out of memory";
  case ATTN_EBACKEND: return "backend failure";
  }
  return "unknown status";
}

float attn_scale(const attn_problem *p) {
  if (p->scale != 0) return p->scale;
  return p->score == ATTN_SCORE_SCALED ? (float)(1.0 / sqrt((double)p->d)) : 1.0f;
}

#define UNSET INT64_MIN /* a size key not given */

void attn_problem_init(attn_problem *p) {
  memset(p, 0, sizeof *p);
  p->b = 1;
  p->h = p->hkv = p->lq = p->lk = p->d = p->dv = UNSET;
  p->mask = ATTN_MASK_NONE;
  p->dtype = ATTN_F32;
  p->fill = ATTN_FILL_RANDOM;
}

void attn_printable_line(char *s) {
  for (unsigned char *c = (unsigned char *)s; c && *c; c++) {
    if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) {
      c[0] = c[1] = '?';
      c++;
    } else if (*c < 0x20 || *c == 0x7f) {
      *c = '?';
    }
  }
}

/* Messages quote the offending input, which may hold any byte. */
static void say(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err && n) vsnprintf(err, n, fmt, ap);
  va_end(ap);
  if (err && n) attn_printable_line(err);
}

/* ---- value parsers: each returns 0 on success ---- */

static int parse_i64(const char *v, int64_t *out) {
  if (!*v || isspace((unsigned char)*v)) return -1;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || *end) return -1;
  *out = x;
  return 0;
}

static int parse_name(const char *v, const char *const *names, int count, int *out) {
  for (int i = 0; i < count; i++)
    if (!strcmp(v, names[i])) {
      *out = i;
      return 0;
    }
  return -1;
}

typedef enum {
  KEY_OP,
  KEY_SIZE,
  KEY_STEPS,
  KEY_DM,
  KEY_SELF,
  KEY_SCALE,
  KEY_MASK,
  KEY_FILL,
  KEY_SEED,
  KEY_LENS,
  KEY_HAN, /* an op=han size: an int64_t field at offset, printed when nonzero */
  KEY_PAD,
  KEY_SCORE,
  KEY_MODE,
  KEY_WINDOW
} key_kind;

typedef struct key_def {
  const char *name;
  key_kind kind;
  size_t offset; /* of the int64_t field, for KEY_SIZE */
  int always;    /* printed even at its default */
  const char *expect;
} key_def;

#define SIZE_KEY(f, always)                                                                                  \
  { #f, KEY_SIZE, offsetof(attn_problem, f), always, "a positive integer" }
static const key_def keys[] = {
    {"op", KEY_OP, 0, 0, "attn, decode, mha or han"},
    SIZE_KEY(b, 1),
    {"s", KEY_HAN, offsetof(attn_problem, sents), 0, "a positive number of sentences per document"},
    {"t", KEY_HAN, offsetof(attn_problem, words), 0, "a positive number of words per sentence"},
    SIZE_KEY(h, 1),
    SIZE_KEY(hkv, 1),
    SIZE_KEY(lq, 1),
    SIZE_KEY(lk, 1),
    {"steps", KEY_STEPS, 0, 0, "a positive number of decode steps"},
    SIZE_KEY(d, 1),
    SIZE_KEY(dv, 1),
    {"da", KEY_HAN, offsetof(attn_problem, da), 0, "a positive attention width"},
    {"dm", KEY_DM, 0, 0, "a positive model width"},
    {"self", KEY_SELF, 0, 0, "0 or 1"},
    {"pad", KEY_PAD, 0, 0, "0 or 1"},
    {"score", KEY_SCORE, 0, 0, "scaled, dot, general, additive or cosine"},
    {"scale", KEY_SCALE, 0, 0, "a finite nonzero number"},
    {"mask", KEY_MASK, 0, 1, "none, causal, causal-tl or pad"},
    {"lens", KEY_LENS, 0, 0, "b colon-separated lengths, e.g. 3:0:7"},
    {"mode", KEY_MODE, 0, 0, "soft, hard, local-m or local-p"},
    {"window", KEY_WINDOW, 0, 0, "a window half-width in 0..2^40"},
    {"fill", KEY_FILL, 0, 0, "random, large, same-keys, const-v, dominant or huge-v"},
    {"seed", KEY_SEED, 0, 0, "a non-negative integer"},
};

/* The largest window half-width: far beyond any lk that fits in memory, and
 * small enough that centre +- window stays exact in double (attn_window). */
#define WINDOW_MAX ((int64_t)1 << 40)

static int64_t *size_field(attn_problem *p, const key_def *k) { return (int64_t *)((char *)p + k->offset); }

static int parse_lens(const char *v, attn_problem *p) {
  int n = 0;
  const char *s = v;
  while (*s) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || x < 0 || x > INT32_MAX || n >= ATTN_MAX_LENS) return -1;
    p->lens[n++] = (int32_t)x;
    if (*end == ':' && end[1])
      s = end + 1;
    else if (*end == 0)
      s = end;
    else
      return -1;
  }
  p->nlens = n;
  return n ? 0 : -1;
}

static int parse_value(const key_def *k, const char *v, attn_problem *p) {
  int idx;
  switch (k->kind) {
  case KEY_SIZE: return parse_i64(v, size_field(p, k));
  case KEY_HAN: return parse_i64(v, size_field(p, k)) || *size_field(p, k) < 1 ? -1 : 0;
  case KEY_PAD:
    if (strcmp(v, "0") && strcmp(v, "1")) return -1;
    p->pad = v[0] == '1';
    return 0;
  case KEY_SCALE: {
    char *end;
    errno = 0;
    float x = strtof(v, &end);
    if (!*v || *end || errno || !isfinite(x) || x == 0) return -1;
    p->scale = x;
    return 0;
  }
  case KEY_MASK:
    if (parse_name(v, mask_names, COUNT(mask_names), &idx)) return -1;
    p->mask = (attn_mask)idx;
    return 0;
  case KEY_FILL:
    if (parse_name(v, fill_names, COUNT(fill_names), &idx)) return -1;
    p->fill = (attn_fill)idx;
    return 0;
  case KEY_SEED: {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!isdigit((unsigned char)*v) || *end || errno) return -1;
    p->seed = (uint64_t)x;
    return 0;
  }
  case KEY_LENS: return parse_lens(v, p);
  case KEY_OP:
    if (parse_name(v, op_names, COUNT(op_names), &idx)) return -1;
    p->op = (attn_op)idx;
    return 0;
  case KEY_STEPS: return parse_i64(v, &p->steps) || p->steps < 1 ? -1 : 0;
  case KEY_DM: return parse_i64(v, &p->dm) || p->dm < 1 ? -1 : 0;
  case KEY_SELF:
    if (strcmp(v, "0") && strcmp(v, "1")) return -1;
    p->self = v[0] == '1';
    return 0;
  case KEY_SCORE:
    if (parse_name(v, score_names, COUNT(score_names), &idx)) return -1;
    p->score = (attn_score)idx;
    return 0;
  case KEY_MODE:
    if (parse_name(v, mode_names, COUNT(mode_names), &idx)) return -1;
    p->mode = (attn_mode)idx;
    return 0;
  case KEY_WINDOW: return parse_i64(v, &p->window) || p->window < 0 || p->window > WINDOW_MAX ? -1 : 0;
  }
  return -1;
}

/* ---- validation ---- */

/* Product of sizes with overflow detection; 0 on overflow. */
static int64_t checked_product(const int64_t *xs, int n) {
  int64_t r = 1;
  for (int i = 0; i < n; i++) {
    if (xs[i] <= 0 || r > INT64_MAX / xs[i]) return 0;
    r *= xs[i];
  }
  return r;
}

/* op=mha's own keys, and the sizes of its inputs, weights and output. */
static attn_status validate_mha(const attn_problem *p, char *err, size_t n) {
  if (p->op != ATTN_OP_MHA) {
    if (p->dm || p->self) {
      say(err, n, "problem key '%s': only meaningful with op=mha", p->dm ? "dm" : "self");
      return ATTN_EINVAL;
    }
    return ATTN_OK;
  }
  if (p->dm < 1) {
    say(err, n, "problem key 'dm' is required for op=mha (the model width)");
    return ATTN_EINVAL;
  }
  if (p->self && p->lk != p->lq) {
    say(err, n, "problem key 'self': self-attention attends X_q to itself, so lk must equal lq=%" PRId64,
        p->lq);
    return ATTN_EINVAL;
  }
  if (p->fill != ATTN_FILL_RANDOM) {
    /* The adversarial fills shape Q, K and V directly; op=mha computes them. */
    say(err, n, "problem key 'fill': op=mha takes fill=random only");
    return ATTN_EINVAL;
  }
  /* X_q, X_kv, each weight and the output (in double in the reference). */
  const int64_t dims[][4] = {{p->b, p->lq, p->dm, 8},
                             {p->b, p->lk, p->dm, 8},
                             {p->dm, p->h, p->d, 8},
                             {p->dm, p->hkv, p->dv, 8},
                             {p->h, p->dv, p->dm, 8}};
  for (int i = 0; i < COUNT(dims); i++) {
    const int64_t bytes = checked_product(dims[i], 4);
    if (!bytes || (uint64_t)bytes > (uint64_t)SIZE_MAX / 2) {
      say(err, n, "problem key 'dm': the inputs and weights of this layer are too large to address");
      return ATTN_ENOMEM;
    }
  }
  return ATTN_OK;
}

/* op=attn with a score or mode that has weights of width da. */
static int attn_uses_da(const attn_problem *p) {
  return p->op == ATTN_OP_ATTN && (p->score == ATTN_SCORE_ADDITIVE || p->mode == ATTN_MODE_LOCAL_P);
}

/* op=han's own keys, and the sizes of X, the weights and the level tensors. */
static attn_status validate_han(const attn_problem *p, char *err, size_t n) {
  if (p->op != ATTN_OP_HAN) {
    const char *key = p->sents                    ? "s"
                      : p->words                  ? "t"
                      : p->da && !attn_uses_da(p) ? "da"
                      : p->pad                    ? "pad"
                                                  : NULL;
    if (key) {
      say(err, n, "problem key '%s': only meaningful with op=han%s", key,
          strcmp(key, "da") ? "" : ", or op=attn with score=additive or mode=local-p");
      return ATTN_EINVAL;
    }
    return ATTN_OK;
  }
  const char *missing = p->sents < 1 ? "s" : p->words < 1 ? "t" : p->da < 1 ? "da" : NULL;
  if (missing) {
    say(err, n, "problem key '%s' is required for op=han", missing);
    return ATTN_EINVAL;
  }
  if (p->fill != ATTN_FILL_RANDOM) {
    say(err, n, "problem key 'fill': op=han takes fill=random only");
    return ATTN_EINVAL;
  }
  /* X and the word keys (and their GEMM outputs, in double in the reference). */
  const int64_t dims[][5] = {
      {p->b, p->sents, p->words, p->d, 8}, {p->b, p->sents, p->words, p->da, 8}, {p->da, p->d, 8, 1, 1}};
  for (int i = 0; i < COUNT(dims); i++) {
    const int64_t bytes = checked_product(dims[i], 5);
    if (!bytes || (uint64_t)bytes > (uint64_t)SIZE_MAX / 2 || p->words > INT32_MAX || p->sents > INT32_MAX) {
      say(err, n, "problem key '%s': the tensors of this problem are too large to address",
          i == 2 ? "da" : "t");
      return ATTN_ENOMEM;
    }
  }
  return ATTN_OK;
}

/* The weights of a score or mode, and the per-key and per-query
 * projections through them (in double in the reference), must be
 * addressable. */
static attn_status validate_weight_sizes(const attn_problem *p, char *err, size_t n) {
  const int additive = p->score == ATTN_SCORE_ADDITIVE, local_p = p->mode == ATTN_MODE_LOCAL_P;
  const struct {
    int used;
    const char *key;
    int64_t dims[5];
  } sizes[] = {{p->score == ATTN_SCORE_GENERAL, "d", {p->d, p->d, 8, 1, 1}},
               {additive || local_p, "da", {p->da, p->d, 8, 1, 1}},
               {additive, "da", {p->b, p->hkv, p->lk, p->da, 8}},
               {additive || local_p, "da", {p->b, p->h, p->lq, p->da, 8}}};
  for (int i = 0; i < COUNT(sizes); i++) {
    const int64_t bytes = sizes[i].used ? checked_product(sizes[i].dims, 5) : 1;
    if (!bytes || (uint64_t)bytes > (uint64_t)SIZE_MAX / 2) {
      say(err, n, "problem key '%s': the weights of score=%s, mode=%s are too large to address", sizes[i].key,
          attn_score_name(p->score), attn_mode_name(p->mode));
      return ATTN_ENOMEM;
    }
  }
  return ATTN_OK;
}

/* score, mode and window (op=attn only), and da where they use it. */
static attn_status validate_seq2seq(const attn_problem *p, char *err, size_t n) {
  if ((unsigned)p->score >= (unsigned)COUNT(score_names) ||
      (unsigned)p->mode >= (unsigned)COUNT(mode_names)) {
    say(err, n, "problem key '%s': not a known value",
        (unsigned)p->mode >= (unsigned)COUNT(mode_names) ? "mode" : "score");
    return ATTN_EINVAL;
  }
  const char *key = p->score != ATTN_SCORE_SCALED ? "score"
                    : p->mode != ATTN_MODE_SOFT   ? "mode"
                    : p->window                   ? "window"
                                                  : NULL;
  if (p->op != ATTN_OP_ATTN && key) {
    say(err, n, "problem key '%s': only meaningful with op=attn", key);
    return ATTN_EINVAL;
  }
  const int local = p->mode == ATTN_MODE_LOCAL_M || p->mode == ATTN_MODE_LOCAL_P;
  if (!local && p->window) {
    say(err, n, "problem key 'window': only meaningful with mode=local-m or mode=local-p");
    return ATTN_EINVAL;
  }
  if (p->window < 0 || p->window > WINDOW_MAX) {
    say(err, n, "problem key 'window': %" PRId64 " is not a half-width in 0..2^40", p->window);
    return ATTN_EINVAL;
  }
  if (p->mode == ATTN_MODE_LOCAL_P && p->window < 1) {
    say(err, n, "problem key 'window': local-p needs window >= 1 (sigma = window/2)");
    return ATTN_EINVAL;
  }
  if (p->score == ATTN_SCORE_ADDITIVE && p->scale != 0) {
    say(err, n, "problem key 'scale': scale= does not apply to score=additive");
    return ATTN_EINVAL;
  }
  if (attn_uses_da(p) && p->da < 1) {
    say(err, n, "problem key 'da': %" PRId64 " is not a positive attention width", p->da);
    return ATTN_EINVAL;
  }
  return validate_weight_sizes(p, err, n);
}

attn_status attn_problem_validate(const attn_problem *p, char *err, size_t n) {
  for (int i = 0; i < COUNT(keys); i++) {
    if (keys[i].kind != KEY_SIZE) continue;
    int64_t x = *size_field((attn_problem *)p, &keys[i]);
    if (x == UNSET &&
        (!strcmp(keys[i].name, "h") || !strcmp(keys[i].name, "lq") || !strcmp(keys[i].name, "d"))) {
      say(err, n, "problem key '%s' is required", keys[i].name);
      return ATTN_EINVAL;
    }
    if (x <= 0) {
      say(err, n, "problem key '%s': %" PRId64 " is not a positive size", keys[i].name, x);
      return ATTN_EINVAL;
    }
  }
  attn_status s = validate_seq2seq(p, err, n);
  if (s != ATTN_OK) return s;
  if (p->op == ATTN_OP_DECODE) {
    if (p->steps < 1) {
      say(err, n, "problem key 'steps' is required for op=decode");
      return ATTN_EINVAL;
    }
    if (p->lq != 1) {
      say(err, n, "problem key 'lq': op=decode takes one query per step (lq=1), not %" PRId64, p->lq);
      return ATTN_EINVAL;
    }
    if (p->mask != ATTN_MASK_NONE) {
      say(err, n, "problem key 'mask': op=decode sees its whole cache, so mask must be none");
      return ATTN_EINVAL;
    }
    if (p->lk > INT64_MAX / 2 || p->steps > INT64_MAX / 2 - p->lk) {
      say(err, n, "problem key 'steps': the cache lk+steps is too large to address");
      return ATTN_ENOMEM;
    }
  } else if (p->steps) {
    say(err, n, "problem key 'steps': only meaningful with op=decode");
    return ATTN_EINVAL;
  }
  s = validate_mha(p, err, n);
  if (s == ATTN_OK) s = validate_han(p, err, n);
  if (s != ATTN_OK) return s;
  if (p->op == ATTN_OP_HAN) return ATTN_OK; /* the levels' attention sizes follow from the above */
  if (p->h % p->hkv) {
    say(err, n, "problem key 'hkv': h=%" PRId64 " is not divisible by hkv=%" PRId64, p->h, p->hkv);
    return ATTN_EINVAL;
  }
  if (p->nlens && p->mask != ATTN_MASK_PAD) {
    say(err, n, "problem key 'lens': only meaningful with mask=pad");
    return ATTN_EINVAL;
  }
  if (p->nlens && p->nlens != p->b) {
    say(err, n, "problem key 'lens': %d lengths given for b=%" PRId64, p->nlens, p->b);
    return ATTN_EINVAL;
  }
  for (int i = 0; i < p->nlens; i++)
    if (p->lens[i] > p->lk) {
      say(err, n, "problem key 'lens': length %d exceeds lk=%" PRId64, (int)p->lens[i], p->lk);
      return ATTN_EINVAL;
    }
  /* Every tensor and the oracle's double copy of the output must be
   * addressable in bytes, and lengths must fit the int32 pad lengths. A
   * decode's tensors hold all its steps and its grown cache. */
  const int64_t lq = p->op == ATTN_OP_DECODE ? p->steps : p->lq, lk = p->lk + p->steps;
  const int64_t q[] = {p->b, p->h, lq, p->d, 8}, k[] = {p->b, p->hkv, lk, p->d, 8},
                v[] = {p->b, p->hkv, lk, p->dv, 8}, o[] = {p->b, p->h, lq, p->dv, 8 * 4};
  const struct {
    const char *key;
    const int64_t *dims;
  } sizes[] = {{"lq", q}, {"lk", k}, {"dv", v}, {"dv", o}};
  for (int i = 0; i < COUNT(sizes); i++) {
    int64_t bytes = checked_product(sizes[i].dims, 5);
    if (!bytes || (uint64_t)bytes > (uint64_t)SIZE_MAX / 2) {
      say(err, n, "problem key '%s': the tensors of this problem are too large to address", sizes[i].key);
      return ATTN_ENOMEM;
    }
  }
  if (lk > INT32_MAX || lq > INT32_MAX) {
    say(err, n, "problem key '%s': lengths above 2^31-1 are not supported", lk > INT32_MAX ? "lk" : "lq");
    return ATTN_EINVAL;
  }
  return ATTN_OK;
}

/* ---- parse and format ---- */

static const key_def *find_key(const char *name) {
  for (int i = 0; i < COUNT(keys); i++)
    if (!strcmp(keys[i].name, name)) return &keys[i];
  return NULL;
}

attn_status attn_problem_parse(const char *s, attn_problem *p, char *err, size_t n) {
  attn_problem_init(p);
  if (!s || !*s) {
    say(err, n, "empty problem string (expected e.g. h=16,lq=1024,d=128)");
    return ATTN_EINVAL;
  }
  char buf[ATTN_PROBLEM_STRLEN * 2];
  if (strlen(s) >= sizeof buf) {
    say(err, n, "problem string longer than %zu characters", sizeof buf - 1);
    return ATTN_EINVAL;
  }
  strcpy(buf, s);
  unsigned seen = 0;
  for (char *tok = buf, *next; tok; tok = next) {
    /* strtok would skip empty items; "h=1,,d=2" is a typo worth reporting. */
    next = strchr(tok, ',');
    if (next) *next++ = 0;
    char *eq = strchr(tok, '=');
    if (!*tok) {
      say(err, n, "problem string: empty item (a doubled, leading or trailing comma)");
      return ATTN_EINVAL;
    }
    if (!eq) {
      say(err, n, "problem string: '%s' is not key=value", tok);
      return ATTN_EINVAL;
    }
    *eq = 0;
    const key_def *k = find_key(tok);
    if (!k) {
      say(err, n, "problem string: unknown key '%s'", tok);
      return ATTN_EINVAL;
    }
    unsigned bit = 1u << (k - keys);
    if (seen & bit) {
      say(err, n, "problem key '%s' given twice", tok);
      return ATTN_EINVAL;
    }
    seen |= bit;
    if (parse_value(k, eq + 1, p)) {
      say(err, n, "problem key '%s': '%s' is not %s", tok, eq + 1, k->expect);
      return ATTN_EINVAL;
    }
  }
  if (p->op == ATTN_OP_HAN) {
    /* Each level's attention is derived (workload.c): these keys would
     * describe nothing, so they are refused rather than ignored. */
    static const char *const refused[] = {"h", "hkv", "lq", "lk", "dv", "scale", "mask", "lens", "steps"};
    for (int i = 0; i < COUNT(refused); i++)
      if (seen & (1u << (find_key(refused[i]) - keys))) {
        say(err, n, "problem key '%s': not a key of op=han (keys: b, s, t, d, da, pad, seed)", refused[i]);
        return ATTN_EINVAL;
      }
    if (p->d == UNSET) {
      say(err, n, "problem key 'd' is required (the word vector width)");
      return ATTN_EINVAL;
    }
    p->h = p->hkv = p->lq = 1;
    p->lk = p->words > 0 ? p->words : 1;
    p->dv = p->d;
  }
  const int local = p->mode == ATTN_MODE_LOCAL_M || p->mode == ATTN_MODE_LOCAL_P;
  const unsigned window_bit = 1u << (find_key("window") - keys);
  if (local && p->op == ATTN_OP_ATTN && !(seen & window_bit)) {
    say(err, n, "problem key 'window' is required: mode=%s needs window=D (the half-width)",
        attn_mode_name(p->mode));
    return ATTN_EINVAL;
  }
  if (!local && (seen & window_bit)) { /* window=0 would otherwise pass unnoticed */
    say(err, n, "problem key 'window': only meaningful with mode=local-m or mode=local-p");
    return ATTN_EINVAL;
  }
  if (p->op == ATTN_OP_DECODE && p->lq == UNSET) p->lq = 1;
  if (p->hkv == UNSET) p->hkv = p->h;
  if (p->lk == UNSET) p->lk = p->lq;
  if (p->dv == UNSET) p->dv = p->d;
  if (attn_uses_da(p) && !p->da && p->d != UNSET) p->da = p->d;
  return attn_problem_validate(p, err, n);
}

static size_t append(char *buf, size_t n, size_t at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(at < n ? buf + at : NULL, at < n ? n - at : 0, fmt, ap);
  va_end(ap);
  return at + (w > 0 ? (size_t)w : 0);
}

char *attn_problem_format(const attn_problem *p, char *buf, size_t n) {
  size_t at = 0;
  if (n) buf[0] = 0;
  for (int i = 0; i < COUNT(keys); i++) {
    const key_def *k = &keys[i];
    const char *sep = at ? "," : "";
    /* op=han's attention sizes are derived, never given. */
    const int derived =
        p->op == ATTN_OP_HAN &&
        (k->kind == KEY_MASK || (k->kind == KEY_SIZE && strcmp(k->name, "b") && strcmp(k->name, "d")));
    if (derived) continue;
    switch (k->kind) {
    case KEY_HAN:
      if (*size_field((attn_problem *)p, k))
        at = append(buf, n, at, "%s%s=%" PRId64, sep, k->name, *size_field((attn_problem *)p, k));
      break;
    case KEY_PAD:
      if (p->pad) at = append(buf, n, at, "%spad=1", sep);
      break;
    case KEY_SIZE:
      at = append(buf, n, at, "%s%s=%" PRId64, sep, k->name, *size_field((attn_problem *)p, k));
      break;
    case KEY_SCALE:
      /* %.9g round-trips every float. */
      if (p->scale != 0) at = append(buf, n, at, "%sscale=%.9g", sep, (double)p->scale);
      break;
    case KEY_MASK: at = append(buf, n, at, "%smask=%s", sep, attn_mask_name(p->mask)); break;
    case KEY_FILL:
      if (p->fill != ATTN_FILL_RANDOM) at = append(buf, n, at, "%sfill=%s", sep, attn_fill_name(p->fill));
      break;
    case KEY_SEED:
      if (p->seed) at = append(buf, n, at, "%sseed=%" PRIu64, sep, p->seed);
      break;
    case KEY_OP:
      if (p->op != ATTN_OP_ATTN) at = append(buf, n, at, "%sop=%s", sep, attn_op_name(p->op));
      break;
    case KEY_STEPS:
      if (p->steps) at = append(buf, n, at, "%ssteps=%" PRId64, sep, p->steps);
      break;
    case KEY_DM:
      if (p->dm) at = append(buf, n, at, "%sdm=%" PRId64, sep, p->dm);
      break;
    case KEY_SELF:
      if (p->self) at = append(buf, n, at, "%sself=1", sep);
      break;
    case KEY_LENS:
      for (int j = 0; j < p->nlens; j++) at = append(buf, n, at, "%s%d", j ? ":" : ",lens=", (int)p->lens[j]);
      break;
    case KEY_SCORE:
      if (p->score != ATTN_SCORE_SCALED)
        at = append(buf, n, at, "%sscore=%s", sep, attn_score_name(p->score));
      break;
    case KEY_MODE:
      if (p->mode != ATTN_MODE_SOFT) at = append(buf, n, at, "%smode=%s", sep, attn_mode_name(p->mode));
      break;
    case KEY_WINDOW:
      if (p->mode == ATTN_MODE_LOCAL_M || p->mode == ATTN_MODE_LOCAL_P)
        at = append(buf, n, at, "%swindow=%" PRId64, sep, p->window);
      break;
    }
  }
  return buf;
}

/* ---- derived quantities ---- */

int64_t attn_q_elems(const attn_problem *p) { return p->b * p->h * p->lq * p->d; }
int64_t attn_kv_elems(const attn_problem *p) { return p->b * p->hkv * p->lk * p->d; }
int64_t attn_v_elems(const attn_problem *p) { return p->b * p->hkv * p->lk * p->dv; }
int64_t attn_o_elems(const attn_problem *p) { return p->b * p->h * p->lq * p->dv; }

int64_t attn_w_elems(const attn_problem *p) { return p->score == ATTN_SCORE_GENERAL ? p->d * p->d : 0; }
int64_t attn_wa_elems(const attn_problem *p) { return p->score == ATTN_SCORE_ADDITIVE ? p->da * p->d : 0; }
int64_t attn_u_elems(const attn_problem *p) { return p->score == ATTN_SCORE_ADDITIVE ? p->da : 0; }
int64_t attn_wp_elems(const attn_problem *p) { return p->mode == ATTN_MODE_LOCAL_P ? p->da * p->d : 0; }
int64_t attn_vp_elems(const attn_problem *p) { return p->mode == ATTN_MODE_LOCAL_P ? p->da : 0; }

/* The keys query row i of batch bi attends to: the mask's prefix, cut to the
 * window for local-m. local-p's centres depend on the data, so it counts the
 * upper bound min(prefix, 2 * window + 1). */
static double row_pairs(const attn_problem *p, const int32_t *lens, int64_t bi, int64_t i) {
  const int64_t end = attn_visible_end(p, lens, bi, i);
  if (p->mode == ATTN_MODE_LOCAL_M) {
    int64_t lo, hi;
    attn_window(p, (double)attn_local_m_centre(p, i), end, &lo, &hi);
    return (double)(hi - lo);
  }
  if (p->mode == ATTN_MODE_LOCAL_P) {
    const int64_t width = 2 * p->window + 1;
    return (double)(end < width ? end : width);
  }
  return (double)end;
}

double attn_visible_pairs(const attn_problem *p, const int32_t *lens) {
  const int windowed = p->mode == ATTN_MODE_LOCAL_M || p->mode == ATTN_MODE_LOCAL_P;
  double pairs = 0;
  for (int64_t bi = 0; bi < p->b; bi++) {
    if (!windowed && (p->mask == ATTN_MASK_NONE || p->mask == ATTN_MASK_PAD)) {
      pairs += (double)p->lq * (double)(p->mask == ATTN_MASK_PAD ? lens[bi] : p->lk);
      continue;
    }
    for (int64_t i = 0; i < p->lq; i++) pairs += row_pairs(p, lens, bi, i);
  }
  return pairs * (double)p->h;
}

/* FLOPs per visible pair of the score: a dot product of length d, or for
 * additive the add, the tanh (counted as one) and the multiply-add by u per
 * unit of da. */
static double score_pair_flops(const attn_problem *p) {
  return p->score == ATTN_SCORE_ADDITIVE ? 3.0 * (double)p->da : 2.0 * (double)p->d;
}

/* FLOPs of a score's or a mode's work per query row or per key, independent
 * of the pairs: the fold Q W, the norms, the projections W1 K and W2 Q, and
 * local-p's Wp Q for the centres. */
static double fixed_flops(const attn_problem *p) {
  const double rows = (double)(p->b * p->h) * (double)p->lq, keys = (double)(p->b * p->hkv) * (double)p->lk;
  const double d = (double)p->d, da = (double)p->da;
  double f = 0;
  if (p->score == ATTN_SCORE_GENERAL) f += 2 * rows * d * d;
  if (p->score == ATTN_SCORE_COSINE) f += 3 * (rows + keys) * d;
  if (p->score == ATTN_SCORE_ADDITIVE) f += 2 * (keys + rows) * da * d;
  if (p->mode == ATTN_MODE_LOCAL_P) f += 2 * rows * da * d;
  return f;
}

double attn_flops(const attn_problem *p, const int32_t *lens) {
  const double pairs = attn_visible_pairs(p, lens);
  const double pv = p->mode == ATTN_MODE_HARD ? 0 : 2.0 * (double)p->dv; /* hard copies one value row */
  return (score_pair_flops(p) + pv) * pairs + fixed_flops(p) + attn_projection_flops(p);
}

double attn_tanh_evals(const attn_problem *p, const int32_t *lens) {
  return p->score == ATTN_SCORE_ADDITIVE ? (double)p->da * attn_visible_pairs(p, lens) : 0;
}

double attn_projection_flops(const attn_problem *p) {
  if (p->op != ATTN_OP_MHA) return 0;
  const double b = (double)p->b, dm = (double)p->dm, hd = (double)(p->h * p->d), hdv = (double)(p->h * p->dv);
  const double kv = (double)p->hkv * (double)(p->d + p->dv);
  return 2 * b * (double)p->lq * dm * hd + 2 * b * (double)p->lk * dm * kv + 2 * b * (double)p->lq * hdv * dm;
}
