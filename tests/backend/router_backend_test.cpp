// The routed system as a backend: each request answered by the tier the
// router picks, every decision reported, and the cases it refuses.
#include <gtest/gtest.h>

#include <atomic>

#include "backend/catalogue.h"
#include "backend/router_backend.h"
#include "core/error.h"

namespace lcte::backend {
namespace {

// Answers with its own name, so a test sees which tier answered.
class NamedBackend final : public Backend {
 public:
  explicit NamedBackend(std::string n) : name_(std::move(n)) {}
  std::string name() const override { return "named"; }
  std::string model() const override { return name_; }
  std::vector<Generation> generate(const GenerationRequest& request, const StreamFn&) override {
    std::vector<Generation> out;
    for (int i : request.sample_indices) {
      Generation g;
      g.sample_index = i;
      g.text = name_;
      out.push_back(g);
    }
    return out;
  }

 private:
  std::string name_;
};

const route::TokenCounter bytes{"bytes", [](std::string_view t) { return static_cast<int64_t>(t.size()); }};

std::map<std::string, std::shared_ptr<Backend>> two_tiers() {
  return {{"small", std::make_shared<NamedBackend>("small")}, {"large", std::make_shared<NamedBackend>("large")}};
}

TEST(RouterBackend, EachRequestGoesToTheChosenTier) {
  std::vector<std::string> decided;
  RouterBackend b(route::RouterConfig{}, bytes, two_tiers(), [&](const route::RouteResult& r, const std::string& text) {
    decided.push_back(r.tier + ":" + std::to_string(text.size()));
  });
  GenerationRequest shortq;
  shortq.prompt = std::string(150, 'x');
  shortq.sample_indices = {0, 1};
  auto a = b.generate(shortq);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].text, "small");
  GenerationRequest longq;
  longq.chat = true;
  longq.messages = {{"system", std::string(100, 's')}, {"user", std::string(100, 'u')}};
  EXPECT_EQ(b.generate(longq)[0].text, "large");  // 201 bytes with the joining newline
  EXPECT_EQ(decided, (std::vector<std::string>{"small:150", "large:201"}));
  EXPECT_EQ(b.tier_counts(), (std::map<std::string, int>{{"large", 1}, {"small", 1}}));
  EXPECT_EQ(b.model(), "router(threshold: small,large)");
}

TEST(RouterBackend, ForcedTierAndRefusals) {
  route::RouterConfig forced;
  forced.forced_tier = "large";
  RouterBackend pinned(forced, bytes, two_tiers());
  GenerationRequest q;
  q.prompt = "x";
  EXPECT_EQ(pinned.generate(q)[0].text, "large");

  auto missing = two_tiers();
  missing.erase("large");
  EXPECT_THROW(RouterBackend(route::RouterConfig{}, bytes, missing), Error);
  route::RouterConfig cascade;
  cascade.policy = "cascade";
  try {
    RouterBackend r(cascade, bytes, two_tiers());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("offline"), std::string::npos);
  }
}

TEST(RouterBackend, CatalogueRoutingBecomesTheRouterConfig) {
  Catalogue c = parse_catalogue(R"(
[[model]]
name = "tiny"
path = "tiny.gguf"
cost = 1
[[model]]
name = "big"
url = "http://127.0.0.1:9/v1"
model = "big"
cost = 10
[routing]
policy = "learned"
learned_model = "router.json"
forced_tier = "big"
)",
                                "/etc/lcte/models.toml");
  const route::RouterConfig& r = c.routing;
  EXPECT_EQ(r.tiers, (std::vector<std::string>{"tiny", "big"}));
  EXPECT_EQ(r.max_score, (std::vector<int>{6, 10}));
  EXPECT_EQ(r.policy, "learned");
  EXPECT_EQ(r.learned_model, "/etc/lcte/router.json");
  EXPECT_EQ(r.forced_tier, "big");
}

// The catalogue's [routing] and the dashboard's rules JSON are one
// configuration: the same settings read the same way from either.
TEST(RouterBackend, CatalogueTomlAndRulesJsonAreOneConfiguration) {
  Catalogue c = parse_catalogue(R"(
[[model]]
name = "tiny"
path = "/m/tiny.gguf"
[[model]]
name = "mid"
path = "/m/mid.gguf"
cost = 4
[[model]]
name = "big"
path = "/m/big.gguf"
cost = 10
[routing]
policy = "random"
random_share = 0.25
token_bounds = [5, 10, 15, 20, 25, 30, 35, 40, 45]
tokenizer = "o200k_base"
seed = 3
)",
                                "/etc/lcte/models.toml");
  nlohmann::json j = {{"tiers", {"tiny", "mid", "big"}},
                      {"policy", "random"},
                      {"random_share", 0.25},
                      {"token_bounds", {5, 10, 15, 20, 25, 30, 35, 40, 45}},
                      {"tokenizer", "o200k_base"},
                      {"seed", 3}};
  route::RouterConfig from_json = route::RouterConfig::from_json(j);
  EXPECT_EQ(c.routing.to_json(), from_json.to_json());
  EXPECT_EQ(c.routing.max_score, (std::vector<int>{6, 8, 10}));
}

// Tiers may name the models that answer them; the request goes to that model.
TEST(RouterBackend, ATiersModelAnswersIt) {
  route::RouterConfig c;
  c.models = {"tiny", "huge"};
  std::map<std::string, std::shared_ptr<Backend>> models = {{"tiny", std::make_shared<NamedBackend>("tiny")},
                                                            {"huge", std::make_shared<NamedBackend>("huge")}};
  RouterBackend b(c, bytes, models);
  GenerationRequest q;
  q.prompt = std::string(151, 'x');
  q.sample_indices = {0};
  EXPECT_EQ(b.generate(q)[0].text, "huge");
  EXPECT_EQ(b.tier_counts(), (std::map<std::string, int>{{"large", 1}}));
  models.erase("huge");
  try {
    RouterBackend missing(c, bytes, models);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tier \"large\" (model \"huge\")"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lcte::backend
