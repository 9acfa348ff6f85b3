// The SIMD scans against their scalar references, on sizes around every
// vector width, with -inf entries, ties and every starting offset.
#include "sampling/scan.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <random>
#include <vector>

namespace lcte::sampling {
namespace {

std::vector<float> values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) {
    const uint64_t r = rng();
    // Few distinct values so ties and equal-to-threshold cases are common.
    x = static_cast<float>(static_cast<int>(r % 17) - 8) * 0.5f;
    if (r % 23 == 0) x = -std::numeric_limits<float>::infinity();
  }
  return v;
}

using MaxFn = float (*)(std::span<const float>);
using FirstFn = size_t (*)(std::span<const float>, size_t, float);

struct Kernel {
  const char* name;
  MaxFn max;
  FirstFn greater, at_least;
};

std::vector<Kernel> kernels() {
  std::vector<Kernel> k{{"dispatched", max_value, first_greater, first_at_least}};
#if defined(__x86_64__)
  k.push_back({"sse2", x86::max_value_sse2, x86::first_greater_sse2, x86::first_at_least_sse2});
  if (x86::cpu_has_avx2())
    k.push_back({"avx2", x86::max_value_avx2, x86::first_greater_avx2, x86::first_at_least_avx2});
#endif
  return k;
}

TEST(Scan, SimdMatchesScalar) {
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 70; ++n) sizes.push_back(n);
  sizes.push_back(151936);
  for (const Kernel& k : kernels()) {
    for (size_t n : sizes) {
      const std::vector<float> v = values(n, n + 1);
      EXPECT_EQ(k.max(v), max_value_scalar(v)) << k.name << " n=" << n;
      for (size_t from = 0; from <= std::min<size_t>(n + 1, 40); ++from) {
        for (float t : {-4.0f, 0.0f, 3.5f, 4.0f, max_value_scalar(v)}) {
          EXPECT_EQ(k.greater(v, from, t), first_greater_scalar(v, from, t))
              << k.name << " n=" << n << " from=" << from << " t=" << t;
          EXPECT_EQ(k.at_least(v, from, t), first_at_least_scalar(v, from, t))
              << k.name << " n=" << n << " from=" << from << " t=" << t;
        }
      }
    }
  }
  std::printf("scan kernel in use: %s\n", scan_kernel_name());
}

TEST(Scan, HandComputed) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> v{ninf, 1.0f, 3.0f, 2.0f, 3.0f, ninf, 0.0f, 1.0f, 2.5f, 3.0f};
  EXPECT_EQ(max_value(v), 3.0f);
  EXPECT_EQ(first_at_least(v, 0, 3.0f), 2u);
  EXPECT_EQ(first_at_least(v, 3, 3.0f), 4u);
  EXPECT_EQ(first_greater(v, 0, 2.0f), 2u);
  EXPECT_EQ(first_greater(v, 5, 2.0f), 8u);
  EXPECT_EQ(first_greater(v, 0, 3.0f), v.size());
  EXPECT_EQ(max_value(std::vector<float>{}), ninf);
  EXPECT_EQ(max_value(std::vector<float>(100, ninf)), ninf);
}

}  // namespace
}  // namespace lcte::sampling
