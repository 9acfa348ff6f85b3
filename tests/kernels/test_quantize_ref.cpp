// Reference weight quantizers: round trips within each format's error bound,
// exact round trips of representable blocks, and hand-checked bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/blocks.h"
#include "test_util.h"

namespace lcte {
namespace {

using namespace lcte::blocks;

std::vector<float> round_trip(GgmlType t, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(t, n));
  kernels::quantize_row_ref(t, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  kernels::dequantize_row(t, q.data(), y.data(), n, kernels::Isa::Scalar);
  return y;
}

// Largest error allowed per block, in units of the block's range:
//   symmetric formats (d = amax/levels): half a step, except the far side of
//   Q4_0/Q5_0 whose extreme maps to -8/-16 so +amax can be off by a whole step;
//   min formats: half a step plus the half-precision rounding of min.
struct Bound {
  GgmlType type;
  double steps;  // error in units of the step
  int levels;    // the step is range / levels
  bool asym;     // range = max - min (else amax)
};

TEST(QuantizeRef, RoundTripErrorWithinFormatBounds) {
  const Bound bounds[] = {{GgmlType::Q8_0, 0.5, 127, false},
                          {GgmlType::Q4_0, 1.0, 8, false},
                          {GgmlType::Q5_0, 1.0, 16, false},
                          {GgmlType::Q4_1, 0.5, 15, true},
                          {GgmlType::Q5_1, 0.5, 31, true}};
  const auto x = testing::random_floats(32 * 200, 3, 0.7f);
  for (const Bound& b : bounds) {
    const auto y = round_trip(b.type, x);
    double worst = 0;
    for (size_t blk = 0; blk < x.size() / 32; ++blk) {
      float lo = x[blk * 32], hi = lo, amax = 0;
      for (int j = 0; j < 32; ++j) {
        const float v = x[blk * 32 + j];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        amax = std::max(amax, std::fabs(v));
      }
      const double step = (b.asym ? hi - lo : amax) / b.levels;
      // The scale itself is stored in half precision: 2^-11 relative.
      const double slack = (b.asym ? std::fabs(lo) : 0.0) * std::ldexp(1.0, -11) + amax * std::ldexp(1.0, -10);
      for (int j = 0; j < 32; ++j) {
        const double err = std::fabs(static_cast<double>(y[blk * 32 + j]) - x[blk * 32 + j]);
        ASSERT_LE(err, b.steps * step + slack) << type_name(b.type) << " block " << blk << " j " << j;
        worst = std::max(worst, err / step);
      }
    }
    // And the bound is not vacuous: errors do get close to it.
    EXPECT_GT(worst, 0.4) << type_name(b.type);
  }
}

// Values on the grid of a power-of-two scale come back exactly.
TEST(QuantizeRef, RepresentableBlocksAreExact) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 0.25f * static_cast<float>((j % 15) - 7);
  x[5] = -2.0f;  // amax = 8 steps of 0.25 on the negative side: Q4_0's d = 0.25
  EXPECT_EQ(round_trip(GgmlType::Q4_0, x), x);
  for (int j = 0; j < 32; ++j) x[j] = 0.5f * static_cast<float>(j % 16);  // min 0, max 7.5 = 15 steps
  EXPECT_EQ(round_trip(GgmlType::Q4_1, x), x);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);  // Q5_0: amax 16 on the negative side
  EXPECT_EQ(round_trip(GgmlType::Q5_0, x), x);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(31 - j) - 3.0f;  // Q5_1: 31 steps of 1, min -3
  EXPECT_EQ(round_trip(GgmlType::Q5_1, x), x);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(4 * j - 64) / 64.0f;  // amax 1 -> d = 1/127
  const auto y = round_trip(GgmlType::Q8_0, x);
  for (int j = 0; j < 32; ++j) EXPECT_NEAR(y[j], x[j], 0.5 / 127 + 1e-6);
}

TEST(QuantizeRef, BytesOfAHandQuantizedQ4_0Block) {
  std::vector<float> x(32, 0.0f);
  x[0] = -4.0f;  // the extreme: d = -4 / -8 = 0.5, q = 0
  x[1] = 1.0f;   // 1 / 0.5... d is 0.5, id = 2 -> 2 + 8.5 -> 10
  x[17] = 3.4f;  // 6.8 + 8.5 = 15.3 -> 15
  BlockQ4_0 b;
  kernels::quantize_row_ref(GgmlType::Q4_0, x.data(), &b, 32);
  EXPECT_EQ(fp16_to_fp32(b.d), 0.5f);
  EXPECT_EQ(b.qs[0], 0x80);       // element 0 -> 0, element 16 (0.0) -> 8
  EXPECT_EQ(b.qs[1], 0xF0 | 10);  // element 1 -> 10, element 17 -> 15
  EXPECT_EQ(b.qs[2], 0x88);
}

TEST(QuantizeRef, Q8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // d = 1
  x[1] = 2.5f;
  x[2] = -2.5f;
  BlockQ8_0 b;
  kernels::quantize_row_ref(GgmlType::Q8_0, x.data(), &b, 32);
  EXPECT_EQ(b.qs[1], 3);
  EXPECT_EQ(b.qs[2], -3);
  // The activation quantizer rounds half to even instead (as ggml's AVX2 path).
  kernels::quantize_activations(GgmlType::Q8_0, x.data(), &b, 32, kernels::Isa::Scalar);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], -2);
}

TEST(QuantizeRef, RejectsFormatsWithoutAReference) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> out(1024);
  try {
    kernels::quantize_row_ref(GgmlType::Q4_K, x.data(), out.data(), 256);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q4_K"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kernels::quantize_row_ref(GgmlType::Q8_0, x.data(), out.data(), 40), Error);
}

}  // namespace
}  // namespace lcte
