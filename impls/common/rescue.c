/* The overflow rescue (rescue.h). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include "rescue.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "attnbench/problem.h"

/* Address space only: the pages are faulted in by the first rescue. */
static float *reserve(size_t elems) {
  if (!elems) return NULL;
  void *m = mmap(NULL, elems * sizeof(float), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return m == MAP_FAILED ? NULL : m;
}

static void release(float *m, size_t elems) {
  if (m) munmap(m, elems * sizeof(float));
}

attn_status attn_rescue_plan(attn_rescue *r, const attn_problem *p) {
  memset(r, 0, sizeof *r);
  r->v_elems = (size_t)attn_v_elems(p);
  r->o_elems = (size_t)attn_o_elems(p);
  /* 2^k >= 2 lk: n <= lk weights of at most 2^-k each sum to at most 1/2. */
  for (r->k = 1; (int64_t)1 << (r->k - 1) < p->lk && r->k < 62; r->k++) {
  }
  r->v = reserve(r->v_elems);
  r->o = reserve(r->o_elems);
  if ((r->v_elems && !r->v) || (r->o_elems && !r->o)) {
    attn_rescue_free(r);
    return ATTN_ENOMEM;
  }
  return ATTN_OK;
}

void attn_rescue_free(attn_rescue *r) {
  release(r->v, r->v_elems);
  release(r->o, r->o_elems);
  memset(r, 0, sizeof *r);
}

int attn_any_nonfinite(const float *x, size_t n) {
  /* The exponent field all ones is inf or NaN; integer lanes let the
   * compiler vectorise the reduction, which it may not reorder in float. */
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t w;
    memcpy(&w, x + i, sizeof w);
    bad |= (uint32_t)((w & 0x7f800000u) == 0x7f800000u);
  }
  return bad != 0;
}

attn_status attn_run_rescued(const attn_rescue *r, attn_forward_fn forward, void *plan,
                             const attn_tensors *t) {
  attn_status s = forward(plan, t);
  if (s != ATTN_OK || !r->o || !r->v || !attn_any_nonfinite(t->o, r->o_elems)) return s;
  const float down = ldexpf(1.0f, -r->k), up = ldexpf(1.0f, r->k);
  for (size_t i = 0; i < r->v_elems; i++) r->v[i] = t->v[i] * down;
  /* NaN first, as the harness poisons outputs: an element the forward
   * leaves unwritten must not be "rescued" from stale memory. */
  for (size_t i = 0; i < r->o_elems; i++) r->o[i] = NAN;
  attn_tensors scaled = *t;
  scaled.v = r->v;
  scaled.o = r->o;
  if ((s = forward(plan, &scaled)) != ATTN_OK) return s;
  for (size_t i = 0; i < r->o_elems; i++)
    if (!isfinite(t->o[i]) && isfinite(r->o[i])) t->o[i] = r->o[i] * up;
  return ATTN_OK;
}
