/* The AVX-512 half of test_tanh_avx512: evaluates avx512_tanh_a22 from the
 * backend's own header, so that the test file stays baseline code and skips
 * (rather than faults) on CPUs without AVX-512. */
#ifndef __AVX512F__
#error "tanh_avx512_eval.c must be compiled with the avx512 flags (tests/CMakeLists.txt)"
#endif

#include <stddef.h>

#include "avx512/avx512_tanh.h"
#include "tanh_avx512_eval.h"

const double tanh_avx512_stated_bound = AVX512_TANH_ABS_ERR;

void tanh_avx512_eval(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, avx512_tanh_a22(_mm512_maskz_loadu_ps(m, x + i)));
  }
}
