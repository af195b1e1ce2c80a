/* attnbench run: one forward pass on inputs from .npy files, so that outside
 * tools (NumPy, PyTorch) can check our numbers. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "npy.h"
#include "workload.h"

typedef struct run_opts {
  const char *backend, *problem, *q, *k, *v, *lens, *out;
  const char *xq, *xkv, *wq, *wk, *wv, *wo;                    /* op=mha */
  const char *x, *ww, *bw, *cw, *ws, *bs, *cs, *words, *sents; /* op=han */
  const char *w, *w1, *w2, *u, *wp, *vp;                       /* op=attn: score and mode weights */
  int threads;
} run_opts;

/* Long options without a one-letter code. */
enum { OPT_W = 256, OPT_W1, OPT_W2, OPT_U, OPT_WP, OPT_VP };

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: attnbench run --backend NAME --problem STR --q Q.npy --k K.npy --v V.npy [--lens LENS.npy]\n"
      "                     --out O.npy [--threads N]\n"
      "Float32 C-order arrays: Q [b,h,lq,d], K [b,hkv,lk,d], V [b,hkv,lk,dv]; writes O [b,h,lq,dv].\n"
      "LENS (mask=pad): int32 or int64 [b], each in 0..lk; without it the problem's lens= applies.\n"
      "op=mha: --xq XQ.npy [--xkv XKV.npy] --wq WQ.npy --wk WK.npy --wv WV.npy --wo WO.npy instead of\n"
      "--q/--k/--v: X_q [b,lq,dm], X_kv [b,lk,dm] (omitted: self-attention, X_kv = X_q), W_q [dm,h*d],\n"
      "W_k [dm,hkv*d], W_v [dm,hkv*dv], W_o [h*dv,dm]; writes O [b,lq,dm].\n"
      "op=han: --x X.npy --ww WW.npy --bw BW.npy --cw CW.npy --ws WS.npy --bs BS.npy --cs CS.npy\n"
      "[--words WORDS.npy] [--sents SENTS.npy]: X [b,s,t,d], W_w and W_s [da,d], b_w, b_s, c_w, c_s [da];\n"
      "word counts int32/int64 [b,s] in 0..t, sentence counts [b] in 0..s (omitted: all); writes O [b,d].\n"
      "Weights, float32, exactly those the problem uses: score=general --w W.npy [d,d]; score=additive\n"
      "--w1 W1.npy [da,d] (keys), --w2 W2.npy [da,d] (queries), --u U.npy [da]; mode=local-p --wp WP.npy\n"
      "[da,d], --vp VP.npy [da].\n");
}

/* Reads a float32 tensor and checks its shape against the problem's. */
static int read_tensor(const char *flag, const char *path, const int64_t *want, int ndim, npy_array *a) {
  char err[ERRLEN], got_s[256], want_s[256];
  if (npy_read(path, a, err, sizeof err)) {
    bench_error("--%s: %s", flag, err);
    return -1;
  }
  if (strcmp(a->descr, "<f4")) {
    bench_error("--%s %s: dtype '%s' is not float32 ('<f4')", flag, path, a->descr);
    npy_free(a);
    return -1;
  }
  int same = a->ndim == ndim;
  for (int i = 0; same && i < ndim; i++) same = a->shape[i] == want[i];
  if (!same) {
    npy_shape_str(a->shape, a->ndim, got_s, sizeof got_s);
    npy_shape_str(want, ndim, want_s, sizeof want_s);
    bench_error("--%s %s: shape %s does not match the problem's %s", flag, path, got_s, want_s);
    npy_free(a);
    return -1;
  }
  return 0;
}

/* Reads int32 or int64 counts of the given shape, each within 0..max (the
 * problem key `limit` names max). */
static int read_counts(const char *flag, const char *path, const int64_t *want, int ndim, int64_t max,
                       const char *limit, int32_t *out) {
  char err[ERRLEN], shape[256], want_s[256];
  npy_array a;
  if (npy_read(path, &a, err, sizeof err)) {
    bench_error("--%s: %s", flag, err);
    return -1;
  }
  const int i32 = !strcmp(a.descr, "<i4"), i64 = !strcmp(a.descr, "<i8");
  int same = a.ndim == ndim;
  for (int i = 0; same && i < ndim; i++) same = a.shape[i] == want[i];
  if ((!i32 && !i64) || !same) {
    npy_shape_str(a.shape, a.ndim, shape, sizeof shape);
    npy_shape_str(want, ndim, want_s, sizeof want_s);
    bench_error("--%s %s: want int32 or int64 of shape %s, got '%s' %s", flag, path, want_s, a.descr, shape);
    npy_free(&a);
    return -1;
  }
  for (int64_t i = 0; i < a.count; i++) {
    int64_t x = i32 ? ((int32_t *)a.data)[i] : ((int64_t *)a.data)[i];
    if (x < 0 || x > max) {
      bench_error("--%s %s: %lld at flat index %lld is outside 0..%s=%lld", flag, path, (long long)x,
                  (long long)i, limit, (long long)max);
      npy_free(&a);
      return -1;
    }
    out[i] = (int32_t)x;
  }
  npy_free(&a);
  return 0;
}

/* Reads int32 or int64 lengths [b], each within 0..lk. With lens= in the
 * problem string as well, both must say the same: which one counted would
 * otherwise be a guess. */
static int read_lens(const char *path, const attn_problem *p, int32_t *lens) {
  if (read_counts("lens", path, &p->b, 1, p->lk, "lk", lens)) return -1;
  for (int i = 0; i < p->nlens; i++)
    if (lens[i] != p->lens[i]) {
      bench_error("--lens %s: batch %d's length %d contradicts lens= in the problem string (%d)", path, i,
                  (int)lens[i], (int)p->lens[i]);
      return -1;
    }
  return 0;
}

static int parse_run_opts(int argc, char **argv, run_opts *o) {
  static const struct option longopts[] = {{"backend", required_argument, 0, 'b'},
                                           {"problem", required_argument, 0, 'p'},
                                           {"q", required_argument, 0, 'q'},
                                           {"k", required_argument, 0, 'k'},
                                           {"v", required_argument, 0, 'v'},
                                           {"lens", required_argument, 0, 'l'},
                                           {"out", required_argument, 0, 'o'},
                                           {"threads", required_argument, 0, 't'},
                                           {"xq", required_argument, 0, 'X'},
                                           {"xkv", required_argument, 0, 'Y'},
                                           {"wq", required_argument, 0, '1'},
                                           {"wk", required_argument, 0, '2'},
                                           {"wv", required_argument, 0, '3'},
                                           {"wo", required_argument, 0, '4'},
                                           {"x", required_argument, 0, 'x'},
                                           {"ww", required_argument, 0, '5'},
                                           {"bw", required_argument, 0, '6'},
                                           {"cw", required_argument, 0, '7'},
                                           {"ws", required_argument, 0, '8'},
                                           {"bs", required_argument, 0, '9'},
                                           {"cs", required_argument, 0, '0'},
                                           {"words", required_argument, 0, 'W'},
                                           {"sents", required_argument, 0, 'S'},
                                           {"w", required_argument, 0, OPT_W},
                                           {"w1", required_argument, 0, OPT_W1},
                                           {"w2", required_argument, 0, OPT_W2},
                                           {"u", required_argument, 0, OPT_U},
                                           {"wp", required_argument, 0, OPT_WP},
                                           {"vp", required_argument, 0, OPT_VP},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  /* An option given twice would silently keep its last value: which file or
   * problem counted would be a guess. */
  int c, at = -1;
  unsigned char given[sizeof longopts / sizeof longopts[0]] = {0};
  while ((c = getopt_long(argc, argv, "", longopts, &at)) != -1) {
    if (c != '?' && at >= 0 && given[at]++) {
      bench_error("run: --%s given twice", longopts[at].name);
      return -1;
    }
    at = -1;
    switch (c) {
    case 'b': o->backend = optarg; break;
    case 'p': o->problem = optarg; break;
    case 'q': o->q = optarg; break;
    case 'k': o->k = optarg; break;
    case 'v': o->v = optarg; break;
    case 'l': o->lens = optarg; break;
    case 'o': o->out = optarg; break;
    case 'X': o->xq = optarg; break;
    case 'Y': o->xkv = optarg; break;
    case '1': o->wq = optarg; break;
    case '2': o->wk = optarg; break;
    case '3': o->wv = optarg; break;
    case '4': o->wo = optarg; break;
    case 'x': o->x = optarg; break;
    case '5': o->ww = optarg; break;
    case '6': o->bw = optarg; break;
    case '7': o->cw = optarg; break;
    case '8': o->ws = optarg; break;
    case '9': o->bs = optarg; break;
    case '0': o->cs = optarg; break;
    case 'W': o->words = optarg; break;
    case 'S': o->sents = optarg; break;
    case OPT_W: o->w = optarg; break;
    case OPT_W1: o->w1 = optarg; break;
    case OPT_W2: o->w2 = optarg; break;
    case OPT_U: o->u = optarg; break;
    case OPT_WP: o->wp = optarg; break;
    case OPT_VP: o->vp = optarg; break;
    case 't':
      if ((o->threads = atoi(optarg)) < 1 || o->threads > 4096) {
        bench_error("--threads: '%s' is not a thread count (1..4096)", optarg);
        return -1;
      }
      break;
    case 'h': usage(stdout); return 1;
    default: usage(stderr); return -1;
    }
  }
  if (optind < argc) {
    bench_error("run: unexpected argument '%s'", argv[optind]);
    return -1;
  }
  /* op=mha and op=han take their own inputs instead of Q, K and V. */
  const int mha = o->problem && strstr(o->problem, "op=mha") != NULL;
  const int han = o->problem && strstr(o->problem, "op=han") != NULL;
  const char *missing = !o->backend   ? "--backend"
                        : !o->problem ? "--problem"
                        : han         ? (!o->x    ? "--x (op=han)"
                                         : !o->ww ? "--ww (op=han)"
                                         : !o->bw ? "--bw (op=han)"
                                         : !o->cw ? "--cw (op=han)"
                                         : !o->ws ? "--ws (op=han)"
                                         : !o->bs ? "--bs (op=han)"
                                         : !o->cs ? "--cs (op=han)"
                                                  : NULL)
                        : mha         ? (!o->xq   ? "--xq (op=mha)"
                                         : !o->wq ? "--wq (op=mha)"
                                         : !o->wk ? "--wk (op=mha)"
                                         : !o->wv ? "--wv (op=mha)"
                                         : !o->wo ? "--wo (op=mha)"
                                                  : NULL)
                        : !o->q       ? "--q"
                        : !o->k       ? "--k"
                        : !o->v       ? "--v"
                                      : NULL;
  if (!missing && !o->out) missing = "--out";
  if (missing) {
    bench_error("run: %s is required", missing);
    return -1;
  }
  const char *qkv = o->q ? "--q" : o->k ? "--k" : o->v ? "--v" : o->lens ? "--lens" : NULL;
  const char *mha_in = o->xq    ? "--xq"
                       : o->xkv ? "--xkv"
                       : o->wq  ? "--wq"
                       : o->wk  ? "--wk"
                       : o->wv  ? "--wv"
                       : o->wo  ? "--wo"
                                : NULL;
  const char *han_in = o->x       ? "--x"
                       : o->ww    ? "--ww"
                       : o->bw    ? "--bw"
                       : o->cw    ? "--cw"
                       : o->ws    ? "--ws"
                       : o->bs    ? "--bs"
                       : o->cs    ? "--cs"
                       : o->words ? "--words"
                       : o->sents ? "--sents"
                                  : NULL;
  const char *stray = han   ? (qkv ? qkv : mha_in)
                      : mha ? (qkv && strcmp(qkv, "--lens") ? qkv : han_in)
                            : (mha_in ? mha_in : han_in);
  if (stray) {
    bench_error("run: %s does not apply to %s (see attnbench run --help)", stray,
                han   ? "op=han"
                : mha ? "op=mha"
                      : "this op");
    return -1;
  }
  return 0;
}

/* Plans and runs the workload once; returns 0, or prints the reason and returns the exit status. */
static int forward_once(const attn_backend *be, workload *wl, int threads) {
  char why[ERRLEN] = "";
  attn_config cfg = {.threads = threads};
  void *plan = NULL;
  attn_status s = workload_plan(wl, be, &cfg, &plan, why, sizeof why);
  if (s == ATTN_OK) s = workload_run(wl, be, plan);
  workload_unplan(wl, be, plan);
  if (s != ATTN_OK) {
    bench_error("backend %s: %s%s%s", be->name,
                s == ATTN_UNSUPPORTED ? "declines the problem" : attn_status_name(s), why[0] ? ": " : "",
                why);
    return 2;
  }
  /* A NaN or infinity the inputs do not explain is no answer: nothing is
   * written. Scores beyond fp32's range are the input's limit (2), anything
   * else the backend's failure (1). */
  const workload_nonfinite nf = workload_explain_nonfinite(wl, why, sizeof why);
  if (nf >= NONFINITE_SCORES_RANGE) {
    bench_error("backend %s: %s; nothing written", be->name, why);
    return nf == NONFINITE_SCORES_RANGE ? 2 : 1;
  }
  return 0;
}

/* One float32 input (op=mha, op=han, the weights): its flag, file, shape and where it goes. */
typedef struct run_input {
  const char *flag, *path;
  const int64_t *shape;
  int ndim;
  float *dst;
} run_input;

/* Reads each given input (a NULL path is skipped) into its place. */
static int read_inputs(const run_input *in, size_t n) {
  for (size_t i = 0; i < n; i++) {
    npy_array a = {0};
    if (!in[i].path) continue;
    if (read_tensor(in[i].flag, in[i].path, in[i].shape, in[i].ndim, &a)) return -1;
    memcpy(in[i].dst, a.data, (size_t)a.count * sizeof(float));
    npy_free(&a);
  }
  return 0;
}

/* Runs the workload once and writes its output [shape] to --out. */
static int forward_and_write(const attn_backend *be, workload *wl, const run_opts *o, const int64_t *shape,
                             int ndim) {
  char err[ERRLEN];
  const int rc = forward_once(be, wl, o->threads);
  if (rc) return rc;
  if (npy_write_f32(o->out, workload_output(wl), shape, ndim, err, sizeof err)) {
    bench_error("%s", err);
    return 2;
  }
  return 0;
}

/* op=mha: reads the layer's inputs and weights into the workload. */
static int read_mha(const run_opts *o, workload *wl) {
  const attn_problem *p = &wl->p;
  const int64_t xq[] = {p->b, p->lq, p->dm}, xkv[] = {p->b, p->lk, p->dm}, wq[] = {p->dm, p->h * p->d},
                wk[] = {p->dm, p->hkv * p->d}, wv[] = {p->dm, p->hkv * p->dv}, wo[] = {p->h * p->dv, p->dm};
  const run_input in[] = {{"xq", o->xq, xq, 3, wl->xq}, {"xkv", o->xkv, xkv, 3, wl->xkv},
                          {"wq", o->wq, wq, 2, wl->wq}, {"wk", o->wk, wk, 2, wl->wk},
                          {"wv", o->wv, wv, 2, wl->wv}, {"wo", o->wo, wo, 2, wl->wo}};
  return read_inputs(in, sizeof in / sizeof in[0]); /* --xkv omitted: self-attention */
}

/* op=han: reads X, the weights and the counts into the workload. */
static int read_han(const run_opts *o, workload *wl) {
  const attn_problem *p = &wl->p;
  const int64_t x[] = {p->b, p->sents, p->words, p->d}, wt[] = {p->da, p->d}, vec[] = {p->da},
                words[] = {p->b, p->sents};
  const run_input in[] = {{"x", o->x, x, 4, wl->in.v},   {"ww", o->ww, wt, 2, wl->ww},
                          {"bw", o->bw, vec, 1, wl->bw}, {"cw", o->cw, vec, 1, wl->cw},
                          {"ws", o->ws, wt, 2, wl->ws},  {"bs", o->bs, vec, 1, wl->bs},
                          {"cs", o->cs, vec, 1, wl->cs}};
  if (read_inputs(in, sizeof in / sizeof in[0])) return -1;
  if (o->words && read_counts("words", o->words, words, 2, p->words, "t", wl->in.lens)) return -1;
  if (o->sents && read_counts("sents", o->sents, &p->b, 1, p->sents, "s", wl->sents)) return -1;
  return 0;
}

/* The score and mode weights that were given (check_weight_flags: exactly
 * those the problem uses) into the inputs. */
static int read_weights(const run_opts *o, bench_inputs *in) {
  const attn_problem *p = &in->p;
  const int64_t dd[] = {p->d, p->d}, ad[] = {p->da, p->d}, a[] = {p->da};
  const run_input w[] = {{"w", o->w, dd, 2, in->w},    {"w1", o->w1, ad, 2, in->w1},
                         {"w2", o->w2, ad, 2, in->w2}, {"u", o->u, a, 1, in->u},
                         {"wp", o->wp, ad, 2, in->wp}, {"vp", o->vp, a, 1, in->vp}};
  return read_inputs(w, sizeof w / sizeof w[0]);
}

/* Each weight the problem uses must be given, and no other: a weight for a
 * problem without it would be silently ignored. */
static int check_weight_flags(const run_opts *o, const attn_problem *p) {
  const struct {
    const char *flag, *path, *user;
    int64_t elems;
  } ws[] = {{"--w", o->w, "score=general", attn_w_elems(p)},
            {"--w1", o->w1, "score=additive", attn_wa_elems(p)},
            {"--w2", o->w2, "score=additive", attn_wa_elems(p)},
            {"--u", o->u, "score=additive", attn_u_elems(p)},
            {"--wp", o->wp, "mode=local-p", attn_wp_elems(p)},
            {"--vp", o->vp, "mode=local-p", attn_vp_elems(p)}};
  for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
    if (ws[i].elems > 0 && !ws[i].path) {
      bench_error("run: %s is required for %s", ws[i].flag, ws[i].user);
      return -1;
    }
    if (ws[i].elems == 0 && ws[i].path) {
      bench_error("run: %s does not apply to this problem (only to %s)", ws[i].flag, ws[i].user);
      return -1;
    }
  }
  return 0;
}

static int run_han(const run_opts *o, const attn_problem *p, const attn_backend *be) {
  char err[ERRLEN];
  workload wl;
  if (p->pad) {
    bench_error("run: pad=1 draws the counts from the seed; give them as --words and --sents instead");
    return 2;
  }
  /* X is read whole before it is copied in: room for it. */
  const double x_bytes = 4.0 * (double)(p->b * p->sents * p->words) * (double)p->d;
  if (workload_init(p, 0, x_bytes, &wl, err, sizeof err)) {
    bench_error("%s", err);
    return 2;
  }
  int rc = 2;
  const int64_t os[] = {p->b, p->d};
  if (read_han(o, &wl) == 0) {
    workload_prepare(&wl);
    rc = forward_and_write(be, &wl, o, os, 2);
  }
  workload_free(&wl);
  return rc;
}

static int run_mha(const run_opts *o, const attn_problem *p, const attn_backend *be) {
  char err[ERRLEN];
  workload wl;
  /* The inputs are read one at a time and copied in: room for the largest. */
  const double biggest = 4.0 * (double)p->dm * (double)(p->b * (p->lq > p->lk ? p->lq : p->lk) + p->h * p->d);
  if (workload_init(p, 0, biggest, &wl, err, sizeof err)) {
    bench_error("%s", err);
    return 2;
  }
  int rc = 2;
  for (int i = 0; i < p->nlens; i++) wl.in.lens[i] = p->lens[i];
  const int64_t ys[] = {p->b, p->lq, p->dm};
  if (read_mha(o, &wl) == 0 && (!o->lens || read_lens(o->lens, p, wl.in.lens) == 0))
    rc = forward_and_write(be, &wl, o, ys, 3);
  workload_free(&wl);
  return rc;
}

/* Writing --out over one of the files it was computed from would destroy
 * that input. */
static int check_out_not_input(const run_opts *o) {
  const bench_file_arg in[] = {
      {"--q", o->q},     {"--k", o->k},   {"--v", o->v},         {"--lens", o->lens},   {"--xq", o->xq},
      {"--xkv", o->xkv}, {"--wq", o->wq}, {"--wk", o->wk},       {"--wv", o->wv},       {"--wo", o->wo},
      {"--x", o->x},     {"--ww", o->ww}, {"--bw", o->bw},       {"--cw", o->cw},       {"--ws", o->ws},
      {"--bs", o->bs},   {"--cs", o->cs}, {"--words", o->words}, {"--sents", o->sents}, {"--w", o->w},
      {"--w1", o->w1},   {"--w2", o->w2}, {"--u", o->u},         {"--wp", o->wp},       {"--vp", o->vp}};
  char err[ERRLEN];
  if (bench_out_not_input("--out", o->out, in, sizeof in / sizeof in[0], err, sizeof err) == 0) return 0;
  bench_error("%s", err);
  return -1;
}

int cmd_run(int argc, char **argv) {
  run_opts o = {.threads = bench_default_threads()};
  int rc = parse_run_opts(argc, argv, &o);
  if (rc) return rc > 0 ? 0 : 2;
  if (check_out_not_input(&o)) return 2;
  char err[ERRLEN];
  attn_problem p;
  if (attn_problem_parse(o.problem, &p, err, sizeof err) != ATTN_OK) {
    bench_error("%s", err);
    return 2;
  }
  /* Room for two: a list that names more than one backend is refused, not
   * cut to its first. */
  const attn_backend *bes[2], *be;
  const int nbe = bench_select_backends(o.backend, bes, 2, err, sizeof err);
  if (nbe < 0) {
    bench_error("%s", err);
    return 2;
  }
  if (nbe != 1 || !strcmp(o.backend, "all")) {
    bench_error("run: --backend %s; run computes with exactly one backend, name it (see attnbench list)",
                !strcmp(o.backend, "all") ? "all" : "names more than one");
    return 2;
  }
  be = bes[0];
  if (p.mask == ATTN_MASK_PAD && !o.lens && !p.nlens) {
    bench_error("run: mask=pad needs --lens LENS.npy or lens= in the problem string");
    return 2;
  }
  if (o.lens && p.mask != ATTN_MASK_PAD) {
    bench_error("run: --lens applies only to mask=pad (this problem has mask=%s)", attn_mask_name(p.mask));
    return 2;
  }
  if (p.op == ATTN_OP_MHA && !o.xkv && !p.self) {
    /* No X_kv: the layer attends X_q to itself, which the problem must allow. */
    if (p.lk != p.lq) {
      bench_error("run: --xkv is required when lk=%lld differs from lq=%lld (without it X_kv is X_q)",
                  (long long)p.lk, (long long)p.lq);
      return 2;
    }
    p.self = 1;
  }
  if (p.op == ATTN_OP_MHA && o.xkv && p.self) {
    bench_error("run: self=1 takes X_kv from --xq; drop --xkv or self=1");
    return 2;
  }
  if (check_weight_flags(&o, &p)) return 2;
  if (p.op == ATTN_OP_MHA) return run_mha(&o, &p, be);
  if (p.op == ATTN_OP_HAN) return run_han(&o, &p, be);
  /* The inputs are read whole before they are copied in: room for both. */
  workload wl;
  if (workload_init(&p, 0, bench_inputs_bytes(&p), &wl, err, sizeof err)) {
    bench_error("%s", err);
    return 2;
  }
  const attn_problem *f = &wl.full;
  const int64_t qs[] = {f->b, f->h, f->lq, f->d}, ks[] = {f->b, f->hkv, f->lk, f->d},
                vs[] = {f->b, f->hkv, f->lk, f->dv}, os[] = {f->b, f->h, f->lq, f->dv};
  npy_array q = {0}, k = {0}, v = {0};
  rc = 2;
  if (read_tensor("q", o.q, qs, 4, &q) || read_tensor("k", o.k, ks, 4, &k) ||
      read_tensor("v", o.v, vs, 4, &v))
    goto out;
  memcpy(wl.in.q, q.data, (size_t)q.count * sizeof(float));
  memcpy(wl.in.k, k.data, (size_t)k.count * sizeof(float));
  memcpy(wl.in.v, v.data, (size_t)v.count * sizeof(float));
  for (int i = 0; i < p.nlens; i++) wl.in.lens[i] = p.lens[i];
  workload_prepare(&wl);
  if (read_weights(&o, &wl.in) == 0 && (!o.lens || read_lens(o.lens, &p, wl.in.lens) == 0) &&
      (rc = forward_once(be, &wl, o.threads)) == 0) {
    rc = 2;
    if (npy_write_f32(o.out, wl.in.o, os, 4, err, sizeof err))
      bench_error("%s", err);
    else
      rc = 0;
  }
out:
  workload_free(&wl);
  npy_free(&q);
  npy_free(&k);
  npy_free(&v);
  return rc;
}
