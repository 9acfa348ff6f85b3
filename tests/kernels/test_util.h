// Shared helpers of the tensor tests: random valid blocks and tolerances.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/isa.h"
#include "kernels/fp16.h"
#include "kernels/ggml_type.h"
#include "kernels/kernels.h"

namespace lcte::testing {

// Every computable weight type.
inline const std::vector<GgmlType>& weight_types() {
  static const std::vector<GgmlType> types = {
      GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
      GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K};
  return types;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

inline void put_half(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

// Offsets of the half-precision scale fields in each block format.
inline std::vector<size_t> half_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0: return {0};
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
    case GgmlType::Q8_1: return {0, 2};
    case GgmlType::Q2_K: return {80, 82};
    case GgmlType::Q3_K: return {108};
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: return {0, 2};
    case GgmlType::Q6_K: return {208};
    default: return {};
  }
}

// n elements of type t: random quant bits with finite, moderate scales, so
// every bit pattern of the quants is exercised.
inline std::vector<uint8_t> random_row(GgmlType t, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  std::bernoulli_distribution negative(0.3);
  if (t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16) {
    const std::vector<float> x = random_floats(static_cast<size_t>(n), seed);
    std::vector<uint8_t> out(row_bytes(t, n));
    kernels::quantize_row_ref(t, x.data(), out.data(), n);
    return out;
  }
  std::vector<uint8_t> out(row_bytes(t, n));
  for (uint8_t& b : out) b = static_cast<uint8_t>(byte(rng));
  const TypeTraits& tr = type_traits(t);
  for (size_t blk = 0; blk < out.size() / tr.block_bytes; ++blk) {
    uint8_t* p = out.data() + blk * tr.block_bytes;
    for (size_t off : half_fields(t)) put_half(p + off, negative(rng) ? -scale(rng) : scale(rng));
    if (t == GgmlType::Q8_K) {
      // f32 scale, and bsums that match the quants (the activation invariant).
      const float d = scale(rng);
      std::memcpy(p, &d, 4);
      for (int j = 0; j < 16; ++j) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += static_cast<int8_t>(p[4 + 16 * j + l]);
        const int16_t s = static_cast<int16_t>(sum);
        std::memcpy(p + 260 + 2 * j, &s, 2);
      }
    }
  }
  return out;
}

}  // namespace lcte::testing
