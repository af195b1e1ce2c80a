/* The double-precision oracle. Obviously correct rather than fast: every
 * query-key pair is tested against the mask's and the window's definitions
 * directly (not the prefix and window helpers the backends use), scores and
 * sums are accumulated in double, and the softmax subtracts the row maximum.
 * Compiled with -ffp-contract=off so it means exactly what it says.
 *
 * Besides each row's answer it records what the tolerance model needs
 * (README.md): the score error bound dscore of the row's score function,
 * local-p's centre error, and the admissible alternative answers of rows that
 * have more than one (hard mode's near-ties, local-p's window edges). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/problem.h"
#include "attnbench/reference.h"
#include "compare.h"

/* The mask's definition, written independently of attn_visible_end. */
static int key_visible(const attn_problem *p, const int32_t *lens, int64_t bi, int64_t i, int64_t j) {
  switch (p->mask) {
  case ATTN_MASK_NONE: return 1;
  case ATTN_MASK_CAUSAL: return j - (p->lk - p->lq) <= i;
  case ATTN_MASK_CAUSAL_TL: return j <= i;
  case ATTN_MASK_PAD: return j < (int64_t)lens[bi];
  }
  return 0;
}

/* The windows' definitions, written independently of attn_window and
 * attn_local_m_centre: |j - p_t| <= window. local-m's centre is query row i
 * aligned bottom-right, as mask=causal is. */
static int in_window_m(const attn_problem *p, int64_t i, int64_t j) {
  const int64_t centre = i + (p->lk - p->lq), dist = j > centre ? j - centre : centre - j;
  return dist <= p->window;
}
static int in_window_p(const attn_problem *p, double centre, int64_t j) {
  return fabs((double)j - centre) <= (double)p->window;
}

/* One query row's inputs and the oracle's scratch, reused row after row. */
typedef struct oracle_ctx {
  const attn_problem *p;
  const attn_tensors *t;
  int64_t bi, i;          /* the row's batch and query position */
  const float *q, *k, *v; /* its query, its kv head's keys and values */
  double centre;          /* mode=local-p: p_t */
  /* [lk] */
  double *s, *err;       /* scored keys: e_j, and its error bound without tanh's */
  unsigned char *in;     /* the row's exact key set: mask and window */
  unsigned char *scored; /* in, or a local-p window-edge key */
  double *qw, *qwabs;    /* [d] general: s^T W and |s|^T |W| */
  double *x2, *p2;       /* [da] additive: W2 s, and sum_k |W2_ak s_k| */
  double *kx, *kp;       /* [lk][da] additive: W1 h_j and sum_k |W1_ak h_jk| of one kv head */
  int64_t kx_b, kx_head; /* the kv head kx and kp hold; -1: none */
} oracle_ctx;

/* The statistics of one answer's key set that its bound needs. */
typedef struct set_stats {
  int64_t nvis;
  double vmax, range;
} set_stats;

void attn_oracle_free(attn_oracle *o) {
  free(o->out);
  free(o->absw);
  free(o->vmax);
  free(o->dscore);
  free(o->dz);
  free(o->range);
  free(o->nvis);
  free(o->rows);
  free(o->alt);
  free(o->alt_out);
  free(o->alt_absw);
  memset(o, 0, sizeof *o);
}

static attn_status oracle_alloc(const attn_problem *p, int64_t nrows, attn_oracle *o) {
  memset(o, 0, sizeof *o);
  o->p = *p;
  o->nrows = nrows;
  size_t nrow = (size_t)nrows, nout = nrow * (size_t)p->dv;
  o->out = malloc(nout * sizeof(double));
  o->absw = malloc(nout * sizeof(double));
  o->vmax = malloc(nrow * sizeof(double));
  o->dscore = malloc(nrow * sizeof(double));
  o->range = malloc(nrow * sizeof(double));
  o->nvis = malloc(nrow * sizeof(int64_t));
  if (p->mode == ATTN_MODE_LOCAL_P) o->dz = malloc(nrow * sizeof(double));
  if (!o->out || !o->absw || !o->vmax || !o->dscore || !o->range || !o->nvis ||
      (p->mode == ATTN_MODE_LOCAL_P && !o->dz)) {
    attn_oracle_free(o);
    return ATTN_ENOMEM;
  }
  return ATTN_OK;
}

static void ctx_free(oracle_ctx *c) {
  free(c->s);
  free(c->err);
  free(c->in);
  free(c->scored);
  free(c->qw);
  free(c->qwabs);
  free(c->x2);
  free(c->p2);
  free(c->kx);
  free(c->kp);
}

static attn_status ctx_alloc(const attn_problem *p, const attn_tensors *t, oracle_ctx *c) {
  memset(c, 0, sizeof *c);
  c->p = p;
  c->t = t;
  c->kx_b = c->kx_head = -1;
  const size_t lk = (size_t)p->lk, d = (size_t)p->d, da = (size_t)p->da;
  c->s = malloc(lk * sizeof(double));
  c->err = malloc(lk * sizeof(double));
  c->in = malloc(lk);
  c->scored = malloc(lk);
  int ok = c->s && c->err && c->in && c->scored;
  if (p->score == ATTN_SCORE_GENERAL) {
    c->qw = malloc(d * sizeof(double));
    c->qwabs = malloc(d * sizeof(double));
    ok = ok && c->qw && c->qwabs;
  }
  if (p->score == ATTN_SCORE_ADDITIVE) {
    c->x2 = malloc(da * sizeof(double));
    c->p2 = malloc(da * sizeof(double));
    c->kx = da && lk <= SIZE_MAX / sizeof(double) / da ? malloc(lk * da * sizeof(double)) : NULL;
    c->kp = c->kx ? malloc(lk * da * sizeof(double)) : NULL;
    ok = ok && c->x2 && c->p2 && c->kx && c->kp;
  }
  if (!ok) {
    ctx_free(c);
    return ATTN_ENOMEM;
  }
  return ATTN_OK;
}

/* The weights a problem's score and mode read, and the widths they need. */
static int weights_present(const attn_problem *p, const attn_tensors *t) {
  if (p->score == ATTN_SCORE_GENERAL && !t->w) return 0;
  if (p->score == ATTN_SCORE_ADDITIVE && (!t->w1 || !t->w2 || !t->u || p->da < 1)) return 0;
  if (p->mode == ATTN_MODE_LOCAL_P && (!t->wp || !t->vp || p->da < 1 || p->window < 1)) return 0;
  return 1;
}

/* ---- scores: e_j, and a bound on a backend's error in it ---- */

/* general: the query folded into s^T W, with its absolute twin. */
static void fold_query(oracle_ctx *c) {
  const int64_t d = c->p->d;
  for (int64_t k = 0; k < d; k++) {
    double sum = 0, abssum = 0;
    for (int64_t i = 0; i < d; i++) {
      const double prod = (double)c->q[i] * (double)c->t->w[i * d + k];
      sum += prod;
      abssum += fabs(prod);
    }
    c->qw[k] = sum;
    c->qwabs[k] = abssum;
  }
}

/* y = M x and sum_k |M_ak x_k| for M [rows][d] and a float vector x. */
static void project(const float *m, const float *x, int64_t rows, int64_t d, double *y, double *yabs) {
  for (int64_t a = 0; a < rows; a++) {
    double sum = 0, abssum = 0;
    for (int64_t k = 0; k < d; k++) {
      const double prod = (double)m[a * d + k] * (double)x[k];
      sum += prod;
      abssum += fabs(prod);
    }
    y[a] = sum;
    yabs[a] = abssum;
  }
}

/* additive: W1 h_j for every key of the row's kv head, kept while the rows
 * that follow read the same head. */
static void project_keys(oracle_ctx *c, int64_t kvh) {
  if (c->kx_b == c->bi && c->kx_head == kvh) return;
  const int64_t da = c->p->da, d = c->p->d;
  for (int64_t j = 0; j < c->p->lk; j++)
    project(c->t->w1, c->k + j * d, da, d, c->kx + j * da, c->kp + j * da);
  c->kx_b = c->bi;
  c->kx_head = kvh;
}

/* |q.h| summed termwise, and q.h, of a float query and key. */
static double dot_abs(const float *q, const float *h, int64_t d, double *abssum) {
  double sum = 0, a = 0;
  for (int64_t c = 0; c < d; c++) {
    const double prod = (double)q[c] * (double)h[c];
    sum += prod;
    a += fabs(prod);
  }
  *abssum = a;
  return sum;
}

static double norm2(const float *x, int64_t d) {
  double ss = 0;
  for (int64_t c = 0; c < d; c++) ss += (double)x[c] * (double)x[c];
  return sqrt(ss);
}

/* Key j's score and its error bound (README.md, "The score error"). */
static void score_key(const oracle_ctx *c, double qnorm, int64_t j, double *e, double *err) {
  const attn_problem *p = c->p;
  const int64_t d = p->d, da = p->da;
  const float *h = c->k + j * d;
  const double scale = attn_scale(p);
  double abssum = 0, dot;
  switch (p->score) {
  case ATTN_SCORE_SCALED:
  case ATTN_SCORE_DOT:
    dot = dot_abs(c->q, h, d, &abssum);
    *e = scale * dot;
    *err = compare_gamma32((double)d + 2) * (fabs(scale) * abssum);
    return;
  case ATTN_SCORE_GENERAL:
    dot = 0;
    for (int64_t k = 0; k < d; k++) {
      dot += c->qw[k] * (double)h[k];
      abssum += c->qwabs[k] * fabs((double)h[k]);
    }
    *e = scale * dot;
    *err = compare_gamma32(2 * (double)d + 2) * (fabs(scale) * abssum);
    return;
  case ATTN_SCORE_COSINE: {
    /* A zero vector normalises to zero: its scores are 0, exactly. */
    const double hnorm = norm2(h, d);
    dot = dot_abs(c->q, h, d, &abssum);
    if (qnorm == 0 || hnorm == 0) {
      *e = *err = 0;
      return;
    }
    *e = scale * (dot / (qnorm * hnorm));
    *err = fabs(scale) * (2 * compare_gamma32((double)d + 4) + compare_gamma32((double)d + 2)) *
           (abssum / (qnorm * hnorm));
    return;
  }
  case ATTN_SCORE_ADDITIVE: {
    const double *kx = c->kx + j * da, *kp = c->kp + j * da, g1 = compare_gamma32((double)d + 1),
                 ga = compare_gamma32((double)da + 1);
    double sum = 0, bound = 0;
    for (int64_t a = 0; a < da; a++) {
      const double th = tanh(kx[a] + c->x2[a]), ua = (double)c->t->u[a];
      sum += ua * th;
      bound += fabs(ua) * (g1 * (kp[a] + c->p2[a]) + ga * fabs(th));
    }
    *e = sum;
    *err = bound;
    return;
  }
  }
  *e = *err = 0;
}

/* The tanh-error coefficient of every row's dscore: additive's sum_a |u_a|
 * (t + gamma(da + 1) t). */
static double dscore_tanh(const attn_problem *p, const attn_tensors *t) {
  if (p->score != ATTN_SCORE_ADDITIVE) return 0;
  double sum = 0;
  for (int64_t a = 0; a < p->da; a++) sum += fabs((double)t->u[a]);
  return sum * (1 + compare_gamma32((double)p->da + 1));
}

/* ---- local-p's centre ---- */

/* p_t = lk * sigmoid(vp . tanh(Wp s)), and the bound on its argument's error
 * without tanh's own: sum_a |vp_a| (gamma(d) Pp_a + gamma(da) |tanh y_a|). */
static double local_p_centre(const oracle_ctx *c, double *dz) {
  const attn_problem *p = c->p;
  const double gd = compare_gamma32((double)p->d), ga = compare_gamma32((double)p->da);
  double z = 0, bound = 0;
  for (int64_t a = 0; a < p->da; a++) {
    double y, yabs;
    project(c->t->wp + a * p->d, c->q, 1, p->d, &y, &yabs);
    const double th = tanh(y), va = fabs((double)c->t->vp[a]);
    z += (double)c->t->vp[a] * th;
    bound += va * (gd * yabs + ga * fabs(th));
  }
  *dz = bound;
  return (double)p->lk / (1 + exp(-z));
}

static double dz_tanh(const attn_problem *p, const attn_tensors *t) {
  if (p->mode != ATTN_MODE_LOCAL_P) return 0;
  double sum = 0;
  for (int64_t a = 0; a < p->da; a++) sum += fabs((double)t->vp[a]);
  return sum * (1 + compare_gamma32((double)p->da));
}

/* ---- answers ---- */

/* Whether key j is in the set that is the row's exact one with the keys in
 * flip changing sides. */
static int member(const oracle_ctx *c, const int64_t *flip, int nflip, int64_t j) {
  int in = c->in[j];
  for (int f = 0; f < nflip; f++)
    if (flip[f] == j) in = !in;
  return in;
}

/* The statistics of a key set: its size, largest |v| and score range. */
static set_stats stats_of(const oracle_ctx *c, const int64_t *flip, int nflip) {
  const int64_t dv = c->p->dv;
  set_stats st = {0, 0, 0};
  double smax = -INFINITY, smin = INFINITY;
  for (int64_t j = 0; j < c->p->lk; j++) {
    if (!c->scored[j] || !member(c, flip, nflip, j)) continue;
    st.nvis++;
    smax = fmax(smax, c->s[j]);
    smin = fmin(smin, c->s[j]);
    for (int64_t x = 0; x < dv; x++) st.vmax = fmax(st.vmax, fabs((double)c->v[j * dv + x]));
  }
  st.range = st.nvis ? smax - smin : 0;
  return st;
}

/* out = v_j, absw = |v_j|: a hard answer. */
static void copy_value(const oracle_ctx *c, int64_t j, double *out, double *absw) {
  for (int64_t x = 0; x < c->p->dv; x++) {
    out[x] = (double)c->v[j * c->p->dv + x];
    absw[x] = fabs(out[x]);
  }
}

/* hard: the first visible key of the highest score (-1: none). */
static int64_t argmax_key(const oracle_ctx *c) {
  int64_t best = -1;
  for (int64_t j = 0; j < c->p->lk; j++)
    if (c->in[j] && (best < 0 || c->s[j] > c->s[best])) best = j;
  return best;
}

/* soft, local-m, local-p: out = sum_j a_j g_j v_j over the set, a =
 * softmax of its scores, g_j local-p's Gaussian (1 otherwise, and local-p's
 * weights are not renormalised after it); absw the same sum of |v_j|. */
static void weigh(const oracle_ctx *c, const int64_t *flip, int nflip, double *out, double *absw) {
  const attn_problem *p = c->p;
  const int64_t dv = p->dv;
  for (int64_t x = 0; x < dv; x++) out[x] = absw[x] = 0;
  double smax = -INFINITY, z = 0;
  for (int64_t j = 0; j < p->lk; j++)
    if (c->scored[j] && member(c, flip, nflip, j)) smax = fmax(smax, c->s[j]);
  if (smax == -INFINITY) return; /* no key: a zero row, by the interface's convention */
  for (int64_t j = 0; j < p->lk; j++)
    if (c->scored[j] && member(c, flip, nflip, j)) z += exp(c->s[j] - smax);
  const double w = (double)p->window;
  for (int64_t j = 0; j < p->lk; j++) {
    if (!c->scored[j] || !member(c, flip, nflip, j)) continue;
    double a = exp(c->s[j] - smax) / z;
    if (p->mode == ATTN_MODE_LOCAL_P) {
      const double x = (double)j - c->centre;
      a *= exp(-(x * x) / (2 * (w / 2) * (w / 2)));
    }
    for (int64_t x = 0; x < dv; x++) {
      out[x] += a * (double)c->v[j * dv + x];
      absw[x] += a * fabs((double)c->v[j * dv + x]);
    }
  }
}

/* Appends an alternative of held row slot; *out and *absw point at its
 * [dv] answer. Storage grows geometrically, and only for rows that have
 * alternatives. */
static attn_status alt_push(attn_oracle *o, const attn_oracle_alt *a, double **out, double **absw) {
  const size_t dv = (size_t)o->p.dv;
  if (o->nalt == o->alt_cap) {
    const size_t cap = o->alt_cap ? 2 * (size_t)o->alt_cap : 16;
    attn_oracle_alt *alt = realloc(o->alt, cap * sizeof *alt);
    if (alt) o->alt = alt;
    double *ao = alt ? realloc(o->alt_out, cap * dv * sizeof(double)) : NULL;
    if (ao) o->alt_out = ao;
    double *aa = ao ? realloc(o->alt_absw, cap * dv * sizeof(double)) : NULL;
    if (!aa) return ATTN_ENOMEM;
    o->alt_absw = aa;
    o->alt_cap = (int64_t)cap;
  }
  o->alt[o->nalt] = *a;
  *out = o->alt_out + (size_t)o->nalt * dv;
  *absw = o->alt_absw + (size_t)o->nalt * dv;
  o->nalt++;
  return ATTN_OK;
}

/* hard: the other admissible keys, e_j >= e_best - 2 dscore, at most
 * ATTN_ORACLE_MAX_ALT - 1 of them: the lowest-indexed half (a backend whose
 * computed scores tie exactly, e.g. in tanh's saturation, picks the lowest
 * index however far its exact score is from the best) and the
 * nearest-scoring rest (ties to the lower index). Gathered at the accuracy
 * cap; the check keeps those its backend admits. */
static attn_status hard_alternatives(const oracle_ctx *c, attn_oracle *o, int64_t slot, int64_t best,
                                     set_stats st) {
  enum { NMAX = ATTN_ORACLE_MAX_ALT - 1, NLOW = ATTN_ORACLE_MAX_ALT / 2 };
  const double slack = oracle_alt_slack(o, slot, ATTN_ORACLE_ACC_CAP, ATTN_ORACLE_ACC_CAP);
  int64_t key[NMAX];
  double gap[NMAX];
  int n = 0, low = 0;
  int64_t last_low = -1;
  for (int64_t j = 0; j < c->p->lk && low < NLOW; j++) {
    if (!c->in[j] || j == best || (c->s[best] - c->s[j]) / 2 > slack) continue;
    gap[low] = c->s[best] - c->s[j];
    key[low++] = last_low = j;
  }
  n = low;
  for (int64_t j = last_low + 1; j < c->p->lk; j++) {
    if (!c->in[j] || j == best) continue;
    const double g = c->s[best] - c->s[j];
    if (g / 2 > slack || (n == NMAX && g >= gap[n - 1])) continue;
    int at = n < NMAX ? n++ : NMAX - 1;
    for (; at > low && gap[at - 1] > g; at--) {
      gap[at] = gap[at - 1];
      key[at] = key[at - 1];
    }
    gap[at] = g;
    key[at] = j;
  }
  for (int a = 0; a < n; a++) {
    const attn_oracle_alt alt = {slot, key[a], gap[a] / 2, st.nvis, st.vmax, st.range};
    double *out, *absw;
    if (alt_push(o, &alt, &out, &absw) != ATTN_OK) return ATTN_ENOMEM;
    copy_value(c, key[a], out, absw);
  }
  return ATTN_OK;
}

/* local-p: the key nearest each window boundary p_t -+ window, when it is
 * within the centre's error of it (it may fall on either side in a
 * backend's arithmetic): each combination of them changing sides is an
 * alternative (at most 3 besides the exact set). Returns the edge keys'
 * largest score error, which dscore must cover too. */
static attn_status edge_alternatives(const oracle_ctx *c, attn_oracle *o, int64_t slot, double *edge_err) {
  const attn_problem *p = c->p;
  const double slack = oracle_alt_slack(o, slot, ATTN_ORACLE_ACC_CAP, ATTN_ORACLE_ACC_CAP);
  const double bounds[2] = {c->centre - (double)p->window, c->centre + (double)p->window};
  int64_t edge[2];
  double margin[2];
  int bit[2], ne = 0;
  *edge_err = 0;
  for (int side = 0; side < 2; side++) {
    const int64_t j = (int64_t)floor(bounds[side] + 0.5);
    const double m = fabs((double)j - bounds[side]);
    if (j < 0 || j >= p->lk || !c->scored[j] || m > slack) continue;
    edge[ne] = j;
    margin[ne] = m;
    bit[ne++] = 1 << side;
    *edge_err = fmax(*edge_err, c->err[j]);
  }
  for (int set = 1; set < 1 << ne; set++) {
    int64_t flip[2];
    int nflip = 0, bits = 0;
    double need = 0;
    for (int x = 0; x < ne; x++)
      if (set >> x & 1) {
        flip[nflip++] = edge[x];
        bits |= bit[x];
        need = fmax(need, margin[x]);
      }
    const set_stats st = stats_of(c, flip, nflip);
    const attn_oracle_alt alt = {slot, bits, need, st.nvis, st.vmax, st.range};
    double *out, *absw;
    if (alt_push(o, &alt, &out, &absw) != ATTN_OK) return ATTN_ENOMEM;
    weigh(c, flip, nflip, out, absw);
  }
  return ATTN_OK;
}

/* Which keys row i sees exactly (in), and which the oracle scores: those,
 * and for local-p the keys within one of the window, its possible edges. */
static void mark_keys(oracle_ctx *c) {
  const attn_problem *p = c->p;
  for (int64_t j = 0; j < p->lk; j++) {
    const int visible = key_visible(p, c->t->lens, c->bi, c->i, j);
    int in = visible, near = 0;
    if (p->mode == ATTN_MODE_LOCAL_M) in = visible && in_window_m(p, c->i, j);
    if (p->mode == ATTN_MODE_LOCAL_P) {
      in = visible && in_window_p(p, c->centre, j);
      near = visible && fabs((double)j - c->centre) <= (double)p->window + 1;
    }
    c->in[j] = (unsigned char)in;
    c->scored[j] = (unsigned char)(in || near);
  }
}

/* One query row (flat index into [b][h][lq]), held at slot. */
static attn_status oracle_row(oracle_ctx *c, int64_t flat, int64_t slot, attn_oracle *o) {
  const attn_problem *p = c->p;
  const int64_t hi = flat / p->lq % p->h, kvh = hi / (p->h / p->hkv), d = p->d, dv = p->dv;
  c->bi = flat / (p->h * p->lq);
  c->i = flat % p->lq;
  c->q = c->t->q + flat * d;
  c->k = c->t->k + (c->bi * p->hkv + kvh) * p->lk * d;
  c->v = c->t->v + (c->bi * p->hkv + kvh) * p->lk * dv;
  if (p->mode == ATTN_MODE_LOCAL_P) c->centre = local_p_centre(c, &o->dz[slot]);
  if (p->score == ATTN_SCORE_GENERAL) fold_query(c);
  if (p->score == ATTN_SCORE_ADDITIVE) {
    project(c->t->w2, c->q, p->da, d, c->x2, c->p2);
    project_keys(c, kvh);
  }
  mark_keys(c);
  const double qnorm = p->score == ATTN_SCORE_COSINE ? norm2(c->q, d) : 0;
  double dscore = 0;
  for (int64_t j = 0; j < p->lk; j++) {
    if (!c->scored[j]) continue;
    score_key(c, qnorm, j, &c->s[j], &c->err[j]);
    if (c->in[j]) dscore = fmax(dscore, c->err[j]);
  }
  const set_stats st = stats_of(c, NULL, 0);
  o->dscore[slot] = dscore;
  o->nvis[slot] = st.nvis;
  o->vmax[slot] = st.vmax;
  o->range[slot] = st.range;
  double *out = o->out + slot * dv, *absw = o->absw + slot * dv;
  if (p->mode != ATTN_MODE_HARD) {
    weigh(c, NULL, 0, out, absw);
    if (p->mode != ATTN_MODE_LOCAL_P) return ATTN_OK;
    double edge_err;
    attn_status s = edge_alternatives(c, o, slot, &edge_err);
    o->dscore[slot] = fmax(dscore, edge_err);
    return s;
  }
  const int64_t best = argmax_key(c);
  if (best < 0) {
    for (int64_t x = 0; x < dv; x++) out[x] = absw[x] = 0;
    return ATTN_OK;
  }
  copy_value(c, best, out, absw);
  return hard_alternatives(c, o, slot, best, st);
}

attn_status attn_oracle_compute_rows(const attn_problem *p, const attn_tensors *t, const int64_t *rows,
                                     int64_t nrows, attn_oracle *o) {
  char err[256];
  if (attn_problem_validate(p, err, sizeof err) != ATTN_OK) return ATTN_EINVAL;
  if (p->mask == ATTN_MASK_PAD && !t->lens) return ATTN_EINVAL;
  if (!weights_present(p, t)) return ATTN_EINVAL;
  const int64_t all = p->b * p->h * p->lq;
  if (rows) {
    if (nrows < 0) return ATTN_EINVAL;
    for (int64_t r = 0; r < nrows; r++)
      if (rows[r] < 0 || rows[r] >= all) return ATTN_EINVAL;
  } else {
    nrows = all;
  }
  attn_status st = oracle_alloc(p, nrows, o);
  if (st != ATTN_OK) return st;
  oracle_ctx c;
  if (ctx_alloc(p, t, &c) != ATTN_OK) {
    attn_oracle_free(o);
    return ATTN_ENOMEM;
  }
  if (rows && nrows) {
    o->rows = malloc((size_t)nrows * sizeof(int64_t));
    if (o->rows)
      memcpy(o->rows, rows, (size_t)nrows * sizeof(int64_t));
    else
      st = ATTN_ENOMEM;
  }
  o->dscore_tanh = dscore_tanh(p, t);
  o->dz_tanh = dz_tanh(p, t);
  for (int64_t r = 0; r < nrows && st == ATTN_OK; r++) st = oracle_row(&c, rows ? rows[r] : r, r, o);
  ctx_free(&c);
  if (st != ATTN_OK) attn_oracle_free(o);
  return st;
}

attn_status attn_oracle_compute(const attn_problem *p, const attn_tensors *t, attn_oracle *o) {
  return attn_oracle_compute_rows(p, t, NULL, 0, o);
}
