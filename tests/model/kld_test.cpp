// KL divergence and perplexity scoring, and the bench runner.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "common/test_data.h"
#include "core/error.h"
#include "model/bench.h"
#include "model/kld.h"

namespace lcte::model {
namespace {

TEST(Kld, OnePositionByHand) {
  // base: p = (1/2, 1/4, 1/4); other: q = (1/4, 1/2, 1/4).
  const float base[3] = {std::log(2.0f), 0.0f, 0.0f};
  const float other[3] = {0.0f, std::log(2.0f), 0.0f};
  const PositionStats s = compare_position(base, other, 1);
  const double kl = 0.5 * std::log(2.0) + 0.25 * std::log(0.5) + 0.0;
  EXPECT_NEAR(s.kld, kl, 1e-9);
  EXPECT_NEAR(s.nll_base, std::log(4.0), 1e-7);
  EXPECT_NEAR(s.nll_other, std::log(2.0), 1e-7);
  EXPECT_FALSE(s.top1);
  EXPECT_TRUE(s.top5);
}

TEST(Kld, TopFiveCountsRank) {
  // base's favourite (token 0) is 6th in other: not in its top 5.
  std::vector<float> base(8, 0.0f), other(8, 0.0f);
  base[0] = 5;
  for (int i = 1; i <= 5; ++i) other[i] = 1.0f + i;
  other[0] = 1.0f;
  EXPECT_FALSE(compare_position(base, other, 0).top5);
  other[5] = 0.5f;  // now only four beat it
  EXPECT_TRUE(compare_position(base, other, 0).top5);
}

TEST(Kld, PercentileNearestRank) {
  const std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(percentile(v, 50), 5);
  EXPECT_EQ(percentile(v, 90), 9);
  EXPECT_EQ(percentile(v, 99), 10);
  EXPECT_EQ(percentile(v, 100), 10);
  EXPECT_EQ(percentile(v, 0), 1);
}

std::vector<int32_t> some_tokens(size_t n) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>(3 + (i * 37 + i * i) % 500);
  return t;
}

TEST(Kld, ModelAgainstItselfAndAgainstItsF16) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  LCTE_REQUIRE_DATA("models/stories260K-f16.gguf");
  const auto m32 = Model::load(lcte::testing::data_path("models/stories260K-f32.gguf"));
  const auto m16 = Model::load(lcte::testing::data_path("models/stories260K-f16.gguf"));
  ThreadPool pool(2);
  Context a(*m32, pool), b(*m32, pool), c(*m16, pool, 7);  // c: odd batch, so pieces split unevenly
  // The model's own greedy story (llama2.c's run.c output): it should find it
  // very predictable.
  LCTE_REQUIRE_DATA("models/stories260K.greedy256.expected.tokens.txt");
  std::ifstream in(lcte::testing::data_path("models/stories260K.greedy256.expected.tokens.txt"));
  std::vector<int32_t> tokens = {1};
  for (int32_t t; in >> t;) tokens.push_back(t);
  ASSERT_EQ(tokens.size(), 257u);
  KldOptions o;
  o.n_ctx = 64;
  o.bos = 1;
  const KldReport same = compare_models(a, b, tokens, o);
  EXPECT_EQ(same.n_chunks, 4);
  EXPECT_EQ(same.n_scored, 4 * 31);  // positions 32..62 of each chunk
  EXPECT_DOUBLE_EQ(same.ppl_base, same.ppl_other);
  EXPECT_LT(same.kld_max, 1e-9);
  EXPECT_EQ(same.top1_agreement, 1.0);
  EXPECT_GT(same.ppl_base, 1.0);
  EXPECT_LT(same.ppl_base, 2.0);  // greedy text: the top token nearly every time

  const KldReport r = compare_models(a, c, tokens, o);
  EXPECT_GT(r.kld_mean, 0.0);
  EXPECT_LT(r.kld_mean, 1e-3);  // F16 weights barely move the distributions
  EXPECT_LE(r.kld_median, r.kld_p90);
  EXPECT_LE(r.kld_p90, r.kld_p99);
  EXPECT_LE(r.kld_p99, r.kld_max);
  EXPECT_NEAR(r.ppl_other / r.ppl_base, 1.0, 1e-2);
  EXPECT_GE(r.top5_agreement, r.top1_agreement);
  EXPECT_GT(r.top1_agreement, 0.9);
}

TEST(Kld, Errors) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  LCTE_REQUIRE_DATA("models/rand-llama-d256-f32.gguf");
  const auto m = Model::load(lcte::testing::data_path("models/stories260K-f32.gguf"));
  ThreadPool pool(1);
  Context a(*m, pool), b(*m, pool);
  KldOptions o;
  o.n_ctx = 64;
  EXPECT_THROW(compare_models(a, b, some_tokens(63), o), Error);
  o.n_ctx = 2;
  EXPECT_THROW(compare_models(a, b, some_tokens(63), o), Error);
}

TEST(Bench, ReportsEveryTest) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  const auto m = Model::load(lcte::testing::data_path("models/stories260K-f32.gguf"));
  ThreadPool pool(1);
  Context ctx(*m, pool);
  BenchOptions o;
  o.n_prompt = 16;
  o.n_gen = 8;
  o.reps = 3;
  const auto r = run_bench(ctx, o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].test, "pp16");
  EXPECT_EQ(r[1].test, "tg8");
  for (const auto& x : r) {
    EXPECT_EQ(x.tokens_per_second.size(), 3u);
    EXPECT_GT(x.mean, 0);
  }
  double mean, sd;
  mean_stddev({1, 2, 3, 4}, &mean, &sd);
  EXPECT_DOUBLE_EQ(mean, 2.5);
  EXPECT_NEAR(sd, std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_GT(peak_rss_bytes(), m->tensor_bytes());  // the weights were read, so they are resident
}

}  // namespace
}  // namespace lcte::model
