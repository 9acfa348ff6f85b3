// GCC 12.2's SLP vectorizer, with AVX-512 enabled (-march=native on an
// AVX-512 CPU, -march=x86-64-v4, or -mavx512f -mavx512vl -mavx512bw
// -mavx512dq) at -O2 or -O3, miscompiles the grouping loop below: for
// priorities {1, 1, 0, 0} it finds 2 groups instead of 3. The loop is a copy
// of route::priority_curve's, where the bug made the routers' cost-quality
// curves wrong. It passes with -O1, -fno-tree-slp-vectorize, x86-64-v3 and
// clang. The program is therefore built for a baseline ISA
// (LCTE_BASELINE_ISA); this test keeps that choice honest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

namespace {

// Number of runs of equal priority after sorting by decreasing priority,
// plus one for the starting point: the points of a priority curve.
__attribute__((noinline)) size_t curve_points(const std::vector<double>& priority) {
  std::vector<size_t> order(priority.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return priority[a] > priority[b]; });
  std::vector<size_t> tier(priority.size(), 0);
  size_t points = 1;
  for (size_t k = 0; k < order.size();) {
    size_t end = k;
    while (end < order.size() && priority[order[end]] == priority[order[k]]) tier[order[end++]] = 1;
    ++points;
    k = end;
  }
  return points;
}

TEST(Toolchain, GroupingLoopIsNotMiscompiled) {
  EXPECT_EQ(curve_points({1, 1, 0, 0}), 3u) << "the compiler miscompiled a plain loop: see this file's comment";
  EXPECT_EQ(curve_points({3, 2, 1, 0}), 5u);
  EXPECT_EQ(curve_points({0, 0, 0, 0, 0, 0, 0, 0}), 2u);
  EXPECT_EQ(curve_points({2, 1, 2, 1, 2, 1, 2, 1, 5}), 4u);
  EXPECT_EQ(curve_points({}), 1u);
}

}  // namespace
