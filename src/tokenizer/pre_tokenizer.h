// Regex pre-tokenization for byte-level BPE: the text is cut into words that
// BPE merges never cross. Each pre-tokenizer is a list of regexes applied in
// turn, as llama.cpp does (unicode_regex_split): every regex splits each piece
// left by the previous one into its matches and the unmatched runs between
// them, which stay pieces of their own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lcte::tokenizer {

// What a tokenizer.ggml.pre name means.
struct PreTokenizerSpec {
  std::vector<std::string> regexes;
  bool clean_spaces = true;    // detokenize tidies " ," " 's"... (HF clean_up_tokenization_spaces)
  bool ignore_merges = false;  // a word that is already a token is not merged (Llama 3)
  bool add_bos = false;
  bool no_bos = false;  // the model has no default BOS
};

// Throws lcte::Error for a name llama.cpp does not know. "" means "default".
PreTokenizerSpec pre_tokenizer_spec(std::string_view name);

// Half-open range [begin, end) of code point indices.
struct Piece {
  uint32_t begin, end;
};

// Regexes compiled with PCRE2 (UTF-32, PCRE2_UTF | PCRE2_UCP, JIT when
// available). Matching is const and thread-safe.
//
// Where PCRE2's semantics would differ from llama.cpp's (std::regex and its
// hand-written GPT-2/Llama-3 splitters), the patterns are adjusted:
//  - \s and \S use the Unicode White_Space set exactly (PCRE2's \s also
//    matches U+180E);
//  - $ matches only at the end of a piece (PCRE2_DOLLAR_ENDONLY, as in
//    ECMAScript), and lookaheads such as \s+(?!\S) see only the piece being
//    split, never the text after it.
class PreTokenizer {
 public:
  explicit PreTokenizer(const std::vector<std::string>& regexes);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Splits code points `cps` into pieces, appended to `out` in order.
  void split(const std::vector<uint32_t>& cps, std::vector<Piece>& out) const;
  // The same pieces, handed to `each` in order as they are found (with a
  // single regex, one match at a time); stops when `each` returns false, and
  // then returns false.
  bool for_each_piece(const std::vector<uint32_t>& cps, const std::function<bool(Piece)>& each) const;
  bool empty() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The pattern handed to PCRE2 for a llama.cpp regex (see above); exposed for tests.
std::string translate_regex(std::string_view pattern);

}  // namespace lcte::tokenizer
