// The learnt vocabulary: merges by hand on a tiny corpus, the piece rules,
// and lcte's own tokenizer on a model written with it: every synthetic task
// tokenizes back to its text, and a prompt's tokens are a prefix of the
// prompt-plus-answer's (what the demo's training data relies on).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/test_data.h"
#include "demo/synthetic_model.h"
#include "demo/synthetic_suite.h"
#include "demo/vocab.h"
#include "tokenizer/tokenizer.h"

using namespace lcte;
using namespace lcte::demo;

namespace {
const std::string kSpace = "\xe2\x96\x81";
std::vector<std::string> learnt(const Vocab& v) {
  std::vector<std::string> out;
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.types[i] == kTokenNormal && v.scores[i] > -1e4f) out.push_back(v.tokens[i]);
  return out;
}
}  // namespace

TEST(LearnVocab, MergesTheMostFrequentPairFirst) {
  // "▁abab▁abab▁ab": ab x5, then ▁ab x3 ... worked by hand:
  // pairs: (▁,a) 3, (a,b) 5, (b,a) 2, (b,▁) 2  -> "ab";
  // then (▁,ab) 3, (ab,ab) 2, (ab,▁) 2         -> "▁ab";
  // then (▁ab,ab) 2 and (ab,▁ab) 2 tie; the second one would put ▁ inside a
  // piece, which is not allowed                -> "▁abab".
  Vocab v = learn_vocab({"abab abab ab"}, 3);
  EXPECT_EQ(learnt(v), (std::vector<std::string>{"ab", kSpace + "ab", kSpace + "abab"}));
  // Scores fall with the merge order, so the tokenizer prefers earlier pieces.
  auto score = [&](const std::string& t) {
    return v.scores[static_cast<size_t>(std::find(v.tokens.begin(), v.tokens.end(), t) - v.tokens.begin())];
  };
  EXPECT_GT(score("ab"), score(kSpace + "ab"));
  EXPECT_GT(score(kSpace + "ab"), score(kSpace + "abab"));
}

TEST(LearnVocab, PiecesKeepSpacesInFrontNoNewlinesAndDigitsApart) {
  SuiteSpec spec;
  spec.train_per_level = 200;
  spec.test_per_level = 5;
  SyntheticSuite s = make_synthetic_suite(spec);
  std::vector<std::string> texts;
  for (const auto& t : s.train) texts.push_back(t.prompt + t.reference);
  Vocab v = learn_vocab(texts, 300);
  std::vector<std::string> pieces = learnt(v);
  EXPECT_EQ(pieces.size(), 300u);
  for (const std::string& p : pieces) {
    EXPECT_EQ(p.find('\n'), std::string::npos) << p;
    size_t first_other = 0;
    while (p.compare(first_other, kSpace.size(), kSpace) == 0) first_other += kSpace.size();
    EXPECT_EQ(p.find(kSpace, first_other), std::string::npos) << "a space inside " << p;
    bool digit = std::any_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    bool all_digits = std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    EXPECT_TRUE(!digit || all_digits) << p;
  }
  // Python's indentation is learnt as one piece.
  EXPECT_NE(std::find(pieces.begin(), pieces.end(), kSpace + kSpace + kSpace + kSpace), pieces.end());
}

TEST(LearnVocab, TokenizerRoundTripsEveryTaskAndPromptsArePrefixes) {
  SuiteSpec spec;
  spec.train_per_level = 150;
  spec.test_per_level = 10;
  SyntheticSuite s = make_synthetic_suite(spec);
  std::vector<std::string> texts;
  for (const auto& t : s.train) texts.push_back(t.prompt + t.reference);
  SyntheticModelSpec m;
  m.vocab = learn_vocab(texts, 200);
  std::string path = (std::filesystem::path(lcte::testing::temp_dir()) / "vocab-model.gguf").string();
  write_synthetic_model(m, path);
  tokenizer::Tokenizer tok = tokenizer::load_tokenizer(path);
  EXPECT_EQ(tok.n_tokens(), m.vocab.tokens.size());
  size_t chars = 0, tokens = 0;
  for (const auto& t : s.test) {  // held out: pieces were not learnt from these texts
    std::string whole = t.prompt + t.reference;
    std::vector<tokenizer::Token> ids = tok.tokenize(whole, true);
    std::vector<tokenizer::Token> prompt = tok.tokenize(t.prompt, true);
    // Without BOS: as in llama.cpp, a removed BOS keeps the prefixed space.
    EXPECT_EQ(tok.detokenize(tok.tokenize(whole, false)), whole) << t.task_id;
    ASSERT_LT(prompt.size(), ids.size());
    EXPECT_TRUE(std::equal(prompt.begin(), prompt.end(), ids.begin())) << t.task_id;
    chars += whole.size();
    tokens += ids.size();
  }
  // The merges must actually shorten the text (characters per token > 2).
  EXPECT_GT(static_cast<double>(chars) / static_cast<double>(tokens), 2.0);
}
