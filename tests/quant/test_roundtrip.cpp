// Quantize -> dequantize round trips: the error bounds each format implies,
// the accuracy order of the formats, and the effect of importance weights.
//
// Bounds (d: the block or sub-block scale as stored, F16-rounded; e16 =
// 2^-11, the relative rounding of an F16):
//   Q8_0  d = amax/127, |err| <= d/2 + 127 d e16       (levels -127..127)
//   Q4_0  d = amax/8,   |err| <= d/2 + 8 d e16 where x/d lies in [-8, 7.5];
//         the opposite extreme is clipped to level 7: |err| <= d + 8 d e16
//   Q5_0  as Q4_0 with 16:  d = amax/16, clipped side |err| <= d
//   Q4_1  d = (max-min)/15, |err| <= d/2 + 15 d e16 + |min| e16
//   Q5_1  d = (max-min)/31, |err| <= d/2 + 31 d e16 + |min| e16
//   K-quants: the scale search may clip a value on purpose, so the bound is
//   structural: every value decodes to the point of its sub-block's grid
//   {d_j l - m_j} nearest to it (checked by decoding the block fields here,
//   independently of the library's dequantizer).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/test_data.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "quant/quantize.h"
#include "quant/scale_search.h"

namespace lcte {
namespace {

constexpr double kE16 = 1.0 / 2048.0;

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// Heavy-tailed values (Student t, 3 degrees of freedom), closer to trained
// weights than a Gaussian: a few large outliers per block.
std::vector<float> heavy_tailed(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> dist(3.0f);
  std::vector<float> x(n);
  for (float& v : x) v = 0.02f * dist(rng);
  return x;
}

std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x, int64_t n_per_row, const float* imp = nullptr) {
  const int64_t rows = static_cast<int64_t>(x.size()) / n_per_row;
  std::vector<uint8_t> q(row_bytes(t, n_per_row) * rows);
  quant::quantize_rows(t, x.data(), q.data(), rows, n_per_row, imp, 2);
  return q;
}

std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> y(n);
  kernels::dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(n));
  return y;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / a.size());
}

double weighted_sq_error(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& imp) {
  double s = 0;
  const size_t n = imp.size();
  for (size_t i = 0; i < a.size(); ++i) s += imp[i % n] * (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s;
}

// --- scale searches on hand-made groups -------------------------------------

TEST(ScaleSearch, NearestIntRoundsHalfToEven) {
  using quant::search::nearest_int;
  EXPECT_EQ(nearest_int(0.5f), 0);
  EXPECT_EQ(nearest_int(1.5f), 2);
  EXPECT_EQ(nearest_int(2.5f), 2);
  EXPECT_EQ(nearest_int(-0.5f), 0);
  EXPECT_EQ(nearest_int(-1.5f), -2);
  EXPECT_EQ(nearest_int(2.4999f), 2);
  EXPECT_EQ(nearest_int(-7.6f), -8);
  EXPECT_EQ(nearest_int(4194303.0f), 4194303);
}

TEST(ScaleSearch, SymmetricRecoversExactGrid) {
  // x = 0.25 * l with l covering -4..3 (Q3_K's range, nmax 4): zero error is
  // reachable, so the search must find scale 0.25 and these levels.
  const int levels[16] = {-4, -3, -2, -1, 0, 1, 2, 3, 3, 2, 1, 0, -1, -2, -3, -4};
  float x[16];
  for (int i = 0; i < 16; ++i) x[i] = 0.25f * levels[i];
  int8_t L[16];
  EXPECT_FLOAT_EQ(quant::search::symmetric_scale(16, 4, x, nullptr, L), 0.25f);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(L[i], levels[i] + 4) << i;
  EXPECT_FLOAT_EQ(quant::search::symmetric_scale_refined(16, 4, x, L), 0.25f);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(L[i], levels[i] + 4) << i;
}

TEST(ScaleSearch, AffineRecoversExactGrid) {
  // x = 0.1 * l - 0.7, l in 0..15: scale 0.1 and offset 0.7 exactly.
  float x[32], w[32];
  for (int i = 0; i < 32; ++i) {
    x[i] = 0.1f * static_cast<float>(i % 16) - 0.7f;
    w[i] = 1.0f;
  }
  uint8_t L[32];
  float offset = 0;
  const float s = quant::search::affine_scale(32, 15, x, w, L, &offset, -1.0f, 0.1f, 20, false);
  EXPECT_NEAR(s, 0.1f, 1e-6);
  EXPECT_NEAR(offset, 0.7f, 1e-6);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(L[i], i % 16) << i;
}

TEST(ScaleSearch, AffineClampsPositiveMinToZero) {
  // All values positive: the grid must start at 0 (offset 0), so 0 stays
  // representable; 1..15 times 0.5 is then exact.
  float x[16], w[16];
  for (int i = 0; i < 16; ++i) {
    x[i] = 0.5f * static_cast<float>(i % 15 + 1);
    w[i] = 1.0f;
  }
  uint8_t L[16];
  float offset = -1;
  const float s = quant::search::affine_scale(16, 15, x, w, L, &offset, -1.0f, 0.1f, 20, false);
  EXPECT_EQ(offset, 0.0f);
  EXPECT_NEAR(s, 0.5f, 1e-6);
}

TEST(ScaleSearch, PositiveGridOfScales) {
  // Eight sub-block scales that are multiples of 0.01 up to 63: exact.
  const int lv[8] = {63, 10, 0, 31, 47, 5, 62, 1};
  float x[8], w[8];
  for (int i = 0; i < 8; ++i) {
    x[i] = 0.01f * lv[i];
    w[i] = 1.0f + i;
  }
  uint8_t L[8];
  EXPECT_NEAR(quant::search::positive_scale(8, 63, x, L, w), 0.01f, 1e-7);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(L[i], lv[i]) << i;
}

TEST(ScaleSearch, AllZeroGroupsGiveZeroScale) {
  float x[32] = {};
  float w[32];
  std::fill(w, w + 32, 1.0f);
  int8_t L8[32];
  uint8_t L[32];
  float offset = 1;
  EXPECT_EQ(quant::search::symmetric_scale(32, 8, x, nullptr, L8), 0.0f);
  EXPECT_EQ(quant::search::symmetric_scale_refined(16, 4, x, L8), 0.0f);
  EXPECT_EQ(quant::search::affine_scale(32, 15, x, w, L, &offset, -1.0f, 0.1f, 20, false), 0.0f);
  EXPECT_EQ(offset, 0.0f);
  EXPECT_EQ(quant::search::positive_scale(8, 63, x, L, w), 0.0f);
}

TEST(ScaleSearch, LanesEqualScalarBitForBit) {
  // Every parameter set the quantizers use, on random groups and on the
  // awkward ones: constant, all positive, all zero, one outlier, ties.
  struct Params {
    int n, nmax;
    float rmin, rdelta;
    int nstep;
    bool mad;
  };
  const Params sets[] = {{32, 15, -1.0f, 0.1f, 20, false},  {32, 31, -0.5f, 0.1f, 15, false},
                         {16, 3, -0.5f, 0.1f, 15, true},    {32, 15, -0.9f, 0.05f, 36, false},
                         {32, 31, -0.9f, 0.05f, 36, false}, {16, 3, -0.9f, 0.05f, 36, false}};
  std::mt19937 rng(99);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.01f, 3.0f);
  constexpr int G = quant::search::kLanes;
  int checked = 0;
  for (const Params& p : sets) {
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<float> x(static_cast<size_t>(p.n * G)), w(x.size());
      for (int g = 0; g < G; ++g) {
        const int kind = (rep + g) % 8;
        for (int i = 0; i < p.n; ++i) {
          float v = nd(rng);
          if (kind == 1) v = -0.75f;                             // constant negative
          if (kind == 2) v = std::fabs(v) + 0.5f;                // all positive
          if (kind == 3) v = 0.0f;                               // all zero
          if (kind == 4 && i == 5) v = 40.0f;                    // one outlier
          if (kind == 5) v = 0.25f * static_cast<float>(i % 4);  // exact grid, ties
          x[static_cast<size_t>(g * p.n + i)] = v;
          w[static_cast<size_t>(g * p.n + i)] = kind == 6 ? 1.0f : ud(rng);
        }
      }
      std::vector<float> xt(x.size()), wt(x.size());
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < p.n; ++i) {
          xt[static_cast<size_t>(i * G + g)] = x[static_cast<size_t>(g * p.n + i)];
          wt[static_cast<size_t>(i * G + g)] = w[static_cast<size_t>(g * p.n + i)];
        }
      std::vector<uint8_t> Ll(x.size());
      float sl[G], ol[G];
      quant::search::affine_scale_lanes(p.n, p.nmax, xt.data(), wt.data(), Ll.data(), sl, ol, p.rmin, p.rdelta, p.nstep,
                                        p.mad);
      for (int g = 0; g < G; ++g) {
        uint8_t Ls[32];
        float off;
        const float s =
            quant::search::affine_scale(p.n, p.nmax, &x[static_cast<size_t>(g * p.n)], &w[static_cast<size_t>(g * p.n)],
                                        Ls, &off, p.rmin, p.rdelta, p.nstep, p.mad);
        ASSERT_EQ(std::bit_cast<uint32_t>(s), std::bit_cast<uint32_t>(sl[g])) << "rep " << rep << " group " << g;
        ASSERT_EQ(std::bit_cast<uint32_t>(off), std::bit_cast<uint32_t>(ol[g])) << "rep " << rep << " group " << g;
        for (int i = 0; i < p.n; ++i)
          ASSERT_EQ(Ls[i], Ll[static_cast<size_t>(g * p.n + i)]) << rep << " " << g << " " << i;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 6 * 200 * G);
}

TEST(ScaleSearch, SymmetricLanesEqualScalarBitForBit) {
  constexpr int G = quant::search::kLanes;
  std::mt19937 rng(77);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.01f, 3.0f);
  int checked = 0;
  for (auto [n, nmax] : {std::pair{16, 32}, std::pair{16, 4}, std::pair{32, 8}, std::pair{32, 16}}) {
    for (int rep = 0; rep < 200; ++rep) {
      const bool weighted = rep % 2 == 1;
      std::vector<float> x(static_cast<size_t>(n * G)), w(x.size());
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < n; ++i) {
          const int kind = (rep + g) % 6;
          float v = nd(rng);
          if (kind == 1) v = 0.0f;                                  // all zero
          if (kind == 2) v = i == 3 ? -9.0f : 0.1f * v;             // one negative outlier
          if (kind == 3) v = 0.5f * static_cast<float>(i % 5 - 2);  // exact grid with ties
          if (kind == 4 && i == 7) v = 1e-20f;                      // tiny
          x[static_cast<size_t>(g * n + i)] = v;
          w[static_cast<size_t>(g * n + i)] = ud(rng);
        }
      std::vector<float> xt(x.size()), wt(x.size());
      for (int g = 0; g < G; ++g)
        for (int i = 0; i < n; ++i) {
          xt[static_cast<size_t>(i * G + g)] = x[static_cast<size_t>(g * n + i)];
          wt[static_cast<size_t>(i * G + g)] = w[static_cast<size_t>(g * n + i)];
        }
      std::vector<int8_t> Ll(x.size());
      float sl[G];
      quant::search::symmetric_scale_lanes(n, nmax, xt.data(), weighted ? wt.data() : nullptr, Ll.data(), sl);
      for (int g = 0; g < G; ++g) {
        int8_t Ls[32];
        const float s = quant::search::symmetric_scale(n, nmax, &x[static_cast<size_t>(g * n)],
                                                       weighted ? &w[static_cast<size_t>(g * n)] : nullptr, Ls);
        ASSERT_EQ(std::bit_cast<uint32_t>(s), std::bit_cast<uint32_t>(sl[g])) << "rep " << rep << " group " << g;
        for (int i = 0; i < n; ++i) ASSERT_EQ(Ls[i], Ll[static_cast<size_t>(g * n + i)]) << rep << " " << g << " " << i;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 4 * 200 * G);
}

// --- 32-block formats: analytic bounds ---------------------------------------

struct Block32 {
  float amax, min, max;
};

Block32 block_stats(const float* x) {
  Block32 b{0, x[0], x[0]};
  for (int i = 0; i < 32; ++i) {
    b.amax = std::max(b.amax, std::fabs(x[i]));
    b.min = std::min(b.min, x[i]);
    b.max = std::max(b.max, x[i]);
  }
  return b;
}

void check_symmetric_bound(GgmlType t, int half_levels) {
  const auto x = gaussian(32 * 2048, 11);
  const auto y = dequantize(t, quantize(t, x, 256), x.size());
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const Block32 s = block_stats(&x[32 * b]);
    const double d = s.amax / half_levels;
    for (int i = 0; i < 32; ++i) {
      const double xi = x[32 * b + i], err = std::fabs(xi - y[32 * b + i]);
      const double fp16_term = half_levels * d * kE16;
      // In-range values round to the nearest level; the extreme opposite to
      // the one that sets d can be clipped by one level.
      const bool clipped_side = std::fabs(xi) / d > half_levels - 0.5;
      const double bound = (clipped_side ? d : d / 2) + fp16_term + 1e-7;
      ASSERT_LE(err, bound) << type_name(t) << " block " << b << " value " << i;
    }
  }
}

TEST(RoundTrip, Q8_0WithinHalfStep) {
  const auto x = gaussian(32 * 4096, 3);
  const auto y = dequantize(GgmlType::Q8_0, quantize(GgmlType::Q8_0, x, 256), x.size());
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const double d = block_stats(&x[32 * b]).amax / 127.0;
    for (int i = 0; i < 32; ++i)
      ASSERT_LE(std::fabs(x[32 * b + i] - y[32 * b + i]), d / 2 + 127 * d * kE16 + 1e-7) << b << " " << i;
  }
}

TEST(RoundTrip, Q4_0AndQ5_0Bounds) {
  check_symmetric_bound(GgmlType::Q4_0, 8);
  check_symmetric_bound(GgmlType::Q5_0, 16);
}

TEST(RoundTrip, Q4_1AndQ5_1Bounds) {
  for (auto [t, levels] : {std::pair{GgmlType::Q4_1, 15}, std::pair{GgmlType::Q5_1, 31}}) {
    const auto x = gaussian(32 * 2048, 5);
    const auto y = dequantize(t, quantize(t, x, 256), x.size());
    for (size_t b = 0; b < x.size() / 32; ++b) {
      const Block32 s = block_stats(&x[32 * b]);
      const double d = (s.max - s.min) / levels;
      const double bound = d / 2 + levels * d * kE16 + std::fabs(s.min) * kE16 + 1e-7;
      for (int i = 0; i < 32; ++i) ASSERT_LE(std::fabs(x[32 * b + i] - y[32 * b + i]), bound) << type_name(t);
    }
  }
}

// --- K-quants: every value on its sub-block grid's nearest point -------------

struct SubGrid {
  double d, m;  // value = d * l - m
  int lo, hi;   // level range
};

// Decodes sub-block j's grid of a K-quant super-block from its fields.
SubGrid k_grid(GgmlType t, const uint8_t* blk, int j) {
  using namespace blocks;
  switch (t) {
    case GgmlType::Q2_K: {
      auto* b = reinterpret_cast<const BlockQ2_K*>(blk);
      return {fp16_to_fp32(b->d) * double(b->scales[j] & 0xF), fp16_to_fp32(b->dmin) * double(b->scales[j] >> 4), 0, 3};
    }
    case GgmlType::Q3_K: {
      auto* b = reinterpret_cast<const BlockQ3_K*>(blk);
      const int low = j < 8 ? (b->scales[j] & 0xF) : (b->scales[j - 8] >> 4);
      const int high = (b->scales[8 + j % 4] >> (2 * (j / 4))) & 3;
      return {fp16_to_fp32(b->d) * double((low | (high << 4)) - 32), 0.0, -4, 3};
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      const uint16_t* dd = reinterpret_cast<const uint16_t*>(blk);
      const uint8_t* sc = blk + 4;
      uint8_t s, m;
      k_scale_min(j, sc, &s, &m);
      return {fp16_to_fp32(dd[0]) * double(s), fp16_to_fp32(dd[1]) * double(m), 0, t == GgmlType::Q4_K ? 15 : 31};
    }
    case GgmlType::Q6_K: {
      auto* b = reinterpret_cast<const BlockQ6_K*>(blk);
      return {fp16_to_fp32(b->d) * double(b->scales[j]), 0.0, -32, 31};
    }
    default: ADD_FAILURE() << "not a K-quant"; return {};
  }
}

void check_nearest_on_grid(GgmlType t, const std::vector<float>& x, const std::vector<uint8_t>& q) {
  const int sub = (t == GgmlType::Q4_K || t == GgmlType::Q5_K) ? 32 : 16;
  const auto y = dequantize(t, q, x.size());
  const size_t bb = type_traits(t).block_bytes;
  for (size_t b = 0; b < x.size() / 256; ++b) {
    for (int j = 0; j < 256 / sub; ++j) {
      const SubGrid g = k_grid(t, q.data() + b * bb, j);
      for (int i = 0; i < sub; ++i) {
        const size_t k = b * 256 + j * sub + i;
        // Distance to the nearest grid point, by brute force over the levels.
        double best = 1e30;
        for (int l = g.lo; l <= g.hi; ++l) best = std::min(best, std::fabs(g.d * l - g.m - x[k]));
        const double err = std::fabs(double(y[k]) - x[k]);
        ASSERT_LE(err, best + 1e-6 * (std::fabs(x[k]) + std::fabs(g.d) + std::fabs(g.m)))
            << type_name(t) << " super-block " << b << " sub-block " << j << " value " << i;
      }
    }
  }
}

TEST(RoundTrip, KQuantsDecodeToNearestGridPoint) {
  const auto x = heavy_tailed(256 * 512, 7);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    check_nearest_on_grid(t, x, quantize(t, x, 1024));
    const auto g = gaussian(256 * 256, 8);
    std::vector<float> imp(1024);
    for (size_t i = 0; i < imp.size(); ++i) imp[i] = 0.1f + float(i % 7);
    check_nearest_on_grid(t, g, quantize(t, g, 1024, imp.data()));
  }
}

// --- accuracy order ------------------------------------------------------------

void expect_rmse_order(const std::vector<float>& x, int64_t n_per_row, const char* what) {
  const GgmlType order[] = {GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q5_K,
                            GgmlType::Q4_K, GgmlType::Q3_K, GgmlType::Q2_K};
  double prev = 0;
  for (GgmlType t : order) {
    const double e = rmse(x, dequantize(t, quantize(t, x, n_per_row), x.size()));
    EXPECT_GT(e, prev) << what << ": " << type_name(t) << " should be less accurate than the type before it";
    prev = e;
  }
}

TEST(RoundTrip, RmseOrderOnRandomTensors) {
  expect_rmse_order(gaussian(256 * 1024, 21), 1024, "gaussian");
  expect_rmse_order(heavy_tailed(256 * 1024, 22), 1024, "student-t");
}

TEST(RoundTrip, RmseOrderOnModelTensors) {
  const std::string rel = "models/rand-llama-d256-f32.gguf";
  LCTE_REQUIRE_DATA(rel);
  const gguf::File f = gguf::File::open(testing::data_path(rel));
  for (const char* name : {"blk.0.ffn_down.weight", "blk.1.attn_q.weight", "token_embd.weight"}) {
    const gguf::TensorInfo& t = f.tensor(name);
    const float* p = reinterpret_cast<const float*>(t.data);
    expect_rmse_order(std::vector<float>(p, p + t.n_elements()), t.ne[0], name);
  }
}

// --- importance weights --------------------------------------------------------

TEST(Importance, LowersWeightedErrorForEveryType) {
  // Columns differ in importance by up to ~400x, as activations of real
  // models do; the weighted variants must trade unimportant columns'
  // accuracy for the important ones'.
  const int64_t n = 512;
  const auto x = heavy_tailed(n * 256, 31);
  std::mt19937 rng(32);
  std::lognormal_distribution<float> lognormal(0.0f, 1.5f);
  std::vector<float> imp(n);
  for (float& v : imp) v = lognormal(rng);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q4_0,
                     GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1}) {
    const auto plain = dequantize(t, quantize(t, x, n), x.size());
    const auto weighted = dequantize(t, quantize(t, x, n, imp.data()), x.size());
    const double e_plain = weighted_sq_error(x, plain, imp);
    const double e_weighted = weighted_sq_error(x, weighted, imp);
    std::printf("%-5s weighted error: plain %.5g, with importance %.5g (%.1f%%)\n", std::string(type_name(t)).c_str(),
                e_plain, e_weighted, 100.0 * (e_weighted / e_plain - 1));
    EXPECT_LT(e_weighted, e_plain) << type_name(t);
  }
}

TEST(Importance, BlocksInLanesMatchOneByOne) {
  // Q4_1/Q5_1 with weights search eight 32-blocks at a time; a row of 11
  // blocks has one lane batch and three single blocks. Each decoded value
  // must equal the one-block search's d * l + m, computed here directly.
  const int64_t n = 32 * 11;
  const auto x = heavy_tailed(static_cast<size_t>(n), 61);
  std::vector<float> imp(static_cast<size_t>(n));
  for (size_t i = 0; i < imp.size(); ++i) imp[i] = 0.2f + static_cast<float>((i * 13) % 17);
  float s2 = 0;
  for (float v : x) s2 += v * v;
  const float sigma2 = s2 / static_cast<float>(n);
  for (auto [t, nmax] : {std::pair{GgmlType::Q4_1, 15}, std::pair{GgmlType::Q5_1, 31}}) {
    const auto y = dequantize(t, quantize(t, x, n, imp.data()), x.size());
    for (int64_t b = 0; b < n / 32; ++b) {
      float w[32];
      uint8_t L[32];
      float offset;
      for (int i = 0; i < 32; ++i) w[i] = imp[b * 32 + i] * std::sqrt(sigma2 + x[b * 32 + i] * x[b * 32 + i]);
      const float d = quant::search::affine_scale(32, nmax, &x[b * 32], w, L, &offset, -0.9f, 0.05f, 36, false);
      const float d16 = fp16_to_fp32(fp32_to_fp16(d)), m16 = fp16_to_fp32(fp32_to_fp16(-offset));
      for (int i = 0; i < 32; ++i)
        ASSERT_EQ(y[b * 32 + i], L[i] * d16 + m16) << type_name(t) << " block " << b << " " << i;
    }
  }
  // Q4_0 / Q5_0: the symmetric search, levels l + nmax, value (q - nmax) * d.
  for (auto [t, nmax] : {std::pair{GgmlType::Q4_0, 8}, std::pair{GgmlType::Q5_0, 16}}) {
    const auto y = dequantize(t, quantize(t, x, n, imp.data()), x.size());
    for (int64_t b = 0; b < n / 32; ++b) {
      float w[32];
      int8_t L[32];
      for (int i = 0; i < 32; ++i) w[i] = imp[b * 32 + i] * std::sqrt(sigma2 + x[b * 32 + i] * x[b * 32 + i]);
      const float d16 = fp16_to_fp32(fp32_to_fp16(quant::search::symmetric_scale(32, nmax, &x[b * 32], w, L)));
      for (int i = 0; i < 32; ++i)
        ASSERT_EQ(y[b * 32 + i], (L[i] - nmax) * d16) << type_name(t) << " block " << b << " " << i;
    }
  }
}

TEST(Importance, UniformWeightsChangeLittle) {
  // With all columns equally important the weighted search optimises almost
  // the plain error; its RMSE must stay within a few percent of the
  // reference quantizer's (it differs: the magnitude term and a finer search).
  const int64_t n = 512;
  const auto x = gaussian(n * 128, 41);
  const std::vector<float> imp(n, 1.0f);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    const double e_plain = rmse(x, dequantize(t, quantize(t, x, n), x.size()));
    const double e_weighted = rmse(x, dequantize(t, quantize(t, x, n, imp.data()), x.size()));
    EXPECT_LT(e_weighted, e_plain * 1.05) << type_name(t);
  }
}

// --- threads and validation ----------------------------------------------------

TEST(Quantize, BytesDoNotDependOnThreadCount) {
  const auto x = gaussian(256 * 37, 51);
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q8_0, GgmlType::Q3_K}) {
    std::vector<uint8_t> a(row_bytes(t, 256) * 37), b(a.size());
    quant::quantize_rows(t, x.data(), a.data(), 37, 256, nullptr, 1);
    quant::quantize_rows(t, x.data(), b.data(), 37, 256, nullptr, 5);
    EXPECT_EQ(a, b) << type_name(t);
  }
}

TEST(Quantize, RejectsBadRowsAndTypes) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> out(4096);
  EXPECT_THROW(quant::quantize_row(GgmlType::Q4_K, x.data(), out.data(), 300), Error);
  EXPECT_THROW(quant::quantize_row(GgmlType::Q8_0, x.data(), out.data(), 40), Error);
  EXPECT_THROW(quant::quantize_row(GgmlType::IQ2_XXS, x.data(), out.data(), 256), Error);
  EXPECT_THROW(quant::quantize_rows(GgmlType::Q6_K, x.data(), out.data(), 1, 100), Error);
}

}  // namespace
}  // namespace lcte
