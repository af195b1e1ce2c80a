/* ATTNBENCH_MAX_ISA: the names it takes, what each hides, and a name it does
 * not take reported as such while the features stay at the baseline.
 * Criterion runs each test in its own process, so each sees attn_cpu()
 * detect afresh under its own setting. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "attnbench/cpu.h"

static attn_isa_cap cap_of(const char *value, attn_status *s) {
  attn_isa_cap cap;
  cr_assert_eq(setenv("ATTNBENCH_MAX_ISA", value, 1), 0);
  *s = attn_cpu_isa_cap(&cap);
  return cap;
}

Test(cpu, cap_names) {
  const struct {
    const char *value;
    attn_isa_cap cap;
  } ok[] = {{"", ATTN_ISA_CAP_NONE},
            {"sse4.2", ATTN_ISA_CAP_SSE42},
            {"avx2", ATTN_ISA_CAP_AVX2},
            {"avx512", ATTN_ISA_CAP_AVX512}};
  attn_status s;
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    cr_expect_eq(cap_of(ok[i].value, &s), ok[i].cap, "'%s'", ok[i].value);
    cr_expect_eq(s, ATTN_OK, "'%s'", ok[i].value);
    if (ok[i].cap != ATTN_ISA_CAP_NONE) cr_expect_str_eq(attn_isa_cap_name(ok[i].cap), ok[i].value);
  }
  cr_expect_null(attn_isa_cap_name(ATTN_ISA_CAP_NONE));
  cr_assert_eq(unsetenv("ATTNBENCH_MAX_ISA"), 0);
  attn_isa_cap cap;
  cr_expect_eq(attn_cpu_isa_cap(&cap), ATTN_OK);
  cr_expect_eq(cap, ATTN_ISA_CAP_NONE);
}

/* Once such a name meant sse4.2 without a word; now it is an error, and
 * whoever goes on anyway gets the baseline. */
Test(cpu, unknown_names_are_refused) {
  const char *bad[] = {"garbage", "AVX2", "avx2 ", " avx2", "sse4", "avx", "avx512f", "all"};
  attn_status s;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_expect_eq(cap_of(bad[i], &s), ATTN_ISA_CAP_SSE42, "'%s'", bad[i]);
    cr_expect_eq(s, ATTN_EINVAL, "'%s' accepted", bad[i]);
  }
  cr_expect_eq(attn_cpu_has_avx2(), 0);
  cr_expect_eq(attn_cpu_has_avx512(), 0);
  cr_expect_eq(attn_cpu()->avx, 0);
}

Test(cpu, avx2_hides_avx512_only) {
  attn_status s;
  cap_of("avx2", &s);
  cr_expect_eq(attn_cpu_has_avx512(), 0);
  cr_expect_eq(attn_cpu()->avx512f, 0);
  cr_expect_eq(attn_cpu()->avx512_bf16, 0);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) cr_expect_eq(attn_cpu_has_avx2(), 1);
}
