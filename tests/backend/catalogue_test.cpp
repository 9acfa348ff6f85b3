#include "backend/catalogue.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace lcte::backend {
namespace {

std::string error_of(const std::string& toml) {
  try {
    parse_catalogue(toml, "/etc/lcte/models.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Catalogue, ParsesLocalAndRemoteModelsWithRouting) {
  Catalogue c = parse_catalogue(R"(
[[model]]
name = "large"
url = "http://gpu:8000/v1"
model = "Qwen/Qwen2.5-Coder-32B-Instruct"
api_key_env = "VLLM_KEY"
max_in_flight = 32
cost = 20

[[model]]
name = "small"
path = "tiny.gguf"
cost = 1.0

[routing]
forced_tier = "large"
)",
                                "/etc/lcte/models.toml");
  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.get("small").path, "/etc/lcte/tiny.gguf");  // relative to the catalogue
  EXPECT_TRUE(c.get("small").is_local());
  EXPECT_EQ(c.get("large").remote_model, "Qwen/Qwen2.5-Coder-32B-Instruct");
  EXPECT_EQ(c.get("large").max_in_flight, 32);
  EXPECT_DOUBLE_EQ(c.get("large").cost, 20.0);
  // Tiers default to cost order, with the published 1-6 / 7-10 split.
  EXPECT_EQ(c.routing.tiers, (std::vector<std::string>{"small", "large"}));
  EXPECT_EQ(c.routing.max_score, (std::vector<int>{6, 10}));
  EXPECT_EQ(c.routing.forced_tier, "large");
  EXPECT_EQ(c.routing.tokenizer, "small");
  EXPECT_THROW(c.get("medium"), Error);
}

TEST(Catalogue, ThreeTiersSplitTheUpperScores) {
  Catalogue c = parse_catalogue(R"(
[[model]]
name = "a"
path = "/a.gguf"
[[model]]
name = "b"
path = "/b.gguf"
cost = 3
[[model]]
name = "c"
path = "/c.gguf"
cost = 9
)",
                                "x.toml");
  EXPECT_EQ(c.routing.max_score, (std::vector<int>{6, 8, 10}));
}

TEST(Catalogue, MistakesNameTheFileEntryAndKey) {
  EXPECT_NE(error_of("[[model]]\nname = 'x'\n").find("model 'x': give exactly one of 'path'"), std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\nurl = 'http://h'\n").find("needs 'model'"), std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\ncost = -1\n").find("cost must be positive"), std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\ncolour = 'red'\n").find("unknown key 'colour'"), std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\n[[model]]\nname = 'x'\npath = 'q'\n").find("used twice"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\n[routing]\ntiers = ['x', 'y']\n").find("tier 'y'"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\ncost = 'cheap'\n").find("'cost' has the wrong type"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]\n").find("/etc/lcte/models.toml:1:"), std::string::npos) << error_of("[[model]\n");
  EXPECT_NE(error_of("").find("no [[model]] entries"), std::string::npos);
  EXPECT_THROW(load_catalogue("/nonexistent/models.toml"), Error);
}

}  // namespace
}  // namespace lcte::backend
