/* The numerics policy of reference/README.md ("Numerics policy"), on every
 * backend this CPU runs, through the public vtable: NaN and Inf reach exactly
 * the outputs the policy says they touch and no other (every other output is
 * bitwise what the same backend gives without them), rows with no visible
 * key are zeros, logits of about +-1e30 pick their key, subnormal inputs are
 * honoured, and lk = d = dv = 1 work.
 *
 * The policy is stated by policy_row below, a double-precision statement of
 * the softmax with max-subtraction in IEEE arithmetic; where a backend is
 * known to deviate, the deviation is listed in `exceptions` (and in the
 * README) and reported in the test's log instead of failing it. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/attn.h"
#include "attnbench/problem.h"
#include "attnbench/reference.h"

#define THREADS 2

/* ---- one backend on one problem ---- */

typedef struct job {
  attn_problem p;
  float *q, *k, *v;
  int32_t lens[ATTN_MAX_LENS];
} job;

static void job_init(job *j, const char *problem) {
  char err[256];
  cr_assert_eq(attn_problem_parse(problem, &j->p, err, sizeof err), ATTN_OK, "%s: %s", problem, err);
  cr_assert_leq(j->p.b, ATTN_MAX_LENS);
  j->q = malloc((size_t)attn_q_elems(&j->p) * sizeof(float));
  j->k = malloc((size_t)attn_kv_elems(&j->p) * sizeof(float));
  j->v = malloc((size_t)attn_v_elems(&j->p) * sizeof(float));
  cr_assert(j->q && j->k && j->v);
  for (int64_t b = 0; b < j->p.b; b++) j->lens[b] = (int32_t)j->p.lk;
  attn_fill_inputs(&j->p, j->q, j->k, j->v, j->lens);
}

static void job_free(job *j) {
  free(j->q);
  free(j->k);
  free(j->v);
}

static float *out_alloc(const job *j) {
  float *o = malloc((size_t)attn_o_elems(&j->p) * sizeof(float));
  cr_assert_not_null(o);
  return o;
}

/* be's plan for the job's problem, or NULL if be declines it (the test then
 * has nothing to check on it). Any other failure fails the test: these are
 * small problems. */
static void *plan_backend(const attn_backend *be, const job *j) {
  char why[256] = "";
  if (be->supports(&j->p, why, sizeof why) != ATTN_OK) return NULL;
  const attn_config cfg = {.threads = THREADS};
  void *plan = NULL;
  const attn_status s = be->plan(&j->p, &cfg, &plan, why, sizeof why);
  cr_assert_eq(s, ATTN_OK, "%s: plan: %s %s", be->name, attn_status_name(s), why);
  return plan;
}

/* Runs a plan on the job's current inputs into o. */
static void run_plan(const attn_backend *be, void *plan, const job *j, float *o) {
  /* A value no backend computes here: an element left unwritten shows. */
  for (int64_t e = 0; e < attn_o_elems(&j->p); e++) o[e] = 12345.0f;
  const attn_tensors t = {.q = j->q, .k = j->k, .v = j->v, .lens = j->lens, .o = o};
  const attn_status s = be->run(plan, &t);
  cr_assert_eq(s, ATTN_OK, "%s: run: %s", be->name, attn_status_name(s));
}

/* One plan, one run: 0, or -1 if be declines the problem. */
static int run_backend(const attn_backend *be, const job *j, float *o) {
  void *plan = plan_backend(be, j);
  if (!plan) return -1;
  run_plan(be, plan, j, o);
  be->destroy(plan);
  return 0;
}

#define FOR_EACH_BACKEND(be)                                                                                 \
  for (size_t be##_i = 0; be##_i < attn_backend_count(); be##_i++)                                           \
    for (const attn_backend *be = attn_backend_get(be##_i); be && be->available(); be = NULL)

/* ---- the policy, row by row ---- */

typedef enum row_kind {
  ROW_ZERO,    /* no visible key: every element exactly 0 */
  ROW_NAN,     /* a visible score is NaN or +inf: every element NaN */
  ROW_NEG_INF, /* every visible score is -inf: every element 0, or every element NaN */
  ROW_VALUES,  /* the softmax over the keys whose score is finite, in double; an element
                  is NaN or +-inf where a value is */
} row_kind;

/* Row i of head h in batch b under the policy: its kind, and for ROW_VALUES
 * out[c] and absw[c] = sum_j a_j |v_jc|, the scale of an element's rounding
 * error. */
static row_kind policy_row(const job *j, int64_t b, int64_t h, int64_t i, double *out, double *absw) {
  const attn_problem *p = &j->p;
  const int64_t d = p->d, dv = p->dv, kvh = attn_kv_head(p, h);
  const int64_t end = attn_visible_end(p, j->lens, b, i);
  const float *q = j->q + ((b * p->h + h) * p->lq + i) * d;
  const float *k = j->k + (b * p->hkv + kvh) * p->lk * d, *v = j->v + (b * p->hkv + kvh) * p->lk * dv;
  if (end == 0) return ROW_ZERO;
  double *s = malloc((size_t)end * sizeof(double)), m = -INFINITY;
  cr_assert_not_null(s);
  row_kind kind = ROW_VALUES;
  for (int64_t jj = 0; jj < end; jj++) {
    double dot = 0;
    for (int64_t c = 0; c < d; c++) dot += (double)q[c] * (double)k[jj * d + c];
    s[jj] = (double)attn_scale(p) * dot;
    if (isnan(s[jj]) || s[jj] == INFINITY) kind = ROW_NAN;
    if (s[jj] > m) m = s[jj];
  }
  if (kind == ROW_VALUES && m == -INFINITY) kind = ROW_NEG_INF;
  if (kind == ROW_VALUES) {
    double z = 0;
    for (int64_t c = 0; c < dv; c++) out[c] = absw[c] = 0;
    for (int64_t jj = 0; jj < end; jj++) z += exp(s[jj] - m);
    for (int64_t jj = 0; jj < end; jj++) {
      if (s[jj] == -INFINITY) continue; /* weight exactly 0: as if masked */
      const double a = exp(s[jj] - m) / z;
      for (int64_t c = 0; c < dv; c++) {
        out[c] += a * (double)v[jj * dv + c];
        absw[c] += a * fabs((double)v[jj * dv + c]);
      }
    }
  }
  free(s);
  return kind;
}

/* The policy for every row of a job's current inputs. */
typedef struct policy {
  int64_t rows, dv;
  row_kind *kind;     /* [b][h][lq] */
  double *out, *absw; /* [b][h][lq][dv] */
} policy;

static void policy_alloc(const job *j, policy *pol) {
  pol->rows = j->p.b * j->p.h * j->p.lq;
  pol->dv = j->p.dv;
  pol->kind = malloc((size_t)pol->rows * sizeof(row_kind));
  pol->out = malloc((size_t)(pol->rows * pol->dv) * sizeof(double));
  pol->absw = malloc((size_t)(pol->rows * pol->dv) * sizeof(double));
  cr_assert(pol->kind && pol->out && pol->absw);
}

static void policy_free(policy *pol) {
  free(pol->kind);
  free(pol->out);
  free(pol->absw);
}

/* Row r (flat [b][h][lq] index) of pol from the job's inputs. */
static void policy_fill_row(const job *j, policy *pol, int64_t r) {
  const attn_problem *p = &j->p;
  pol->kind[r] = policy_row(j, r / (p->h * p->lq), r / p->lq % p->h, r % p->lq, pol->out + r * pol->dv,
                            pol->absw + r * pol->dv);
}

/* ---- deviations from the policy, per backend ---- */

typedef enum deviation {
  NAN_LOST = 1,    /* a NaN the policy puts in an output is not there */
  MASKED_LEAK = 2, /* a NaN or inf in a key or value row a query row does not see reaches it */
} deviation;

typedef struct exception {
  const char *backend;
  deviation what;
  const char *tensors; /* the inputs it concerns: "q", "k", "v" */
  int causal_only;     /* 1: seen under the causal masks only, not under pad */
  const char *why;
} exception;

/* Known deviations, each described where the fix belongs; reference/README.md
 * lists them too. Delete a line once its backend is fixed: the NaN test's log
 * says "no longer seen" when a listed deviation did not occur (a log line,
 * not a warning: Criterion fails a test that warns). */
static const exception exceptions[] = {
    /* None known. C11 has no empty initialiser list, so the table keeps one
     * entry without a backend, which matches nothing. */
    {NULL, 0, "", 0, NULL},
};

static const exception *find_exception(const char *backend, deviation what, char tensor, attn_mask mask) {
  for (size_t i = 0; i < sizeof exceptions / sizeof exceptions[0]; i++)
    if (exceptions[i].backend && !strcmp(exceptions[i].backend, backend) && exceptions[i].what == what &&
        strchr(exceptions[i].tensors, tensor) && !(exceptions[i].causal_only && mask == ATTN_MASK_PAD))
      return &exceptions[i];
  return NULL;
}

/* How often each listed exception was needed, to report the stale ones. */
static int exception_hits[sizeof exceptions / sizeof exceptions[0]];

static void report_exceptions(const char *test, const char *tensors, deviation what, int note_stale) {
  for (size_t i = 0; i < sizeof exceptions / sizeof exceptions[0]; i++) {
    const exception *x = &exceptions[i];
    if (!x->backend || x->what != what || !strpbrk(x->tensors, tensors) || !attn_backend_find(x->backend))
      continue;
    if (exception_hits[i] == 0 && note_stale)
      cr_log_info("%s: %s's listed deviation no longer seen, delete its line: %s", test, x->backend, x->why);
    else if (exception_hits[i])
      cr_log_info("%s: %s deviates as listed (%d cases): %s", test, x->backend, exception_hits[i], x->why);
  }
}

/* ---- poisoning one input element ---- */

typedef struct poison {
  char tensor; /* 'q', 'k' or 'v' */
  int64_t b, head, row, col;
  float value;
} poison;

static float *poison_at(job *j, const poison *x) {
  const attn_problem *p = &j->p;
  if (x->tensor == 'q') return j->q + ((x->b * p->h + x->head) * p->lq + x->row) * p->d + x->col;
  if (x->tensor == 'k') return j->k + ((x->b * p->hkv + x->head) * p->lk + x->row) * p->d + x->col;
  return j->v + ((x->b * p->hkv + x->head) * p->lk + x->row) * p->dv + x->col;
}

/* Whether the poisoned element lies in a key row that query row (b, h, i)
 * would read were it not masked: the place a masked leak comes from. */
static int masked_from(const job *j, const poison *x, int64_t b, int64_t h, int64_t i) {
  return x->tensor != 'q' && x->b == b && attn_kv_head(&j->p, h) == x->head &&
         x->row >= attn_visible_end(&j->p, j->lens, b, i);
}

typedef struct tally {
  int64_t failures;
  char first[512];
} tally;

static void fail(tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(tally *t, const char *fmt, ...) {
  if (t->failures++ == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->first, sizeof t->first, fmt, ap);
    va_end(ap);
  }
}

/* Whether the policy row r of after may differ from before: the rows that
 * read the poisoned element, masked or not. */
static int reads(const job *j, const poison *x, int64_t r) {
  const attn_problem *p = &j->p;
  const int64_t b = r / (p->h * p->lq), h = r / p->lq % p->h, i = r % p->lq;
  if (b != x->b) return 0;
  return x->tensor == 'q' ? h == x->head && i == x->row : attn_kv_head(p, h) == x->head;
}

/* Checks be's output o on the job's inputs, which have x applied, against
 * the policy (after, filled for the rows that read x), and every output the
 * policy says x leaves alone against be's clean output, bit for bit. before
 * is the policy of the clean inputs. */
static void check_poisoned(const attn_backend *be, const job *j, const poison *x, const policy *before,
                           const policy *after, const float *clean, const float *o, const char *problem,
                           tally *t) {
  const attn_problem *p = &j->p;
  const int64_t dv = p->dv;
  for (int64_t r = 0; r < before->rows; r++) {
    const int64_t b = r / (p->h * p->lq), h = r / p->lq % p->h, i = r % p->lq;
    const row_kind k0 = before->kind[r], k1 = reads(j, x, r) ? after->kind[r] : k0;
    const double *want = reads(j, x, r) ? after->out + r * dv : before->out + r * dv;
    const double *absw = reads(j, x, r) ? after->absw + r * dv : before->absw + r * dv;
    const float *got = o + r * dv, *ref = clean + r * dv;
    int row_zeros = 0, row_nans = 0;
    for (int64_t c = 0; c < dv; c++) row_zeros += got[c] == 0, row_nans += isnan(got[c]);
    for (int64_t c = 0; c < dv; c++) {
      const int same =
          k0 == k1 && (k1 != ROW_VALUES || !memcmp(&before->out[r * dv + c], &want[c], sizeof(double)));
      const char *what = NULL;
      deviation dev = 0;
      if (k1 == ROW_ZERO && got[c] != 0)
        what = "a row with no visible key is not zero";
      else if (k1 == ROW_NEG_INF && row_zeros != dv && row_nans != dv)
        what = "a row whose visible scores are all -inf is neither all zero nor all NaN";
      else if (same && memcmp(&got[c], &ref[c], sizeof(float))) {
        what = "an output the policy leaves alone changed";
        if (masked_from(j, x, b, h, i)) dev = MASKED_LEAK;
      } else if (!same && (k1 == ROW_NAN || (k1 == ROW_VALUES && isnan(want[c]))) && !isnan(got[c])) {
        what = "an output the policy makes NaN is not NaN";
        dev = NAN_LOST;
      } else if (!same && k1 == ROW_VALUES && !isnan(want[c])) {
        /* Rounding of a d-term dot product and an n-term sum, generously. */
        const double err = fabs((double)got[c] - want[c]),
                     tol = 4.0 * (double)(p->d + attn_visible_end(p, j->lens, b, i)) * 0x1p-24 * absw[c];
        if (isinf(want[c]) ? got[c] != want[c] : !(err <= tol + 1e-30))
          what = "an output the policy changes is wrong";
      }
      if (!what) continue;
      const exception *ex = dev ? find_exception(be->name, dev, x->tensor, p->mask) : NULL;
      if (ex) {
        exception_hits[ex - exceptions]++;
        continue;
      }
      fail(t,
           "%s: %s: %c[b=%lld][head=%lld][%lld][%lld] = %g: out[b=%lld][h=%lld][row %lld][col %lld] = "
           "%.9g, clean %.9g, policy %.9g (%s)",
           be->name, problem, x->tensor, (long long)x->b, (long long)x->head, (long long)x->row,
           (long long)x->col, (double)x->value, (long long)b, (long long)h, (long long)i, (long long)c,
           (double)got[c], (double)ref[c],
           k1 == ROW_VALUES ? want[c]
           : k1 == ROW_ZERO ? 0.0
                            : NAN,
           what);
    }
  }
}

/* Shapes that reach the backends' different paths: grouped heads and vector
 * tails, several key blocks and row tiles, pad lengths of 0 and lk,
 * single-query rows long enough to split the keys, lq > lk, and causal rows
 * that see nothing. */
static const char *const shapes[] = {
    "b=2,h=4,hkv=2,lq=19,lk=37,d=20,dv=24,mask=causal",
    "b=2,h=2,lq=70,lk=300,d=32,mask=causal",
    "b=3,h=2,lq=9,lk=150,d=16,dv=8,mask=pad,lens=0:150:77",
    "b=2,h=1,lq=3,lk=20,d=4,mask=pad,lens=20:0",
    "b=1,h=2,lq=1,lk=700,d=128",
    "b=1,h=3,lq=12,lk=5,d=8,mask=causal-tl",
    "b=1,h=2,lq=8,lk=4,d=8,dv=3,mask=causal",
};

/* Every poison at the given value in the last batch and head (so that the
 * others must stay bitwise clean): queries of the first, middle and last row,
 * keys and values at the first, middle and last key and at either side of a
 * pad length, in a middle column. */
static int make_poisons(const job *j, float value, const char *tensors, poison *out) {
  const attn_problem *p = &j->p;
  const int64_t b = p->b - 1, ends[] = {0, p->lk / 2, p->lk - 1, j->lens[b] - 1, j->lens[b]};
  const int64_t rows[] = {0, p->lq / 2, p->lq - 1};
  int n = 0;
  for (const char *t = tensors; *t; t++) {
    const int64_t dim = *t == 'v' ? p->dv : p->d, head = *t == 'q' ? p->h - 1 : p->hkv - 1;
    const int nr = *t == 'q' ? 3 : p->mask == ATTN_MASK_PAD ? 5 : 3;
    for (int r = 0; r < nr; r++) {
      const int64_t row = *t == 'q' ? rows[r] : ends[r];
      if (row < 0 || row >= (*t == 'q' ? p->lq : p->lk)) continue;
      out[n++] = (poison){*t, b, head, row, dim / 2, value};
    }
  }
  return n;
}

/* note_stale: the test is the one each listed exception was found by, so
 * one that no longer occurs is worth a note. */
static void poison_test(const char *test, const float *values, int nvalues, const char *tensors,
                        int note_stale) {
  tally t = {0};
  int runs = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    job j;
    job_init(&j, shapes[s]);
    policy before, after;
    policy_alloc(&j, &before);
    policy_alloc(&j, &after);
    for (int64_t r = 0; r < before.rows; r++) policy_fill_row(&j, &before, r);
    /* Each backend's plan (run again for every poison: a plan is made for
     * a problem, not for its inputs) and clean output, then each poison
     * once, its policy rows shared by every backend. */
    const int64_t n_o = attn_o_elems(&j.p);
    float *clean = malloc(attn_backend_count() * (size_t)n_o * sizeof(float)), *o = out_alloc(&j);
    void **plans = calloc(attn_backend_count(), sizeof(void *));
    cr_assert(clean && plans);
    FOR_EACH_BACKEND(be) {
      if ((plans[be_i] = plan_backend(be, &j))) run_plan(be, plans[be_i], &j, clean + be_i * (size_t)n_o);
    }
    for (int vi = 0; vi < nvalues; vi++) {
      poison x[32];
      const int n = make_poisons(&j, values[vi], tensors, x);
      for (int i = 0; i < n; i++) {
        float *at = poison_at(&j, &x[i]), saved = *at;
        *at = x[i].value;
        for (int64_t r = 0; r < before.rows; r++)
          if (reads(&j, &x[i], r)) policy_fill_row(&j, &after, r);
        FOR_EACH_BACKEND(be) {
          if (!plans[be_i]) continue;
          run_plan(be, plans[be_i], &j, o);
          check_poisoned(be, &j, &x[i], &before, &after, clean + be_i * (size_t)n_o, o, shapes[s], &t);
          runs++;
        }
        *at = saved;
      }
    }
    FOR_EACH_BACKEND(be) {
      if (plans[be_i]) be->destroy(plans[be_i]);
    }
    free(clean);
    free(plans);
    free(o);
    policy_free(&before);
    policy_free(&after);
    job_free(&j);
  }
  cr_log_info("%s: %d poisoned runs, %lld outputs off the policy", test, runs, (long long)t.failures);
  report_exceptions(test, tensors, NAN_LOST, note_stale);
  report_exceptions(test, tensors, MASKED_LEAK, note_stale);
  cr_expect_eq(t.failures, 0, "%s: %lld outputs off the policy; the first: %s", test, (long long)t.failures,
               t.first);
}

/* NaN in one query row makes that row NaN; in a key row, every row of the
 * heads reading it that sees that key; in one value element, that column of
 * those rows. Nothing else changes by a bit. */
Test(numerics, nan_reaches_only_what_it_touches) {
  const float nan = NAN;
  poison_test("NaN", &nan, 1, "qkv", 1);
}

/* An infinite query or key element makes each score it enters +inf, -inf,
 * or NaN (inf * 0): +inf or NaN makes the row NaN, -inf drops that key as if
 * masked. An infinite value element makes its column +-inf in the rows that
 * give its key weight. */
Test(numerics, inf_follows_the_policy) {
  const float inf[] = {INFINITY, -INFINITY};
  poison_test("Inf", inf, 2, "qkv", 0);
}

/* Every visible score -inf (an infinite query element against keys of one
 * sign): the row is all zeros or all NaN; which one each backend gives is
 * logged. */
Test(numerics, all_scores_minus_inf) {
  static const char *const problems[] = {"b=1,h=2,lq=6,lk=40,d=8,mask=causal", "b=1,h=1,lq=1,lk=700,d=16"};
  for (size_t s = 0; s < sizeof problems / sizeof problems[0]; s++) {
    job j;
    job_init(&j, problems[s]);
    const attn_problem *p = &j.p;
    for (int64_t e = 0; e < attn_kv_elems(p); e++) j.k[e] = -fabsf(j.k[e]) - 0x1p-10f;
    for (int64_t r = 0; r < p->b * p->h * p->lq; r++) j.q[r * p->d] = INFINITY;
    float *o = out_alloc(&j);
    FOR_EACH_BACKEND(be) {
      if (run_backend(be, &j, o)) continue;
      int64_t zero = 0, nan = 0, rows = 0;
      for (int64_t r = 0; r < p->b * p->h * p->lq; r++) {
        int64_t z = 0, n = 0;
        for (int64_t c = 0; c < p->dv; c++) z += o[r * p->dv + c] == 0, n += isnan(o[r * p->dv + c]);
        if (attn_visible_end(p, j.lens, r / (p->h * p->lq), r % p->lq) == 0) {
          cr_expect_eq(z, p->dv, "%s: %s: row %lld sees no key but is not zero", be->name, problems[s],
                       (long long)r);
          continue;
        }
        rows++;
        zero += z == p->dv;
        nan += n == p->dv;
      }
      cr_expect_eq(zero + nan, rows,
                   "%s: %s: %lld of %lld rows with every score -inf are neither zero nor NaN", be->name,
                   problems[s], (long long)(rows - zero - nan), (long long)rows);
      cr_log_info("%s: %s: rows whose visible scores are all -inf: %lld zero, %lld NaN", be->name,
                  problems[s], (long long)zero, (long long)nan);
    }
    free(o);
    job_free(&j);
  }
}

/* A small seeded permutation of 0..n-1 (Fisher-Yates on a 64-bit LCG). */
static void shuffle(int64_t *perm, int64_t n, uint64_t seed) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    const int64_t r = (int64_t)((seed >> 33) % (uint64_t)(i + 1)), t = perm[i];
    perm[i] = perm[r];
    perm[r] = t;
  }
}

/* Logits up to about +-1e30 whose gaps (at least 1e30 / lk) dwarf their
 * rounding (about 1e30 * d * 2^-24): with max-subtraction the weights are
 * exactly one-hot, so each row is the value row of its best visible key
 * (positive queries: the key ranked highest; negative: lowest), rounded
 * once at most. Without it, exp overflows. */
Test(numerics, huge_logits_pick_their_key) {
  static const char *const problems[] = {"b=1,h=2,lq=19,lk=300,d=8,mask=causal", "b=1,h=1,lq=1,lk=700,d=4",
                                         "b=2,h=2,hkv=1,lq=9,lk=33,d=3,dv=5,mask=pad,lens=5:33",
                                         "b=1,h=2,lq=40,lk=40,d=128,mask=causal-tl"};
  for (size_t s = 0; s < sizeof problems / sizeof problems[0]; s++) {
    job j;
    job_init(&j, problems[s]);
    const attn_problem *p = &j.p;
    int64_t *rank = malloc((size_t)(p->b * p->hkv * p->lk) * sizeof(int64_t));
    cr_assert_not_null(rank);
    /* score = scale * d * Q * K * (rank + 1) / lk = +-1e30 (rank + 1) / lk */
    const double kk = 1e15, qq = 1e30 / (kk * (double)attn_scale(p) * (double)p->d);
    for (int64_t hd = 0; hd < p->b * p->hkv; hd++) {
      shuffle(rank + hd * p->lk, p->lk, (uint64_t)hd + 1);
      for (int64_t jj = 0; jj < p->lk; jj++)
        for (int64_t c = 0; c < p->d; c++)
          j.k[(hd * p->lk + jj) * p->d + c] =
              (float)(kk * (double)(rank[hd * p->lk + jj] + 1) / (double)p->lk);
    }
    for (int64_t r = 0; r < p->b * p->h * p->lq; r++)
      for (int64_t c = 0; c < p->d; c++) j.q[r * p->d + c] = (float)(r % 3 ? qq : -qq);
    float *o = out_alloc(&j);
    FOR_EACH_BACKEND(be) {
      if (run_backend(be, &j, o)) continue;
      int64_t bad = 0, first = -1;
      for (int64_t r = 0; r < p->b * p->h * p->lq; r++) {
        const int64_t b = r / (p->h * p->lq), h = r / p->lq % p->h, kv = b * p->hkv + attn_kv_head(p, h);
        const int64_t end = attn_visible_end(p, j.lens, b, r % p->lq);
        int64_t best = -1;
        for (int64_t jj = 0; jj < end; jj++) {
          const int64_t rk = rank[kv * p->lk + jj];
          if (best < 0 || (r % 3 ? rk > rank[kv * p->lk + best] : rk < rank[kv * p->lk + best])) best = jj;
        }
        for (int64_t c = 0; c < p->dv; c++) {
          const float got = o[r * p->dv + c];
          const float want = best < 0 ? 0.0f : j.v[(kv * p->lk + best) * p->dv + c];
          if (!(fabsf(got - want) <= 0x1p-22f * fabsf(want)) && bad++ == 0) first = r * p->dv + c;
        }
      }
      cr_expect_eq(
          bad, 0, "%s: %s: %lld outputs are not their row's best key's value; the first, [%lld]: %.9g",
          be->name, problems[s], (long long)bad, (long long)first, first < 0 ? 0.0 : (double)o[first]);
    }
    free(o);
    free(rank);
    job_free(&j);
  }
}

/* Subnormal inputs: values of order 2^-130 (every one subnormal) must not be
 * flushed, and subnormal queries or keys (scores that underflow to about 0)
 * must give the uniform weights they mean. The bound is the tolerance model's
 * plus one subnormal rounding (2^-150) per operation of the row's weighted
 * sum, rescales and merges: about 4 n of them. A backend that flushes
 * subnormal values to zero misses by the outputs' own size, ten or more
 * times that. */
Test(numerics, subnormal_inputs_are_honoured) {
  static const char *const problems[] = {"b=1,h=2,lq=19,lk=37,d=20,dv=24,mask=causal",
                                         "b=1,h=1,lq=1,lk=700,d=64",
                                         "b=2,h=2,lq=9,lk=150,d=16,dv=8,mask=pad,lens=150:77"};
  static const char *const scaled[] = {"v", "q", "k", "qkv"};
  for (size_t s = 0; s < sizeof problems / sizeof problems[0]; s++)
    for (size_t w = 0; w < sizeof scaled / sizeof scaled[0]; w++) {
      job j;
      job_init(&j, problems[s]);
      const attn_problem *p = &j.p;
      if (strchr(scaled[w], 'q'))
        for (int64_t e = 0; e < attn_q_elems(p); e++) j.q[e] *= 0x1p-130f;
      if (strchr(scaled[w], 'k'))
        for (int64_t e = 0; e < attn_kv_elems(p); e++) j.k[e] *= 0x1p-130f;
      if (strchr(scaled[w], 'v'))
        for (int64_t e = 0; e < attn_v_elems(p); e++) j.v[e] *= 0x1p-130f;
      const attn_tensors t = {.q = j.q, .k = j.k, .v = j.v, .lens = j.lens};
      attn_oracle orc = {0};
      cr_assert_eq(attn_oracle_compute(p, &t, &orc), ATTN_OK);
      float *o = out_alloc(&j);
      FOR_EACH_BACKEND(be) {
        if (run_backend(be, &j, o)) continue;
        double worst = 0, nonzero = 0;
        for (int64_t r = 0; r < orc.nrows; r++)
          for (int64_t c = 0; c < p->dv; c++) {
            const double bound =
                attn_tolerance(&orc, &be->accuracy, r, c) + (4.0 * (double)orc.nvis[r] + 8) * 0x1p-150;
            const double err = fabs((double)o[r * p->dv + c] - orc.out[r * p->dv + c]);
            const double ratio = err == 0 ? 0 : err / bound;
            if (!(ratio <= worst)) worst = ratio;
            nonzero += o[r * p->dv + c] != 0;
          }
        cr_expect_leq(worst, 1.0, "%s: %s, %s subnormal: error %.3g of the bound", be->name, problems[s],
                      scaled[w], worst);
        cr_expect_gt(nonzero, 0, "%s: %s, %s subnormal: every output is zero", be->name, problems[s],
                     scaled[w]);
      }
      free(o);
      attn_oracle_free(&orc);
      job_free(&j);
    }
}

/* One key, one dimension, one value column, alone and together, under each
 * mask: the narrowest shapes, against the oracle under the tolerance model. */
Test(numerics, one_key_one_dim) {
  static const char *const problems[] = {
      "b=1,h=1,lq=1,lk=1,d=1,dv=1",
      "b=2,h=3,lq=5,lk=1,d=1,dv=1",
      "b=2,h=2,lq=7,lk=1,d=1,dv=1,mask=causal",
      "b=1,h=2,lq=7,lk=1,d=16,dv=16,mask=causal-tl",
      "b=2,h=1,lq=4,lk=1,d=64,dv=64,mask=pad,lens=0:1",
      "b=1,h=4,hkv=1,lq=3,lk=9,d=1,dv=33",
      "b=1,h=2,lq=17,lk=40,d=33,dv=1,mask=causal-tl",
      "b=1,h=2,lq=1,lk=700,d=1,dv=1",
      "b=2,h=2,lq=20,lk=300,d=1,dv=1,mask=causal",
  };
  for (size_t s = 0; s < sizeof problems / sizeof problems[0]; s++) {
    job j;
    job_init(&j, problems[s]);
    const attn_tensors t = {.q = j.q, .k = j.k, .v = j.v, .lens = j.lens};
    attn_oracle orc = {0};
    cr_assert_eq(attn_oracle_compute(&j.p, &t, &orc), ATTN_OK);
    float *o = out_alloc(&j);
    FOR_EACH_BACKEND(be) {
      if (run_backend(be, &j, o)) continue;
      attn_compare c;
      attn_oracle_check(&orc, &be->accuracy, o, &c);
      cr_expect_neq(c.verdict, ATTN_FAILED, "%s: %s: error %.3g of the bound at [%lld]: got %.9g want %.9g",
                    be->name, problems[s], c.max_ratio, (long long)c.worst, c.worst_out, c.worst_ref);
    }
    free(o);
    attn_oracle_free(&orc);
    job_free(&j);
  }
}

/* mode=local-p with a NaN centre (attn_window_centre): a NaN in one query
 * row makes that row NaN and leaves every other row as it was (to rounding);
 * a NaN in vp makes every centre NaN, so every row that sees a key is NaN
 * and a row that sees none is zero. Before the rule a NaN centre reached a
 * float-to-integer conversion (undefined; the sanitizer build traps it). */
static void run_local_p(const attn_backend *be, const job *j, const float *wp, const float *vp, float *o) {
  void *plan = plan_backend(be, j);
  cr_assert_not_null(plan, "%s declines mode=local-p", be->name);
  for (int64_t e = 0; e < attn_o_elems(&j->p); e++) o[e] = 12345.0f;
  const attn_tensors t = {.q = j->q, .k = j->k, .v = j->v, .lens = j->lens, .o = o, .wp = wp, .vp = vp};
  const attn_status s = be->run(plan, &t);
  cr_assert_eq(s, ATTN_OK, "%s: run: %s", be->name, attn_status_name(s));
  be->destroy(plan);
}

Test(numerics, nan_local_p_centre) {
  static const char *const problems[] = {"b=1,h=2,lq=9,lk=40,d=8,mode=local-p,window=3",
                                         ("b=2,h=4,hkv=2,lq=7,lk=15,d=12,dv=9,da=5,mask=pad,lens=0:15,"
                                          "mode=local-p,window=3"),
                                         "b=1,h=2,lq=9,lk=40,d=8,mask=causal,mode=local-p,window=30"};
  for (size_t s = 0; s < sizeof problems / sizeof problems[0]; s++) {
    job j;
    job_init(&j, problems[s]);
    const attn_problem *p = &j.p;
    const int64_t rows = p->b * p->h * p->lq, dv = p->dv, bad = rows - 2;
    float *wp = malloc((size_t)attn_wp_elems(p) * sizeof(float)),
          *vp = malloc((size_t)attn_vp_elems(p) * sizeof(float));
    float *clean = out_alloc(&j), *o = out_alloc(&j);
    cr_assert(wp && vp);
    attn_fill_weights(p, NULL, NULL, NULL, NULL, wp, vp);
    int ran = 0;
    FOR_EACH_BACKEND(be) {
      ran++;
      run_local_p(be, &j, wp, vp, clean);
      const float keep = j.q[bad * p->d];
      j.q[bad * p->d] = NAN;
      run_local_p(be, &j, wp, vp, o);
      j.q[bad * p->d] = keep;
      for (int64_t r = 0; r < rows; r++) {
        const int sees = attn_visible_end(p, j.lens, r / (p->h * p->lq), r % p->lq) > 0;
        for (int64_t c = 0; c < dv; c++) {
          if (r == bad && sees)
            cr_expect(isnan(o[r * dv + c]), "%s: %s: NaN query row %lld col %lld is %g, not NaN", be->name,
                      problems[s], (long long)r, (long long)c, (double)o[r * dv + c]);
          else /* not bitwise: a backend may group rows by centre, and a row's group sets its rounding */
            cr_expect(fabsf(o[r * dv + c] - clean[r * dv + c]) <= 1e-5f * (1.0f + fabsf(clean[r * dv + c])),
                      "%s: %s: row %lld col %lld changed: %.9g, clean %.9g", be->name, problems[s],
                      (long long)r, (long long)c, (double)o[r * dv + c], (double)clean[r * dv + c]);
        }
      }
      const float keep_vp = vp[0];
      vp[0] = NAN;
      run_local_p(be, &j, wp, vp, o);
      vp[0] = keep_vp;
      for (int64_t r = 0; r < rows; r++) {
        const int sees = attn_visible_end(p, j.lens, r / (p->h * p->lq), r % p->lq) > 0;
        for (int64_t c = 0; c < dv; c++)
          cr_expect(sees ? isnan(o[r * dv + c]) : o[r * dv + c] == 0,
                    "%s: %s: vp NaN: row %lld col %lld is %g", be->name, problems[s], (long long)r,
                    (long long)c, (double)o[r * dv + c]);
      }
    }
    if (!ran) cr_skip_test("no backend runs on this CPU");
    free(wp);
    free(vp);
    free(clean);
    free(o);
    job_free(&j);
  }
}
