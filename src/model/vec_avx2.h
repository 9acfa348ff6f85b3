// AVX2 building blocks shared by the vector kernels and attention; included
// only by .cpp files, inside functions compiled for AVX2 (target attribute).
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#define LCTE_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace lcte::model::vec::avx2 {

LCTE_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LCTE_AVX2 inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// e^x by the operations of ggml's AVX-512 ggml_v_expf (llama.cpp's softmax
// and SiLU on AVX-512 builds), lane for lane: x = n ln2 + b with n rounded
// by the 1.5*2^23 shift, a degree-5 polynomial in b, then j * 2^n. Matching
// those operations (not just the accuracy) keeps the engine's activations
// bit-identical to llama.cpp's. scalef(j, n) is j * 2^n rounded once: a
// multiplication by an exact power of two where 2^n is a normal float, and
// std::ldexp for the lanes outside (|n| in 127..192, results near the ends of
// the float range); beyond 192 the result is 0 (n <= 0) or +inf.
LCTE_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b =
      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 big = _mm256_cmp_ps(an, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(_mm256_andnot_ps(big, n)), _mm256_set1_epi32(127)), 23);
  const __m256 res = _mm256_mul_ps(j, _mm256_castsi256_ps(e));
  if (_mm256_movemask_ps(big) == 0) return res;
  // Beyond 192 (masked -inf scores among them): 0 or +inf, no scalar work.
  const __m256 huge = _mm256_cmp_ps(an, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  if (_mm256_movemask_ps(_mm256_andnot_ps(huge, big)) == 0) {
    const __m256 alt =
        _mm256_andnot_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ), _mm256_set1_ps(__builtin_inff()));
    return _mm256_blendv_ps(res, alt, huge);
  }
  alignas(32) float jv[8], nv[8], out[8];
  _mm256_store_ps(jv, j);
  _mm256_store_ps(nv, n);
  for (int i = 0; i < 8; ++i) {
    if (std::fabs(nv[i]) > 192.0f)
      out[i] = nv[i] <= 0.0f ? 0.0f : __builtin_inff();
    else if (nv[i] != nv[i])
      out[i] = nv[i];
    else
      out[i] = std::ldexp(jv[i], static_cast<int>(nv[i]));
  }
  return _mm256_load_ps(out);
}

// _mm512_reduce_add_ps of the 16 lanes lo:hi as GCC computes it (halves,
// then quarters, then pairs): ggml's softmax sums and F32 dot products reduce
// their 16-lane accumulators this way.
LCTE_AVX2 inline float reduce16(__m256 lo, __m256 hi) {
  const __m256 h = _mm256_add_ps(hi, lo);
  const __m128 q = _mm_add_ps(_mm256_extractf128_ps(h, 1), _mm256_castps256_ps128(h));
  const __m128 p = _mm_add_ps(q, _mm_permute_ps(q, 0x4e));
  return _mm_cvtss_f32(_mm_add_ss(p, _mm_movehdup_ps(p)));
}

}  // namespace lcte::model::vec::avx2

#endif
