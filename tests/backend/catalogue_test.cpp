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
  // No tokenizer named: the published rule's cl100k_base counts, not a tier's vocabulary.
  EXPECT_EQ(c.routing.tokenizer, "");
  EXPECT_EQ(c.routing.tokenizer_name(), "cl100k_base");
  EXPECT_EQ(model_files(c), (std::map<std::string, std::string>{{"large", ""}, {"small", "/etc/lcte/tiny.gguf"}}));
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
  EXPECT_NE(error_of("[[model]]\nname = 'x'\n").find("/etc/lcte/models.toml:1: model[0] (model 'x'): give 'path'"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\nurl = 'http://h'\n").find("needs 'model'"), std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\ncost = -1\n")
                .find("models.toml:4: model[0].cost (model 'x'): must be positive"),
            std::string::npos);
  EXPECT_NE(
      error_of("[[model]]\nname = 'x'\npath = 'p'\ncolour = 'red'\n").find("model[0].colour (model 'x'): unknown key"),
      std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\n[[model]]\nname = 'x'\npath = 'q'\n").find("used twice"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\n[routing]\ntiers = ['x', 'y']\n")
                .find("[routing] tiers[1]: 'y' is not a [[model]] name"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'x'\npath = 'p'\ncost = 'cheap'\n")
                .find("model[0].cost (model 'x'): must be a number"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]\n").find("/etc/lcte/models.toml:1:"), std::string::npos) << error_of("[[model]\n");
  EXPECT_NE(error_of("").find("no [[model]] entries"), std::string::npos);
  EXPECT_THROW(load_catalogue("/nonexistent/models.toml"), Error);
}

// A catalogue answers queries: model-free tiers and registry references,
// which only a study can use, are refused with the entry named.
TEST(Catalogue, RefusesWhatOnlyAStudyCanUse) {
  EXPECT_NE(error_of("[[model]]\nname = 'c'\nbackend = 'canonical'\n")
                .find("model[0] (model 'c'): backend = \"canonical\" is for studies"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'f'\nsamples_file = 's.jsonl'\n").find("backend = \"file\" is for studies"),
            std::string::npos);
  EXPECT_NE(error_of("[[model]]\nname = 'a'\npath = 'a.gguf'\n[[model]]\nname = 'r'\nref = 'coder@1'\n")
                .find("model[1] (model 'r'): 'ref' is for studies"),
            std::string::npos);
  EXPECT_NE(error_of("model = 3\n").find("must be an array of tables"), std::string::npos);
}

// `tier` orders the default tiers as a study orders its models: by tier, ties
// by cost; the study keys style, top_p and split are read as in a study.
TEST(Catalogue, TierOrdersTheDefaultTiers) {
  Catalogue c = parse_catalogue(R"(
[[model]]
name = "cheap-but-later"
path = "/a.gguf"
tier = 1
cost = 0.5
[[model]]
name = "first"
url = "http://gpu:8000/v1"
model = "first"
style = "instruct"
top_p = 0.95
split = "test"
cost = 9
[[model]]
name = "last"
path = "/c.gguf"
tier = 1
cost = 2
)",
                                "/etc/lcte/models.toml");
  EXPECT_EQ(c.routing.tiers, (std::vector<std::string>{"first", "cheap-but-later", "last"}));
  EXPECT_EQ(c.get("first").style, "instruct");
  EXPECT_EQ(c.get("first").top_p, 0.95);
  EXPECT_EQ(c.get("first").split, "test");
}

TEST(Catalogue, RoutingMistakesNameTheKey) {
  const std::string two =
      "[[model]]\nname = 'a'\npath = 'a.gguf'\n[[model]]\nname = 'b'\nurl = 'http://h/v1'\nmodel = 'b'\ncost = 5\n";
  auto routing_error = [&](const std::string& routing) { return error_of(two + "[routing]\n" + routing); };
  EXPECT_NE(routing_error("max_score = [6.5, 10]\n").find("[routing] max_score: expected an array of integers"),
            std::string::npos);
  EXPECT_NE(routing_error("colour = 'red'\n").find("[routing] colour: unknown setting"), std::string::npos);
  EXPECT_NE(routing_error("token_bounds = [1, 2, 3]\n").find("[routing] token_bounds: needs nine bounds"),
            std::string::npos);
  EXPECT_NE(routing_error("policy = 'always-c'\n").find("\"c\" is not one of the tiers"), std::string::npos);
  EXPECT_NE(routing_error("tokenizer = 'b'\n").find("tokenizer: 'b' is a remote model"), std::string::npos);
  EXPECT_NE(routing_error("tiers = ['a', 'b']\nmodels = ['a', 'z']\n").find("models[1]: 'z' is not a [[model]] name"),
            std::string::npos);
}

TEST(Catalogue, RoutingFilesAreRelativeToTheCatalogue) {
  const std::string two = "[[model]]\nname = 'a'\npath = 'a.gguf'\n[[model]]\nname = 'b'\npath = 'b.gguf'\n";
  Catalogue c = parse_catalogue(two + "[routing]\ntokenizer = 'vocab/cl100k_base.tiktoken'\nlearned_model = 'r.json'\n",
                                "/etc/lcte/models.toml");
  EXPECT_EQ(c.routing.tokenizer, "/etc/lcte/vocab/cl100k_base.tiktoken");
  EXPECT_EQ(c.routing.learned_model, "/etc/lcte/r.json");
  // An encoding name and a model name are names, not files.
  EXPECT_EQ(parse_catalogue(two + "[routing]\ntokenizer = 'o200k_base'\n", "/etc/lcte/models.toml").routing.tokenizer,
            "o200k_base");
  EXPECT_EQ(parse_catalogue(two + "[routing]\ntokenizer = 'a'\n", "/etc/lcte/models.toml").routing.tokenizer, "a");
}

}  // namespace
}  // namespace lcte::backend
