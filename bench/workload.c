/* Workload drivers. A decode step attends with one query per head to every
 * key cached so far, which is exactly row t of a bottom-right causal
 * attention with lq=steps over lk+steps keys: that is what the oracle checks,
 * and what `run` takes as inputs. */
#include "workload.h"

#include <stdlib.h>
#include <string.h>

static attn_problem full_problem(const attn_problem *p) {
  attn_problem f = *p;
  if (p->op == ATTN_OP_DECODE) {
    f.op = ATTN_OP_ATTN;
    f.steps = 0;
    f.lq = p->steps;
    f.lk = p->lk + p->steps;
    f.mask = ATTN_MASK_CAUSAL;
  }
  return f;
}

static attn_problem planned_problem(const attn_problem *p) {
  attn_problem s = full_problem(p);
  if (p->op == ATTN_OP_DECODE) {
    s.lq = 1;
    s.mask = ATTN_MASK_PAD;
    s.nlens = 0;
  }
  return s;
}

void workload_free(workload *w) {
  bench_inputs_free(&w->in);
  free(w->kc);
  free(w->vc);
  free(w->ktok);
  free(w->vtok);
  free(w->qt);
  free(w->ot);
  free(w->lens);
  memset(w, 0, sizeof *w);
}

static float *zeroed(int64_t elems) { return calloc((size_t)elems ? (size_t)elems : 1, sizeof(float)); }

/* The cache as it stands before the first step: lk keys, then room for one
 * more per step. The new tokens' keys and values wait in their own buffers. */
void workload_prepare(workload *w) {
  if (w->p.op != ATTN_OP_DECODE) return;
  const attn_problem *f = &w->full;
  const int64_t lk0 = w->p.lk, cap = f->lk, steps = w->p.steps;
  for (int64_t g = 0; g < f->b * f->hkv; g++) {
    memcpy(w->kc + g * cap * f->d, w->in.k + g * cap * f->d, (size_t)(lk0 * f->d) * sizeof(float));
    memcpy(w->vc + g * cap * f->dv, w->in.v + g * cap * f->dv, (size_t)(lk0 * f->dv) * sizeof(float));
    memset(w->kc + (g * cap + lk0) * f->d, 0, (size_t)(steps * f->d) * sizeof(float));
    memset(w->vc + (g * cap + lk0) * f->dv, 0, (size_t)(steps * f->dv) * sizeof(float));
    memcpy(w->ktok + g * steps * f->d, w->in.k + (g * cap + lk0) * f->d,
           (size_t)(steps * f->d) * sizeof(float));
    memcpy(w->vtok + g * steps * f->dv, w->in.v + (g * cap + lk0) * f->dv,
           (size_t)(steps * f->dv) * sizeof(float));
  }
}

attn_status workload_init(const attn_problem *p, int fill, double extra_bytes, workload *w, char *err,
                          size_t n) {
  memset(w, 0, sizeof *w);
  w->p = *p;
  w->full = full_problem(p);
  w->planned = planned_problem(p);
  const attn_problem *f = &w->full;
  /* A decode also keeps the cache (as large as K and V) and the new tokens. */
  const double decode_bytes =
      p->op == ATTN_OP_DECODE ? 4.0 * (double)(attn_kv_elems(f) + attn_v_elems(f)) * 1.5 : 0;
  attn_status s = bench_memory_check(f, extra_bytes + decode_bytes, err, n);
  if (s == ATTN_OK) s = bench_inputs_alloc(f, fill, &w->in, err, n);
  if (s != ATTN_OK || p->op != ATTN_OP_DECODE) return s;
  w->kc = zeroed(attn_kv_elems(f));
  w->vc = zeroed(attn_v_elems(f));
  w->ktok = zeroed(f->b * f->hkv * p->steps * f->d);
  w->vtok = zeroed(f->b * f->hkv * p->steps * f->dv);
  w->qt = zeroed(f->b * f->h * f->d);
  w->ot = zeroed(f->b * f->h * f->dv);
  w->lens = calloc((size_t)f->b, sizeof(int32_t));
  if (!w->kc || !w->vc || !w->ktok || !w->vtok || !w->qt || !w->ot || !w->lens) {
    snprintf(err, n, "cannot allocate the decode cache of %.2f GiB", decode_bytes / (1 << 30));
    workload_free(w);
    return ATTN_ENOMEM;
  }
  if (fill) workload_prepare(w);
  return ATTN_OK;
}

/* Step t: append the new token's key and value, gather each head's query,
 * attend to the lk+t+1 cached keys, scatter the outputs. */
static attn_status decode_step(workload *w, const attn_backend *be, void *plan, int64_t t) {
  const attn_problem *f = &w->full;
  const int64_t cap = f->lk, steps = w->p.steps, at = w->p.lk + t;
  for (int64_t g = 0; g < f->b * f->hkv; g++) {
    memcpy(w->kc + (g * cap + at) * f->d, w->ktok + (g * steps + t) * f->d, (size_t)f->d * sizeof(float));
    memcpy(w->vc + (g * cap + at) * f->dv, w->vtok + (g * steps + t) * f->dv, (size_t)f->dv * sizeof(float));
  }
  for (int64_t r = 0; r < f->b * f->h; r++)
    memcpy(w->qt + r * f->d, w->in.q + (r * steps + t) * f->d, (size_t)f->d * sizeof(float));
  for (int64_t bi = 0; bi < f->b; bi++) w->lens[bi] = (int32_t)(at + 1);
  attn_tensors ts = {.q = w->qt, .k = w->kc, .v = w->vc, .lens = w->lens, .o = w->ot};
  attn_status s = be->run(plan, &ts);
  for (int64_t r = 0; r < f->b * f->h; r++)
    memcpy(w->in.o + (r * steps + t) * f->dv, w->ot + r * f->dv, (size_t)f->dv * sizeof(float));
  return s;
}

attn_status workload_run(workload *w, const attn_backend *be, void *plan) {
  if (w->p.op == ATTN_OP_ATTN) {
    attn_tensors t = bench_tensors(&w->in);
    return be->run(plan, &t);
  }
  attn_status s = ATTN_OK;
  for (int64_t t = 0; t < w->p.steps && s == ATTN_OK; t++) s = decode_step(w, be, plan, t);
  return s;
}

int64_t workload_check_rows(const workload *w, int64_t **rows) {
  *rows = NULL;
  if (w->p.op != ATTN_OP_DECODE) return 0;
  const int64_t steps = w->p.steps, heads = w->full.b * w->full.h;
  const int64_t picks[3] = {0, steps / 2, steps - 1};
  const int npicks = steps >= 3 ? 3 : (int)steps;
  *rows = malloc((size_t)(heads * npicks) * sizeof(int64_t));
  if (!*rows) return -1;
  int64_t n = 0;
  for (int64_t r = 0; r < heads; r++)
    for (int i = 0; i < npicks; i++) (*rows)[n++] = r * steps + (npicks == 3 ? picks[i] : i);
  return n;
}
