/* Workloads: what a problem's `op` asks for, driven through a backend's
 * attention forward. op=attn is one forward; op=decode is `steps` single-query
 * forwards against a K/V cache that grows by one key and value per step;
 * op=mha is a layer: projections by the backend's GEMM, one forward, the
 * output projection. */
#ifndef ATTNBENCH_WORKLOAD_H
#define ATTNBENCH_WORKLOAD_H

#include "attnbench/reference.h"
#include "harness.h"

typedef struct workload {
  attn_problem p;       /* as given */
  attn_problem full;    /* the attention whose output the workload produces, as the
                           oracle sees it; decode: causal, lq=steps, lk=lk+steps */
  attn_problem planned; /* what the backend is planned for; decode: one step, lq=1,
                           lk=lk+steps (the cache's capacity), mask=pad */
  bench_inputs in;      /* the inputs and output of `full` */
  /* decode: the cache the steps append to, the new tokens' keys and values,
   * one step's queries and outputs, and the cache lengths */
  float *kc, *vc, *ktok, *vtok, *qt, *ot;
  int32_t *lens;
  /* mha: the layer's inputs X_q [b][lq][dm] and X_kv [b][lk][dm] (NULL for
   * self=1, which reads X_q), the weights, the GEMM outputs before the head
   * split (gq [b*lq][h*d], gk, gv), the concatenated heads cat [b*lq][h*dv]
   * and the output y [b][lq][dm]; in.q/k/v/o hold the heads the attention
   * reads and writes. */
  float *xq, *xkv, *wq, *wk, *wv, *wo, *gq, *gk, *gv, *cat, *y;
  /* han: `full` is the word level (b*s batches of one query c_w over t keys
   * U = tanh(X W_w^T + b_w), values X itself, pad lens = word counts): in.v
   * is X [b][s][t][d], in.k is U, in.q c_w per sentence, in.o the sentence
   * vectors [b*s][d], in.lens the word counts. `sent` is the sentence level
   * (b batches over s keys tanh(S W_s^T + b_s), values in.o): its query
   * c_s per document sq, keys sk, output (the document vectors) doc,
   * sentence counts sents. The weights as given ([da][d]: ww, ws) and
   * transposed once for the GEMM ([d][da]: wwt, wst); gw, gs the GEMMs'
   * outputs before bias and tanh. */
  attn_problem sent;
  float *ww, *wwt, *bw, *cw, *ws, *wst, *bs, *cs, *gw, *gs, *sq, *sk, *doc;
  int32_t *sents;
  void *plan2;           /* han: the backend's attention plan for `sent` */
  void *gemm[4];         /* GEMM plans for Q, K, V and the output (han: word and sentence level),
                            made by workload_plan */
  int threads;           /* for the head split and concatenation copies */
  double proj_s, attn_s; /* time in projections (with the copies) and in attention, summed over runs */
  int64_t runs;
} workload;

/* Checks memory, allocates, touches and (if fill) fills the inputs. A decode
 * built without fill must get workload_prepare once its inputs are in place. */
attn_status workload_init(const attn_problem *p, int fill, double extra_bytes, workload *w, char *err,
                          size_t n);
/* Derives the decode cache and new tokens from in.k and in.v; for han the
 * transposed weights and the replicated queries from the weights as read. */
void workload_prepare(workload *w);
void workload_free(workload *w);

/* Whether the backend runs problem p's workload: its supports() on what it
 * would be planned for, and for op=mha a GEMM ("no GEMM" otherwise). */
attn_status workload_supports(const attn_problem *p, const attn_backend *be, char *why, size_t n);
/* The backend's attention plan for w->planned, and for op=mha its GEMM plans
 * (kept in w). Untimed. workload_unplan destroys both. */
attn_status workload_plan(workload *w, const attn_backend *be, const attn_config *cfg, void **plan, char *why,
                          size_t n);
void workload_unplan(workload *w, const attn_backend *be, void *plan);

/* The whole workload once, with a plan from workload_plan; the output lands
 * in workload_output. No allocation. */
attn_status workload_run(workload *w, const attn_backend *be, void *plan);
/* The workload's result: y for op=mha, else in.o. */
float *workload_output(const workload *w);
int64_t workload_output_elems(const workload *w);
/* Sets every output and intermediate to NaN: what a backend leaves unwritten fails. */
void workload_poison(workload *w);
/* The FLOPs of one workload_run (projections included). */
double workload_flops(const workload *w);
/* Bytes a run must move at least once: inputs, weights and output (decode:
 * the visible cache of every step), for the roofline. */
double workload_bytes(const workload *w);

/* Whether the workload is checked in stages (op=mha, op=han) rather than
 * against one oracle of `full`. */
int workload_staged(const workload *w);
/* The staged check (reference/README.md) of the last run. op=mha: each
 * projection, the attention on the backend's own projected heads, and the
 * output projection; op=han: per level the GEMM, the bias and tanh, and the
 * attention on the backend's own keys; each in double with its own bound.
 * max_rows > 0 checks that many evenly spread rows of each stage (bench's
 * verification after timing), 0 all. *res is the stage with the largest
 * error/bound, *stage its name. */
attn_status workload_check_staged(const workload *w, const attn_accuracy *acc, int64_t max_rows,
                                  attn_compare *res, const char **stage);

/* The one verification check and bench share: the staged check for op=mha
 * and op=han (max_rows > 0: that many spread rows per stage), else the
 * oracle's comparison, on orc when the caller computed it for all the rows
 * it checks, or else on max_rows rows spread evenly over the output (0:
 * all). res->verdict is PASSED, MISTRUSTED or FAILED; *stage names the
 * worst stage of a staged check, NULL otherwise. */
attn_status workload_verify(const workload *w, const attn_accuracy *acc, const attn_oracle *orc,
                            int64_t max_rows, attn_compare *res, const char **stage);

/* What a NaN or infinity in the last run's output comes from. */
typedef enum workload_nonfinite {
  NONFINITE_NONE,         /* the output is finite */
  NONFINITE_FROM_INPUTS,  /* some input is NaN or infinite: the numerics policy says where it goes */
  NONFINITE_SCORES_RANGE, /* finite inputs whose scores exceed the fp32 range (reference/README.md) */
  NONFINITE_UNEXPLAINED,  /* finite inputs, scores in range: the backend's arithmetic failed */
} workload_nonfinite;
/* Classifies the output; for the last two, why gets a one-line reason. */
workload_nonfinite workload_explain_nonfinite(const workload *w, char *why, size_t n);

/* Query rows of `full` (flat [b][h][lq] indices) that a check compares: all of
 * them for op=attn (returns 0 and sets *rows NULL), or the first, a middle
 * and the last step of a decode. Caller frees *rows. */
int64_t workload_check_rows(const workload *w, int64_t **rows);

#endif
