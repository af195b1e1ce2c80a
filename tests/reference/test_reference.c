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
