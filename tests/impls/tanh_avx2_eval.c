/* The AVX2-compiled half of test_tanh_avx2: evaluates avx2_tanh_a3 so that
 * the test itself stays baseline code and can skip on CPUs without AVX2. */
#if !defined(__AVX2__) || !defined(__FMA__)
#error "tanh_avx2_eval.c must be compiled with -mavx2 -mfma"
#endif

#include <stddef.h>

#include "avx2/tanh_avx2.h"
#include "tanh_avx2_eval.h"

const double tanh_avx2_stated_bound = AVX2_TANH_ABS_ERR;

void tanh_avx2_eval(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, avx2_tanh_a3(_mm256_loadu_ps(x + i)));
}
