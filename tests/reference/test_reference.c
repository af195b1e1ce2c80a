/* The oracle on small cases whose answers are computed by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "attnbench/problem.h"
#include "attnbench/reference.h"

/* Runs the oracle on explicit inputs and returns its output (caller frees o). */
static void oracle(const char *pstr, const float *q, const float *k, const float *v, const int32_t *lens,
                   attn_oracle *o) {
  attn_problem p;
  char err[256];
  cr_assert_eq(attn_problem_parse(pstr, &p, err, sizeof err), ATTN_OK, "%s", err);
  attn_tensors t = {.q = q, .k = k, .v = v, .lens = lens, .o = NULL};
  cr_assert_eq(attn_oracle_compute(&p, &t, o), ATTN_OK);
}

#define EXPECT(got, want)                                                                                    \
  cr_expect(fabs((got) - (want)) <= 1e-15 * fmax(1, fabs(want)), "got %.17g want %.17g", (got), (want))

Test(reference, single_key_returns_its_value) {
  const float q[] = {0.3f}, k[] = {-2.0f}, v[] = {1.5f, -7.0f};
  attn_oracle o;
  oracle("h=1,lq=1,d=1,dv=2", q, k, v, NULL, &o);
  EXPECT(o.out[0], 1.5);
  EXPECT(o.out[1], -7.0);
  attn_oracle_free(&o);
}

Test(reference, two_keys_weigh_by_logistic) {
  /* s = (0, 1) with scale 1: weights 1/(1+e), e/(1+e); v = (0, 1). */
  const float q[] = {1}, k[] = {0, 1}, v[] = {0, 1};
  attn_oracle o;
  oracle("h=1,lq=1,lk=2,d=1,scale=1", q, k, v, NULL, &o);
  EXPECT(o.out[0], exp(1.0) / (1 + exp(1.0)));
  attn_oracle_free(&o);
}

Test(reference, default_scale_is_inverse_sqrt_d) {
  /* d=4: s1 = (1,1,1,1).(1,1,1,1) / 2 = 2, s0 = 0. */
  const float q[] = {1, 1, 1, 1}, k[] = {0, 0, 0, 0, 1, 1, 1, 1}, v[] = {0, 1};
  attn_oracle o;
  oracle("h=1,lq=1,lk=2,d=4,dv=1", q, k, v, NULL, &o);
  EXPECT(o.out[0], exp(2.0) / (1 + exp(2.0)));
  attn_oracle_free(&o);
}

Test(reference, equal_scores_average_the_values) {
  const float q[] = {2}, k[] = {1, 1, 1, 1}, v[] = {1, 2, 3, 4};
  attn_oracle o;
  oracle("h=1,lq=1,lk=4,d=1", q, k, v, NULL, &o);
  EXPECT(o.out[0], 2.5);
  attn_oracle_free(&o);
}

Test(reference, causal_bottom_right_and_top_left) {
  /* Zero queries: uniform weights over whatever each row sees. */
  const float q[] = {0, 0}, k[] = {1, 2, 3}, v[] = {3, 6, 9};
  attn_oracle o;
  oracle("h=1,lq=2,lk=3,d=1,mask=causal", q, k, v, NULL, &o); /* row 0 sees 0..1, row 1 sees 0..2 */
  EXPECT(o.out[0], 4.5);
  EXPECT(o.out[1], 6.0);
  attn_oracle_free(&o);
  oracle("h=1,lq=2,lk=3,d=1,mask=causal-tl", q, k, v, NULL, &o); /* row 0 sees 0, row 1 sees 0..1 */
  EXPECT(o.out[0], 3.0);
  EXPECT(o.out[1], 4.5);
  attn_oracle_free(&o);
}

Test(reference, causal_with_more_queries_than_keys_leaves_rows_empty) {
  /* lq=3, lk=1, bottom-right: row i sees j <= i - 2, so rows 0 and 1 see nothing. */
  const float q[] = {1, 1, 1}, k[] = {1}, v[] = {5};
  attn_oracle o;
  oracle("h=1,lq=3,lk=1,d=1,mask=causal", q, k, v, NULL, &o);
  EXPECT(o.out[0], 0.0);
  EXPECT(o.out[1], 0.0);
  EXPECT(o.out[2], 5.0);
  cr_expect_eq(o.nvis[0], 0);
  cr_expect_eq(o.nvis[2], 1);
  attn_oracle_free(&o);
}

Test(reference, padding_lengths_including_zero) {
  const float q[] = {0, 0}, k[] = {1, 1, 1, 1, 1, 1}, v[] = {1, 2, 3, 10, 20, 30};
  const int32_t lens[] = {0, 2};
  attn_oracle o;
  oracle("b=2,h=1,lq=1,lk=3,d=1,mask=pad,lens=0:2", q, k, v, lens, &o);
  EXPECT(o.out[0], 0.0);
  EXPECT(o.out[1], 15.0);
  attn_oracle_free(&o);
}

Test(reference, grouped_query_heads_share_kv_heads) {
  /* h=4, hkv=2: heads 0,1 read kv head 0 (values 1), heads 2,3 kv head 1 (values 2). */
  const float q[] = {1, 1, 1, 1}, k[] = {0, 0, 0, 0}, v[] = {1, 1, 2, 2};
  attn_oracle o;
  oracle("h=4,hkv=2,lq=1,lk=2,d=1", q, k, v, NULL, &o);
  EXPECT(o.out[0], 1.0);
  EXPECT(o.out[1], 1.0);
  EXPECT(o.out[2], 2.0);
  EXPECT(o.out[3], 2.0);
  attn_oracle_free(&o);
}

Test(reference, huge_logits_do_not_overflow) {
  /* s = (0, 1e5): the second key takes all the weight, exactly. */
  const float q[] = {1000}, k[] = {0, 100}, v[] = {-1, 4};
  attn_oracle o;
  oracle("h=1,lq=1,lk=2,d=1,scale=1", q, k, v, NULL, &o);
  EXPECT(o.out[0], 4.0);
  cr_expect_eq(o.range[0], 1e5);
  attn_oracle_free(&o);
}

Test(reference, sampled_rows_match_the_full_oracle) {
  attn_problem p;
  char err[256];
  cr_assert_eq(attn_problem_parse("b=2,h=3,lq=9,lk=11,d=5,dv=3,mask=causal", &p, err, sizeof err), ATTN_OK);
  float q[2 * 3 * 9 * 5], k[2 * 3 * 11 * 5], v[2 * 3 * 11 * 3];
  attn_fill_inputs(&p, q, k, v, NULL);
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle all, some;
  const int64_t rows[] = {0, 17, 53};
  cr_assert_eq(attn_oracle_compute(&p, &t, &all), ATTN_OK);
  cr_assert_eq(attn_oracle_compute_rows(&p, &t, rows, 3, &some), ATTN_OK);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) cr_expect_eq(some.out[r * 3 + c], all.out[rows[r] * 3 + c]);
  attn_oracle_free(&all);
  attn_oracle_free(&some);
}

Test(tolerance, bound_is_zero_for_empty_rows_and_positive_otherwise) {
  const float q[] = {1, 1, 1}, k[] = {1}, v[] = {5};
  attn_oracle o;
  oracle("h=1,lq=3,lk=1,d=1,mask=causal", q, k, v, NULL, &o);
  const attn_accuracy acc = {.exp_rel_err = 0x1p-23, .key_block = 0};
  cr_expect_eq(attn_tolerance(&o, &acc, 0, 0), 0.0);
  cr_expect_gt(attn_tolerance(&o, &acc, 2, 0), 0.0);
  attn_oracle_free(&o);
}

Test(tolerance, bound_grows_with_exp_error_and_rescales) {
  const float q[] = {1}, k[] = {0, 1, 2, 3}, v[] = {1, 2, 3, 4};
  attn_oracle o;
  oracle("h=1,lq=1,lk=4,d=1", q, k, v, NULL, &o);
  const attn_accuracy exact = {.exp_rel_err = 0x1p-24}, rough = {.exp_rel_err = 0x1p-20},
                      online = {.exp_rel_err = 0x1p-24, .key_block = 1};
  cr_expect_lt(attn_tolerance(&o, &exact, 0, 0), attn_tolerance(&o, &rough, 0, 0));
  cr_expect_lt(attn_tolerance(&o, &exact, 0, 0), attn_tolerance(&o, &online, 0, 0));
  attn_oracle_free(&o);
}

Test(tolerance, a_one_ulp_nudge_passes_a_one_percent_error_fails) {
  const float q[] = {0.5f}, k[] = {0.25f, -1}, v[] = {1, 3};
  attn_oracle o;
  oracle("h=1,lq=1,lk=2,d=1", q, k, v, NULL, &o);
  const attn_accuracy acc = {.exp_rel_err = 0x1p-23};
  attn_compare c;
  float out = (float)o.out[0];
  attn_oracle_check(&o, &acc, &out, &c);
  cr_expect_eq(c.verdict, ATTN_PASSED);
  out = nextafterf(out, 10);
  attn_oracle_check(&o, &acc, &out, &c);
  cr_expect_eq(c.verdict, ATTN_PASSED, "ratio %g", c.max_ratio);
  out = (float)(o.out[0] * 1.01);
  attn_oracle_check(&o, &acc, &out, &c);
  cr_expect_eq(c.verdict, ATTN_FAILED);
  out = NAN;
  attn_oracle_check(&o, &acc, &out, &c);
  cr_expect_eq(c.verdict, ATTN_FAILED);
  cr_expect_eq(c.nonfinite, 1);
  attn_oracle_free(&o);
}

Test(fill, same_string_same_bits_and_seed_changes_them) {
  attn_problem p;
  char err[256];
  cr_assert_eq(attn_problem_parse("h=2,lq=5,d=3", &p, err, sizeof err), ATTN_OK);
  float a[30], b[30], kk[30], vv[30];
  attn_fill_inputs(&p, a, kk, vv, NULL);
  attn_fill_inputs(&p, b, kk, vv, NULL);
  cr_expect_eq(memcmp(a, b, sizeof a), 0);
  p.seed = 7;
  attn_fill_inputs(&p, b, kk, vv, NULL);
  cr_expect_neq(memcmp(a, b, sizeof a), 0);
  for (int i = 0; i < 30; i++) cr_expect(a[i] >= -1 && a[i] <= 1);
}

/* op=han's bias and tanh stage: libm's tanhf of the float sum passes on a
 * sweep of arguments from the linear region into saturation; a missing bias
 * and a skipped tanh each fail it. */
Test(han, bias_tanh_check_passes_tanhf_and_catches_missing_bias_and_tanh) {
  enum { M = 64, N = 9 };
  float g[M * N], bias[N], good[M * N], nobias[M * N], notanh[M * N];
  for (int c = 0; c < N; c++) bias[c] = 0.5f - (float)c / 8;
  for (int i = 0; i < M * N; i++) {
    g[i] = (float)((i * 37) % 401 - 200) / 40.0f; /* -5 .. 5 */
    good[i] = tanhf(g[i] + bias[i % N]);
    nobias[i] = tanhf(g[i]);
    notanh[i] = g[i] + bias[i % N];
  }
  attn_compare r;
  cr_assert_eq(attn_check_bias_tanh(M, N, g, bias, good, NULL, 0, &r), ATTN_OK);
  cr_expect_eq(r.verdict, ATTN_PASSED, "tanhf: ratio %g", r.max_ratio);
  cr_assert_eq(attn_check_bias_tanh(M, N, g, bias, nobias, NULL, 0, &r), ATTN_OK);
  cr_expect_eq(r.verdict, ATTN_FAILED, "a missing bias passed");
  cr_assert_eq(attn_check_bias_tanh(M, N, g, bias, notanh, NULL, 0, &r), ATTN_OK);
  cr_expect_eq(r.verdict, ATTN_FAILED, "a skipped tanh passed");
}

/* A GEMM against a weight stored [out][in]: the product passes, the weight
 * read the other way round fails. */
Test(han, gemm_against_a_transposed_weight) {
  enum { M = 5, N = 3, K = 4 };
  float a[M * K], w[N * K], good[M * N], wrong[M * N];
  for (int i = 0; i < M * K; i++) a[i] = (float)(i % 7) - 3;
  for (int i = 0; i < N * K; i++) w[i] = (float)(i % 5) / 4 - 0.5f;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0, t = 0;
      for (int k = 0; k < K; k++) {
        s += (double)a[i * K + k] * w[j * K + k];
        t += (double)a[i * K + k] * w[(k * N + j) % (N * K)];
      }
      good[i * N + j] = (float)s;
      wrong[i * N + j] = (float)t;
    }
  attn_compare r;
  cr_assert_eq(attn_check_gemm_wt(M, N, K, a, w, good, NULL, 0, &r), ATTN_OK);
  cr_expect_eq(r.verdict, ATTN_PASSED);
  cr_assert_eq(attn_check_gemm_wt(M, N, K, a, w, wrong, NULL, 0, &r), ATTN_OK);
  cr_expect_eq(r.verdict, ATTN_FAILED);
}

/* ---- the seq2seq scores and modes (attn.h), on inputs whose answers are
 * written down by hand; problems are built as structs, not parsed ---- */

static attn_problem seq2seq_problem(int64_t lq, int64_t lk, int64_t d, int64_t dv) {
  attn_problem p;
  attn_problem_init(&p);
  p.h = p.hkv = 1;
  p.lq = lq;
  p.lk = lk;
  p.d = d;
  p.dv = dv;
  return p;
}

static void oracle_of(const attn_problem *p, const attn_tensors *t, attn_oracle *o) {
  char err[256];
  cr_assert_eq(attn_problem_validate(p, err, sizeof err), ATTN_OK, "%s", err);
  cr_assert_eq(attn_oracle_compute(p, t, o), ATTN_OK);
}

/* sum_j exp(s_j) v_j / sum_j exp(s_j) over n scores. */
static double softmax_mean(const double *s, const double *v, int n) {
  double num = 0, den = 0;
  for (int j = 0; j < n; j++) {
    num += exp(s[j]) * v[j];
    den += exp(s[j]);
  }
  return num / den;
}

static const attn_accuracy libm_acc = {.exp_rel_err = 0x1p-23};

/* Checks a hand-made output row (dv = 1 or more) against the oracle. */
static attn_verdict verdict_of(const attn_oracle *o, const attn_accuracy *acc, const float *out) {
  attn_compare c;
  attn_oracle_check(o, acc, out, &c);
  return c.verdict;
}

Test(seq2seq, general_with_identity_is_dot_and_2i_doubles_the_scores) {
  /* s = (1, 1/2); keys (1,0), (0,1), (1,1): dot scores 1, 1/2, 3/2. */
  const float q[] = {1, 0.5f}, k[] = {1, 0, 0, 1, 1, 1}, v[] = {1, 2, 3};
  float w[] = {1, 0, 0, 1};
  attn_problem p = seq2seq_problem(1, 3, 2, 1);
  p.score = ATTN_SCORE_GENERAL;
  attn_tensors t = {.q = q, .k = k, .v = v, .w = w};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  const double s1[] = {1, 0.5, 1.5}, s2[] = {2, 1, 3}, vv[] = {1, 2, 3};
  EXPECT(o.out[0], softmax_mean(s1, vv, 3));
  attn_oracle_free(&o);
  w[0] = w[3] = 2;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], softmax_mean(s2, vv, 3));
  /* dscore = gamma(2d+2) max_j sum_ik |s_i W_ik h_jk|: key (1,1) gives 2 + 1 */
  EXPECT(o.dscore[0], 6 * 0x1p-24 / (1 - 6 * 0x1p-24) * 3);
  attn_oracle_free(&o);
}

Test(seq2seq, general_reads_w_as_s_transpose_w_h) {
  /* W = [[0, 1], [0, 0]]: e_j = s_0 h_j1. s = (1, 0), keys (1, 0), (0, 1):
   * e = (0, 1); W read transposed would give (0, 0). scale=2 doubles them. */
  const float q[] = {1, 0}, k[] = {1, 0, 0, 1}, v[] = {0, 1}, w[] = {0, 1, 0, 0};
  attn_problem p = seq2seq_problem(1, 2, 2, 1);
  p.score = ATTN_SCORE_GENERAL;
  p.scale = 2;
  attn_tensors t = {.q = q, .k = k, .v = v, .w = w};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], exp(2.0) / (1 + exp(2.0)));
  attn_oracle_free(&o);
}

/* da = 1, W1 = [1, 0], W2 = [0, 1], u = [1]: e_j = tanh(h_j0 + s_1). With
 * s_1 = 1/2 and h_j0 = 0.2, -0.5, 1: e = tanh(0.7), tanh(0), tanh(1.5). */
static void additive_example(attn_oracle *o) {
  static const float q[] = {0.3f, 0.5f}, k[] = {0.2f, 9, -0.5f, 9, 1, 9}, v[] = {1, 2, 3};
  static const float w1[] = {1, 0}, w2[] = {0, 1}, u[] = {1};
  attn_problem p = seq2seq_problem(1, 3, 2, 1);
  p.score = ATTN_SCORE_ADDITIVE;
  p.da = 1;
  const attn_tensors t = {.q = q, .k = k, .v = v, .w1 = w1, .w2 = w2, .u = u};
  oracle_of(&p, &t, o);
}

Test(seq2seq, additive_is_u_tanh_of_w1_h_plus_w2_s) {
  attn_oracle o;
  additive_example(&o);
  const double h0[] = {0.2f, -0.5f, 1}, vv[] = {1, 2, 3};
  double s[3], ds = 0;
  for (int j = 0; j < 3; j++) {
    s[j] = tanh(h0[j] + 0.5);
    /* |u| (gamma(d+1) (|W1 h_j| + |W2 s|) + gamma(da+1) |tanh x_j|) */
    const double g3 = 3 * 0x1p-24 / (1 - 3 * 0x1p-24), g2 = 2 * 0x1p-24 / (1 - 2 * 0x1p-24);
    ds = fmax(ds, g3 * (fabs(h0[j]) + 0.5) + g2 * fabs(s[j]));
  }
  EXPECT(o.out[0], softmax_mean(s, vv, 3));
  EXPECT(o.dscore[0], ds);
  EXPECT(o.dscore_tanh, 1 + 2 * 0x1p-24 / (1 - 2 * 0x1p-24)); /* |u| (1 + gamma(da+1)) */
  attn_oracle_free(&o);
}

Test(seq2seq, additive_weights_are_rejected_when_missing) {
  const float q[] = {0}, k[] = {0}, v[] = {0}, w[] = {1};
  attn_problem p = seq2seq_problem(1, 1, 1, 1);
  p.score = ATTN_SCORE_ADDITIVE;
  p.da = 1;
  attn_tensors t = {.q = q, .k = k, .v = v, .w1 = w, .w2 = w};
  attn_oracle o;
  cr_expect_eq(attn_oracle_compute(&p, &t, &o), ATTN_EINVAL, "u is NULL");
  p.score = ATTN_SCORE_GENERAL;
  p.da = 0;
  cr_expect_eq(attn_oracle_compute(&p, &t, &o), ATTN_EINVAL, "W is NULL");
  p.score = ATTN_SCORE_SCALED;
  p.mode = ATTN_MODE_LOCAL_P;
  p.window = 1;
  p.da = 1;
  t.wp = w;
  cr_expect_eq(attn_oracle_compute(&p, &t, &o), ATTN_EINVAL, "vp is NULL");
}

Test(seq2seq, cosine_parallel_antiparallel_orthogonal_and_zero) {
  /* s = (3, 4); keys (6, 8), (-3, -4), (0, 0), (4, -3): cosines 1, -1, 0
   * (the zero vector's rule), 0. */
  const float q[] = {3, 4}, k[] = {6, 8, -3, -4, 0, 0, 4, -3}, v[] = {1, 2, 3, 4};
  attn_problem p = seq2seq_problem(1, 4, 2, 1);
  p.score = ATTN_SCORE_COSINE;
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  const double s[] = {1, -1, 0, 0}, s2[] = {2, -2, 0, 0}, vv[] = {1, 2, 3, 4};
  EXPECT(o.out[0], softmax_mean(s, vv, 4));
  EXPECT(o.range[0], 2.0);
  /* |scale| (2 gamma(d+4) + gamma(d+2)) max_j sum_k |sn_k hn_k|, which is 1 */
  EXPECT(o.dscore[0], 2 * (6 * 0x1p-24 / (1 - 6 * 0x1p-24)) + 4 * 0x1p-24 / (1 - 4 * 0x1p-24));
  attn_oracle_free(&o);
  p.scale = 2;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], softmax_mean(s2, vv, 4));
  attn_oracle_free(&o);
  /* A zero query scores every key 0: the mean of the values. */
  const float zero[] = {0, 0};
  t.q = zero;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 2.5);
  EXPECT(o.dscore[0], 0.0);
  attn_oracle_free(&o);
}

Test(seq2seq, hard_copies_the_first_best_key) {
  /* scores 1, 3, 3, 2: keys 1 and 2 tie, the lower index wins. */
  const float q[] = {1}, k[] = {1, 3, 3, 2}, v[] = {10, -1, 20, -2, 30, -3, 40, -4};
  attn_problem p = seq2seq_problem(1, 4, 1, 2);
  p.mode = ATTN_MODE_HARD;
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 20.0);
  EXPECT(o.out[1], -2.0);
  cr_expect_eq(o.nalt, 1, "the tied key is the only alternative");
  cr_expect_eq(o.alt[0].key, 2);
  cr_expect_eq(o.alt[0].need, 0.0);
  EXPECT(o.alt_out[0], 30.0);
  attn_oracle_free(&o);
}

Test(seq2seq, hard_with_masks_and_an_empty_row) {
  /* causal-tl: row 0 sees key 0 only, row 1 keys 0..1 (scores 1, 3). */
  const float q[] = {1, 1}, k[] = {1, 3, 2}, v[] = {10, 20, 30};
  attn_problem p = seq2seq_problem(2, 3, 1, 1);
  p.mode = ATTN_MODE_HARD;
  p.mask = ATTN_MASK_CAUSAL_TL;
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 10.0);
  EXPECT(o.out[1], 20.0);
  attn_oracle_free(&o);
  /* pad with length 0: no key, a zero row. */
  const int32_t lens[] = {0};
  p.mask = ATTN_MASK_PAD;
  p.nlens = 1;
  t.lens = lens;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 0.0);
  EXPECT(o.out[1], 0.0);
  cr_expect_eq(o.nvis[0], 0);
  const float zeros[2] = {0, 0}, nonzero[2] = {0, 0x1p-140f};
  cr_expect_eq(verdict_of(&o, &libm_acc, zeros), ATTN_PASSED);
  cr_expect_eq(verdict_of(&o, &libm_acc, nonzero), ATTN_FAILED, "an empty row must be exactly zero");
  attn_oracle_free(&o);
}

Test(seq2seq, hard_accepts_a_near_tie_and_rejects_a_far_pick) {
  /* scores 1 + 2^-23, 1, 1/2: key 1 is within 2 dscore = 2 gamma(3) (1 +
   * 2^-23) of the best, key 2 is not. */
  const float q[] = {1}, k[] = {1 + 0x1p-23f, 1, 0.5f}, v[] = {10, 20, 30};
  attn_problem p = seq2seq_problem(1, 3, 1, 1);
  p.mode = ATTN_MODE_HARD;
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 10.0);
  cr_expect_eq(o.nalt, 1);
  const float best[] = {10}, near[] = {20}, far[] = {30}, off[] = {nextafterf(10, 11)};
  cr_expect_eq(verdict_of(&o, &libm_acc, best), ATTN_PASSED);
  cr_expect_eq(verdict_of(&o, &libm_acc, near), ATTN_PASSED, "a near-tie pick failed");
  cr_expect_eq(verdict_of(&o, &libm_acc, far), ATTN_FAILED, "a non-admissible key passed");
  cr_expect_eq(verdict_of(&o, &libm_acc, off), ATTN_FAILED, "a copy is exact");
  attn_oracle_free(&o);
}

Test(seq2seq, hard_holds_a_bounded_set_of_answers_and_sampled_rows_keep_theirs) {
  /* fill=same-keys: every key ties, so every key is admissible; the check
   * holds the first ATTN_ORACLE_MAX_ALT (all ties: lowest index first). */
  enum { LK = ATTN_ORACLE_MAX_ALT + 16 };
  attn_problem p = seq2seq_problem(4, LK, 3, 2);
  p.h = p.hkv = 2;
  p.mode = ATTN_MODE_HARD;
  p.fill = ATTN_FILL_SAME_KEYS;
  float q[2 * 4 * 3], k[2 * LK * 3], v[2 * LK * 2];
  attn_fill_inputs(&p, q, k, v, NULL);
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle all, some;
  oracle_of(&p, &t, &all);
  cr_expect_eq(all.nalt, 8 * (ATTN_ORACLE_MAX_ALT - 1));
  for (int a = 0; a < ATTN_ORACLE_MAX_ALT - 1; a++) cr_expect_eq(all.alt[a].key, a + 1);
  const int64_t rows[] = {6, 1};
  cr_assert_eq(attn_oracle_compute_rows(&p, &t, rows, 2, &some), ATTN_OK);
  cr_assert_eq(some.nalt, 2 * (ATTN_ORACLE_MAX_ALT - 1));
  cr_expect_eq(some.alt[0].slot, 0);
  cr_expect_eq(some.alt[ATTN_ORACLE_MAX_ALT - 1].slot, 1);
  /* Row 6 (head 1) copies its key 7, row 1 (head 0) its key 0: both pass;
   * a key beyond the held answers fails. */
  float out[2 * 4 * 2] = {0};
  const float *v1 = v + LK * 2;
  memcpy(out + 6 * 2, v1 + 7 * 2, 2 * sizeof(float));
  memcpy(out + 1 * 2, v + 0 * 2, 2 * sizeof(float));
  cr_expect_eq(verdict_of(&some, &libm_acc, out), ATTN_PASSED);
  memcpy(out + 6 * 2, v1 + ATTN_ORACLE_MAX_ALT * 2, 2 * sizeof(float));
  cr_expect_eq(verdict_of(&some, &libm_acc, out), ATTN_FAILED);
  attn_oracle_free(&all);
  attn_oracle_free(&some);
}

Test(seq2seq, local_m_centres_bottom_right_with_lq_below_lk) {
  /* Zero query: uniform weights over the window. lq=2, lk=5: centres 3, 4. */
  const float q[] = {0, 0}, k[] = {1, 2, 3, 4, 5}, v[] = {1, 2, 3, 4, 5};
  attn_problem p = seq2seq_problem(2, 5, 1, 1);
  p.mode = ATTN_MODE_LOCAL_M;
  p.window = 1;
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 4.0); /* keys 2..4 */
  EXPECT(o.out[1], 4.5); /* keys 3..4, clipped at lk */
  attn_oracle_free(&o);
  p.window = 0; /* only key p_t */
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 4.0);
  EXPECT(o.out[1], 5.0);
  cr_expect_eq(o.nvis[0], 1);
  attn_oracle_free(&o);
}

Test(seq2seq, local_m_softmax_stays_inside_the_window) {
  /* lq=1, lk=5: the centre is the last key; window 1 keeps scores 3, 4. */
  const float q[] = {1}, k[] = {0, 1, 2, 3, 4}, v[] = {0, 1, 2, 3, 4};
  attn_problem p = seq2seq_problem(1, 5, 1, 1);
  p.score = ATTN_SCORE_DOT;
  p.mode = ATTN_MODE_LOCAL_M;
  p.window = 1;
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  const double s[] = {3, 4}, vv[] = {3, 4};
  EXPECT(o.out[0], softmax_mean(s, vv, 2));
  attn_oracle_free(&o);
}

Test(seq2seq, local_m_windows_clipped_at_both_ends_and_beyond_the_keys) {
  const float q[] = {0, 0, 0, 0}, k[] = {0, 0, 0}, v[] = {1, 2, 3};
  attn_problem p = seq2seq_problem(3, 3, 1, 1);
  p.mode = ATTN_MODE_LOCAL_M;
  p.window = 1;
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 1.5); /* keys 0..1 */
  EXPECT(o.out[1], 2.0);
  EXPECT(o.out[2], 2.5); /* keys 1..2 */
  attn_oracle_free(&o);
  p.window = 5; /* clipped at both ends: every key */
  oracle_of(&p, &t, &o);
  for (int i = 0; i < 3; i++) EXPECT(o.out[i], 2.0);
  attn_oracle_free(&o);
  /* lq=4 > lk=2: centres -2, -1, 0, 1; row 0's window [-3, -1] holds no key. */
  p = seq2seq_problem(4, 2, 1, 1);
  p.mode = ATTN_MODE_LOCAL_M;
  p.window = 1;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 0.0);
  cr_expect_eq(o.nvis[0], 0);
  EXPECT(o.out[1], 1.0);
  EXPECT(o.out[2], 1.5);
  EXPECT(o.out[3], 1.5);
  attn_oracle_free(&o);
}

Test(seq2seq, local_m_masked_row_with_an_empty_window_is_zero) {
  /* lq=2, lk=6, causal-tl (j <= i): the windows {3..5} and {4..5} hold no
   * visible key. */
  const float q[] = {1, 1}, k[] = {1, 1, 1, 1, 1, 1}, v[] = {1, 2, 3, 4, 5, 6};
  attn_problem p = seq2seq_problem(2, 6, 1, 1);
  p.mode = ATTN_MODE_LOCAL_M;
  p.window = 1;
  p.mask = ATTN_MASK_CAUSAL_TL;
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  EXPECT(o.out[0], 0.0);
  EXPECT(o.out[1], 0.0);
  cr_expect_eq(o.nvis[1], 0);
  attn_oracle_free(&o);
}

/* mode=local-p with d = da = dv = 1, one head, weights Wp and vp. */
static void local_p_oracle(attn_problem p, int64_t window, const float *q, const float *k, const float *v,
                           float wp, float vp, attn_oracle *o) {
  const float wps[] = {wp}, vps[] = {vp};
  p.mode = ATTN_MODE_LOCAL_P;
  p.window = window;
  p.da = 1;
  const attn_tensors t = {.q = q, .k = k, .v = v, .wp = wps, .vp = vps};
  oracle_of(&p, &t, o);
}

/* Zero keys score alike: uniform softmax weights over the window. With
 * Wp = 0, tanh(0) = 0 and p_t = lk / 2 exactly, whatever the query. */
static const float zero_keys[8] = {0}, key_index[] = {0, 1, 2, 3, 4, 5, 6, 7}, one[6] = {1, 1, 1, 1, 1, 1};

/* lk = 6: p_t = 3; window 2 (sigma 1): keys 1..5, Gaussian factors
 * exp(-(j - 3)^2 / 2); weights 1/5, not renormalised after the Gaussian. */
Test(seq2seq, local_p_with_a_centre_at_half_the_keys) {
  attn_oracle o;
  local_p_oracle(seq2seq_problem(1, 6, 1, 1), 2, one, zero_keys, key_index, 0, 1, &o);
  const double g1 = exp(-0.5), g2 = exp(-2.0);
  EXPECT(o.out[0], (1 * g2 + 2 * g1 + 3 + 4 * g1 + 5 * g2) / 5);
  cr_expect_eq(o.nvis[0], 5);
  attn_oracle_free(&o);
}

Test(seq2seq, local_p_fractional_centre) {
  /* lk = 5: p_t = 2.5, window 1 (sigma 1/2): keys 2, 3, each with Gaussian
   * exp(-2 (1/2)^2) = exp(-1/2). */
  attn_oracle o;
  local_p_oracle(seq2seq_problem(1, 5, 1, 1), 1, one, zero_keys, key_index, 0, 1, &o);
  EXPECT(o.out[0], 2.5 * exp(-0.5));
  cr_expect_eq(o.nalt, 0, "no key is near the window's edges");
  attn_oracle_free(&o);
}

Test(seq2seq, local_p_centre_from_wp_and_vp) {
  /* Wp = [1], vp = [2], s = 1/2: p_t = 8 sigmoid(2 tanh(1/2)), about 5.73;
   * window 3: keys 3..7; factors exp(-2 (j - p_t)^2 / 9). */
  const float q[] = {0.5f};
  attn_oracle o;
  local_p_oracle(seq2seq_problem(1, 8, 1, 1), 3, q, zero_keys, key_index, 1, 2, &o);
  const double c = 8 / (1 + exp(-2 * tanh(0.5)));
  double want = 0;
  for (int j = 3; j <= 7; j++) want += exp(-2 * (j - c) * (j - c) / 9) * j / 5;
  EXPECT(o.out[0], want);
  cr_expect_eq(o.nvis[0], 5);
  /* dz = |vp| (gamma(d) |Wp s| + gamma(da) |tanh(Wp s)|) */
  EXPECT(o.dz[0], 2 * (0x1p-24 / (1 - 0x1p-24)) * (0.5 + tanh(0.5)));
  attn_oracle_free(&o);
}

Test(seq2seq, local_p_masked_row_with_an_empty_window_is_zero) {
  /* lq = lk = 6, causal: row 0 sees key 0, outside the window 1..5. */
  attn_problem p = seq2seq_problem(6, 6, 1, 1);
  p.mask = ATTN_MASK_CAUSAL;
  attn_oracle o;
  local_p_oracle(p, 2, one, zero_keys, key_index, 0, 1, &o);
  EXPECT(o.out[0], 0.0);
  cr_expect_eq(o.nvis[0], 0);
  EXPECT(o.out[3], (1 * exp(-2.0) + 2 * exp(-0.5) + 3) / 3); /* keys 1..3 */
  attn_oracle_free(&o);
}

/* With p_t = 3 and window 2 the edge keys 1 and 5 sit exactly on the window's
 * boundary: a backend may place either outside. The row without key 1
 * passes; a window shifted by one key (2..6 clipped: 2..5 with the wrong
 * factors) does not. */
Test(seq2seq, local_p_window_edge_alternatives) {
  attn_oracle o;
  local_p_oracle(seq2seq_problem(1, 6, 1, 1), 2, one, zero_keys, key_index, 0, 1, &o);
  cr_assert_eq(o.nalt, 3, "left, right and both edges");
  cr_expect_eq(o.alt[0].key, 1);
  cr_expect_eq(o.alt[1].key, 2);
  cr_expect_eq(o.alt[2].key, 3);
  cr_expect_eq(o.alt[2].nvis, 3);
  const double g1 = exp(-0.5), g2 = exp(-2.0);
  EXPECT(o.alt_out[0], (2 * g1 + 3 + 4 * g1 + 5 * g2) / 4);
  const float exact[] = {(float)o.out[0]}, no_left[] = {(float)((2 * g1 + 3 + 4 * g1 + 5 * g2) / 4)},
              shifted[] = {(float)((2 * g2 + 3 * g1 + 4 + 5 * g1) / 4)};
  cr_expect_eq(verdict_of(&o, &libm_acc, exact), ATTN_PASSED);
  cr_expect_eq(verdict_of(&o, &libm_acc, no_left), ATTN_PASSED, "an edge key left out failed");
  cr_expect_eq(verdict_of(&o, &libm_acc, shifted), ATTN_FAILED, "a shifted window passed");
  attn_oracle_free(&o);
}

Test(tolerance, tanh_error_zero_reads_as_libm_tanhf) {
  attn_oracle o;
  additive_example(&o);
  const attn_accuracy dflt = {.exp_rel_err = 0x1p-23},
                      libm = {.exp_rel_err = 0x1p-23, .tanh_abs_err = ATTN_TANHF_ABS_ERR},
                      rough = {.exp_rel_err = 0x1p-23, .tanh_abs_err = 0x1p-12};
  cr_expect_eq(attn_tolerance(&o, &dflt, 0, 0), attn_tolerance(&o, &libm, 0, 0));
  cr_expect_lt(attn_tolerance(&o, &libm, 0, 0), attn_tolerance(&o, &rough, 0, 0));
  attn_oracle_free(&o);
}

Test(tolerance, hard_bound_is_a_copy_and_soft_problems_hold_no_alternatives) {
  attn_problem p = seq2seq_problem(5, 7, 4, 3);
  p.mode = ATTN_MODE_HARD;
  float q[5 * 4], k[7 * 4], v[7 * 3];
  attn_fill_inputs(&p, q, k, v, NULL);
  attn_tensors t = {.q = q, .k = k, .v = v};
  attn_oracle o;
  oracle_of(&p, &t, &o);
  for (int r = 0; r < 5; r++) cr_expect_eq(attn_tolerance(&o, &libm_acc, r, 0), o.vmax[r] * 0x1p-125);
  attn_oracle_free(&o);
  p.mode = ATTN_MODE_SOFT;
  oracle_of(&p, &t, &o);
  cr_expect_eq(o.nalt, 0);
  cr_expect_null(o.alt);
  attn_oracle_free(&o);
}
