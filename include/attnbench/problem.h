/* The problem string: comma-separated key=value, the unit of everything that
 * attnbench prints or reads (check, bench, run, result rows, failures). */
#ifndef ATTNBENCH_PROBLEM_H
#define ATTNBENCH_PROBLEM_H

#include "attnbench/attn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest canonical string attn_problem_format can produce. */
#define ATTN_PROBLEM_STRLEN 1024

/* Defaults: b=1, hkv=h, lk=lq, dv=d, mask=none, score=scaled, mode=soft,
 * fill=random, seed=0; da=d for score=additive and mode=local-p. window has
 * no default: local-m and local-p require it. */
void attn_problem_init(attn_problem *p);

/* Parses and validates s. On error returns ATTN_EINVAL (or ATTN_ENOMEM for
 * sizes that cannot be addressed) and writes a one-line message naming the
 * offending key to err. */
attn_status attn_problem_parse(const char *s, attn_problem *p, char *err, size_t errlen);

/* Checks the descriptor's own consistency (what parse checks after reading). */
attn_status attn_problem_validate(const attn_problem *p, char *err, size_t errlen);

/* The canonical string; parse(format(p)) == p. Returns buf. */
char *attn_problem_format(const attn_problem *p, char *buf, size_t n);

/* Element counts of each tensor. */
int64_t attn_q_elems(const attn_problem *p);
int64_t attn_kv_elems(const attn_problem *p); /* of K; V has lk*dv per head */
int64_t attn_v_elems(const attn_problem *p);
int64_t attn_o_elems(const attn_problem *p);

/* The weights of a score or mode ([d][d] W; [da][d] W1, W2, Wp; [da] u, vp),
 * 0 when the problem has none: attn_wa_elems counts each of W1 and W2. */
int64_t attn_w_elems(const attn_problem *p);
int64_t attn_wa_elems(const attn_problem *p);
int64_t attn_u_elems(const attn_problem *p);
int64_t attn_wp_elems(const attn_problem *p);
int64_t attn_vp_elems(const attn_problem *p);

/* Query-key pairs that the mask and the window let through, summed over batch
 * and heads. mode=local-p's centres depend on the data: each row counts the
 * upper bound min(mask's prefix, 2*window+1), a nominal figure. */
double attn_visible_pairs(const attn_problem *p, const int32_t *lens);
/* Per visible pair: the score (2*d, or 3*da for additive: add, tanh,
 * multiply-add by u) and 2*dv for P.V (none for mode=hard, which copies one
 * value row). Plus, independent of the pairs: general 2*b*h*lq*d*d (the fold
 * Q W); cosine 3*(b*h*lq + b*hkv*lk)*d (the norms); additive
 * 2*(b*hkv*lk + b*h*lq)*da*d (W1 K and W2 Q); local-p 2*b*h*lq*da*d (the
 * centres' Wp Q). op=mha adds attn_projection_flops. local-p's count, and so
 * its GFLOP/s, is nominal (attn_visible_pairs). */
double attn_flops(const attn_problem *p, const int32_t *lens);
/* score=additive: da tanh evaluations per visible pair (b*h*lq*lk*da without
 * mask or window); 0 for every other score. */
double attn_tanh_evals(const attn_problem *p, const int32_t *lens);
/* op=mha: 2*b*(lq*dm*h*d + lk*dm*hkv*(d+dv) + lq*h*dv*dm), the four GEMMs; 0 otherwise. */
double attn_projection_flops(const attn_problem *p);

const char *attn_mask_name(attn_mask m);
const char *attn_fill_name(attn_fill f);
/* Makes s, a message that may quote outside input (a file's bytes, a
 * command-line value), one printable line in place: C0 controls, DEL and the
 * C1 controls as UTF-8 writes them (0xC2 0x80..0x9F, which some terminals
 * act on) become '?'. */
void attn_printable_line(char *s);
const char *attn_op_name(attn_op o);
const char *attn_score_name(attn_score s);
const char *attn_mode_name(attn_mode m);

#ifdef __cplusplus
}
#endif
#endif
