// Token counts for routing: which tokenizer counted (every decision records
// it), the tokenizers a configuration names, loaded once and shared, and
// counting that stops once the decision is settled.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace lcte::tokenizer {
class Tokenizer;
}

namespace lcte::route {

// Tokens of a text under one tokenizer, and that tokenizer's name.
struct TokenCounter {
  std::string name;  // what decisions record: "cl100k_base", a file path, ...
  std::function<int64_t(std::string_view)> count;

  explicit operator bool() const { return static_cast<bool>(count); }
  int64_t operator()(std::string_view text) const { return count(text); }
};

// Counts tokens as the tokenizer encodes plain text: no BOS, special-token
// text counted as the ordinary text it is (tiktoken's encode_ordinary).
TokenCounter counter_of(std::shared_ptr<const tokenizer::Tokenizer> tok, std::string name);

// A token count that may have stopped early.
struct TokenCount {
  int64_t n = 0;
  bool at_least = false;  // counting stopped: the text has at least n tokens, and n > the limit asked for
};

// The tokens of `text` as far as `stop_above`: exact when the text has at
// most that many (or no place to stop); otherwise the count of a prefix that
// already has more, so the decision pays for a prefix, not the whole query.
// Prefixes end before a space that follows an ASCII letter or digit: for
// every tokenizer lcte reads (byte-level BPE pre-tokenizer regexes, tiktoken's
// included; words of SentencePiece vocabularies whose tokens never span
// "x\u2581"; WordPiece) that is a word boundary, so a prefix's tokens are the
// first tokens of the whole text and its count a lower bound
// (tests/tokenizer/prefix_test.cpp checks this for every vocabulary in the
// shared data). After a symbol it need not be one: deepseek-coder keeps " == "
// in one piece. Prefixes grow from a guess of 3.5 bytes per token by the
// ratio each count shows.
TokenCount count_tokens_up_to(const std::function<int64_t(std::string_view)>& count, std::string_view text,
                              int64_t stop_above);

// The tokenizers routing configurations name, each loaded once and shared by
// every router made from it (a dashboard edit that keeps the tokenizer does
// not reload it). Thread-safe.
class TokenizerCache {
 public:
  // `model_files`: model names a configuration may give as its tokenizer (the
  // catalogue's or the study's), each with its GGUF file; "" marks a remote
  // model, whose vocabulary is not on this machine.
  explicit TokenizerCache(std::map<std::string, std::string> model_files = {});

  // The counter for a configuration's `tokenizer` (see RouterConfig): ""
  // is cl100k_base, a model name is its GGUF file, anything else goes to
  // tokenizer::load_tokenizer (an encoding name or a file). Throws
  // lcte::Error naming the tokenizer and what to do when it cannot load.
  TokenCounter counter(const std::string& tokenizer);

 private:
  std::map<std::string, std::string> model_files_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const tokenizer::Tokenizer>> loaded_;
};

}  // namespace lcte::route
