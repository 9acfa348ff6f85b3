// The pre-tokenizers of vocabularies whose GGUF is not in the shared data
// (Llama 3, Qwen 2, Command-R, DeepSeek-R1-Qwen, Chameleon, RoBERTa), checked
// against llama.cpp's own outputs for them without the vocabulary: byte-level
// BPE tokenizes each pre-token on its own, so when the pre-tokens of an input
// are themselves inputs of other test cases, the input's ids must be those
// cases' ids end to end. A wrong split (digit groups, whitespace runs,
// contractions) breaks that equality.
#include <gtest/gtest.h>

#include <map>

#include "common/test_data.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"
#include "vocab_cases.h"

namespace lcte::tokenizer {
namespace {

std::vector<std::string> split_text(const PreTokenizer& pt, const std::string& text) {
  std::vector<uint32_t> cps = decode_utf8(text);
  std::vector<Piece> pieces;
  pt.split(cps, pieces);
  std::vector<std::string> out;
  for (Piece p : pieces) {
    std::string s;
    for (uint32_t i = p.begin; i < p.end; ++i) append_utf8(s, cps[i]);
    out.push_back(s);
  }
  return out;
}

struct NoVocab {
  const char* file;     // tokenizer/no-vocab/ggml-vocab-<file>.gguf.*
  const char* pre;      // its tokenizer.ggml.pre
  size_t min_composed;  // cases that must be checkable by composition
};

void PrintTo(const NoVocab& v, std::ostream* os) { *os << v.file; }

class NoVocabSplit : public ::testing::TestWithParam<NoVocab> {};

TEST_P(NoVocabSplit, IdsComposeFromPreTokens) {
  const NoVocab nv = GetParam();
  const std::string rel = std::string("tokenizer/no-vocab/ggml-vocab-") + nv.file + ".gguf";
  LCTE_REQUIRE_DATA(rel + ".out");
  PreTokenizer pt(pre_tokenizer_spec(nv.pre).regexes);
  auto cases = testing::load_vocab_cases(testing::data_path(rel + ".inp"), testing::data_path(rel + ".out"));
  ASSERT_EQ(cases.size(), 46u);
  std::map<std::string, std::vector<Token>> by_text;
  for (const auto& c : cases) by_text[c.text] = c.ids;

  size_t composed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::vector<std::string> pieces = split_text(pt, cases[i].text);
    // Every pre-token gives at least one token.
    EXPECT_GE(cases[i].ids.size(), pieces.size()) << nv.file << " case " << i;
    if (pieces.size() < 2) continue;
    std::vector<Token> expected;
    bool all_known = true;
    for (const std::string& p : pieces) {
      auto it = by_text.find(p);
      if (it == by_text.end() || split_text(pt, p).size() != 1) {
        all_known = false;
        break;
      }
      expected.insert(expected.end(), it->second.begin(), it->second.end());
    }
    if (!all_known) continue;
    ++composed;
    EXPECT_EQ(cases[i].ids, expected) << nv.file << " case " << i << " '" << cases[i].text << "'";
  }
  // As many as a correct split allows; a wrong split turns some into failures
  // above or makes pieces unknown, which lowers the count.
  EXPECT_GE(composed, nv.min_composed) << nv.file;
}

INSTANTIATE_TEST_SUITE_P(Files, NoVocabSplit,
                         ::testing::Values(NoVocab{"llama-bpe", "llama-bpe", 10}, NoVocab{"qwen2", "qwen2", 12},
                                           NoVocab{"deepseek-r1-qwen", "deepseek-r1-qwen", 12},
                                           NoVocab{"command-r", "command-r", 11}, NoVocab{"chameleon", "chameleon", 14},
                                           NoVocab{"roberta-bpe", "roberta-bpe", 3}),
                         [](const auto& info) {
                           std::string n = info.param.file;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace lcte::tokenizer
