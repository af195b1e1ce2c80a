/* libFuzzer target, differential: every backend this CPU runs against the
 * reference oracle, on small problems drawn from the input bytes. The bytes
 * choose b 1..2, h 1..4 with hkv a divisor of h, lq 1..17, lk 1..23, d and dv
 * 1..20, the mask (pad with per-batch lengths 0..lk), the fill, the seed,
 * 1 or 2 threads, sometimes a scale (+-1/8..8, against the default
 * 1/sqrt(d)), for attention a score and a mode (every one of each; local
 * windows 0 or 1 to lk + 2, da 1..12), and the op: attention, op=decode with 1..4 steps, op=mha
 * (model width 1..33, cross- or self-attention; fill random, its only one),
 * or op=han (s 1..4 sentences of t 1..6 words, da 1..12, pad 0 or 1; no
 * mask, scale or heads, which it refuses). The problem runs
 * through the in-process conformance check (bench_check_problem, as
 * `attnbench check` does); a backend may decline it, but a FAILED verdict is
 * a kernel bug: the case is printed and the target aborts. The sizes stay
 * small so that the odd shapes (tails of vector widths and blocks, empty
 * rows, grouped heads) come up often and each run takes milliseconds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/problem.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct bytes {
  const uint8_t *data;
  size_t size, at;
} bytes;

/* The next byte, 0 once the input is used up. */
static unsigned next(bytes *in) { return in->at < in->size ? in->data[in->at++] : 0; }

/* A value in lo..hi. */
static int pick(bytes *in, int lo, int hi) { return lo + (int)(next(in) % (unsigned)(hi - lo + 1)); }

static void make_problem(bytes *in, char *s, size_t n, int *threads) {
  static const char *const masks[] = {"none", "causal", "causal-tl", "pad"};
  static const char *const fills[] = {"random", "large", "same-keys", "const-v", "dominant", "huge-v"};
  static const char *const scores[] = {"scaled", "dot", "general", "additive", "cosine"};
  static const char *const modes[] = {"soft", "hard", "local-m", "local-p"};
  /* A first byte of 0 mod 4 is op=decode, as before op=mha and op=han were
   * drawn, so that the committed corpus keeps its decode cases. */
  const unsigned kind = next(in) % 8;
  const int decode = kind % 4 == 0, mha = kind == 1, han = kind == 2;
  if (han) {
    const int b = pick(in, 1, 2), sents = pick(in, 1, 4), words = pick(in, 1, 6), d = pick(in, 1, 20);
    const int da = pick(in, 1, 12), pad = (int)(next(in) % 2);
    const unsigned seed = next(in) | next(in) << 8;
    *threads = pick(in, 1, 2);
    snprintf(s, n, "op=han,b=%d,s=%d,t=%d,d=%d,da=%d,pad=%d,seed=%u", b, sents, words, d, da, pad, seed);
    return;
  }
  const int b = pick(in, 1, 2), h = pick(in, 1, 4);
  int divisors[4], nd = 0;
  for (int k = 1; k <= h; k++)
    if (h % k == 0) divisors[nd++] = k;
  const int hkv = divisors[next(in) % (unsigned)nd];
  const int lq = pick(in, 1, 17), d = pick(in, 1, 20), dv = pick(in, 1, 20);
  /* Self-attention reads X_kv from X_q: lk is lq. */
  const int self = mha && next(in) % 2, lk = self ? lq : pick(in, 1, 23);
  const int mask = decode ? 0 : (int)(next(in) % 4), fill = mha ? 0 : (int)(next(in) % 6);
  const unsigned seed = next(in) | next(in) << 8;
  *threads = pick(in, 1, 2);
  size_t at = 0;
  if (decode)
    at += (size_t)snprintf(s + at, n - at, "op=decode,b=%d,h=%d,hkv=%d,lk=%d,steps=%d", b, h, hkv, lk,
                           pick(in, 1, 4));
  else if (mha)
    at += (size_t)snprintf(s + at, n - at, "op=mha,b=%d,h=%d,hkv=%d,lq=%d,lk=%d,dm=%d%s", b, h, hkv, lq, lk,
                           pick(in, 1, 33), self ? ",self=1" : "");
  else
    at += (size_t)snprintf(s + at, n - at, "b=%d,h=%d,hkv=%d,lq=%d,lk=%d", b, h, hkv, lq, lk);
  at += (size_t)snprintf(s + at, n - at, ",d=%d,dv=%d,mask=%s,fill=%s,seed=%u", d, dv, masks[mask],
                         fills[fill], seed);
  /* A quarter of the cases: a scale of either sign, 1/8 to 8 in eighths. */
  char scale[32] = "";
  if (next(in) % 4 == 0)
    snprintf(scale, sizeof scale, ",scale=%s%g", next(in) % 2 ? "-" : "", (1 + next(in) % 64) / 8.0);
  if (mask == 3)
    for (int i = 0; i < b; i++)
      at += (size_t)snprintf(s + at, n - at, "%s%d", i ? ":" : ",lens=", pick(in, 0, lk));
  /* op=attn: a score and a mode (windows from 0 past lk, da for the weights
   * that have it); additive takes no scale. The bytes come last so that
   * the corpus's earlier cases keep their shapes. */
  const int score = decode || mha ? 0 : (int)(next(in) % 5), mode = decode || mha ? 0 : (int)(next(in) % 4);
  if (score != 3) at += (size_t)snprintf(s + at, n - at, "%s", scale);
  if (score) at += (size_t)snprintf(s + at, n - at, ",score=%s", scores[score]);
  if (mode) at += (size_t)snprintf(s + at, n - at, ",mode=%s", modes[mode]);
  if (mode >= 2) at += (size_t)snprintf(s + at, n - at, ",window=%d", pick(in, mode == 3, lk + 2));
  if (score == 3 || mode == 3) snprintf(s + at, n - at, ",da=%d", pick(in, 1, 12));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const attn_backend *bes[64];
  static int nbe = -1;
  static FILE *sink;
  if (nbe < 0) {
    nbe = 0;
    for (size_t i = 0; i < attn_backend_count() && nbe < 64; i++)
      if (attn_backend_get(i)->available()) bes[nbe++] = attn_backend_get(i);
    if (nbe == 0 || !(sink = fopen("/dev/null", "w"))) abort();
  }
  bytes in = {data, size, 0};
  char s[ATTN_PROBLEM_STRLEN], err[ERRLEN];
  int threads;
  make_problem(&in, s, sizeof s, &threads);
  attn_problem p;
  if (attn_problem_parse(s, &p, err, sizeof err) != ATTN_OK) {
    fprintf(stderr, "the target made a problem that does not parse: %s: %s\n", s, err);
    abort();
  }
  check_tally tally = {0};
  if (bench_check_problem(s, bes, nbe, threads, sink, &tally)) {
    fprintf(stderr, "cannot set up %s\n", s);
    abort();
  }
  if (tally.passed + tally.failed + tally.skipped + tally.mistrusted != nbe) {
    fprintf(stderr, "%d verdicts for %d backends on %s\n",
            tally.passed + tally.failed + tally.skipped + tally.mistrusted, nbe, s);
    abort();
  }
  if (tally.failed) {
    /* Again, printing the verdicts: which backend failed, and how. */
    fprintf(stderr, "FAILED on %s (threads %d):\n", s, threads);
    check_tally again = {0};
    bench_check_problem(s, bes, nbe, threads, stderr, &again);
    abort();
  }
  return 0;
}
