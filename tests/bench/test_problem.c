/* The problem string: round trips, defaults, and a clear error for each kind
 * of malformed input. */
#include <criterion/criterion.h>
#include <string.h>

#include "attnbench/problem.h"
#include "harness.h"

static attn_problem parse_ok(const char *s) {
  attn_problem p;
  char err[ERRLEN] = "";
  cr_assert_eq(attn_problem_parse(s, &p, err, sizeof err), ATTN_OK, "%s: %s", s, err);
  return p;
}

Test(problem, defaults) {
  attn_problem p = parse_ok("h=16,lq=1024,d=128");
  cr_expect_eq(p.b, 1);
  cr_expect_eq(p.hkv, 16);
  cr_expect_eq(p.lk, 1024);
  cr_expect_eq(p.dv, 128);
  cr_expect_eq(p.mask, ATTN_MASK_NONE);
  cr_expect_float_eq(attn_scale(&p), 1.0f / 11.3137085f, 1e-7f);
}

Test(problem, canonical_string) {
  char s[ATTN_PROBLEM_STRLEN];
  attn_problem p = parse_ok("mask=causal,d=128,h=16,hkv=4,lq=1024");
  cr_expect_str_eq(attn_problem_format(&p, s, sizeof s),
                   "b=1,h=16,hkv=4,lq=1024,lk=1024,d=128,dv=128,mask=causal");
}

/* parse(format(p)) == p over every problem of the full suite, and a few more. */
Test(problem, round_trips) {
  strlist all = {0};
  cr_assert_eq(strlist_push_lines(&all, bench_suite_text("full")), 0);
  strlist_push(&all, "b=3,h=2,lq=5,lk=9,d=4,mask=pad,lens=0:9:1,scale=0.333333343,seed=18446744073709551615");
  strlist_push(&all, "h=1,lq=1,d=1,scale=-1e-30,fill=dominant");
  cr_assert_gt(all.n, 100);
  for (size_t i = 0; i < all.n; i++) {
    attn_problem p = parse_ok(all.items[i]), q;
    char s[ATTN_PROBLEM_STRLEN], t[ATTN_PROBLEM_STRLEN], err[ERRLEN];
    attn_problem_format(&p, s, sizeof s);
    cr_assert_eq(attn_problem_parse(s, &q, err, sizeof err), ATTN_OK, "%s", err);
    cr_expect_eq(memcmp(&p, &q, sizeof p), 0, "%s does not round-trip", all.items[i]);
    cr_expect_str_eq(attn_problem_format(&q, t, sizeof t), s);
  }
  strlist_free(&all);
}

/* Each malformed string fails with the status and a message naming the key. */
static void expect_error(const char *s, attn_status st, const char *needle) {
  attn_problem p;
  char err[ERRLEN] = "";
  cr_expect_eq(attn_problem_parse(s, &p, err, sizeof err), st, "'%s' was accepted", s);
  cr_expect(strstr(err, needle) != NULL, "'%s': message '%s' lacks '%s'", s, err, needle);
  cr_expect(strchr(err, '\n') == NULL, "message is not one line");
}

Test(problem, errors_name_the_offending_key) {
  expect_error("", ATTN_EINVAL, "empty");
  expect_error("h=1,lq=2", ATTN_EINVAL, "'d' is required");
  expect_error("lq=2,d=4", ATTN_EINVAL, "'h' is required");
  expect_error("h=1,lq=2,d=4,foo=3", ATTN_EINVAL, "unknown key 'foo'");
  expect_error("h=abc,lq=2,d=4", ATTN_EINVAL, "'h'");
  expect_error("h=1,lq=2x,d=4", ATTN_EINVAL, "'lq'");
  expect_error("h=1,lq=2,d=0", ATTN_EINVAL, "'d'");
  expect_error("h=1,lq=-5,d=4", ATTN_EINVAL, "'lq'");
  expect_error("h=4,hkv=3,lq=2,d=4", ATTN_EINVAL, "'hkv'");
  expect_error("h=1,lq=2,d=4,mask=diagonal", ATTN_EINVAL, "'mask'");
  expect_error("h=1,lq=2,d=4,scale=nan", ATTN_EINVAL, "'scale'");
  expect_error("h=1,lq=2,d=4,h=2", ATTN_EINVAL, "given twice");
  expect_error("h=1,,lq=2,d=4", ATTN_EINVAL, "empty item");
  expect_error("h=1,lq", ATTN_EINVAL, "key=value");
  expect_error("b=2,h=1,lq=2,d=4,mask=pad,lens=1", ATTN_EINVAL, "'lens'");
  expect_error("h=1,lq=2,d=4,lens=1", ATTN_EINVAL, "'lens'");
  expect_error("h=1,lq=2,d=4,mask=pad,lens=3", ATTN_EINVAL, "exceeds lk");
  expect_error("h=1,lq=99999999999999999999,d=4", ATTN_EINVAL, "'lq'");
  expect_error("h=100000,lq=100000000,d=100000000", ATTN_ENOMEM, "too large to address");
}

Test(problem, decode_keys) {
  char s[ATTN_PROBLEM_STRLEN];
  attn_problem p = parse_ok("op=decode,h=32,hkv=8,lk=1024,steps=64,d=128");
  cr_expect_eq(p.op, ATTN_OP_DECODE);
  cr_expect_eq(p.lq, 1);
  cr_expect_eq(p.steps, 64);
  cr_expect_str_eq(attn_problem_format(&p, s, sizeof s),
                   "op=decode,b=1,h=32,hkv=8,lq=1,lk=1024,steps=64,d=128,dv=128,mask=none");
  expect_error("op=decode,h=4,lk=8,d=16", ATTN_EINVAL, "'steps' is required");
  expect_error("op=decode,h=4,lq=2,steps=3,d=16", ATTN_EINVAL, "'lq'");
  expect_error("op=decode,h=4,steps=3,d=16,mask=causal", ATTN_EINVAL, "'mask'");
  expect_error("h=4,lq=2,steps=3,d=16", ATTN_EINVAL, "only meaningful with op=decode");
  expect_error("op=prefill,h=4,lq=2,d=16", ATTN_EINVAL, "'op'");
}

Test(problem, han_keys) {
  char s[ATTN_PROBLEM_STRLEN];
  attn_problem p = parse_ok("da=10,op=han,t=7,b=2,s=5,d=16,pad=1");
  cr_expect_eq(p.op, ATTN_OP_HAN);
  cr_expect_eq(p.sents, 5);
  cr_expect_eq(p.words, 7);
  cr_expect_eq(p.da, 10);
  cr_expect_str_eq(attn_problem_format(&p, s, sizeof s), "op=han,b=2,s=5,t=7,d=16,da=10,pad=1");
  const char *refused[] = {"h=2", "hkv=1", "lq=1", "lk=7", "dv=16", "scale=1", "mask=pad", "steps=2"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    char str[128], key[16];
    snprintf(str, sizeof str, "op=han,b=2,s=5,t=7,d=16,da=10,%s", refused[i]);
    snprintf(key, sizeof key, "'%.*s'", (int)strcspn(refused[i], "="), refused[i]);
    expect_error(str, ATTN_EINVAL, key);
  }
  expect_error("op=han,s=5,t=7,d=16", ATTN_EINVAL, "'da' is required");
  expect_error("op=han,s=5,da=7,d=16", ATTN_EINVAL, "'t' is required");
  expect_error("op=han,s=5,t=7,da=3", ATTN_EINVAL, "'d' is required");
  expect_error("op=han,s=0,t=7,d=16,da=3", ATTN_EINVAL, "'s'");
  expect_error("op=han,s=2,t=7,d=16,da=3,pad=2", ATTN_EINVAL, "'pad'");
  expect_error("op=han,s=2,t=7,d=16,da=3,fill=large", ATTN_EINVAL, "fill=random only");
  expect_error("h=1,lq=2,d=4,s=3", ATTN_EINVAL, "only meaningful with op=han");
  expect_error("op=han,b=1000000,s=100000,t=100000,d=1000,da=3", ATTN_ENOMEM, "too large to address");
}

Test(problem, flops_count_visible_pairs_only) {
  attn_problem p = parse_ok("h=2,lq=4,lk=4,d=8,mask=causal-tl");
  cr_expect_eq(attn_visible_pairs(&p, NULL), 2.0 * (1 + 2 + 3 + 4));
  cr_expect_eq(attn_flops(&p, NULL), 2.0 * 16 * 20);
  p = parse_ok("h=1,lq=3,lk=5,d=8,mask=causal"); /* rows see 3, 4, 5 keys */
  cr_expect_eq(attn_visible_pairs(&p, NULL), 12.0);
  p = parse_ok("b=2,h=1,lq=3,lk=5,d=8,mask=pad,lens=0:4");
  const int32_t lens[] = {0, 4};
  cr_expect_eq(attn_visible_pairs(&p, lens), 12.0);
}
