/* Seeded input generation: the same problem string always yields the same
 * bits, on every machine (integer generator, exactly rounded float steps). */
#include <math.h>
#include <string.h>

#include "attnbench/problem.h"
#include "attnbench/reference.h"

typedef struct rng {
  uint64_t s;
} rng;

/* splitmix64: tiny, seedable, good enough for test data. */
static uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [-1, 1), exactly representable. */
static float rng_unit(rng *r) { return (float)((int64_t)(rng_next(r) >> 40) - (1 << 23)) * 0x1p-23f; }

static rng rng_for(const attn_problem *p, uint64_t stream) {
  rng r = {p->seed * 0x2545f4914f6cdd1dull + stream};
  rng_next(&r);
  return r;
}

static void fill_uniform(rng *r, float *x, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * 0.5f * (rng_unit(r) + 1.0f);
}

/* Copies row 0 of every [len][dim] head block over the other rows. */
static void repeat_first_row(float *x, int64_t heads, int64_t len, int64_t dim) {
  for (int64_t hd = 0; hd < heads; hd++)
    for (int64_t j = 1; j < len; j++)
      memcpy(x + (hd * len + j) * dim, x + hd * len * dim, (size_t)dim * sizeof(float));
}

/* Queries of +-c and keys in [-1,1] give logits with a standard deviation of
 * about 1e4: exp overflows unless the row maximum is subtracted. */
static void fill_large(const attn_problem *p, rng *r, float *q) {
  const double target = 1e4, scale = fabs((double)attn_scale(p));
  const float c = (float)(target / (scale * sqrt((double)p->d / 3.0)));
  for (int64_t i = 0; i < attn_q_elems(p); i++) q[i] = (rng_next(r) >> 63) ? c : -c;
}

/* Positive queries and one key per head of large positive entries: that key
 * outscores every other by at least 30. */
static void fill_dominant(const attn_problem *p, rng *r, float *q, float *k) {
  const double scale = fabs((double)attn_scale(p));
  fill_uniform(r, q, attn_q_elems(p), 0.5f, 1.0f);
  for (int64_t i = 0; i < attn_kv_elems(p); i++) k[i] *= 0.0625f;
  const float c = (float)(80.0 / (scale * (double)p->d)) + 1.0f;
  for (int64_t hd = 0; hd < p->b * p->hkv; hd++) {
    const int64_t j = (int64_t)(rng_next(r) % (uint64_t)p->lk);
    for (int64_t x = 0; x < p->d; x++) k[(hd * p->lk + j) * p->d + x] = c;
  }
}

static void fill_lens(const attn_problem *p, rng *r, int32_t *lens) {
  for (int64_t bi = 0; bi < p->b; bi++)
    lens[bi] = p->nlens ? p->lens[bi] : (int32_t)(rng_next(r) % (uint64_t)(p->lk + 1));
}

void attn_fill_inputs(const attn_problem *p, float *q, float *k, float *v, int32_t *lens) {
  rng rq = rng_for(p, 1), rk = rng_for(p, 2), rv = rng_for(p, 3), rl = rng_for(p, 4);
  fill_uniform(&rq, q, attn_q_elems(p), -1, 1);
  fill_uniform(&rk, k, attn_kv_elems(p), -1, 1);
  fill_uniform(&rv, v, attn_v_elems(p), -1, 1);
  if (lens && p->mask == ATTN_MASK_PAD) fill_lens(p, &rl, lens);
  switch (p->fill) {
  case ATTN_FILL_RANDOM: break;
  case ATTN_FILL_LARGE: fill_large(p, &rq, q); break;
  case ATTN_FILL_SAME_KEYS: repeat_first_row(k, p->b * p->hkv, p->lk, p->d); break;
  case ATTN_FILL_CONST_V: repeat_first_row(v, p->b * p->hkv, p->lk, p->dv); break;
  case ATTN_FILL_DOMINANT: fill_dominant(p, &rk, q, k); break;
  case ATTN_FILL_HUGE_V:
    for (int64_t e = 0; e < attn_v_elems(p); e++) v[e] *= 0x1p127f;
    break;
  }
}

/* Weights of [-1, 1] / sqrt(d) keep s^T W h, W1 h + W2 s and Wp s of the
 * order of a dot product over sqrt(d) (tanh neither saturated nor linear);
 * vp . tanh(Wp s) of order 4 spreads local-p's centres lk * sigmoid(.) across
 * the keys rather than bunching them in the middle. Streams 20..25: no other
 * fill draws from them. */
void attn_fill_weights(const attn_problem *p, float *w, float *w1, float *w2, float *u, float *wp,
                       float *vp) {
  const float ws = (float)(1 / sqrt((double)p->d)), vs = p->da > 0 ? (float)(4 / sqrt((double)p->da)) : 0;
  const struct {
    float *x;
    int64_t n;
    float lim;
  } weights[] = {{w, attn_w_elems(p), ws}, {w1, attn_wa_elems(p), ws}, {w2, attn_wa_elems(p), ws},
                 {u, attn_u_elems(p), 1},  {wp, attn_wp_elems(p), ws}, {vp, attn_vp_elems(p), vs}};
  for (int i = 0; i < 6; i++) {
    if (!weights[i].x) continue;
    rng r = rng_for(p, 20 + (uint64_t)i);
    fill_uniform(&r, weights[i].x, weights[i].n, -weights[i].lim, weights[i].lim);
  }
}

/* X_q, X_kv uniform in [-1, 1]; each weight uniform in [-1, 1] / sqrt(rows),
 * so that every projection is of order one whatever the model width and the
 * attention sees scores of the same order as with fill=random. Powers of two
 * would keep the scaling exact; 1/sqrt(rows) is rounded once, which the
 * oracle sees as part of the float inputs. */
void attn_fill_mha(const attn_problem *p, float *xq, float *xkv, float *wq, float *wk, float *wv, float *wo,
                   int32_t *lens) {
  rng r[7];
  for (int i = 0; i < 7; i++) r[i] = rng_for(p, 5 + (uint64_t)i);
  const float in_scale = (float)(1 / sqrt((double)p->dm)),
              out_scale = (float)(1 / sqrt((double)(p->h * p->dv)));
  fill_uniform(&r[0], xq, p->b * p->lq * p->dm, -1, 1);
  if (xkv) fill_uniform(&r[1], xkv, p->b * p->lk * p->dm, -1, 1);
  fill_uniform(&r[2], wq, p->dm * p->h * p->d, -in_scale, in_scale);
  fill_uniform(&r[3], wk, p->dm * p->hkv * p->d, -in_scale, in_scale);
  fill_uniform(&r[4], wv, p->dm * p->hkv * p->dv, -in_scale, in_scale);
  fill_uniform(&r[5], wo, p->h * p->dv * p->dm, -out_scale, out_scale);
  if (lens && p->mask == ATTN_MASK_PAD) fill_lens(p, &r[6], lens);
}

/* A count in 0..full: among every four, one full and one empty (the edge
 * cases of the padding) and two drawn. */
static int32_t draw_count(rng *r, int64_t i, int64_t full) {
  if (i % 4 == 0) return (int32_t)full;
  if (i % 4 == 1) return 0;
  return (int32_t)(rng_next(r) % (uint64_t)(full + 1));
}

/* Weights in [-1, 1] / sqrt(d) keep X W^T of order one (tanh neither
 * saturated nor linear); c in [-1, 1] / sqrt(da) keeps the scores, taken
 * with scale 1, of order one. The first document keeps all its sentences, so
 * that a padded problem still has a nonzero output to compare. */
void attn_fill_han(const attn_problem *p, float *x, float *ww, float *bw, float *cw, float *ws, float *bs,
                   float *cs, int32_t *words, int32_t *sents) {
  rng r[8];
  for (int i = 0; i < 8; i++) r[i] = rng_for(p, 12 + (uint64_t)i);
  const float wsc = (float)(1 / sqrt((double)p->d)), csc = (float)(1 / sqrt((double)p->da));
  fill_uniform(&r[0], x, p->b * p->sents * p->words * p->d, -1, 1);
  fill_uniform(&r[1], ww, p->da * p->d, -wsc, wsc);
  fill_uniform(&r[2], ws, p->da * p->d, -wsc, wsc);
  fill_uniform(&r[3], bw, p->da, -0.5f, 0.5f);
  fill_uniform(&r[4], bs, p->da, -0.5f, 0.5f);
  fill_uniform(&r[5], cw, p->da, -csc, csc);
  fill_uniform(&r[6], cs, p->da, -csc, csc);
  for (int64_t i = 0; i < p->b * p->sents; i++)
    words[i] = p->pad ? draw_count(&r[7], i, p->words) : (int32_t)p->words;
  for (int64_t i = 0; i < p->b; i++) sents[i] = p->pad ? draw_count(&r[7], i, p->sents) : (int32_t)p->sents;
}
