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

/* Defaults: b=1, hkv=h, lk=lq, dv=d, mask=none, fill=random, seed=0. */
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

/* Query-key pairs that the mask lets through, summed over batch and heads. */
double attn_visible_pairs(const attn_problem *p, const int32_t *lens);
/* 2*(d+dv) per visible pair: the Q.K^T and P.V multiply-adds; op=mha adds
 * attn_projection_flops. */
double attn_flops(const attn_problem *p, const int32_t *lens);
/* op=mha: 2*b*(lq*dm*h*d + lk*dm*hkv*(d+dv) + lq*h*dv*dm), the four GEMMs; 0 otherwise. */
double attn_projection_flops(const attn_problem *p);

const char *attn_mask_name(attn_mask m);
const char *attn_fill_name(attn_fill f);
const char *attn_op_name(attn_op o);
const char *attn_score_name(attn_score s);
const char *attn_mode_name(attn_mode m);

#ifdef __cplusplus
}
#endif
#endif
