// SentencePiece-style vocabularies for the models lcte makes itself: the fixed
// one of the synthetic test models, and one learnt from a corpus (byte-pair
// merges) for the demo's trained models, so that their sequences are short.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lcte::demo {

// Token types as llama.cpp numbers them.
constexpr int32_t kTokenNormal = 1, kTokenUnknown = 2, kTokenControl = 3, kTokenByte = 6;

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  void add(std::string t, float score, int32_t type);
  bool empty() const { return tokens.empty(); }
};

// <unk>, <s>, </s>, the 256 byte-fallback tokens, then printable ASCII with
// U+2581 standing for a space, and a few common English and Python pieces.
Vocab fixed_vocab();

// <unk>, <s>, </s>, the byte-fallback tokens, printable ASCII, U+2581 and a
// newline, then `n_merges` pieces learnt by byte-pair merging over `texts`
// (spaces written as U+2581 with a leading one, as the tokenizer sees them).
// A later merge gets a lower score, so the tokenizer, which merges the
// highest-scoring pair first, prefers the pieces learnt first. Pieces keep
// U+2581 only at their start, never contain a newline, and digits only join
// digits: numbers stay easy to copy from a docstring into code.
Vocab learn_vocab(const std::vector<std::string>& texts, int n_merges);

}  // namespace lcte::demo
