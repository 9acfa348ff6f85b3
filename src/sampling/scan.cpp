#include "sampling/scan.h"

#include <limits>

#if defined(__x86_64__)
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

#if defined(__x86_64__)

namespace x86 {

namespace {

// Finishes a max over vector lanes and the scalar tail.
float finish_max(const float* lanes, size_t n_lanes, std::span<const float> tail) {
  float m = max_value_scalar({lanes, n_lanes});
  for (float x : tail) m = x > m ? x : m;
  return m;
}

size_t lowest_set_bit(int mask) { return static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask))); }

template <bool Strict>
size_t first_scalar(std::span<const float> v, size_t from, float t) {
  return Strict ? first_greater_scalar(v, from, t) : first_at_least_scalar(v, from, t);
}

template <bool Strict>
size_t first_sse2(std::span<const float> v, size_t from, float t) {
  const float* p = v.data();
  const __m128 tv = _mm_set1_ps(t);
  size_t i = from;
  for (; i + 4 <= v.size(); i += 4) {
    const __m128 x = _mm_loadu_ps(p + i);
    const int mask = _mm_movemask_ps(Strict ? _mm_cmpgt_ps(x, tv) : _mm_cmpge_ps(x, tv));
    if (mask != 0) return i + lowest_set_bit(mask);
  }
  return first_scalar<Strict>(v, i, t);
}

template <bool Strict>
__attribute__((target("avx2"))) size_t first_avx2(std::span<const float> v, size_t from, float t) {
  const float* p = v.data();
  const __m256 tv = _mm256_set1_ps(t);
  size_t i = from;
  for (; i + 8 <= v.size(); i += 8) {
    const __m256 x = _mm256_loadu_ps(p + i);
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(x, tv, Strict ? _CMP_GT_OQ : _CMP_GE_OQ));
    if (mask != 0) return i + lowest_set_bit(mask);
  }
  return first_scalar<Strict>(v, i, t);
}

}  // namespace

bool cpu_has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}

float max_value_sse2(std::span<const float> v) {
  const float* p = v.data();
  // Four accumulators hide the latency of maxps.
  __m128 a0 = _mm_set1_ps(-std::numeric_limits<float>::infinity());
  __m128 a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 16 <= v.size(); i += 16) {
    a0 = _mm_max_ps(a0, _mm_loadu_ps(p + i));
    a1 = _mm_max_ps(a1, _mm_loadu_ps(p + i + 4));
    a2 = _mm_max_ps(a2, _mm_loadu_ps(p + i + 8));
    a3 = _mm_max_ps(a3, _mm_loadu_ps(p + i + 12));
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, _mm_max_ps(_mm_max_ps(a0, a1), _mm_max_ps(a2, a3)));
  return finish_max(lanes, 4, v.subspan(i));
}

__attribute__((target("avx2"))) float max_value_avx2(std::span<const float> v) {
  const float* p = v.data();
  __m256 a0 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= v.size(); i += 32) {
    a0 = _mm256_max_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_max_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_max_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_max_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3)));
  return finish_max(lanes, 8, v.subspan(i));
}

size_t first_greater_sse2(std::span<const float> v, size_t from, float t) { return first_sse2<true>(v, from, t); }
size_t first_greater_avx2(std::span<const float> v, size_t from, float t) { return first_avx2<true>(v, from, t); }
size_t first_at_least_sse2(std::span<const float> v, size_t from, float t) { return first_sse2<false>(v, from, t); }
size_t first_at_least_avx2(std::span<const float> v, size_t from, float t) { return first_avx2<false>(v, from, t); }

}  // namespace x86

float max_value(std::span<const float> v) {
  return x86::cpu_has_avx2() ? x86::max_value_avx2(v) : x86::max_value_sse2(v);
}
size_t first_greater(std::span<const float> v, size_t from, float t) {
  return x86::cpu_has_avx2() ? x86::first_greater_avx2(v, from, t) : x86::first_greater_sse2(v, from, t);
}
size_t first_at_least(std::span<const float> v, size_t from, float t) {
  return x86::cpu_has_avx2() ? x86::first_at_least_avx2(v, from, t) : x86::first_at_least_sse2(v, from, t);
}
const char* scan_kernel_name() { return x86::cpu_has_avx2() ? "avx2" : "sse2"; }

#else

float max_value(std::span<const float> v) { return max_value_scalar(v); }
size_t first_greater(std::span<const float> v, size_t from, float t) { return first_greater_scalar(v, from, t); }
size_t first_at_least(std::span<const float> v, size_t from, float t) { return first_at_least_scalar(v, from, t); }
const char* scan_kernel_name() { return "scalar"; }

#endif

}  // namespace lcte::sampling
