/* The AVX-512 half of test_exp_avx512: evaluates avx512_exp2_u1 from the
 * backend's own header, so that the test file stays baseline code and skips
 * (rather than faults) on CPUs without AVX-512. */
#ifndef __AVX512F__
#error "exp_avx512_eval.c must be compiled with the avx512 flags (tests/CMakeLists.txt)"
#endif

#include <stddef.h>

#include "avx512/avx512_exp.h"
#include "exp_avx512_eval.h"

const double exp_avx512_stated_bound = AVX512_EXP2_REL_ERR;

void exp_avx512_eval(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, avx512_exp2_u1(_mm512_maskz_loadu_ps(m, x + i)));
  }
}
