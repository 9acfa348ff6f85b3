#include "backend/catalogue.h"

#include <gtest/gtest.h>

#include "common/error_of.h"
#include "core/error.h"

namespace lcte::backend {
namespace {

std::string error_of(const std::string& toml) {
  return testing::error_of([&] { parse_catalogue(toml, "/etc/lcte/models.toml"); });
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

// Whether `error` starts with `prefix`, for messages asserted from their start
// (file, line, table and key) without all their advice.
::testing::AssertionResult starts_with(const std::string& error, const std::string& prefix) {
  if (error.rfind(prefix, 0) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << error << "\" does not start with \"" << prefix << "\"";
}

TEST(Catalogue, MistakesNameTheFileLineEntryAndKey) {
  EXPECT_TRUE(starts_with(error_of("[[model]]\nname = 'x'\n"), "/etc/lcte/models.toml:1: [[model]] #1: give 'path'"));
  EXPECT_TRUE(starts_with(error_of("[[model]]\nname = 'x'\nurl = 'http://h'\n"),
                          "/etc/lcte/models.toml:1: [[model]] #1: an endpoint needs 'model'"));
  EXPECT_EQ(error_of("[[model]]\nname = 'x'\npath = 'p'\ncost = -1\n"),
            "/etc/lcte/models.toml:4: [[model]] #1 cost: must be positive, got -1");
  EXPECT_TRUE(starts_with(error_of("[[model]]\nname = 'x'\npath = 'p'\ncolour = 'red'\n"),
                          "/etc/lcte/models.toml:4: [[model]] #1 colour: unknown key (known: "));
  EXPECT_EQ(error_of("[[model]]\nname = 'x'\npath = 'p'\n[[model]]\nname = 'x'\npath = 'q'\n"),
            "/etc/lcte/models.toml:5: [[model]] #2 name: 'x' is the name of an earlier [[model]] too");
  EXPECT_EQ(error_of("[[model]]\nname = 'x'\npath = 'p'\n[routing]\ntiers = ['x', 'y']\n"),
            "/etc/lcte/models.toml:5: [routing] tiers[1]: 'y' is not a [[model]] name");
  EXPECT_EQ(error_of("[[model]]\nname = 'x'\npath = 'p'\ncost = 'cheap'\n"),
            "/etc/lcte/models.toml:4: [[model]] #1 cost: expected a number, found a string");
  EXPECT_NE(error_of("[[model]\n").find("/etc/lcte/models.toml:1:"), std::string::npos) << error_of("[[model]\n");
  EXPECT_EQ(error_of(""), "/etc/lcte/models.toml: no [[model]] entries; add at least one");
  EXPECT_EQ(error_of("[[model]]\nname = 'x'\npath = 'p'\n[model2]\n"),
            "/etc/lcte/models.toml:4: model2: unknown key; did you mean 'model'?");
  EXPECT_THROW(load_catalogue("/nonexistent/models.toml"), Error);
}

// A catalogue answers queries: model-free tiers and registry references,
// which only a study can use, are refused with the entry named.
TEST(Catalogue, RefusesWhatOnlyAStudyCanUse) {
  EXPECT_TRUE(starts_with(error_of("[[model]]\nname = 'c'\nbackend = 'canonical'\n"),
                          "/etc/lcte/models.toml:3: [[model]] #1 backend: \"canonical\" is for studies"));
  // The backend implied by samples_file: at the entry.
  EXPECT_TRUE(starts_with(error_of("[[model]]\nname = 'f'\nsamples_file = 's.jsonl'\n"),
                          "/etc/lcte/models.toml:1: [[model]] #1 backend: \"file\" is for studies"));
  EXPECT_TRUE(starts_with(error_of("[[model]]\nname = 'a'\npath = 'a.gguf'\n[[model]]\nname = 'r'\nref = 'coder@1'\n"),
                          "/etc/lcte/models.toml:6: [[model]] #2 ref: 'coder@1' is for studies"));
  EXPECT_EQ(error_of("model = 3\n"),
            "/etc/lcte/models.toml:1: model: expected an array of tables ([[model]]), found an integer");
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

// The router's own messages, at the line of the key they name (line 10 is
// the first key under [routing]).
TEST(Catalogue, RoutingMistakesNameTheLineAndKey) {
  const std::string two =
      "[[model]]\nname = 'a'\npath = 'a.gguf'\n[[model]]\nname = 'b'\nurl = 'http://h/v1'\nmodel = 'b'\ncost = 5\n";
  auto routing_error = [&](const std::string& routing) { return error_of(two + "[routing]\n" + routing); };
  const std::string at = "/etc/lcte/models.toml:10: [routing] ";
  EXPECT_TRUE(starts_with(routing_error("max_score = [6.5, 10]\n"), at + "max_score: expected an array of integers"));
  EXPECT_TRUE(starts_with(routing_error("colour = 'red'\n"), at + "colour: unknown setting"));
  EXPECT_EQ(routing_error("polcy = 'random'\n"), at + "polcy: unknown setting; did you mean 'policy'?");
  EXPECT_TRUE(starts_with(routing_error("token_bounds = [1, 2, 3]\n"), at + "token_bounds: needs nine bounds"));
  EXPECT_TRUE(
      starts_with(routing_error("policy = 'always-c'\n"), at + "policy always-<tier>: \"c\" is not one of the tiers"));
  EXPECT_TRUE(starts_with(routing_error("tokenizer = 'b'\n"), at + "tokenizer: 'b' is a remote model"));
  EXPECT_EQ(routing_error("tiers = ['a', 'b']\nmodels = ['a', 'z']\n"),
            "/etc/lcte/models.toml:11: [routing] models[1]: 'z' is not a [[model]] name");
  EXPECT_EQ(error_of("routing = 1\n[[model]]\nname = 'a'\npath = 'a.gguf'\n"),
            "/etc/lcte/models.toml:1: routing: expected a table, found an integer");
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
