// The router as requests meet it: the published rule at 150/151 tokens under
// a real tokenizer, overrides (per request and global), configuration errors,
// and the decision record.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <limits>
#include <memory>

#include "common/test_data.h"
#include "core/error.h"
#include "route/router.h"
#include "tokenizer/tokenizer.h"

namespace lcte::route {
namespace {

// One token per byte: token counts are then lengths a test can state.
int64_t bytes(std::string_view text) { return static_cast<int64_t>(text.size()); }
const TokenCounter kBytes{"bytes", bytes};

TEST(Router, ThePublishedRuleAtTheBoundary) {
  Router router(RouterConfig{}, kBytes);
  RouteResult small = router.route(std::string(150, 'x'));
  EXPECT_EQ(small.tier, "small");
  EXPECT_EQ(small.decision.score, 6);
  EXPECT_FALSE(small.override_applied);
  RouteResult large = router.route(std::string(151, 'x'));
  EXPECT_EQ(large.tier, "large");
  EXPECT_EQ(large.decision.score, 7);
  EXPECT_EQ(large.n_tokens, 151);
  EXPECT_GE(large.decision_us, 0.0);
}

TEST(Router, ThePublishedRuleUnderARealTokenizer) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  auto tok = std::make_shared<tokenizer::Tokenizer>(
      tokenizer::load_tokenizer(lcte::testing::data_path("models/stories260K-f32.gguf")));
  TokenCounter count = counter_of(tok, "stories260K");
  // Grow a text word by word until it is exactly 150 tokens, then find a
  // continuation that makes it exactly 151.
  std::string text = "def";
  const char* words[] = {" sum", " of", " the", " list", " a", " b"};
  for (size_t i = 0; count(text) < 150; ++i) {
    std::string next = text + words[i % 6];
    if (count(next) > 150) next = text + " a";
    if (count(next) > 150) break;
    text = next;
  }
  ASSERT_EQ(count(text), 150) << text;
  std::string more;
  for (const char* w : words)
    if (count(text + w) == 151) more = text + w;
  ASSERT_FALSE(more.empty());
  Router router(RouterConfig{}, count);
  EXPECT_EQ(router.route(text).tier, "small");
  EXPECT_EQ(router.route(more).tier, "large");
}

TEST(Router, RequestAndGlobalOverridesAreRecorded) {
  Router router(RouterConfig{}, kBytes);
  RouteResult asked = router.route("short", "large");
  EXPECT_EQ(asked.tier, "large");
  EXPECT_TRUE(asked.override_applied);
  EXPECT_NE(asked.decision.reason.find("would have chosen small"), std::string::npos);
  EXPECT_FALSE(router.route("short", "auto").override_applied);
  EXPECT_FALSE(router.route("short", "router").override_applied);
  EXPECT_THROW(router.route("short", "huge"), Error);

  RouterConfig forced;
  forced.forced_tier = "small";
  Router pinned(forced, kBytes);
  RouteResult r = pinned.route(std::string(500, 'x'));
  EXPECT_EQ(r.tier, "small");
  EXPECT_TRUE(r.override_applied);
  EXPECT_EQ(r.decision.tier, 1u);  // what the policy said is kept
}

TEST(Router, NeedsATokenizerAndRecordsWhichOneCounted) {
  EXPECT_THROW(Router(RouterConfig{}, TokenCounter{}), Error);  // no byte estimate stands in for one
  Router router(RouterConfig{}, kBytes);
  RouteResult r = router.route(std::string(600, 'x'));
  EXPECT_EQ(r.n_tokens, 600);
  EXPECT_EQ(r.tokenizer, "bytes");
  EXPECT_EQ(to_record(r, "x").tokenizer, "bytes");
  EXPECT_EQ(DecisionRecord::from_json(to_record(r, "x").to_json()).tokenizer, "bytes");
  EXPECT_EQ(explain(r).at("tokenizer"), "bytes");
}

TEST(Router, BadConfigurationsAreExplained) {
  auto message = [](RouterConfig c) {
    try {
      Router r(c, kBytes);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  RouterConfig c;
  c.policy = "smartest";
  EXPECT_NE(message(c).find("unknown policy \"smartest\""), std::string::npos);
  c.policy = "always-medium";
  EXPECT_NE(message(c).find("medium"), std::string::npos);
  c.policy = "learned";
  EXPECT_NE(message(c).find("learned_model"), std::string::npos);
  c = RouterConfig{};
  c.tiers = {"a", "a"};
  EXPECT_NE(message(c).find("twice"), std::string::npos);
  c = RouterConfig{};
  c.forced_tier = "xl";
  EXPECT_NE(message(c).find("forced_tier: \"xl\" is not one of the tiers"), std::string::npos);
  c = RouterConfig{};
  c.policy = "random";
  c.random_share = 1.5;
  EXPECT_NE(message(c).find("random_share"), std::string::npos);
  c = RouterConfig{};
  c.policy = "always-large";
  EXPECT_EQ(Router(c, kBytes).route("x").tier, "large");
}

TEST(Router, DecisionRecordCarriesWhatTheLogNeeds) {
  Router router(RouterConfig{}, kBytes);
  RouteResult r = router.route("def f(x):\n    \"\"\"Return x.\"\"\"\n");
  DecisionRecord d = to_record(r, "def f(x):\n    \"\"\"Return x.\"\"\"\n");
  EXPECT_EQ(d.tier, "small");
  EXPECT_EQ(d.query_hash.size(), 16u);
  EXPECT_EQ(d.policy, "threshold");
  EXPECT_EQ(d.features.size(), Features::names().size());
  EXPECT_EQ(d.n_tokens, r.n_tokens);
  EXPECT_FALSE(d.time.empty());
  DecisionRecord back = DecisionRecord::from_json(d.to_json());
  EXPECT_EQ(back.reason, d.reason);
}

// ---- Counting only as far as the decision needs ----

namespace bounded {

// One token per space-separated word; remembers the longest text it counted.
struct WordCounter {
  std::shared_ptr<size_t> longest = std::make_shared<size_t>(0);
  int64_t operator()(std::string_view t) const {
    *longest = std::max(*longest, t.size());
    int64_t n = 0;
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i] != ' ' && (i == 0 || t[i - 1] == ' ')) ++n;
    return n;
  }
};

std::string words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " w" : "w") + std::to_string(i % 10);
  return s;
}

}  // namespace bounded

TEST(CountUpTo, StopsOncePastTheLimitAndSaysTheCountIsALowerBound) {
  bounded::WordCounter counter;
  const std::string text = bounded::words(5000);
  TokenCount c = count_tokens_up_to(counter, text, 1216);
  EXPECT_TRUE(c.at_least);
  EXPECT_GT(c.n, 1216);
  EXPECT_LE(c.n, 5000);
  EXPECT_LT(*counter.longest, text.size() / 2);  // the point: most of the text was never counted

  TokenCount all = count_tokens_up_to(counter, text, 6000);
  EXPECT_FALSE(all.at_least);
  EXPECT_EQ(all.n, 5000);
  // Exactly at and just above the limit: a proper prefix cannot pass it, so the count is exact.
  EXPECT_EQ(count_tokens_up_to(counter, bounded::words(1216), 1216).n, 1216);
  TokenCount above = count_tokens_up_to(counter, bounded::words(1217), 1216);
  EXPECT_EQ(above.n, 1217);
  EXPECT_FALSE(above.at_least);
}

TEST(CountUpTo, NoPlaceToCutMeansAnExactCount) {
  // No space after a letter or digit: nowhere to end a prefix.
  TokenCount c = count_tokens_up_to(bytes, std::string(20000, 'x'), 100);
  EXPECT_EQ(c.n, 20000);
  EXPECT_FALSE(c.at_least);
  c = count_tokens_up_to(bytes, std::string(5000, '=') + " " + std::string(5000, '='), 100);
  EXPECT_EQ(c.n, 10001);
  EXPECT_FALSE(c.at_least);
}

TEST(CountUpTo, TheLimitCoversTheLastBoundAndTheFeatures) {
  EXPECT_EQ(count_limit(RouterConfig{}), 1200 + kCountMargin);
  RouterConfig wide;
  wide.token_bounds = {10, 20, 30, 40, 50, 60, 70, 80, 5000};
  EXPECT_EQ(count_limit(wide), 5000 + kCountMargin);
  RouterConfig huge;
  huge.token_bounds = {1, 2, 3, 4, 5, 6, 7, 8, std::numeric_limits<int64_t>::max()};
  EXPECT_EQ(count_limit(huge), std::numeric_limits<int64_t>::max());  // no overflow
  Router all(huge, kBytes);
  RouteResult r = all.route(std::string(3000, 'a') + " b");
  EXPECT_EQ(r.n_tokens, 3002);
  EXPECT_FALSE(r.n_tokens_at_least);
  RouterConfig narrow;
  narrow.token_bounds = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(count_limit(narrow), kFeatureTokenCap + kCountMargin);  // the features still need 1200
}

// Hand-made texts of known token counts (one token per byte, "ab " repeated)
// around every bound of the default scale and around the count limit: the
// score and tier are those of the exact count.
TEST(Router, AStoppedCountScoresAsTheFullCountAtEveryBound) {
  Router router(RouterConfig{}, kBytes);
  const ComplexityScale scale;
  const TierThresholds rule;
  std::vector<int64_t> sizes;
  for (int64_t b : scale.upper_bounds)
    for (int64_t d : {-1, 0, 1}) sizes.push_back(b + d);
  for (int64_t n :
       {count_limit(RouterConfig{}), count_limit(RouterConfig{}) + 1, int64_t{4000}, int64_t{8000}, int64_t{20000}})
    sizes.push_back(n);
  for (int64_t n : sizes) {
    std::string text;
    while (static_cast<int64_t>(text.size()) < n) text += "ab ";
    text.resize(static_cast<size_t>(n));
    RouteResult r = router.route(text);
    EXPECT_EQ(r.decision.score, scale.score(n)) << n << " tokens";
    EXPECT_EQ(r.tier, rule.tiers[rule.tier_for_score(scale.score(n))]) << n << " tokens";
    if (r.n_tokens_at_least) {
      EXPECT_GT(n, count_limit(RouterConfig{}));
      EXPECT_GT(r.n_tokens, count_limit(RouterConfig{}));
      EXPECT_LE(r.n_tokens, n);
      EXPECT_NE(r.decision.reason.find("at least"), std::string::npos) << r.decision.reason;
    } else {
      EXPECT_EQ(r.n_tokens, n);
    }
    // Up to 3.5 bytes per token of the limit are counted in one go; beyond that it stops.
    if (n >= 8000) {
      EXPECT_TRUE(r.n_tokens_at_least) << n << " tokens were all counted";
    }
  }
}

// The same under real tokenizers of each kind, on MBPP prompts and code: for
// every bound, the shortest prefix of the corpus with that many tokens (and
// one more) routes as its exact count says.
class RealTokenizer : public ::testing::TestWithParam<const char*> {};

TEST_P(RealTokenizer, AStoppedCountScoresAsTheFullCountAtEveryBound) {
  const std::string vocab = std::string("tokenizer/ggml-vocab-") + GetParam() + ".gguf";
  LCTE_REQUIRE_DATA(vocab);
  LCTE_REQUIRE_DATA("mbpp/sanitized-mbpp.json");
  auto tok = std::make_shared<tokenizer::Tokenizer>(tokenizer::load_tokenizer(lcte::testing::data_path(vocab)));
  TokenCounter count = counter_of(tok, GetParam());
  std::string corpus;
  {
    std::ifstream in(lcte::testing::data_path("mbpp/sanitized-mbpp.json"));
    for (const auto& task : nlohmann::json::parse(in)) {
      corpus += task.at("prompt").get<std::string>() + "\n" + task.at("code").get<std::string>() + "\n\n";
      if (corpus.size() > 24000) break;
    }
  }
  Router router(RouterConfig{}, count);
  const ComplexityScale scale;
  const int64_t limit = count_limit(RouterConfig{});
  std::vector<int64_t> targets;
  for (int64_t b : scale.upper_bounds) targets.insert(targets.end(), {b, b + 1});
  targets.insert(targets.end(), {limit, limit + 1, 3000});
  for (int64_t target : targets) {
    size_t lo = 1, hi = corpus.size();
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (count(std::string_view(corpus).substr(0, mid)) >= target)
        hi = mid;
      else
        lo = mid + 1;
    }
    const std::string text = corpus.substr(0, lo);
    const int64_t full = count(text);
    RouteResult r = router.route(text);
    EXPECT_EQ(r.decision.score, scale.score(full)) << GetParam() << ", " << full << " tokens";
    if (r.n_tokens_at_least) {
      EXPECT_GT(full, limit) << GetParam();
      EXPECT_GT(r.n_tokens, limit);
      EXPECT_LE(r.n_tokens, full);
    } else {
      EXPECT_EQ(r.n_tokens, full) << GetParam();
    }
    if (full >= 3000) {
      EXPECT_TRUE(r.n_tokens_at_least) << GetParam() << ": all " << full << " tokens were counted";
    }
    // The features saturate at kFeatureTokenCap, so a stopped count changes none.
    EXPECT_EQ(r.features.values, extract_features(text, full).values) << GetParam() << ", " << full << " tokens";
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, RealTokenizer, ::testing::Values("deepseek-coder", "llama-spm", "bert-bge"),
                         [](const auto& info) {
                           std::string s = info.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

TEST(Router, AStoppedCountIsRecordedAsALowerBound) {
  Router router(RouterConfig{}, kBytes);
  std::string text;
  while (text.size() < 8000) text += "ab ";
  RouteResult r = router.route(text);
  ASSERT_TRUE(r.n_tokens_at_least);
  DecisionRecord d = to_record(r, text);
  EXPECT_TRUE(d.n_tokens_at_least);
  EXPECT_EQ(d.to_json().at("n_tokens_at_least"), true);
  DecisionRecord back = DecisionRecord::from_json(d.to_json());
  EXPECT_TRUE(back.n_tokens_at_least);
  EXPECT_EQ(back.n_tokens, r.n_tokens);
  // A log line written before the field existed reads as an exact count.
  nlohmann::json old = d.to_json();
  old.erase("n_tokens_at_least");
  EXPECT_FALSE(DecisionRecord::from_json(old).n_tokens_at_least);
}

}  // namespace
}  // namespace lcte::route
