// The property the router's early-stopping token count rests on: a text cut
// before a space that follows an ASCII letter or digit tokenizes to the
// first tokens of the whole text, so the prefix's count is a lower bound of
// the whole's. Checked for every vocabulary in the shared data, on Python
// code and English (MBPP) and on llama.cpp's own test inputs (odd
// whitespace, Unicode, special-token text). (A cut after any printable
// character is not enough: deepseek-coder's pre-tokenizer leaves symbols such
// as "==" in one piece with the spaces around them.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/test_data.h"
#include "tokenizer/tokenizer.h"
#include "vocab_cases.h"

namespace lcte::tokenizer {
namespace {

// Where route::count_tokens_up_to may end a prefix.
std::vector<size_t> cut_points(const std::string& text) {
  std::vector<size_t> out;
  for (size_t p = 1; p < text.size(); ++p) {
    const char b = text[p - 1];
    const bool alnum = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
    if (text[p] == ' ' && alnum) out.push_back(p);
  }
  return out;
}

std::string mbpp_text(size_t max_bytes) {
  std::ifstream in(testing::data_path("mbpp/sanitized-mbpp.json"));
  std::string text;
  for (const auto& task : nlohmann::json::parse(in)) {
    text += task.at("prompt").get<std::string>() + "\n" + task.at("code").get<std::string>() + "\n\n";
    if (text.size() >= max_bytes) break;
  }
  return text;
}

// Up to `n` cut points spread over the text, plus the last one.
std::vector<size_t> sample(const std::vector<size_t>& cuts, size_t n) {
  std::vector<size_t> out;
  if (cuts.empty()) return out;
  for (size_t i = 0; i < n; ++i) out.push_back(cuts[i * cuts.size() / n]);
  out.push_back(cuts.back());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void expect_prefix_property(const Tokenizer& tok, const std::string& text, size_t n_cuts, const std::string& what) {
  const std::vector<Token> whole = tok.tokenize(text, false);
  for (size_t p : sample(cut_points(text), n_cuts)) {
    const std::vector<Token> part = tok.tokenize(std::string_view(text).substr(0, p), false);
    ASSERT_LE(part.size(), whole.size()) << what << " cut at byte " << p;
    EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin()))
        << what << ": the prefix ending at byte " << p << " (\""
        << text.substr(p > 40 ? p - 40 : 0, std::min<size_t>(p, 40))
        << "\") does not tokenize to the whole text's first tokens";
  }
}

class PrefixCuts : public ::testing::TestWithParam<const char*> {};

TEST_P(PrefixCuts, APrefixTokenizesToTheWholeTextsFirstTokens) {
  const std::string vocab = std::string("tokenizer/ggml-vocab-") + GetParam() + ".gguf";
  LCTE_REQUIRE_DATA(vocab);
  LCTE_REQUIRE_DATA("mbpp/sanitized-mbpp.json");
  const Tokenizer tok = load_tokenizer(testing::data_path(vocab));
  expect_prefix_property(tok, mbpp_text(6000), 120, "MBPP text");
  if (testing::data_exists(vocab + ".inp") && testing::data_exists(vocab + ".out"))
    for (const auto& c :
         testing::load_vocab_cases(testing::data_path(vocab + ".inp"), testing::data_path(vocab + ".out")))
      expect_prefix_property(tok, c.text, 8, "llama.cpp test input");
}

INSTANTIATE_TEST_SUITE_P(Vocabs, PrefixCuts,
                         ::testing::Values("llama-spm", "phi-3", "baichuan", "gpt-2", "deepseek-coder", "deepseek-llm",
                                           "falcon", "starcoder", "refact", "mpt", "gpt-neox", "bert-bge"),
                         [](const auto& info) {
                           std::string s = info.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

}  // namespace
}  // namespace lcte::tokenizer
