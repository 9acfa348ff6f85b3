// F16/BF16 conversions against formulas evaluated in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "kernels/fp16.h"

namespace lcte {
namespace {

// The value of half h from the IEEE 754 definition.
double half_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  const double mag = exp == 0 ? std::ldexp(man, -24) : std::ldexp(1024 + man, exp - 25);
  return sign ? -mag : mag;
}

bool is_nan_half(uint16_t h) { return ((h >> 10) & 0x1f) == 31 && (h & 0x3ff) != 0; }
bool is_inf_half(uint16_t h) { return (h & 0x7fff) == 0x7c00; }

TEST(Fp16, WideningIsExactForAllHalves) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = fp16_to_fp32_portable(h);
    const float hw = fp16_to_fp32(h);  // F16C when the build has it
    if (is_nan_half(h)) {
      ASSERT_TRUE(std::isnan(f)) << i;
      // Payload and sign survive: converting back gives the same quiet NaN.
      ASSERT_EQ(fp32_to_fp16_portable(f), h | 0x200) << i;
    } else if (is_inf_half(h)) {
      ASSERT_TRUE(std::isinf(f)) << i;
      ASSERT_EQ(std::signbit(f), (h >> 15) != 0) << i;
    } else {
      ASSERT_EQ(static_cast<double>(f), half_value(h)) << i;
      ASSERT_EQ(std::signbit(f), (h >> 15) != 0) << i;  // -0 stays -0
    }
    ASSERT_EQ(f32_bits(f), f32_bits(hw)) << i;
  }
}

TEST(Fp16, NarrowingRoundTripsEveryHalf) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    if (is_nan_half(h)) continue;
    ASSERT_EQ(fp32_to_fp16_portable(fp16_to_fp32_portable(h)), h) << i;
    ASSERT_EQ(fp32_to_fp16(fp16_to_fp32(h)), h) << i;
  }
}

// Midpoints between neighbouring halves go to the even one; a hair off the
// midpoint goes to the nearer one. Covers subnormals and the top of range.
TEST(Fp16, NarrowingRoundsHalfwayToEven) {
  for (uint32_t i = 0; i < 0x7bff; ++i) {
    for (uint16_t sign : {0, 0x8000}) {
      const uint16_t lo = static_cast<uint16_t>(i | sign), hi = static_cast<uint16_t>((i + 1) | sign);
      const float mid = static_cast<float>((half_value(lo) + half_value(hi)) / 2);  // exact in float
      const uint16_t even = (i & 1) == 0 ? lo : hi;
      ASSERT_EQ(fp32_to_fp16_portable(mid), even) << i;
      ASSERT_EQ(fp32_to_fp16(mid), even) << i;
      const float below = std::nextafter(mid, 0.0f), above = std::nextafter(mid, sign ? -1e9f : 1e9f);
      ASSERT_EQ(fp32_to_fp16_portable(below), lo) << i;
      ASSERT_EQ(fp32_to_fp16_portable(above), hi) << i;
    }
  }
  // 65504 is the largest half; from 65520 (the midpoint to 65536) on, infinity.
  EXPECT_EQ(fp32_to_fp16_portable(65519.996f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16_portable(65520.0f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16_portable(-1e10f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16_portable(INFINITY), 0x7c00);
  // Below half the smallest subnormal (2^-25) the result is a signed zero.
  EXPECT_EQ(fp32_to_fp16_portable(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(fp32_to_fp16_portable(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16_portable(-1e-30f), 0x8000);
  EXPECT_TRUE(is_nan_half(fp32_to_fp16_portable(NAN)));
}

// Random floats of every exponent: the result is the nearest half (ties to
// even), and portable and hardware paths agree bit for bit.
TEST(Fp16, NarrowingRandomFloatsIsNearest) {
  std::mt19937 rng(7);
  for (int k = 0; k < 1000000; ++k) {
    const uint32_t bits = rng();
    const float f = f32_from_bits(bits);
    const uint16_t h = fp32_to_fp16_portable(f);
    ASSERT_EQ(h, fp32_to_fp16(f)) << bits;
    if (std::isnan(f)) {
      ASSERT_TRUE(is_nan_half(h));
      continue;
    }
    if (std::fabs(f) >= 65520.0f) {
      ASSERT_TRUE(is_inf_half(h)) << f;
      continue;
    }
    const double err = std::fabs(half_value(h) - f);
    // Neighbours of h (towards and away from zero) must not be nearer.
    for (int delta : {-1, 1}) {
      const int mag = (h & 0x7fff) + delta;
      if (mag < 0 || mag > 0x7bff) continue;
      const double other = std::fabs(half_value(static_cast<uint16_t>((h & 0x8000) | mag)) - f);
      ASSERT_TRUE(err < other || (err == other && (h & 1) == 0)) << f;
    }
  }
}

TEST(Bf16, WideningIsTheTopHalf) {
  for (uint32_t i = 0; i < 65536; ++i) ASSERT_EQ(f32_bits(bf16_to_fp32(static_cast<uint16_t>(i))), i << 16);
}

TEST(Bf16, NarrowingIsNearestEvenAndKeepsNaN) {
  std::mt19937 rng(11);
  for (int k = 0; k < 1000000; ++k) {
    const uint32_t bits = rng();
    const float f = f32_from_bits(bits);
    const uint16_t b = fp32_to_bf16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_fp32(b))) << bits;
      continue;
    }
    const uint32_t lower = bits & 0xffff0000u;
    const double dlo = std::fabs(static_cast<double>(f) - f32_from_bits(lower));
    // The next bf16 up in magnitude; past the largest finite one it is
    // infinity, which for rounding purposes sits where 2^128 would be.
    const float next = f32_from_bits(lower + 0x10000u);
    const double next_value = std::isinf(next) ? std::copysign(std::ldexp(1.0, 128), next) : next;
    const double dhi = std::isinf(f) ? 1.0 : std::fabs(next_value - f);
    uint16_t want = static_cast<uint16_t>(lower >> 16);
    if (dhi < dlo || (dhi == dlo && (want & 1))) want = static_cast<uint16_t>(want + 1);
    ASSERT_EQ(b, want) << bits;
  }
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x00018000u)), 0x0002);  // subnormal, not flushed
  // A NaN whose payload sits only in the dropped bits must not become inf.
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(f32_from_bits(0x7f800001u)))));
}

}  // namespace
}  // namespace lcte
