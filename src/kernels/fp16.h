// Half-precision conversions: IEEE binary16 (F16) and bfloat16 (BF16) to and
// from F32. The portable functions are bit-exact with the hardware F16C
// instructions (round to nearest even, subnormals kept, NaN stays NaN with its
// top payload bits and the quiet bit set), so results never depend on the
// build flags. fp16_to_fp32 / fp32_to_fp16 use F16C when the translation unit
// is compiled for it.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace lcte {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float fp16_to_fp32_portable(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: man * 2^-24 is exact in F32.
    return f32_from_bits(sign | f32_bits(static_cast<float>(man) * 0x1p-24f));
  }
  if (exp == 31) {
    // Infinity, or NaN made quiet (as F16C and ggml's reference do).
    return f32_from_bits(sign | 0x7f800000u | (man != 0 ? 0x400000u : 0u) | (man << 13));
  }
  return f32_from_bits(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

inline uint16_t fp32_to_fp16_portable(float f) {
  const uint32_t x = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) {  // NaN: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (ax < 0x38800000u) {
    // Below the smallest normal half (2^-14). Adding 0.5 puts the value into a
    // float whose ulp is 2^-24, the half subnormal step, so the FPU does the
    // round-to-nearest-even for us and the low mantissa bits are the result.
    const float t = f32_from_bits(ax) + 0.5f;
    return static_cast<uint16_t>(sign | (f32_bits(t) - 0x3f000000u));
  }
  // Normal: rebias the exponent and round the 13 dropped bits to nearest even.
  const uint32_t odd = (ax >> 13) & 1u;
  const uint32_t r = ax + ((15u - 127u) << 23) + 0xfffu + odd;
  return static_cast<uint16_t>(sign | (r >> 13));
}

inline float fp16_to_fp32(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return fp16_to_fp32_portable(h);
#endif
}

inline uint16_t fp32_to_fp16(float f) {
#if defined(__F16C__)
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
#else
  return fp32_to_fp16_portable(f);
#endif
}

// BF16 is the top half of an F32, so widening is exact.
inline float bf16_to_fp32(uint16_t b) { return f32_from_bits(static_cast<uint32_t>(b) << 16); }

// Round to nearest even, as ggml's reference does; NaN is kept quiet (bit 6 of
// the result set) so rounding can never turn it into infinity. Subnormals are
// rounded like any other value (older ggml versions flushed them to zero).
inline uint16_t fp32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace lcte
