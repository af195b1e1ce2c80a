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

Test(problem, seq2seq_keys_and_defaults) {
  char s[ATTN_PROBLEM_STRLEN];
  attn_problem p = parse_ok("h=2,lq=5,d=8");
  cr_expect_eq(p.score, ATTN_SCORE_SCALED);
  cr_expect_eq(p.mode, ATTN_MODE_SOFT);
  cr_expect_eq(p.window, 0);
  cr_expect_eq(p.da, 0);
  /* Defaults are omitted, given or not. */
  p = parse_ok("h=2,lq=5,d=8,score=scaled,mode=soft");
  cr_expect_str_eq(attn_problem_format(&p, s, sizeof s), "b=1,h=2,hkv=2,lq=5,lk=5,d=8,dv=8,mask=none");
  /* da defaults to d and is printed for additive and local-p. */
  p = parse_ok("mode=local-p,window=3,score=additive,h=2,lq=5,d=8");
  cr_expect_eq(p.score, ATTN_SCORE_ADDITIVE);
  cr_expect_eq(p.mode, ATTN_MODE_LOCAL_P);
  cr_expect_eq(p.window, 3);
  cr_expect_eq(p.da, 8);
  cr_expect_str_eq(attn_problem_format(&p, s, sizeof s),
                   "b=1,h=2,hkv=2,lq=5,lk=5,d=8,dv=8,da=8,score=additive,mask=none,mode=local-p,window=3");
  p = parse_ok("h=2,lq=5,d=8,mode=local-m,window=0,score=general,scale=2");
  cr_expect_eq(p.da, 0);
  cr_expect_float_eq(attn_scale(&p), 2.0f, 0);
  cr_expect_str_eq(attn_problem_format(&p, s, sizeof s),
                   "b=1,h=2,hkv=2,lq=5,lk=5,d=8,dv=8,score=general,scale=2,mask=none,mode=local-m,window=0");
  /* The default scale of each score. */
  const char *const scores[] = {"scaled", "dot", "general", "additive", "cosine"};
  const float want[] = {1 / 2.82842712f, 1, 1, 1, 1};
  for (int i = 0; i < 5; i++) {
    char str[64];
    snprintf(str, sizeof str, "h=1,lq=2,d=8,score=%s", scores[i]);
    p = parse_ok(str);
    cr_expect_eq(p.score, (attn_score)i, "%s", str);
    cr_expect_float_eq(attn_scale(&p), want[i], 1e-7f, "%s", str);
  }
}

/* Every score against every mode, with and without da and masks: each
 * parses, prints canonically, and reads back as itself. */
Test(problem, seq2seq_round_trips) {
  const char *const scores[] = {"scaled", "dot", "general", "additive", "cosine"};
  const char *const modes[] = {"soft",
                               "hard",
                               "local-m,window=0",
                               "local-m,window=1099511627776",
                               "local-p,window=1",
                               "local-p,window=7"};
  const char *const extras[] = {"", ",da=3", ",mask=pad,lens=2:0,b=2", ",seed=5,fill=const-v,mask=causal"};
  int n = 0;
  for (int a = 0; a < 5; a++)
    for (int m = 0; m < 6; m++)
      for (int e = 0; e < 4; e++) {
        char str[256], s[ATTN_PROBLEM_STRLEN], t[ATTN_PROBLEM_STRLEN], err[ERRLEN] = "";
        snprintf(str, sizeof str, "h=4,hkv=2,lq=3,lk=9,d=5,dv=2,score=%s,mode=%s%s", scores[a], modes[m],
                 extras[e]);
        attn_problem p, q;
        const int da_ok = a == 3 || m >= 4;
        if (!strcmp(extras[e], ",da=3") && !da_ok) {
          cr_expect_eq(attn_problem_parse(str, &p, err, sizeof err), ATTN_EINVAL, "%s was accepted", str);
          continue;
        }
        p = parse_ok(str);
        cr_expect_eq(p.da, da_ok ? (e == 1 ? 3 : 5) : 0, "%s", str);
        attn_problem_format(&p, s, sizeof s);
        cr_assert_eq(attn_problem_parse(s, &q, err, sizeof err), ATTN_OK, "%s: %s", s, err);
        cr_expect_eq(memcmp(&p, &q, sizeof p), 0, "%s does not round-trip", str);
        cr_expect_str_eq(attn_problem_format(&q, t, sizeof t), s);
        n++;
      }
  cr_expect_eq(n, 5 * 6 * 4 - 4 * 4); /* da=3 is refused for 4 scores x 4 modes */
}

Test(problem, seq2seq_rejections) {
  const char *base = "h=2,lq=5,d=8";
  const struct {
    const char *extra;
    attn_status st;
    const char *needle;
  } cases[] = {
      {",score=bahdanau", ATTN_EINVAL, "problem key 'score': 'bahdanau' is not scaled, dot, general"},
      {",score=", ATTN_EINVAL, "'score'"},
      {",mode=global", ATTN_EINVAL, "problem key 'mode': 'global' is not soft, hard"},
      {",mode=local-m", ATTN_EINVAL, "mode=local-m needs window=D"},
      {",mode=local-p", ATTN_EINVAL, "mode=local-p needs window=D"},
      {",window=3", ATTN_EINVAL, "'window': only meaningful with mode=local-m or mode=local-p"},
      {",window=0", ATTN_EINVAL, "'window': only meaningful with mode=local-m or mode=local-p"},
      {",mode=hard,window=2", ATTN_EINVAL, "'window': only meaningful"},
      {",mode=local-p,window=0", ATTN_EINVAL, "local-p needs window >= 1 (sigma = window/2)"},
      {",mode=local-m,window=-1", ATTN_EINVAL, "'window'"},
      {",mode=local-m,window=1099511627777", ATTN_EINVAL, "'window'"},
      {",mode=local-m,window=2x", ATTN_EINVAL, "'window'"},
      {",score=additive,scale=0.5", ATTN_EINVAL, "scale= does not apply to score=additive"},
      {",da=4", ATTN_EINVAL,
       "'da': only meaningful with op=han, or op=attn with score=additive or mode=local-p"},
      {",score=general,da=4", ATTN_EINVAL, "'da': only meaningful"},
      {",mode=local-m,window=2,da=4", ATTN_EINVAL, "'da': only meaningful"},
      {",score=additive,da=0", ATTN_EINVAL, "'da'"},
      {",score=dot,score=dot", ATTN_EINVAL, "given twice"},
      {",mode=local-m,window=1,window=2", ATTN_EINVAL, "given twice"},
      {",score=additive,da=1152921504606846976", ATTN_ENOMEM, "too large to address"},
      {",mode=local-p,window=2,da=4611686018427387904", ATTN_ENOMEM, "too large to address"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char str[256];
    snprintf(str, sizeof str, "%s%s", base, cases[i].extra);
    expect_error(str, cases[i].st, cases[i].needle);
  }
  expect_error("h=1,lq=5,d=2000000000,score=general", ATTN_ENOMEM, "too large to address");
  /* score, mode and window are op=attn's. */
  expect_error("op=decode,h=2,lk=4,steps=3,d=8,score=dot", ATTN_EINVAL,
               "'score': only meaningful with op=attn");
  expect_error("op=decode,h=2,lk=4,steps=3,d=8,mode=hard", ATTN_EINVAL,
               "'mode': only meaningful with op=attn");
  expect_error("op=decode,h=2,lk=4,steps=3,d=8,mode=local-m,window=2", ATTN_EINVAL,
               "'mode': only meaningful with op=attn");
  expect_error("op=mha,h=2,lq=4,d=8,dm=16,score=general", ATTN_EINVAL,
               "'score': only meaningful with op=attn");
  expect_error("op=han,s=2,t=3,d=4,da=5,score=cosine", ATTN_EINVAL, "'score': only meaningful with op=attn");
  expect_error("op=han,s=2,t=3,d=4,da=5,window=1", ATTN_EINVAL, "'window'");
  /* The defaults stay accepted for every op. */
  parse_ok("op=decode,h=2,lk=4,steps=3,d=8,score=scaled,mode=soft");
  /* A descriptor built by hand is held to the same rules. */
  attn_problem p = parse_ok("h=2,lq=5,d=8,score=additive");
  char err[ERRLEN] = "";
  p.da = 0;
  cr_expect_eq(attn_problem_validate(&p, err, sizeof err), ATTN_EINVAL);
  p = parse_ok("h=2,lq=5,d=8");
  p.window = 3;
  cr_expect_eq(attn_problem_validate(&p, err, sizeof err), ATTN_EINVAL);
  cr_expect(strstr(err, "'window'") != NULL, "%s", err);
  p = parse_ok("h=2,lq=5,d=8");
  p.mode = (attn_mode)9;
  cr_expect_eq(attn_problem_validate(&p, err, sizeof err), ATTN_EINVAL);
}

Test(problem, seq2seq_weight_counts) {
  attn_problem p = parse_ok("h=2,lq=5,d=8");
  cr_expect_eq(
      attn_w_elems(&p) + attn_wa_elems(&p) + attn_u_elems(&p) + attn_wp_elems(&p) + attn_vp_elems(&p), 0);
  p = parse_ok("h=2,lq=5,d=8,score=general");
  cr_expect_eq(attn_w_elems(&p), 64);
  cr_expect_eq(attn_wa_elems(&p) + attn_wp_elems(&p), 0);
  p = parse_ok("h=2,lq=5,d=8,da=3,score=additive");
  cr_expect_eq(attn_wa_elems(&p), 24);
  cr_expect_eq(attn_u_elems(&p), 3);
  cr_expect_eq(attn_w_elems(&p) + attn_wp_elems(&p) + attn_vp_elems(&p), 0);
  p = parse_ok("h=2,lq=5,d=8,da=3,mode=local-p,window=1");
  cr_expect_eq(attn_wp_elems(&p), 24);
  cr_expect_eq(attn_vp_elems(&p), 3);
  cr_expect_eq(attn_w_elems(&p) + attn_wa_elems(&p) + attn_u_elems(&p), 0);
}

Test(problem, seq2seq_flops) {
  /* lq=lk=6, d=4, dv=2, h=1: 36 pairs without mask. */
  attn_problem p = parse_ok("h=1,lq=6,d=4,dv=2");
  cr_expect_eq(attn_flops(&p, NULL), 36.0 * 2 * 6);
  cr_expect_eq(attn_tanh_evals(&p, NULL), 0);
  p = parse_ok("h=1,lq=6,d=4,dv=2,score=general");
  cr_expect_eq(attn_flops(&p, NULL), 36.0 * 2 * 6 + 2.0 * 6 * 4 * 4);
  p = parse_ok("h=1,lq=6,d=4,dv=2,score=cosine");
  cr_expect_eq(attn_flops(&p, NULL), 36.0 * 2 * 6 + 3.0 * (6 * 4 + 6 * 4));
  p = parse_ok("h=1,lq=6,d=4,dv=2,da=3,score=additive");
  cr_expect_eq(attn_flops(&p, NULL), 2.0 * 6 * 3 * 4 * 2 + 36.0 * (3 * 3 + 2 * 2));
  cr_expect_eq(attn_tanh_evals(&p, NULL), 36.0 * 3);
  p = parse_ok("h=1,lq=6,d=4,dv=2,mode=hard");
  cr_expect_eq(attn_flops(&p, NULL), 36.0 * 2 * 4);
  /* local-m, window 1: rows see 2, 3, 3, 3, 3, 2 keys; with causal 1, 2, 2, 2, 2, 2. */
  p = parse_ok("h=1,lq=6,d=4,dv=2,mode=local-m,window=1");
  cr_expect_eq(attn_visible_pairs(&p, NULL), 16.0);
  cr_expect_eq(attn_flops(&p, NULL), 16.0 * 2 * 6);
  p = parse_ok("h=1,lq=6,d=4,dv=2,mode=local-m,window=1,mask=causal");
  cr_expect_eq(attn_visible_pairs(&p, NULL), 11.0);
  /* lq < lk: the centres sit at the last lq keys (lk - lq = 4). Window 0: one key each. */
  p = parse_ok("h=2,lq=2,lk=6,d=4,mode=local-m,window=0");
  cr_expect_eq(attn_visible_pairs(&p, NULL), 4.0);
  p = parse_ok("b=2,h=1,lq=6,d=4,mode=local-m,window=100,mask=pad,lens=0:4");
  const int32_t lens[] = {0, 4};
  cr_expect_eq(attn_visible_pairs(&p, lens), 24.0);
  /* local-p: at most 2*window+1 keys per row, plus the centres' Wp Q. */
  p = parse_ok("h=1,lq=6,d=4,dv=2,da=3,mode=local-p,window=1");
  cr_expect_eq(attn_visible_pairs(&p, NULL), 18.0);
  cr_expect_eq(attn_flops(&p, NULL), 18.0 * 2 * 6 + 2.0 * 6 * 3 * 4);
  p = parse_ok("h=1,lq=6,d=4,dv=2,da=3,mode=local-p,window=1,mask=causal-tl");
  cr_expect_eq(attn_visible_pairs(&p, NULL), 1.0 + 2 + 3 + 3 + 3 + 3);
  /* additive with hard and local-p: tanh over the counted pairs, no P.V for hard. */
  p = parse_ok("h=1,lq=6,d=4,dv=2,da=3,score=additive,mode=hard");
  cr_expect_eq(attn_flops(&p, NULL), 2.0 * 6 * 3 * 4 * 2 + 36.0 * 3 * 3);
  p = parse_ok("h=1,lq=6,d=4,dv=2,da=3,score=additive,mode=local-p,window=1");
  cr_expect_eq(attn_tanh_evals(&p, NULL), 18.0 * 3);
}

/* One home for "a message quoting outside input stays one printable line":
 * C0 controls, DEL and UTF-8 C1 controls go; other UTF-8 stays. */
Test(problem, printable_line) {
  char s[] = "a\nb\x1b[2Jc\x7f"
             "d\xc2\x9b"
             "e\xc3\xa9\tf";
  attn_printable_line(s);
  cr_expect_str_eq(s, "a?b?[2Jc?d??e\xc3\xa9?f");
  char err[64];
  attn_problem p;
  cr_expect_neq(attn_problem_parse("h=1,lq=2,d=4,mask=\xc2\x9b", &p, err, sizeof err), ATTN_OK);
  cr_expect(!strstr(err, "\xc2\x9b"), "a C1 control reached the message: %s", err);
}
