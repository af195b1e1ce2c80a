/* The checker has teeth: a plain kernel with one deliberate bug at a time is
 * run through `check` on the quick suite, and every bug must fail it, while
 * the same kernel without a bug must pass. The op=mha bugs (in the toy's
 * GEMM, or the attention's kv head) must fail on the quick suite's op=mha
 * problems alone. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/seq2seq.h"
#include "common/variant.h"
#include "harness.h"

typedef enum {
  BUG_NONE,
  BUG_MASK_OFF_BY_ONE,
  BUG_SCALE_MISSING,
  BUG_NO_MAX_SUBTRACTION,
  BUG_WRONG_KV_HEAD,
  BUG_LAST_KEY_DROPPED,
  BUG_ROW_NOT_NORMALISED,
  BUG_GEMM_TRANSPOSED_B,    /* a weight read as [n][k]: a transposed W */
  BUG_GEMM_MISSING,         /* the input passed through: a projection left out */
  BUG_GEMM_COLUMNS_SHIFTED, /* column j written to j+1: heads split one column off */
  BUG_GEMM_COLUMN_MAJOR,    /* C written column-major: heads taken from the wrong layout */
  BUG_GEMM_LAST_K_DROPPED,  /* one term of each dot product lost */
  BUG_NEXT_BATCH,           /* keys and values of the next batch: op=han's sentence vector pooled
                               from the next sentence's words, its document from the next one's */
} bug;

static bug current_bug;

static int toy_available(void) { return 1; }
/* The plain scores and softmax only: the seq2seq variants have their own toy below. */
static attn_status toy_supports(const attn_problem *p, char *why, size_t n) {
  return attn_variant_supported(p, ATTN_SCORE_BIT(ATTN_SCORE_SCALED) | ATTN_SCORE_BIT(ATTN_SCORE_DOT),
                                ATTN_MODE_BIT(ATTN_MODE_SOFT), "toy", why, n);
}
static size_t toy_workspace(const attn_problem *p, const attn_config *c) {
  (void)c;
  return (size_t)p->lk * sizeof(float);
}
static attn_status toy_plan(const attn_problem *p, const attn_config *c, void **plan, char *why, size_t n) {
  (void)c, (void)why, (void)n;
  attn_problem *copy = malloc(sizeof *copy);
  if (!copy) return ATTN_ENOMEM;
  *copy = *p;
  *plan = copy;
  return ATTN_OK;
}
static void toy_destroy(void *plan) { free(plan); }

static void toy_row(const attn_problem *p, const attn_tensors *t, int64_t bi, int64_t hi, int64_t i,
                    float *s) {
  const int64_t d = p->d, dv = p->dv;
  const int64_t kvh = current_bug == BUG_WRONG_KV_HEAD ? hi % p->hkv : attn_kv_head(p, hi);
  const float scale = current_bug == BUG_SCALE_MISSING ? 1.0f : attn_scale(p);
  const float *q = t->q + ((bi * p->h + hi) * p->lq + i) * d;
  const int64_t kb = current_bug == BUG_NEXT_BATCH ? (bi + 1) % p->b : bi;
  const float *k = t->k + (kb * p->hkv + kvh) * p->lk * d, *v = t->v + (kb * p->hkv + kvh) * p->lk * dv;
  float *o = t->o + ((bi * p->h + hi) * p->lq + i) * dv;
  int64_t end = attn_visible_end(p, t->lens, bi, i);
  if (current_bug == BUG_MASK_OFF_BY_ONE && p->mask != ATTN_MASK_NONE && end < p->lk) end++;
  if (current_bug == BUG_LAST_KEY_DROPPED && end > 1) end--;
  for (int64_t c = 0; c < dv; c++) o[c] = 0;
  if (end == 0) return;
  float m = -INFINITY, z = 0;
  for (int64_t j = 0; j < end; j++) {
    float dot = 0;
    for (int64_t c = 0; c < d; c++) dot += q[c] * k[j * d + c];
    s[j] = scale * dot;
    m = fmaxf(m, s[j]);
  }
  if (current_bug == BUG_NO_MAX_SUBTRACTION) m = 0;
  for (int64_t j = 0; j < end; j++) z += (s[j] = expf(s[j] - m));
  if (current_bug == BUG_ROW_NOT_NORMALISED) z = 1;
  for (int64_t j = 0; j < end; j++)
    for (int64_t c = 0; c < dv; c++) o[c] += s[j] / z * v[j * dv + c];
}

static attn_status toy_run(void *plan, const attn_tensors *t) {
  const attn_problem *p = plan;
  float *s = malloc((size_t)p->lk * sizeof(float));
  if (!s) return ATTN_ENOMEM;
  for (int64_t bi = 0; bi < p->b; bi++)
    for (int64_t hi = 0; hi < p->h; hi++)
      for (int64_t i = 0; i < p->lq; i++) toy_row(p, t, bi, hi, i, s);
  free(s);
  return ATTN_OK;
}

static attn_status toy_gemm_plan(const attn_gemm_shape *g, const attn_config *c, void **plan, char *why,
                                 size_t n) {
  (void)c, (void)why, (void)n;
  attn_gemm_shape *copy = malloc(sizeof *copy);
  if (!copy) return ATTN_ENOMEM;
  *copy = *g;
  *plan = copy;
  return ATTN_OK;
}

static attn_status toy_gemm_run(void *plan, const float *a, const float *b, float *c) {
  const attn_gemm_shape *g = plan;
  const int64_t m = g->m, n = g->n, k = g->k;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      float sum = 0;
      const int64_t terms = current_bug == BUG_GEMM_LAST_K_DROPPED ? k - 1 : k;
      for (int64_t t = 0; t < terms; t++)
        sum += a[i * k + t] * (current_bug == BUG_GEMM_TRANSPOSED_B ? b[j * k + t] : b[t * n + j]);
      if (current_bug == BUG_GEMM_MISSING) sum = a[i * k + j % k];
      const int64_t at = current_bug == BUG_GEMM_COLUMN_MAJOR      ? j * m + i
                         : current_bug == BUG_GEMM_COLUMNS_SHIFTED ? i * n + (j + 1) % n
                                                                   : i * n + j;
      c[at] = sum;
    }
  return ATTN_OK;
}

static const attn_backend toy = {
    .name = "toy",
    .summary = "two-pass kernel with a switchable bug",
    .accuracy = {.exp_rel_err = 0x1p-23, .key_block = 0},
    .available = toy_available,
    .supports = toy_supports,
    .workspace_size = toy_workspace,
    .plan = toy_plan,
    .run = toy_run,
    .destroy = toy_destroy,
    .gemm_plan = toy_gemm_plan,
    .gemm_run = toy_gemm_run,
    .gemm_destroy = free,
};

/* Runs the quick suite (or only its problems containing `only`) on backend be. */
static check_tally check_quick_on(const attn_backend *be, const char *only) {
  strlist all = {0}, problems = {0};
  cr_assert_eq(strlist_push_lines(&all, bench_suite_text("quick")), 0);
  for (size_t i = 0; i < all.n; i++)
    if (!only || strstr(all.items[i], only)) cr_assert_eq(strlist_push(&problems, all.items[i]), 0);
  strlist_free(&all);
  if (only) cr_assert_geq(problems.n, 3);
  FILE *sink = fopen("/dev/null", "w");
  cr_assert_not_null(sink);
  const attn_backend *bes[] = {be};
  check_tally tally = {0};
  for (size_t i = 0; i < problems.n; i++)
    cr_assert_eq(bench_check_problem(problems.items[i], bes, 1, 1, sink, &tally), 0);
  fclose(sink);
  strlist_free(&problems);
  return tally;
}

/* The same on the toy kernel with one bug. */
static check_tally check_quick(bug b, const char *only) {
  current_bug = b;
  return check_quick_on(&toy, only);
}

static check_tally check_quick_suite(bug b) { return check_quick(b, NULL); }

Test(broken_kernels, the_correct_kernel_passes) {
  check_tally t = check_quick_suite(BUG_NONE);
  cr_expect_eq(t.failed, 0);
  cr_expect_gt(t.passed, 20);
}

#define EXPECT_CAUGHT(name, b)                                                                               \
  Test(broken_kernels, name) {                                                                               \
    check_tally t = check_quick_suite(b);                                                                    \
    cr_expect_gt(t.failed, 0, #b " passed the quick suite");                                                 \
  }

EXPECT_CAUGHT(mask_off_by_one_fails, BUG_MASK_OFF_BY_ONE)
EXPECT_CAUGHT(missing_scale_fails, BUG_SCALE_MISSING)
EXPECT_CAUGHT(no_max_subtraction_fails, BUG_NO_MAX_SUBTRACTION)
EXPECT_CAUGHT(wrong_kv_head_fails, BUG_WRONG_KV_HEAD)
EXPECT_CAUGHT(last_key_dropped_fails, BUG_LAST_KEY_DROPPED)
EXPECT_CAUGHT(unnormalised_row_fails, BUG_ROW_NOT_NORMALISED)

/* That a buggy kernel failed every problem it ran but `passes` of them, and
 * declined none: a tally of nothing but skips would satisfy the count alone. */
static void expect_failed_all_but(check_tally t, int passes, const char *what) {
  cr_expect_eq(t.skipped, 0, "%s: %d problems declined", what, t.skipped);
  cr_expect_gt(t.failed, 0, "%s: no problem failed", what);
  cr_expect_geq(t.failed, t.passed + t.failed + t.mistrusted - passes, "%s: %d passed", what, t.passed);
}

/* Failing on every one of the workload's own problems (those containing
 * `only`), not merely somewhere in the suite. */
#define EXPECT_ALL_CAUGHT(name, b, only)                                                                     \
  Test(broken_kernels, name) { expect_failed_all_but(check_quick(b, only), 0, #b " on problems with " only); }
#define EXPECT_MHA_CAUGHT(name, b) EXPECT_ALL_CAUGHT(name, b, "op=mha")

/* The bug-free toy passes at least `min` of the problems containing `only`. */
static void expect_clean(const char *only, int min) {
  check_tally t = check_quick(BUG_NONE, only);
  cr_expect_eq(t.failed, 0);
  cr_expect_eq(t.skipped, 0);
  cr_expect_geq(t.passed, min);
}

Test(broken_kernels, the_correct_layer_passes) { expect_clean("op=mha", 4); }

/* With dm = 1 a [1][n] weight and its transpose are the same bytes: every
 * other layer problem must catch it, the square one (dm = h*d) included. */
Test(broken_kernels, transposed_weight_fails) {
  expect_failed_all_but(check_quick(BUG_GEMM_TRANSPOSED_B, "op=mha"), 1, "a transposed weight");
}
EXPECT_MHA_CAUGHT(missing_projection_fails, BUG_GEMM_MISSING)
EXPECT_MHA_CAUGHT(head_split_off_by_one_column_fails, BUG_GEMM_COLUMNS_SHIFTED)
EXPECT_MHA_CAUGHT(column_major_projection_fails, BUG_GEMM_COLUMN_MAJOR)
EXPECT_MHA_CAUGHT(dropped_gemm_term_fails, BUG_GEMM_LAST_K_DROPPED)
Test(broken_kernels, wrong_kv_head_fails_the_layer) {
  check_tally t = check_quick(BUG_WRONG_KV_HEAD, "op=mha");
  cr_expect_gt(t.failed, 0, "a wrong kv head passed every op=mha problem");
}

/* op=han: the documents of the quick suite, with the kernel's or the GEMM's
 * bug. A missing bias and a skipped tanh are the harness's pass, not a
 * backend's: tests/reference shows its check catching both. */
Test(broken_kernels, the_correct_documents_pass) { expect_clean("op=han", 5); }

/* With da = 1 a [1][d] weight and its transpose are the same bytes: the two
 * such documents aside, every one must catch it, the square one included. */
Test(broken_kernels, transposed_han_weight_fails) {
  expect_failed_all_but(check_quick(BUG_GEMM_TRANSPOSED_B, "op=han"), 2, "a transposed W_w or W_s");
}
/* One word or sentence too many: every padded document has counts below full. */
EXPECT_ALL_CAUGHT(wrong_padding_count_fails, BUG_MASK_OFF_BY_ONE, "pad=1")
/* A single sentence in a single document has no other one to read. */
Test(broken_kernels, sentence_vector_from_the_wrong_sentence_fails) {
  expect_failed_all_but(check_quick(BUG_NEXT_BATCH, "op=han"), 1, "a neighbour's words or sentences");
}
EXPECT_ALL_CAUGHT(dropped_han_gemm_term_fails, BUG_GEMM_LAST_K_DROPPED, "op=han")
EXPECT_ALL_CAUGHT(missing_han_gemm_fails, BUG_GEMM_MISSING, "op=han")

/* ---- the seq2seq scores and modes: a second plain kernel that implements
 * every one of them in fp32 (the shared helpers of impls/common/seq2seq.h
 * for the centres, norms and Gaussian), with its own switchable bugs, run on
 * the quick suite's problems that name a score or mode ---- */

typedef enum {
  S2S_NONE,
  S2S_HARD_HIGHEST_INDEX,   /* hard's ties to the highest index */
  S2S_WINDOW_OFF_BY_ONE,    /* local-m and local-p: one key too many on each side */
  S2S_LOCAL_P_RENORMALISED, /* local-p's weights renormalised after the Gaussian */
  S2S_GENERAL_TRANSPOSED,   /* general: s^T W^T h */
  S2S_LOCAL_M_TOP_LEFT,     /* local-m centred at t, not t + lk - lq */
  S2S_ADDITIVE_SWAPPED,     /* additive: W1 applied to the query, W2 to the keys */
  S2S_COSINE_QUERY_ONLY,    /* cosine: the keys left unnormalised */
} s2s_bug;

static s2s_bug current_s2s_bug;

static attn_status s2s_supports(const attn_problem *p, char *why, size_t n) {
  (void)p, (void)why, (void)n;
  return ATTN_OK;
}

/* y [rows] = M [rows][d] x, in fp32; transposed: M read as [d][rows]. */
static void s2s_matvec(const float *m, const float *x, int64_t rows, int64_t d, int transposed, float *y) {
  for (int64_t a = 0; a < rows; a++) {
    float sum = 0;
    for (int64_t k = 0; k < d; k++) sum += (transposed ? m[k * rows + a] : m[a * d + k]) * x[k];
    y[a] = sum;
  }
}

static float s2s_dot(const float *a, const float *b, int64_t d) {
  float sum = 0;
  for (int64_t c = 0; c < d; c++) sum += a[c] * b[c];
  return sum;
}

/* Scratch: the row's query as the score reads it [d], a key [d], two [da]. */
typedef struct s2s_scratch {
  float *qs, *hs, *xa, *xb, *s;
} s2s_scratch;

/* Key h's score against the prepared query (general: folded, cosine:
 * normalised, additive: W2 s in xa). */
static float s2s_score(const attn_problem *p, const attn_tensors *t, const float *h, s2s_scratch *w) {
  const int64_t d = p->d, da = p->da;
  const int swapped = current_s2s_bug == S2S_ADDITIVE_SWAPPED;
  switch (p->score) {
  case ATTN_SCORE_ADDITIVE: {
    s2s_matvec(swapped ? t->w2 : t->w1, h, da, d, 0, w->xb);
    float e = 0;
    for (int64_t a = 0; a < da; a++) e += t->u[a] * tanhf(w->xb[a] + w->xa[a]);
    return e;
  }
  case ATTN_SCORE_COSINE:
    if (current_s2s_bug == S2S_COSINE_QUERY_ONLY) return attn_scale(p) * s2s_dot(w->qs, h, d);
    attn_normalize_rows(h, w->hs, 0, 1, d);
    return attn_scale(p) * s2s_dot(w->qs, w->hs, d);
  default: return attn_scale(p) * s2s_dot(w->qs, h, d);
  }
}

static void s2s_prepare_query(const attn_problem *p, const attn_tensors *t, const float *q, s2s_scratch *w) {
  const int64_t d = p->d;
  if (p->score == ATTN_SCORE_GENERAL) {
    /* Q' = s^T W: column k of W dotted with s (row k with the bug). */
    s2s_matvec(t->w, q, d, d, current_s2s_bug != S2S_GENERAL_TRANSPOSED, w->qs);
  } else if (p->score == ATTN_SCORE_COSINE) {
    attn_normalize_rows(q, w->qs, 0, 1, d);
  } else {
    memcpy(w->qs, q, (size_t)d * sizeof(float));
  }
  if (p->score == ATTN_SCORE_ADDITIVE)
    s2s_matvec(current_s2s_bug == S2S_ADDITIVE_SWAPPED ? t->w1 : t->w2, q, p->da, d, 0, w->xa);
}

static void s2s_row(const attn_problem *p, const attn_tensors *t, int64_t bi, int64_t hi, int64_t i,
                    s2s_scratch *w) {
  const int64_t d = p->d, dv = p->dv, kvh = attn_kv_head(p, hi);
  const float *q = t->q + ((bi * p->h + hi) * p->lq + i) * d;
  const float *k = t->k + (bi * p->hkv + kvh) * p->lk * d, *v = t->v + (bi * p->hkv + kvh) * p->lk * dv;
  float *o = t->o + ((bi * p->h + hi) * p->lq + i) * dv;
  attn_problem win = *p;
  if (current_s2s_bug == S2S_WINDOW_OFF_BY_ONE) win.window++;
  const int64_t end = attn_visible_end(p, t->lens, bi, i);
  int64_t lo = 0, hi_key = end;
  float centre = 0;
  if (p->mode == ATTN_MODE_LOCAL_M) {
    const int64_t c = current_s2s_bug == S2S_LOCAL_M_TOP_LEFT ? i : attn_local_m_centre(p, i);
    attn_window(&win, (double)c, end, &lo, &hi_key);
  } else if (p->mode == ATTN_MODE_LOCAL_P) {
    s2s_matvec(t->wp, q, p->da, d, 0, w->xb);
    attn_local_p_centres(w->xb, t->vp, 0, 1, p->da, p->lk, &centre);
    attn_window(&win, (double)centre, end, &lo, &hi_key);
  }
  for (int64_t c = 0; c < dv; c++) o[c] = 0;
  if (lo >= hi_key) return;
  s2s_prepare_query(p, t, q, w);
  int64_t best = lo;
  float m = -INFINITY;
  for (int64_t j = lo; j < hi_key; j++) {
    w->s[j] = s2s_score(p, t, k + j * d, w);
    const int better = current_s2s_bug == S2S_HARD_HIGHEST_INDEX ? w->s[j] >= m : w->s[j] > m;
    if (better) best = j;
    m = fmaxf(m, w->s[j]);
  }
  if (p->mode == ATTN_MODE_HARD) {
    memcpy(o, v + best * dv, (size_t)dv * sizeof(float));
    return;
  }
  float z = 0, zg = 0;
  for (int64_t j = lo; j < hi_key; j++) z += (w->s[j] = expf(w->s[j] - m));
  for (int64_t j = lo; j < hi_key; j++) {
    w->s[j] /= z;
    if (p->mode == ATTN_MODE_LOCAL_P) w->s[j] *= attn_local_p_gauss(j, centre, p->window);
    zg += w->s[j];
  }
  if (current_s2s_bug != S2S_LOCAL_P_RENORMALISED || p->mode != ATTN_MODE_LOCAL_P) zg = 1;
  for (int64_t j = lo; j < hi_key; j++)
    for (int64_t c = 0; c < dv; c++) o[c] += w->s[j] / zg * v[j * dv + c];
}

static attn_status s2s_run(void *plan, const attn_tensors *t) {
  const attn_problem *p = plan;
  const size_t d = (size_t)p->d, da = (size_t)(p->da > 0 ? p->da : 1);
  s2s_scratch w = {malloc(d * sizeof(float)), malloc(d * sizeof(float)), malloc(da * sizeof(float)),
                   malloc(da * sizeof(float)), malloc((size_t)p->lk * sizeof(float))};
  attn_status s = w.qs && w.hs && w.xa && w.xb && w.s ? ATTN_OK : ATTN_ENOMEM;
  for (int64_t bi = 0; s == ATTN_OK && bi < p->b; bi++)
    for (int64_t hi = 0; hi < p->h; hi++)
      for (int64_t i = 0; i < p->lq; i++) s2s_row(p, t, bi, hi, i, &w);
  free(w.qs);
  free(w.hs);
  free(w.xa);
  free(w.xb);
  free(w.s);
  return s;
}

static const attn_backend s2s_toy = {
    .name = "s2s-toy",
    .summary = "plain seq2seq kernel with a switchable bug",
    /* Its centres come from attn_local_p_centres, AVX2 tanh or tanhf. */
    .accuracy = {.exp_rel_err = 0x1p-23, .key_block = 0, .tanh_abs_err = ATTN_LOCAL_P_TANH_ABS_ERR},
    .available = toy_available,
    .supports = s2s_supports,
    .workspace_size = toy_workspace,
    .plan = toy_plan,
    .run = s2s_run,
    .destroy = toy_destroy,
};

/* The quick suite's problems that contain `only` on the seq2seq toy with one bug. */
static check_tally check_s2s(s2s_bug b, const char *only) {
  current_s2s_bug = b;
  return check_quick_on(&s2s_toy, only);
}

Test(broken_kernels, the_correct_seq2seq_kernel_passes) {
  const char *families[] = {"score=", "mode="};
  for (int f = 0; f < 2; f++) {
    check_tally t = check_s2s(S2S_NONE, families[f]);
    cr_expect_eq(t.failed, 0, "%s", families[f]);
    cr_expect_eq(t.skipped, 0, "%s", families[f]);
    cr_expect_geq(t.passed, 8, "%s", families[f]);
  }
}

#define EXPECT_S2S_CAUGHT(name, b, only)                                                                     \
  Test(broken_kernels, name) {                                                                               \
    check_tally t = check_s2s(b, only);                                                                      \
    cr_expect_gt(t.failed, 0, #b " passed every quick problem with " only);                                  \
  }

EXPECT_S2S_CAUGHT(hard_picking_the_highest_index_fails, S2S_HARD_HIGHEST_INDEX, "mode=hard")
EXPECT_S2S_CAUGHT(local_m_window_off_by_one_fails, S2S_WINDOW_OFF_BY_ONE, "mode=local-m")
EXPECT_S2S_CAUGHT(local_p_window_off_by_one_fails, S2S_WINDOW_OFF_BY_ONE, "mode=local-p")
EXPECT_S2S_CAUGHT(local_p_renormalised_fails, S2S_LOCAL_P_RENORMALISED, "mode=local-p")
EXPECT_S2S_CAUGHT(general_with_w_transposed_fails, S2S_GENERAL_TRANSPOSED, "score=general")
EXPECT_S2S_CAUGHT(local_m_centred_top_left_fails, S2S_LOCAL_M_TOP_LEFT, "mode=local-m")
EXPECT_S2S_CAUGHT(additive_with_w1_and_w2_swapped_fails, S2S_ADDITIVE_SWAPPED, "score=additive")
EXPECT_S2S_CAUGHT(cosine_with_unnormalised_keys_fails, S2S_COSINE_QUERY_ONLY, "score=cosine")
