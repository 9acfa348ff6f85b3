// Dequantization of hand-built blocks. Each test packs known quants and
// scales into the format's bytes (an encoder written here from the layout
// description, independent of the library's decoder), dequantizes with every
// ISA and checks each value against the format's formula.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/blocks.h"
#include "test_util.h"

namespace lcte {
namespace {

using kernels::Isa;
using namespace lcte::blocks;

std::vector<Isa> all_isas() {
  std::vector<Isa> out = {Isa::Scalar};
  for (Isa isa : testing::simd_isas()) out.push_back(isa);
  return out;
}

uint16_t h(float v) { return fp32_to_fp16(v); }

// Dequantize with every ISA; all must agree bit for bit with `want`.
void expect_dequant(GgmlType t, const void* block, int64_t n, const std::vector<float>& want) {
  for (Isa isa : all_isas()) {
    std::vector<float> got(static_cast<size_t>(n));
    kernels::dequantize_row(t, block, got.data(), n, isa);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(f32_bits(got[i]), f32_bits(want[i]))
          << type_name(t) << " " << kernels::isa_name(isa) << " element " << i << ": " << got[i] << " vs " << want[i];
  }
}

TEST(Dequant, Q8_0ByHand) {
  BlockQ8_0 b;
  b.d = h(0.25f);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 128);
  std::vector<float> want(32);
  for (int j = 0; j < 32; ++j) want[j] = 0.25f * static_cast<float>(j * 8 - 128);
  EXPECT_EQ(want[0], -32.0f);
  expect_dequant(GgmlType::Q8_0, &b, 32, want);
}

TEST(Dequant, Q4_0ByHand) {
  BlockQ4_0 b;
  b.d = h(-0.5f);
  // Element j holds j % 16; element 16+j holds 15 - j % 16.
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> want(32);
  for (int j = 0; j < 16; ++j) {
    want[j] = -0.5f * static_cast<float>(j - 8);
    want[16 + j] = -0.5f * static_cast<float>(15 - j - 8);
  }
  EXPECT_EQ(want[0], 4.0f);
  EXPECT_EQ(want[16], -3.5f);
  expect_dequant(GgmlType::Q4_0, &b, 32, want);
}

TEST(Dequant, Q4_1ByHand) {
  BlockQ4_1 b;
  b.d = h(0.125f);
  b.m = h(-1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((j * 7) % 16 | (j << 4));
  std::vector<float> want(32);
  for (int j = 0; j < 16; ++j) {
    want[j] = 0.125f * static_cast<float>((j * 7) % 16) + -1.0f;
    want[16 + j] = 0.125f * static_cast<float>(j) + -1.0f;
  }
  EXPECT_EQ(want[31], 0.875f);
  expect_dequant(GgmlType::Q4_1, &b, 32, want);
}

// Q5: the fifth bit of element j is bit j of the little-endian u32 qh.
template <class Block>
void pack_q5(Block& b, const int* q) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4));
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>(q[j] >> 4) << j;
  std::memcpy(b.qh, &qh, 4);
}

TEST(Dequant, Q5_0ByHand) {
  BlockQ5_0 b;
  b.d = h(2.0f);
  int q[32];
  for (int j = 0; j < 32; ++j) q[j] = (j * 13 + 5) % 32;
  pack_q5(b, q);
  std::vector<float> want(32);
  for (int j = 0; j < 32; ++j) want[j] = 2.0f * static_cast<float>(q[j] - 16);
  EXPECT_EQ(want[0], -22.0f);  // q = 5
  expect_dequant(GgmlType::Q5_0, &b, 32, want);
}

TEST(Dequant, Q5_1ByHand) {
  BlockQ5_1 b;
  b.d = h(0.5f);
  b.m = h(3.0f);
  int q[32];
  for (int j = 0; j < 32; ++j) q[j] = 31 - j;
  pack_q5(b, q);
  std::vector<float> want(32);
  for (int j = 0; j < 32; ++j) want[j] = 0.5f * static_cast<float>(q[j]) + 3.0f;
  EXPECT_EQ(want[0], 18.5f);
  expect_dequant(GgmlType::Q5_1, &b, 32, want);
}

// K formats: value i = (d * scale(i)) * q(i) - (dmin * min(i)), evaluated in
// that order (as ggml's C reference and gguf-py do).
std::vector<float> k_values(float d, float dmin, const int* q, const int* sc, const int* mn, int sub) {
  std::vector<float> want(256);
  for (int i = 0; i < 256; ++i)
    want[i] = (d * static_cast<float>(sc[i / sub])) * static_cast<float>(q[i]) - dmin * static_cast<float>(mn[i / sub]);
  return want;
}

TEST(Dequant, Q2_KByHand) {
  std::mt19937 rng(1);
  BlockQ2_K b{};
  int q[256], sc[16], mn[16];
  for (int j = 0; j < 16; ++j) {
    sc[j] = static_cast<int>(rng() % 16);
    mn[j] = static_cast<int>(rng() % 16);
    b.scales[j] = static_cast<uint8_t>(sc[j] | (mn[j] << 4));
  }
  for (int i = 0; i < 256; ++i) q[i] = static_cast<int>(rng() % 4);
  // Element 128h + 32s + l sits in bits 2s of qs[32h + l].
  for (int i = 0; i < 256; ++i) {
    const int hh = i / 128, s = (i % 128) / 32, l = i % 32;
    b.qs[32 * hh + l] |= static_cast<uint8_t>(q[i] << (2 * s));
  }
  b.d = h(0.75f);
  b.dmin = h(0.0625f);
  expect_dequant(GgmlType::Q2_K, &b, 256, k_values(0.75f, 0.0625f, q, sc, mn, 16));
}

TEST(Dequant, Q3_KByHand) {
  std::mt19937 rng(2);
  BlockQ3_K b{};
  int q[256], sc[16], mn[16] = {};
  for (int j = 0; j < 16; ++j) {
    sc[j] = static_cast<int>(rng() % 64) - 32;
    const int biased = sc[j] + 32;
    // Low nibble: byte j (j < 8) or the high nibble of byte j-8; top 2 bits
    // at bit 2*(j/4) of byte 8 + j%4.
    if (j < 8)
      b.scales[j] |= static_cast<uint8_t>(biased & 15);
    else
      b.scales[j - 8] |= static_cast<uint8_t>((biased & 15) << 4);
    b.scales[8 + j % 4] |= static_cast<uint8_t>((biased >> 4) << (2 * (j / 4)));
  }
  for (int i = 0; i < 256; ++i) {
    q[i] = static_cast<int>(rng() % 8) - 4;
    const int hh = i / 128, s = (i % 128) / 32, l = i % 32;
    b.qs[32 * hh + l] |= static_cast<uint8_t>((q[i] & 3) << (2 * s));
    if (q[i] >= 0) b.hmask[l] |= static_cast<uint8_t>(1 << (4 * hh + s));  // set bit: no -4
  }
  b.d = h(-0.3f);
  const float d = fp16_to_fp32(h(-0.3f));
  expect_dequant(GgmlType::Q3_K, &b, 256, k_values(d, 0.0f, q, sc, mn, 16));
}

// The 6-bit (scale, min) pairs of Q4_K/Q5_K.
void pack_k4_scales(uint8_t* s, const int* sc, const int* mn) {
  for (int j = 0; j < 12; ++j) s[j] = 0;
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
}

TEST(Dequant, Q4_KByHand) {
  std::mt19937 rng(3);
  BlockQ4_K b{};
  int q[256], sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<int>(rng() % 64);
    mn[j] = static_cast<int>(rng() % 64);
  }
  sc[7] = 63;  // both top bits set in the packed form
  mn[4] = 48;
  pack_k4_scales(b.scales, sc, mn);
  for (int i = 0; i < 256; ++i) {
    q[i] = static_cast<int>(rng() % 16);
    const int g = i / 64, l = i % 32;
    b.qs[32 * g + l] |= static_cast<uint8_t>(i % 64 < 32 ? q[i] : q[i] << 4);
  }
  b.d = h(0.01f);
  b.dmin = h(0.02f);
  expect_dequant(GgmlType::Q4_K, &b, 256, k_values(fp16_to_fp32(b.d), fp16_to_fp32(b.dmin), q, sc, mn, 32));
}

TEST(Dequant, Q5_KByHand) {
  std::mt19937 rng(4);
  BlockQ5_K b{};
  int q[256], sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<int>(rng() % 64);
    mn[j] = static_cast<int>(rng() % 64);
  }
  pack_k4_scales(b.scales, sc, mn);
  for (int i = 0; i < 256; ++i) {
    q[i] = static_cast<int>(rng() % 32);
    const int g = i / 64, l = i % 32, c = i / 32;
    b.qs[32 * g + l] |= static_cast<uint8_t>(i % 64 < 32 ? (q[i] & 15) : (q[i] & 15) << 4);
    b.qh[l] |= static_cast<uint8_t>((q[i] >> 4) << c);
  }
  b.d = h(0.5f);
  b.dmin = h(1.0f);
  expect_dequant(GgmlType::Q5_K, &b, 256, k_values(0.5f, 1.0f, q, sc, mn, 32));
}

TEST(Dequant, Q6_KByHand) {
  std::mt19937 rng(5);
  BlockQ6_K b{};
  int q[256], sc[16], mn[16] = {};
  for (int j = 0; j < 16; ++j) {
    sc[j] = static_cast<int>(rng() % 256) - 128;
    b.scales[j] = static_cast<int8_t>(sc[j]);
  }
  for (int i = 0; i < 256; ++i) {
    q[i] = static_cast<int>(rng() % 64) - 32;
    const int u = q[i] + 32, hh = i / 128, s = (i % 128) / 32, l = i % 32;
    b.ql[64 * hh + 32 * (s & 1) + l] |= static_cast<uint8_t>(s < 2 ? (u & 15) : (u & 15) << 4);
    b.qh[32 * hh + l] |= static_cast<uint8_t>((u >> 4) << (2 * s));
  }
  b.d = h(0.004f);
  expect_dequant(GgmlType::Q6_K, &b, 256, k_values(fp16_to_fp32(b.d), 0.0f, q, sc, mn, 16));
}

TEST(Dequant, Q8_KByHand) {
  BlockQ8_K b{};
  b.d = -0.1f;
  for (int i = 0; i < 256; ++i) b.qs[i] = static_cast<int8_t>(i - 128);
  std::vector<float> want(256);
  for (int i = 0; i < 256; ++i) want[i] = -0.1f * static_cast<float>(i - 128);
  expect_dequant(GgmlType::Q8_K, &b, 256, want);
}

TEST(Dequant, FloatFormats) {
  const std::vector<float> x = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 3.0e38f};
  std::vector<uint16_t> f16(x.size()), bf16(x.size());
  std::vector<float> want16(x.size()), want_bf(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    f16[i] = fp32_to_fp16(x[i]);
    bf16[i] = fp32_to_bf16(x[i]);
    want16[i] = fp16_to_fp32(f16[i]);
    want_bf[i] = bf16_to_fp32(bf16[i]);
  }
  EXPECT_EQ(want16[6], 5.9604645e-08f);  // smallest subnormal half survives
  expect_dequant(GgmlType::F16, f16.data(), static_cast<int64_t>(x.size()), want16);
  expect_dequant(GgmlType::BF16, bf16.data(), static_cast<int64_t>(x.size()), want_bf);
  expect_dequant(GgmlType::F32, x.data(), static_cast<int64_t>(x.size()), x);
}

// Every computable format over many random blocks: SIMD equals scalar.
TEST(Dequant, SimdMatchesScalarOnRandomRows) {
  for (GgmlType t : testing::weight_types()) {
    const int64_t n = 256 * 9;
    const std::vector<uint8_t> row = testing::random_row(t, n, 100 + static_cast<uint32_t>(t));
    std::vector<float> ref(n);
    kernels::dequantize_row(t, row.data(), ref.data(), n, Isa::Scalar);
    expect_dequant(t, row.data(), n, ref);
  }
}

TEST(Dequant, RejectsUncomputableTypesAndBadLengths) {
  std::vector<uint8_t> buf(1024);
  std::vector<float> out(256);
  try {
    kernels::dequantize_row(GgmlType::IQ2_XXS, buf.data(), out.data(), 256);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("iq2_xxs"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kernels::dequantize_row(GgmlType::Q4_K, buf.data(), out.data(), 100), Error);
  EXPECT_THROW(kernels::dequantize_row(static_cast<GgmlType>(99), buf.data(), out.data(), 32), Error);
}

}  // namespace
}  // namespace lcte
