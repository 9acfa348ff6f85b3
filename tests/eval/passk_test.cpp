#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/passk.h"

using namespace lcte::eval;

namespace {

// The definition, 1 - C(n-c, k) / C(n, k), with exact integer binomials
// (small n only): an independent reference for the product form.
unsigned __int128 binomial(int n, int k) {
  if (k < 0 || k > n) return 0;
  unsigned __int128 result = 1;
  for (int i = 1; i <= k; i++) result = result * unsigned(n - k + i) / unsigned(i);  // exact at each step
  return result;
}

double by_definition(int n, int c, int k) { return 1.0 - double(binomial(n - c, k)) / double(binomial(n, k)); }

}  // namespace

TEST(EvalPassAtK, HandComputedValues) {
  EXPECT_DOUBLE_EQ(*pass_at_k(1, 1, 1), 1.0);
  EXPECT_DOUBLE_EQ(*pass_at_k(1, 0, 1), 0.0);
  EXPECT_DOUBLE_EQ(*pass_at_k(2, 1, 1), 0.5);
  EXPECT_NEAR(*pass_at_k(5, 2, 2), 0.7, 1e-15);   // 1 - C(3,2)/C(5,2) = 1 - 3/10
  EXPECT_NEAR(*pass_at_k(10, 3, 1), 0.3, 1e-15);  // pass@1 = c/n
  EXPECT_DOUBLE_EQ(*pass_at_k(10, 8, 3), 1.0);    // n - c < k: every 3-subset holds a pass
  EXPECT_DOUBLE_EQ(*pass_at_k(10, 0, 10), 0.0);
}

TEST(EvalPassAtK, MatchesDefinitionForAllSmallCases) {
  for (int n = 1; n <= 40; n++)
    for (int c = 0; c <= n; c++)
      for (int k = 1; k <= n; k++)
        ASSERT_NEAR(*pass_at_k(n, c, k), by_definition(n, c, k), 1e-12) << n << " " << c << " " << k;
}

TEST(EvalPassAtK, StableForLargeN) {
  // C(200, 100) overflows doubles' exact range, the product does not care:
  // 1 - C(199,100)/C(200,100) = 1 - 100/200.
  EXPECT_NEAR(*pass_at_k(200, 1, 100), 0.5, 1e-12);
  // pass@1 is c/n for any n.
  EXPECT_NEAR(*pass_at_k(1000, 137, 1), 0.137, 1e-12);
  double value = *pass_at_k(1000, 1, 999);
  EXPECT_NEAR(value, 0.999, 1e-12);
}

TEST(EvalPassAtK, NotComputableIsExplicit) {
  EXPECT_FALSE(pass_at_k(5, 2, 6).has_value());
  EXPECT_FALSE(pass_at_k(5, 2, 0).has_value());
  EXPECT_THROW(pass_at_k(5, 6, 1), lcte::Error);
  EXPECT_THROW(pass_at_k(-1, 0, 1), lcte::Error);

  std::vector<TaskCounts> tasks = {{"a", 10, 5}, {"b", 10, 0}, {"c", 3, 3}};
  auto k1 = suite_pass_at_k(tasks, 1);
  ASSERT_TRUE(k1.value.has_value());
  EXPECT_NEAR(*k1.value, (0.5 + 0.0 + 1.0) / 3, 1e-15);
  auto k5 = suite_pass_at_k(tasks, 5);
  EXPECT_FALSE(k5.value.has_value());  // task c has n=3 < 5: not averaged over a subset
  EXPECT_NE(k5.reason.find("1 of 3 tasks"), std::string::npos) << k5.reason;
  EXPECT_FALSE(suite_pass_at_k({}, 1).value.has_value());
}

TEST(EvalPassAtK, ParseKList) {
  EXPECT_EQ(parse_k_list("10,1,5,1"), (std::vector<int>{1, 5, 10}));
  EXPECT_THROW(parse_k_list("1,,5"), lcte::Error);
  EXPECT_THROW(parse_k_list("0"), lcte::Error);
  EXPECT_THROW(parse_k_list("x"), lcte::Error);
  EXPECT_THROW(parse_k_list("3a"), lcte::Error);
}
