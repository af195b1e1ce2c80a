/* op=han's bias and tanh stage (README.md, "op=han"): the one step of the
 * hierarchical attention that is neither a GEMM nor an attention. Checked on
 * the backend's own GEMM output, so that its bound is first-order tight:
 *
 *   got = tanhf(fl(g + bias)),  |fl(g + bias) - (g + bias)| <= u |g + bias|,
 *
 * tanh is 1-Lipschitz, so the add moves the result by at most u |x| (x the
 * exact g + bias), and tanhf adds ATTN_TANHF_ULP units in the last place of
 * its result (2^-23 |tanh| per unit for normal results, 2^-149 below). A
 * skipped tanh moves an element by x^3/3, a missing bias by |bias|: both far
 * beyond it on the fills' scales. */
#include <math.h>

#include "attnbench/reference.h"
#include "compare.h"

attn_status attn_check_bias_tanh(int64_t m, int64_t n, const float *g, const float *bias, const float *got,
                                 const int64_t *rows, int64_t nrows, attn_compare *res) {
  if (!rows) nrows = m;
  for (int64_t i = 0; rows && i < nrows; i++)
    if (rows[i] < 0 || rows[i] >= m) return ATTN_EINVAL;
  const double u = 0x1p-24, ulps = ATTN_TANHF_ULP;
  compare_state st;
  compare_begin(&st, res);
  for (int64_t i = 0; i < nrows; i++) {
    const int64_t r = rows ? rows[i] : i;
    for (int64_t c = 0; c < n; c++) {
      const double x = (double)g[r * n + c] + (double)bias[c], t = tanh(x);
      /* the add, tanhf's ulps (of a result already off by the add), and the
       * reference's own tanh in double */
      const double bound =
          u * fabs(x) + ulps * (0x1p-23 * (fabs(t) + u * fabs(x)) + 0x1p-149) + 4 * 0x1p-53 * fabs(t);
      compare_add(&st, res, r * n + c, got[r * n + c], t, bound, x != 0);
    }
  }
  compare_end(&st, res);
  return ATTN_OK;
}
