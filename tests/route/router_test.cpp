// The router as requests meet it: the published rule at 150/151 tokens under
// a real tokenizer, overrides (per request and global), configuration errors,
// and the decision record.
#include <gtest/gtest.h>

#include "common/test_data.h"
#include "core/error.h"
#include "route/router.h"
#include "tokenizer/tokenizer.h"

namespace lcte::route {
namespace {

// One token per byte: token counts are then lengths a test can state.
int64_t bytes(std::string_view text) { return static_cast<int64_t>(text.size()); }

TEST(Router, ThePublishedRuleAtTheBoundary) {
  Router router(RouterConfig{}, bytes);
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
  TokenCounter count = [tok](std::string_view t) { return static_cast<int64_t>(tok->tokenize(t, false).size()); };
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
  Router router(RouterConfig{}, bytes);
  RouteResult asked = router.route("short", "large");
  EXPECT_EQ(asked.tier, "large");
  EXPECT_TRUE(asked.override_applied);
  EXPECT_NE(asked.decision.reason.find("would have chosen small"), std::string::npos);
  EXPECT_FALSE(router.route("short", "auto").override_applied);
  EXPECT_FALSE(router.route("short", "router").override_applied);
  EXPECT_THROW(router.route("short", "huge"), Error);

  RouterConfig forced;
  forced.forced_tier = "small";
  Router pinned(forced, bytes);
  RouteResult r = pinned.route(std::string(500, 'x'));
  EXPECT_EQ(r.tier, "small");
  EXPECT_TRUE(r.override_applied);
  EXPECT_EQ(r.decision.tier, 1u);  // what the policy said is kept
}

TEST(Router, WithoutATokenizerTheCountIsAnEstimateAndSaysSo) {
  Router router(RouterConfig{}, {});
  RouteResult r = router.route(std::string(600, 'x'));
  EXPECT_EQ(r.n_tokens, 150);
  EXPECT_EQ(r.tier, "small");
  EXPECT_NE(r.decision.reason.find("estimated"), std::string::npos);
}

TEST(Router, BadConfigurationsAreExplained) {
  auto message = [](RouterConfig c) {
    try {
      Router r(c, bytes);
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
  EXPECT_NE(message(c).find("forced_tier \"xl\""), std::string::npos);
  c = RouterConfig{};
  c.policy = "random";
  c.random_share = 1.5;
  EXPECT_NE(message(c).find("random_share"), std::string::npos);
  c = RouterConfig{};
  c.policy = "always-large";
  EXPECT_EQ(Router(c, bytes).route("x").tier, "large");
}

TEST(Router, DecisionRecordCarriesWhatTheLogNeeds) {
  Router router(RouterConfig{}, bytes);
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

}  // namespace
}  // namespace lcte::route
