/* op=mha's staged check (README.md, "op=mha"). Each stage is a product of two
 * float matrices that the backend computed in fp32; here it is recomputed in
 * double, and every element is held to the classical bound of an fp32 dot
 * product in any summation order, with or without fused multiply-adds:
 *
 *   |got - exact| <= gamma(k) * sum_t |a_t b_t|   (+ the double sum's own error
 *                                                 and fp32 underflow, both tiny)
 *
 * The head split and the concatenation are index maps, exact, so they are
 * applied here independently of the harness: a wrong split, a transposed or
 * missing weight shows up as an O(1) relative error against a bound of
 * k * 2^-24 relative. */
#include <math.h>
#include <stdlib.h>

#include "attnbench/problem.h"
#include "attnbench/reference.h"
#include "compare.h"

/* A [b][heads][len][dim] tensor seen as the [b*len][heads*dim] matrix whose
 * column block i is head i: the layout of a projection split into heads. */
typedef struct heads_view {
  const float *x;
  int64_t len, heads, dim;
} heads_view;

static int64_t heads_index(const heads_view *v, int64_t r, int64_t c) {
  const int64_t bi = r / v->len, i = r % v->len, hd = c / v->dim;
  return ((bi * v->heads + hd) * v->len + i) * v->dim + c % v->dim;
}

/* Row r of a row-major [rows][k] matrix, or of a heads view (a != NULL). */
static double a_at(const float *plain, const heads_view *a, int64_t k, int64_t r, int64_t t) {
  return a ? (double)a->x[heads_index(a, r, t)] : (double)plain[r * k + t];
}

/* got (row r, column c) = sum_t A(r, t) B(t, c), over the selected rows of
 * C; got is either a heads view (cview) or plain [m][n]. B is bmat [k][n], or
 * with b_trans bmat [n][k] (a weight stored [out][in], as op=han's are). */
static attn_status check_product(const float *a_plain, const heads_view *a_heads, const float *bmat,
                                 int b_trans, int64_t m, int64_t n, int64_t k, const float *got_plain,
                                 const heads_view *got_heads, const int64_t *rows, int64_t nrows,
                                 attn_compare *res) {
  if (!rows) nrows = m;
  for (int64_t i = 0; rows && i < nrows; i++)
    if (rows[i] < 0 || rows[i] >= m) return ATTN_EINVAL;
  /* The fp32 bound, plus the reference's own rounding (k terms in double),
   * plus products that fall below fp32's normal range: each loses at most
   * 2^-150 absolutely, and so may the partial sums. */
  const double rel = compare_gamma32((double)k) + (double)k * 0x1p-53 * 1.01, tiny = 2 * (double)k * 0x1p-150;
  compare_state st;
  compare_begin(&st, res);
  double *arow = malloc((size_t)k * sizeof(double));
  if (!arow) return ATTN_ENOMEM;
  for (int64_t i = 0; i < nrows; i++) {
    const int64_t r = rows ? rows[i] : i;
    for (int64_t t = 0; t < k; t++) arow[t] = a_at(a_plain, a_heads, k, r, t);
    for (int64_t c = 0; c < n; c++) {
      double sum = 0, abssum = 0;
      for (int64_t t = 0; t < k; t++) {
        const double prod = arow[t] * (double)bmat[b_trans ? c * k + t : t * n + c];
        sum += prod;
        abssum += fabs(prod);
      }
      const int64_t at = got_heads ? heads_index(got_heads, r, c) : r * n + c;
      const float *g = got_heads ? got_heads->x : got_plain;
      /* An element all of whose products are zero (a row of the attention
       * output with no visible key) proves nothing: it does not count for
       * the trust test, though it is still compared. */
      compare_add(&st, res, at, g[at], sum, rel * abssum + tiny, abssum > 0);
    }
  }
  free(arow);
  compare_end(&st, res);
  return ATTN_OK;
}

attn_status attn_check_projection(int64_t b, int64_t len, int64_t dm, int64_t heads, int64_t dim,
                                  const float *x, const float *w, const float *got, const int64_t *rows,
                                  int64_t nrows, attn_compare *res) {
  const heads_view gv = {got, len, heads, dim};
  return check_product(x, NULL, w, 0, b * len, heads * dim, dm, NULL, &gv, rows, nrows, res);
}

attn_status attn_check_out_projection(const attn_problem *p, const float *o, const float *wo, const float *y,
                                      const int64_t *rows, int64_t nrows, attn_compare *res) {
  const heads_view ov = {o, p->lq, p->h, p->dv};
  return check_product(NULL, &ov, wo, 0, p->b * p->lq, p->dm, p->h * p->dv, y, NULL, rows, nrows, res);
}

attn_status attn_check_gemm_wt(int64_t m, int64_t n, int64_t k, const float *a, const float *w,
                               const float *got, const int64_t *rows, int64_t nrows, attn_compare *res) {
  return check_product(a, NULL, w, 1, m, n, k, got, NULL, rows, nrows, res);
}
