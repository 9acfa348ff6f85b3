// The forward pass's row operations and attention kernels against hand
// computations, the scalar references and the CPU's own F16 conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>
#include <vector>

#include "common/test_data.h"
#include "core/cpu.h"
#include "gguf/gguf.h"
#include "kernels/fp16.h"
#include "model/attention.h"
#include "model/model.h"
#include "model/ops.h"
#include "model/vec.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace lcte::model {
namespace {

TEST(Ops, RmsnormByHand) {
  const float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 2, 0.5f};
  float out[4];
  ops::rmsnorm(x, w, out, 4, 0.5f);
  const float s = 1.0f / std::sqrt((1 + 4 + 9 + 16) / 4.0f + 0.5f);  // mean square 7.5, + eps
  EXPECT_FLOAT_EQ(out[0], 1 * s);
  EXPECT_FLOAT_EQ(out[1], 2 * s);
  EXPECT_FLOAT_EQ(out[2], 6 * s);
  EXPECT_FLOAT_EQ(out[3], 2 * s);
}

TEST(Vec, SoftmaxByHand) {
  for (auto* softmax : {&vec::softmax_scalar, &vec::softmax}) {
    float x[3] = {0.0f, std::log(2.0f), std::log(5.0f)};
    softmax(x, 3);
    EXPECT_NEAR(x[0], 1.0 / 8, 1e-7);
    EXPECT_NEAR(x[1], 2.0 / 8, 1e-7);
    EXPECT_NEAR(x[2], 5.0 / 8, 1e-7);
    float big[2] = {1000.0f, 1000.0f};  // must not overflow
    softmax(big, 2);
    EXPECT_FLOAT_EQ(big[0], 0.5f);
  }
}

TEST(Vec, SwigluByHand) {
  for (auto* swiglu : {&vec::swiglu_scalar, &vec::swiglu}) {
    const float u[2] = {3.0f, 0.5f};
    for (int64_t n_vec : {0, 1, 2}) {
      float g[2] = {1.0f, -2.0f};
      swiglu(g, u, 2, n_vec);
      EXPECT_FLOAT_EQ(g[0], 1.0f / (1.0f + std::exp(-1.0f)) * 3.0f);
      EXPECT_FLOAT_EQ(g[1], -2.0f / (1.0f + std::exp(2.0f)) * 0.5f);
    }
  }
}

TEST(Ops, RopeAnglesByHand) {
  // pos 3, base 100, 4 rotating dims: frequencies 1 and 100^(-1/2) = 0.1;
  // freq_scale 0.5 halves the angles, factors divide them.
  const float factors[2] = {1.0f, 4.0f};
  float cs[4];
  ops::rope_angles(3, 4, 100.0f, 0.5f, factors, cs);
  EXPECT_NEAR(cs[0], std::cos(1.5), 1e-7);
  EXPECT_NEAR(cs[1], std::sin(1.5), 1e-7);
  EXPECT_NEAR(cs[2], std::cos(0.15 / 4), 1e-7);
  EXPECT_NEAR(cs[3], std::sin(0.15 / 4), 1e-7);
}

TEST(Ops, RopeNormalRotatesAdjacentPairs) {
  // Two heads of 6 dims, 4 of them rotating: pairs (0,1), (2,3); dims 4, 5 untouched.
  float cs[4];
  ops::rope_angles(2, 4, 10000.0f, 1.0f, nullptr, cs);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, -1, 0.5f, 2, -3, 7, 8};
  const std::vector<float> x0 = x;
  ops::rope_normal(x.data(), 2, 6, 4, cs);
  for (int h = 0; h < 2; ++h) {
    for (int i = 0; i < 2; ++i) {
      const double th = 2.0 * std::pow(10000.0, -2.0 * i / 4);
      const double a = x0[h * 6 + 2 * i], b = x0[h * 6 + 2 * i + 1];
      EXPECT_NEAR(x[h * 6 + 2 * i], a * std::cos(th) - b * std::sin(th), 1e-5);
      EXPECT_NEAR(x[h * 6 + 2 * i + 1], a * std::sin(th) + b * std::cos(th), 1e-5);
    }
    EXPECT_EQ(x[h * 6 + 4], x0[h * 6 + 4]);
    EXPECT_EQ(x[h * 6 + 5], x0[h * 6 + 5]);
  }
}

TEST(Ops, RopeNeoxIsNormalOnHalvesInterleaved) {
  // NeoX pairs (i, i + n/2); moving dimension i to 2i and i + n/2 to 2i+1
  // turns it into the normal rotation.
  const int hd = 8;
  float cs[hd];
  ops::rope_angles(5, hd, 10000.0f, 1.0f, nullptr, cs);
  std::vector<float> x(hd), y(hd);
  for (int i = 0; i < hd; ++i) x[i] = 0.3f * i - 1.0f;
  for (int i = 0; i < hd / 2; ++i) {
    y[2 * i] = x[i];
    y[2 * i + 1] = x[i + hd / 2];
  }
  ops::rope_neox(x.data(), 1, hd, hd, cs);
  ops::rope_normal(y.data(), 1, hd, hd, cs);
  for (int i = 0; i < hd / 2; ++i) {
    EXPECT_FLOAT_EQ(x[i], y[2 * i]);
    EXPECT_FLOAT_EQ(x[i + hd / 2], y[2 * i + 1]);
  }
}

TEST(Ops, Llama3RopeFactorsMatchTheFilesTensor) {
  // rand-llama3-d256 was written with Llama 3.1's scaling (factor 8, low 1,
  // high 4, original context 8192) as rope_freqs.weight; recompute it.
  LCTE_REQUIRE_DATA("models/rand-llama3-d256-f32.gguf");
  const gguf::File f = gguf::File::open(lcte::testing::data_path("models/rand-llama3-d256-f32.gguf"));
  const gguf::TensorInfo& t = f.tensor("rope_freqs.weight");
  ASSERT_EQ(t.type, GgmlType::F32);
  const auto* want = reinterpret_cast<const float*>(t.data);
  const std::vector<float> got = llama3_rope_factors(32, 500000.0f, 8.0f, 1.0f, 4.0f, 8192);
  ASSERT_EQ(static_cast<int64_t>(got.size()), t.ne[0]);
  bool some_scaled = false, some_blended = false;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5 * want[i]) << "factor " << i;
    some_scaled |= want[i] == 8.0f;
    some_blended |= want[i] > 1.0f && want[i] < 8.0f;
  }
  EXPECT_TRUE(some_scaled);
  EXPECT_TRUE(some_blended);
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hw_to_half(float f) { return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }

TEST(Fp16, AgreesWithF16cOnRandomFloats) {
  if (!lcte::cpu_has_f16c()) GTEST_SKIP() << "no F16C on this CPU";
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = bits(rng);
    // Half the samples near the half range, where rounding and subnormals happen.
    if (i % 2) b = (b & 0x807fffffu) | ((100u + (b >> 24) % 45u) << 23);
    float f;
    std::memcpy(&f, &b, 4);
    // NaNs too: the one codec keeps F16C's payload and quiet bit.
    ASSERT_EQ(lcte::fp32_to_fp16_portable(f), hw_to_half(f)) << "float bits 0x" << std::hex << b;
  }
}
#endif

TEST(Vec, ExpWithinFewUlpOfStdExp) {
  // Every float in a dense sweep of [-87, 88], plus the edges.
  std::vector<float> x;
  for (double v = -87.0; v <= 88.0; v += 0.0137) x.push_back(static_cast<float>(v));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 0.34657f, -0.34657f, 88.5f, -87.2f}) x.push_back(v);
  std::vector<float> y(x.size());
  vec::exp(x.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i]));
    ASSERT_NEAR(y[i], want, 4 * 6e-8 * want) << "x=" << x[i];
  }
  const float edge[4] = {-200.0f, 200.0f, -88.0f, -INFINITY};
  float out[4];
  vec::exp(edge, out, 4);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_TRUE(out[1] > 1e38f);                  // saturates rather than wrapping
  EXPECT_NEAR(out[2], std::exp(-88.0), 1e-44);  // a subnormal result, as ggml's scalef gives
  EXPECT_EQ(out[3], 0.0f);                      // masked attention positions
}

TEST(Vec, SimdMatchesScalar) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-8, 8);
  for (int n : {1, 3, 8, 15, 16, 17, 64, 100}) {
    std::vector<float> a(n), b(n), a2;
    std::vector<uint16_t> h(n), h2(n);
    for (int i = 0; i < n; ++i) {
      a[i] = d(rng);
      b[i] = d(rng);
    }
    vec::to_f16_scalar(a.data(), h.data(), n);
    vec::to_f16(a.data(), h2.data(), n);
    EXPECT_EQ(h, h2) << "n=" << n;
    a2 = a;
    vec::softmax_scalar(a.data(), n);
    vec::softmax(a2.data(), n);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(a[i], a2[i], 1e-6) << "softmax n=" << n;
    a2 = b;
    std::vector<float> up(n, 0.5f);
    vec::swiglu_scalar(b.data(), up.data(), n, n / 16 * 16);
    vec::swiglu(a2.data(), up.data(), n, n / 16 * 16);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(a2[i], b[i], 1e-6 * (1 + std::fabs(b[i]))) << "swiglu n=" << n;
  }
}

Config tiny_config(int64_t layers, int64_t kv_heads, int64_t head_dim) {
  Config c;
  c.n_layers = layers;
  c.n_kv_heads = kv_heads;
  c.n_heads = kv_heads;
  c.head_dim = head_dim;
  c.dim = kv_heads * head_dim;
  return c;
}

// Attention written out with doubles, over rows given directly.
std::vector<double> naive_attention(const std::vector<std::vector<float>>& K, const std::vector<std::vector<float>>& V,
                                    const std::vector<float>& q, int64_t off, int64_t hd, double scale) {
  std::vector<double> s(K.size());
  double mx = -1e300, sum = 0;
  for (size_t t = 0; t < K.size(); ++t) {
    double d = 0;
    for (int64_t i = 0; i < hd; ++i) d += static_cast<double>(q[i]) * K[t][off + i];
    s[t] = d * scale;
    mx = std::max(mx, s[t]);
  }
  for (double& x : s) sum += (x = std::exp(x - mx));
  std::vector<double> out(hd, 0.0);
  for (size_t t = 0; t < K.size(); ++t)
    for (int64_t i = 0; i < hd; ++i) out[i] += s[t] / sum * V[t][off + i];
  return out;
}

TEST(Attention, MatchesNaiveAcrossBlocks) {
  // More positions than one KV block, both cache types, the second KV head;
  // head size 80: ggml's 64-element vector part and a 16-element tail.
  const int64_t hd = 80;
  for (const int64_t n_pos : {int64_t{5}, int64_t{40}, KvCache::kBlock + 44})
    for (const bool batched : {false, true}) {
      const Config c = tiny_config(2, 2, hd);
      std::mt19937 rng(3);
      std::uniform_real_distribution<float> d(-1, 1);
      std::vector<std::vector<float>> K(n_pos, std::vector<float>(c.kv_dim())), V = K;
      for (auto* m : {&K, &V})
        for (auto& row : *m)
          for (float& x : row) x = d(rng);
      std::vector<float> q(2 * hd);
      for (float& x : q) x = 2 * d(rng);
      for (KvType type : {KvType::F32, KvType::F16}) {
        KvCache cache(c, 1024, type);
        cache.append(n_pos);
        for (int64_t t = 0; t < n_pos; ++t) store_kv(cache, 1, t, K[t].data(), V[t].data());
        // Two query heads share KV head 1.
        std::vector<float> scores(2 * n_pos), out(2 * hd), out_ref(2 * hd);
        attend(cache, 1, 1, hd, 2, q.data(), n_pos, 0.25f, batched, scores.data(), out.data());
        attend_scalar(cache, 1, 1, hd, 2, q.data(), n_pos, 0.25f, batched, scores.data(), out_ref.data());
        EXPECT_EQ(out, out_ref) << "the vector and scalar code do the same float operations";
        const double tol = type == KvType::F32 ? 1e-5 : 2e-3;  // F16 rows carry 2^-11 relative rounding
        for (int g = 0; g < 2; ++g) {
          const std::vector<float> qg(q.begin() + g * hd, q.begin() + (g + 1) * hd);
          const auto want = naive_attention(K, V, qg, hd, hd, 0.25);
          for (int64_t i = 0; i < hd; ++i) {
            EXPECT_NEAR(out[g * hd + i], want[i], tol) << kv_type_name(type) << " head " << g << " dim " << i;
            EXPECT_NEAR(out_ref[g * hd + i], want[i], tol) << kv_type_name(type) << " head " << g << " dim " << i;
          }
        }
      }
    }
}

}  // namespace
}  // namespace lcte::model
