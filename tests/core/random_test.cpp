#include "core/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace lcte {
namespace {

// The published FNV-1a 64 test vectors (Fowler, Noll, Vo: "FNV test suite").
TEST(Fnv1a64, MatchesPublishedVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
  const unsigned char bytes[] = {'f', 'o', 'o', 'b', 'a', 'r'};
  EXPECT_EQ(fnv1a64(bytes, sizeof bytes), fnv1a64("foobar"));
}

TEST(Fnv1a64, BasisKeysTheHash) {
  // Folding a seed into the basis: seed 0 is plain FNV-1a, others differ.
  EXPECT_EQ(fnv1a64("task", kFnv1aOffset ^ 0), fnv1a64("task"));
  EXPECT_NE(fnv1a64("task", kFnv1aOffset ^ 7), fnv1a64("task"));
  // One step by hand: (basis ^ 'a') * prime.
  EXPECT_EQ(fnv1a64("a", 5), (5ull ^ 'a') * kFnv1aPrime);
}

// Vigna's splitmix64.c, seeded with 0: the first outputs.
TEST(SplitMix64, MatchesVignasReferenceSequence) {
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(rng.next(), 0x06c45d188009454full);
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(rng.state, 3 * kGoldenGamma);
}

TEST(SplitMix64, StateResumesTheStream) {
  SplitMix64 a(42);
  for (int i = 0; i < 5; ++i) a.next();
  SplitMix64 b(a.state);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.next(), b.next());
}

TEST(SplitMix64, BelowStaysInRangeAndCoversIt) {
  SplitMix64 rng(1);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t x = rng.below(7);
    ASSERT_LT(x, 7u);
    counts[x]++;
  }
  // Each of 7 values expected 1000 times; 6 sigma is about 180.
  for (int c : counts) EXPECT_NEAR(c, 1000, 180);
  EXPECT_EQ(SplitMix64(3).below(1), 0u);
}

TEST(SplitMix64, UniformAndNormalMoments) {
  SplitMix64 rng(9);
  const int n = 20000;
  double su = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    const double z = rng.normal();
    sn += z;
    sn2 += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 0.01);
  EXPECT_NEAR(sn / n, 0.0, 0.03);
  EXPECT_NEAR(sn2 / n, 1.0, 0.04);
}

TEST(Shuffle, IsAPermutationFixedByTheSeed) {
  std::vector<int> a(50), b(50);
  std::iota(a.begin(), a.end(), 0);
  b = a;
  SplitMix64 ra(5), rb(5);
  shuffle(a, ra);
  shuffle(b, rb);
  EXPECT_EQ(a, b);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  std::vector<int> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(a, identity);
}

}  // namespace
}  // namespace lcte
