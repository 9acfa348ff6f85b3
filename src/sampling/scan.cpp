#include "sampling/scan.h"

#include <limits>

#if defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

namespace lcte::sampling {

float max_value_scalar(std::span<const float> v) {
  float m = -std::numeric_limits<float>::infinity();
  for (float x : v) m = x > m ? x : m;
  return m;
}

size_t first_greater_scalar(std::span<const float> v, size_t from, float t) {
  for (size_t i = from; i < v.size(); ++i)
    if (v[i] > t) return i;
  return v.size();
}

size_t first_at_least_scalar(std::span<const float> v, size_t from, float t) {
  for (size_t i = from; i < v.size(); ++i)
    if (v[i] >= t) return i;
  return v.size();
}

#if defined(__AVX__)

float max_value(std::span<const float> v) {
  const float* p = v.data();
  const size_t n = v.size();
  // Four accumulators hide the latency of vmaxps.
  __m256 a0 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_max_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_max_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_max_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_max_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  const __m256 a = _mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, a);
  float m = max_value_scalar(lanes);
  for (; i < n; ++i) m = p[i] > m ? p[i] : m;
  return m;
}

template <int Cmp>
size_t first_where(std::span<const float> v, size_t from, float t) {
  const float* p = v.data();
  const size_t n = v.size();
  const __m256 tv = _mm256_set1_ps(t);
  size_t i = from;
  for (; i + 8 <= n; i += 8) {
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + i), tv, Cmp));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
  return Cmp == _CMP_GT_OQ ? first_greater_scalar(v, i, t) : first_at_least_scalar(v, i, t);
}

size_t first_greater(std::span<const float> v, size_t from, float t) {
  return first_where<_CMP_GT_OQ>(v, from, t);
}
size_t first_at_least(std::span<const float> v, size_t from, float t) {
  return first_where<_CMP_GE_OQ>(v, from, t);
}

#elif defined(__SSE2__)

float max_value(std::span<const float> v) {
  const float* p = v.data();
  const size_t n = v.size();
  __m128 a0 = _mm_set1_ps(-std::numeric_limits<float>::infinity());
  __m128 a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm_max_ps(a0, _mm_loadu_ps(p + i));
    a1 = _mm_max_ps(a1, _mm_loadu_ps(p + i + 4));
    a2 = _mm_max_ps(a2, _mm_loadu_ps(p + i + 8));
    a3 = _mm_max_ps(a3, _mm_loadu_ps(p + i + 12));
  }
  const __m128 a = _mm_max_ps(_mm_max_ps(a0, a1), _mm_max_ps(a2, a3));
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, a);
  float m = max_value_scalar(lanes);
  for (; i < n; ++i) m = p[i] > m ? p[i] : m;
  return m;
}

template <bool Strict>
size_t first_where(std::span<const float> v, size_t from, float t) {
  const float* p = v.data();
  const size_t n = v.size();
  const __m128 tv = _mm_set1_ps(t);
  size_t i = from;
  for (; i + 4 <= n; i += 4) {
    const __m128 x = _mm_loadu_ps(p + i);
    const int mask = _mm_movemask_ps(Strict ? _mm_cmpgt_ps(x, tv) : _mm_cmpge_ps(x, tv));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
  return Strict ? first_greater_scalar(v, i, t) : first_at_least_scalar(v, i, t);
}

size_t first_greater(std::span<const float> v, size_t from, float t) { return first_where<true>(v, from, t); }
size_t first_at_least(std::span<const float> v, size_t from, float t) { return first_where<false>(v, from, t); }

#else

float max_value(std::span<const float> v) { return max_value_scalar(v); }
size_t first_greater(std::span<const float> v, size_t from, float t) { return first_greater_scalar(v, from, t); }
size_t first_at_least(std::span<const float> v, size_t from, float t) { return first_at_least_scalar(v, from, t); }

#endif

}  // namespace lcte::sampling
