/* attnbench: the attention problem descriptor and the backend interface.
 *
 * Every backend implements attn_backend; the harness only ever talks to this
 * struct. This header is ISA-free and library-free on purpose: it is what a
 * user's own kernel includes to be measured by attnbench. */
#ifndef ATTNBENCH_ATTN_H
#define ATTNBENCH_ATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum attn_status {
  ATTN_OK = 0,
  ATTN_UNSUPPORTED, /* the backend declines this problem; it says why */
  ATTN_EINVAL,      /* the problem or the inputs are malformed */
  ATTN_ENOMEM,      /* memory could not be had */
  ATTN_EBACKEND,    /* the underlying library or kernel failed */
} attn_status;

const char *attn_status_name(attn_status s);

/* Which keys a query row sees. Key j is visible to query row i when:
 *   none       always
 *   causal     j <= i + lk - lq   (bottom-right: the last query sees every key,
 *                                  as in a decode step over a cache)
 *   causal-tl  j <= i             (top-left)
 *   pad        j < lens[batch]    (per-batch valid key lengths, 0..lk)
 * A row with no visible key produces a zero output row. */
typedef enum attn_mask {
  ATTN_MASK_NONE,
  ATTN_MASK_CAUSAL,
  ATTN_MASK_CAUSAL_TL,
  ATTN_MASK_PAD,
} attn_mask;

typedef enum attn_dtype { ATTN_F32 } attn_dtype;

/* The workload. Backends are only ever handed op=attn problems: the harness
 * drives every other workload through a backend's attention forward. */
typedef enum attn_op {
  ATTN_OP_ATTN,   /* one attention forward */
  ATTN_OP_DECODE, /* `steps` single-query steps against a K/V cache that starts at lk
                     keys and grows by one per step */
  ATTN_OP_MHA,    /* a multi-head attention layer: Q, K, V projected from model-width
                     inputs by the backend's GEMM, attention, output projection */
  ATTN_OP_HAN,    /* hierarchical attention over documents (Yang et al. 2016): word-level
                     attention pools each sentence, sentence-level attention pools each
                     document; each level's keys are tanh(X W^T + bias) by the backend's GEMM */
} attn_op;

/* How a query scores a key (Luong et al. 2015, Bahdanau et al. 2015). Per head,
 * query s (dim d), key h_j (dim d); the weights are shared by every batch and
 * head and are inputs like Q/K/V (attn_tensors).
 *   scaled    e_j = scale * s.h_j, scale default 1/sqrt(d)
 *   dot       e_j = scale * s.h_j, scale default 1
 *   general   e_j = scale * s^T W h_j, W [d][d], scale default 1
 *   additive  e_j = u^T tanh(W1 h_j + W2 s), W1, W2 [da][d], u [da]; no scale
 *   cosine    e_j = scale * s.h_j / (|s| |h_j|), scale default 1; a zero
 *             vector's normalised form is the zero vector, so its scores are 0 */
typedef enum attn_score {
  ATTN_SCORE_SCALED,
  ATTN_SCORE_DOT,
  ATTN_SCORE_GENERAL,
  ATTN_SCORE_ADDITIVE,
  ATTN_SCORE_COSINE,
} attn_score;

/* Which keys a query attends to and how the weights are formed. The visible
 * keys are those the mask and the window both allow; a row with none is zero.
 *   soft     a = softmax(e) over the visible keys (global attention)
 *   hard     weight 1 on the highest-scoring visible key, ties to the lowest index
 *   local-m  monotonic local attention: centre p_t = t + lk - lq (the causal
 *            mask's bottom-right alignment; p_t = t when lq = lk), softmax over
 *            the keys j with |j - p_t| <= window, clipped to [0, lk - 1]
 *   local-p  predictive local attention: p_t = lk * sigmoid(vp^T tanh(Wp s_t)),
 *            Wp [da][d], vp [da]; softmax over the keys j with |j - p_t| <= window,
 *            each weight then multiplied by exp(-(j - p_t)^2 / (2 sigma^2)),
 *            sigma = window / 2, without renormalising; window >= 1 */
typedef enum attn_mode {
  ATTN_MODE_SOFT,
  ATTN_MODE_HARD,
  ATTN_MODE_LOCAL_M,
  ATTN_MODE_LOCAL_P,
} attn_mode;

/* How check and bench generate inputs; part of the problem so that a problem
 * string reproduces the exact inputs. Backends ignore it. */
typedef enum attn_fill {
  ATTN_FILL_RANDOM,    /* q, k, v uniform in [-1, 1] */
  ATTN_FILL_LARGE,     /* logits of order +-1e4: overflows without max-subtraction */
  ATTN_FILL_SAME_KEYS, /* every key of a head identical: uniform weights */
  ATTN_FILL_CONST_V,   /* every value row of a head identical: output == that row */
  ATTN_FILL_DOMINANT,  /* one key per head dominates every query's scores */
  ATTN_FILL_HUGE_V,    /* values up to 2^127: sums of two overflow fp32, the weighted mean does not */
} attn_fill;

/* Explicit per-batch pad lengths fit in the descriptor up to this batch size;
 * beyond it they are drawn from the seed. */
#define ATTN_MAX_LENS 64

typedef struct attn_problem {
  int64_t b;   /* batch */
  int64_t h;   /* query heads */
  int64_t hkv; /* key/value heads; h % hkv == 0, query head i uses kv head i / (h / hkv) */
  int64_t lq;  /* query length */
  int64_t lk;  /* key length */
  int64_t d;   /* query/key head dim */
  int64_t dv;  /* value head dim */
  float scale; /* score scale; 0 selects the default 1/sqrt(d) (attn_scale) */
  attn_mask mask;
  attn_dtype dtype; /* f32 only so far; the layout is [b][heads][len][dim], contiguous */
  attn_op op;
  int64_t steps; /* op=decode: decode steps; 0 otherwise */
  int64_t dm;    /* op=mha: model width (columns of X_q, X_kv and of the output); 0 otherwise */
  int self;      /* op=mha: 1 when X_kv is X_q (self-attention, lk == lq); 0 otherwise */
  /* op=han: sentences per document, words per sentence, attention width (rows of
   * W_w and W_s); d is the word vector width. 0 otherwise. pad: 1 draws
   * per-document sentence counts and per-sentence word counts from the seed. */
  int64_t sents, words, da;
  int pad;
  /* op=attn: the score function and the mode; window is the half-width D of
   * local-m and local-p (0 otherwise); da above is the width of W1, W2, Wp
   * for score=additive and mode=local-p (0 when neither). */
  attn_score score;
  attn_mode mode;
  int64_t window;

  /* input generation */
  attn_fill fill;
  uint64_t seed;
  int nlens;                   /* 0: pad lengths drawn from the seed; else == b */
  int32_t lens[ATTN_MAX_LENS]; /* explicit pad lengths when nlens > 0 */
} attn_problem;

typedef struct attn_tensors {
  const float *q;      /* [b][h][lq][d] */
  const float *k;      /* [b][hkv][lk][d] */
  const float *v;      /* [b][hkv][lk][dv] */
  const int32_t *lens; /* [b], mask=pad only: valid keys per batch, each in 0..lk */
  float *o;            /* [b][h][lq][dv] */
  /* Score and mode weights, shared by every batch and head; NULL when unused. */
  const float *w;  /* score=general: [d][d], e_j = scale * sum_ik s_i W[i][k] h_jk */
  const float *w1; /* score=additive: [da][d], applied to keys */
  const float *w2; /* score=additive: [da][d], applied to queries */
  const float *u;  /* score=additive: [da] */
  const float *wp; /* mode=local-p: [da][d] */
  const float *vp; /* mode=local-p: [da] */
} attn_tensors;

typedef struct attn_config {
  int threads; /* worker threads the backend may use, >= 1 */
} attn_config;

/* What a backend's arithmetic may add to fp32 rounding; enters the tolerance
 * model (reference/README.md). */
typedef struct attn_accuracy {
  double exp_rel_err;  /* bound on |exp_impl(x) / exp(x) - 1| over the arguments used */
  int64_t key_block;   /* online softmax rescales once per key block; 0: two-pass softmax */
  double tanh_abs_err; /* bound on |tanh_impl(x) - tanh(x)| (score=additive, mode=local-p);
                          0 reads as libm's tanhf, ATTN_TANHF_ABS_ERR */
} attn_accuracy;

/* |tanhf(x) - tanh(x)| for glibc's tanhf on x86_64: at most 2 units in the last
 * place of a result below 1 in magnitude (the manual's "Known Maximum Errors
 * in Math Functions"), 2 * 2^-24. */
#define ATTN_TANHF_ABS_ERR 0x1p-23

/* One GEMM of op=mha: C[m][n] = A[m][k] B[k][n], fp32, row-major, contiguous
 * (lda = k, ldb = ldc = n), C overwritten. */
typedef struct attn_gemm_shape {
  int64_t m, n, k;
} attn_gemm_shape;

typedef void (*attn_emit_fn)(void *ctx, const char *key, const char *value);

typedef struct attn_backend {
  /* .name = */ const char *name;       /* equals its folder under impls/ */
  /* .summary = */ const char *summary; /* one line for `attnbench list` */
  /* .accuracy = */ attn_accuracy accuracy;
  /* .available = */ int (*available)(void); /* CPU/OS can run it; 0 hides the backend */
  /* .supports = */ attn_status (*supports)(const attn_problem *p, char *why, size_t n);
  /* .workspace_size = */ size_t (*workspace_size)(const attn_problem *p, const attn_config *cfg);
  /* .plan = */ attn_status (*plan)(const attn_problem *p, const attn_config *cfg, void **plan, char *why,
                                    size_t n);                        /* untimed: allocate and touch */
  /* .run = */ attn_status (*run)(void *plan, const attn_tensors *t); /* timed: no malloc, no I/O */
  /* .destroy = */ void (*destroy)(void *plan);
  /* .plan_note = */ const char *(*plan_note)(const void *plan);    /* the path a plan chose
                                                                       (e.g. "heads-parallel"); may be NULL */
  /* .describe = */ void (*describe)(attn_emit_fn emit, void *ctx); /* versions, block sizes; may be NULL */
  /* The GEMM op=mha projects with. All three NULL: the backend declines op=mha
   * ("no GEMM"). Any summation order is fine; the tolerance model assumes
   * fp32 arithmetic (no bf16/tf32 down-conversion). */
  /* .gemm_plan = */ attn_status (*gemm_plan)(const attn_gemm_shape *g, const attn_config *cfg, void **plan,
                                              char *why, size_t n); /* untimed: allocate, touch, pack */
  /* .gemm_run = */ attn_status (*gemm_run)(void *plan, const float *a, const float *b,
                                            float *c); /* timed: no malloc, no I/O */
  /* .gemm_destroy = */ void (*gemm_destroy)(void *plan);
} attn_backend;

/* The registry: compiled-in backends, in table order. */
size_t attn_backend_count(void);
const attn_backend *attn_backend_get(size_t i);
/* An available backend by name, or NULL. */
const attn_backend *attn_backend_find(const char *name);

/* The score scale the problem means: p->scale, or when it is 0 the score's
 * default (1/sqrt(d) for scaled, 1 otherwise; additive has none and reads 1). */
float attn_scale(const attn_problem *p);

/* mode=local-m: the centre of query row i's window. */
static inline int64_t attn_local_m_centre(const attn_problem *p, int64_t i) { return i + p->lk - p->lq; }

/* Where a local-p centre places its window. A NaN centre (from a NaN in the
 * query or in Wp, vp) stands at `window`, the leftmost full window: it
 * selects at most 2*window+1 keys like any other centre, so every buffer
 * sized for a window holds them, and its Gaussian factors, computed from the
 * NaN itself, make the row NaN as the numerics policy asks of a NaN input (a
 * row with no visible key stays zero). */
static inline double attn_window_centre(const attn_problem *p, double c) {
  return c == c ? c : (double)p->window;
}

/* The keys [*lo, *hi) of a window of half-width p->window around centre c
 * (|j - c| <= window, so a fractional c of local-p counts whole keys only),
 * clipped to [0, end). An empty window has *lo >= *hi. Both ends are clipped
 * before they are converted: a double beyond int64_t's range (an infinite or
 * huge centre) has no defined conversion. */
static inline void attn_window(const attn_problem *p, double c, int64_t end, int64_t *lo, int64_t *hi) {
  c = attn_window_centre(p, c);
  if (end < 0) end = 0;
  const double a = c - (double)p->window, z = c + (double)p->window;
  int64_t l = a <= 0 ? 0 : a >= (double)end ? end : (int64_t)a + ((double)(int64_t)a < a);
  int64_t h = z < 0 ? 0 : z >= (double)end ? end : (int64_t)z + 1;
  if (h > end) h = end;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* Query head -> key/value head. */
static inline int64_t attn_kv_head(const attn_problem *p, int64_t head) { return head / (p->h / p->hkv); }

/* The visible keys of query row i in batch bi are the prefix [0, end); this
 * returns end, clipped to 0..lk. Every mask kind is a prefix so far. */
static inline int64_t attn_visible_end(const attn_problem *p, const int32_t *lens, int64_t bi, int64_t i) {
  int64_t end = p->lk;
  if (p->mask == ATTN_MASK_CAUSAL)
    end = i + p->lk - p->lq + 1;
  else if (p->mask == ATTN_MASK_CAUSAL_TL)
    end = i + 1;
  else if (p->mask == ATTN_MASK_PAD)
    end = lens[bi];
  if (end < 0) end = 0;
  if (end > p->lk) end = p->lk;
  return end;
}

#ifdef __cplusplus
}
#endif
#endif
