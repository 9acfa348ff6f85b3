// Central finite differences in double precision, for the gradient checks.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"

namespace lcte::train::testing {

inline std::vector<double> random_vector(size_t n, uint64_t seed, double scale = 1.0) {
  SplitMix64 rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = scale * rng.normal();
  return v;
}

// Compares `analytic` with (L(x + h e_i) - L(x - h e_i)) / 2h for every i of
// x (or every `stride`-th). The error allowed is atol + rtol * |fd|.
inline void expect_gradient(const std::string& what, std::vector<double>& x, const std::vector<double>& analytic,
                            const std::function<double()>& loss, double rtol = 1e-6, double atol = 1e-8,
                            size_t stride = 1, double h = 1e-5) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  int bad = 0;
  double max_abs = 0;
  for (size_t i = 0; i < x.size(); i += stride) {
    const double saved = x[i];
    x[i] = saved + h;
    const double lp = loss();
    x[i] = saved - h;
    const double lm = loss();
    x[i] = saved;
    const double fd = (lp - lm) / (2 * h);
    max_abs = std::max(max_abs, std::fabs(fd));
    if (std::fabs(fd - analytic[i]) > atol + rtol * std::fabs(fd)) {
      if (++bad <= 5)
        ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << " vs finite difference " << fd;
    }
  }
  EXPECT_EQ(bad, 0) << what;
  // A check against an all-zero gradient would prove nothing.
  EXPECT_GT(max_abs, 1e-6) << what << ": the gradient is zero everywhere";
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace lcte::train::testing
