/* Which score functions and modes a backend takes: each backend states its
 * own set, and declines the rest with a reason naming the variant. */
#ifndef ATTNBENCH_IMPLS_VARIANT_H
#define ATTNBENCH_IMPLS_VARIANT_H

#include <stdio.h>

#include "attnbench/attn.h"
#include "attnbench/problem.h"

#define ATTN_SCORE_BIT(s) (1u << (unsigned)(s))
#define ATTN_MODE_BIT(m)  (1u << (unsigned)(m))

/* ATTN_OK when p's score and mode are among the given bit sets; otherwise
 * ATTN_UNSUPPORTED and a reason in why. */
static inline attn_status attn_variant_supported(const attn_problem *p, unsigned scores, unsigned modes,
                                                 const char *backend, char *why, size_t n) {
  if (!(scores & ATTN_SCORE_BIT(p->score))) {
    if (why && n) snprintf(why, n, "score=%s is not implemented by %s", attn_score_name(p->score), backend);
    return ATTN_UNSUPPORTED;
  }
  if (!(modes & ATTN_MODE_BIT(p->mode))) {
    if (why && n) snprintf(why, n, "mode=%s is not implemented by %s", attn_mode_name(p->mode), backend);
    return ATTN_UNSUPPORTED;
  }
  return ATTN_OK;
}

#endif
