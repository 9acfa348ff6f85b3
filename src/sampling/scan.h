// The three vocabulary-wide scans the sampler runs on every token, each as a
// scalar reference and SIMD versions. On x86-64 both an SSE2 version (every
// x86-64 CPU has it) and an AVX2 one are compiled whatever the build flags,
// and the AVX2 one is picked at run time when the CPU has it; elsewhere the
// scalar loop is used. The compiler keeps these loops scalar on its own: a
// float max reduction needs -ffast-math to vectorise, and loops with an early
// exit do not vectorise at all in GCC 12.
// Inputs must not contain NaN (the sampler rejects NaN before scanning).
#pragma once

#include <cstddef>
#include <span>

namespace lcte::sampling {

// Largest value; -inf for an empty span.
float max_value(std::span<const float> v);
float max_value_scalar(std::span<const float> v);

// Index of the first v[i] > t with i >= from; v.size() if none.
size_t first_greater(std::span<const float> v, size_t from, float t);
size_t first_greater_scalar(std::span<const float> v, size_t from, float t);

// Index of the first v[i] >= t with i >= from; v.size() if none.
size_t first_at_least(std::span<const float> v, size_t from, float t);
size_t first_at_least_scalar(std::span<const float> v, size_t from, float t);

// Which implementation the dispatching functions above use: "avx2", "sse2" or "scalar".
const char* scan_kernel_name();

#if defined(__x86_64__)
// The x86 versions, exposed so tests check each against the scalar reference.
// The avx2 ones must only be called when the CPU has AVX2.
namespace x86 {
bool cpu_has_avx2();
float max_value_sse2(std::span<const float> v);
float max_value_avx2(std::span<const float> v);
size_t first_greater_sse2(std::span<const float> v, size_t from, float t);
size_t first_greater_avx2(std::span<const float> v, size_t from, float t);
size_t first_at_least_sse2(std::span<const float> v, size_t from, float t);
size_t first_at_least_avx2(std::span<const float> v, size_t from, float t);
}  // namespace x86
#endif

}  // namespace lcte::sampling
