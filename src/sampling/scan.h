// The three vocabulary-wide scans the sampler runs on every token, each as a
// scalar reference and a SIMD version (AVX when the build targets it, else
// SSE2, which every x86-64 has; the scalar loop elsewhere). The compiler
// keeps these scalar on its own: a float max reduction needs -ffast-math to
// vectorise, and loops with an early exit do not vectorise at all in GCC 12.
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

}  // namespace lcte::sampling
