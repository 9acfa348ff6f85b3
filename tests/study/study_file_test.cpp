// Study file parsing: paths resolved beside the file, every error names its key.
#include <gtest/gtest.h>

#include "core/error.h"
#include "study/study.h"

namespace lcte::study {
namespace {

const char* kGood = R"(
[study]
name = "s"
output = "out"
[[model]]
name = "small"
path = "models/small.gguf"
tier = 0
cost = 1.5
[[model]]
name = "big"
backend = "canonical"
tier = 1
[[compress]]
model = "small"
types = ["Q8_0", "Q4_K_M"]
[eval]
suites = ["humaneval", "suites/mine.jsonl"]
n = 2
k = [1, 2]
limit = 5
[routing]
policies = ["threshold", "oracle"]
)";

std::string error_of(const std::string& text) {
  try {
    parse_study(text, "/tmp/dir/study.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(StudyFile, ParsesAndResolvesPathsBesideTheFile) {
  StudySpec s = parse_study(kGood, "/tmp/dir/study.toml");
  EXPECT_EQ(s.name, "s");
  EXPECT_EQ(s.output, "/tmp/dir/out");
  ASSERT_EQ(s.models.size(), 2u);
  EXPECT_EQ(s.models[0].path, "/tmp/dir/models/small.gguf");
  EXPECT_DOUBLE_EQ(s.models[0].cost, 1.5);
  EXPECT_EQ(s.models[1].backend, "canonical");
  EXPECT_EQ(s.compress[0].types, (std::vector<std::string>{"Q8_0", "Q4_K_M"}));
  EXPECT_EQ(s.suites, (std::vector<std::string>{"humaneval", "/tmp/dir/suites/mine.jsonl"}));
  EXPECT_EQ(s.n, 2);
  EXPECT_EQ(s.limit, 5u);
  EXPECT_EQ(s.policies, (std::vector<std::string>{"threshold", "oracle"}));
}

TEST(StudyFile, ErrorsNameTheKey) {
  std::string base = kGood;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  EXPECT_NE(error_of(with("tier = 0", "tier = \"low\"")).find("model[0].tier"), std::string::npos);
  EXPECT_NE(error_of(with("cost = 1.5", "colour = 1")).find("model[0].colour"), std::string::npos);
  EXPECT_NE(error_of(with("types = [\"Q8_0\", \"Q4_K_M\"]", "types = [\"Q9\"]")).find("compress[0].types"),
            std::string::npos);
  EXPECT_NE(error_of(with("model = \"small\"", "model = \"tiny\"")).find("compress[0].model"), std::string::npos);
  EXPECT_NE(error_of(with("n = 2", "n = 0")).find("eval.n"), std::string::npos);
  EXPECT_NE(error_of(with("n = 2", "n = 2\nisolation = \"none\"")).find("'eval.isolation' is 'none'"),
            std::string::npos);
  EXPECT_NE(error_of(with("k = [1, 2]", "k = [1, 3]")).find("eval.k"), std::string::npos);
  EXPECT_NE(error_of(with("limit = 5", "limit = -1")).find("eval.limit"), std::string::npos);
  EXPECT_NE(error_of(with("\"threshold\", \"oracle\"", "\"coin\"")).find("routing.policies"), std::string::npos);
  EXPECT_NE(error_of(with("backend = \"canonical\"", "backend = \"telepathy\"")).find("model[1].backend"),
            std::string::npos);
  EXPECT_NE(error_of(with("[study]", "[studdy]")).find("studdy"), std::string::npos);
  // A file backend needs its samples; an engine model a path or a ref.
  EXPECT_NE(error_of(with("backend = \"canonical\"", "backend = \"file\"")).find("model[1].samples_file"),
            std::string::npos);
  EXPECT_NE(error_of(with("path = \"models/small.gguf\"", "")).find("'path'"), std::string::npos);
  EXPECT_NE(error_of(with("\"humaneval\", ", "\"other/mine.jsonl\", ")).find("eval.suites"), std::string::npos);
  EXPECT_NE(error_of(with("name = \"big\"", "name = \"a:b\"")).find("model[1].name"), std::string::npos);
  // TOML syntax: file and line.
  EXPECT_NE(error_of(with("n = 2", "n = = 2")).find("/tmp/dir/study.toml:"), std::string::npos);
  EXPECT_NE(error_of("[study]\nname = \"x\"\n").find("[[model]]"), std::string::npos);
}

}  // namespace
}  // namespace lcte::study
