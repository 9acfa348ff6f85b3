#include "route/features.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace lcte::route {
namespace {

// Counts several patterns (each at least two bytes) in one pass over a text:
// a position is compared with the patterns only when its first two bytes
// begin one. Each pattern's count is of non-overlapping occurrences, as
// repeated std::string_view::find from the end of the last one gives. One
// pass instead of one find loop per pattern: the features cost microseconds
// even for 4,000-token queries.
class PatternSet {
 public:
  explicit PatternSet(std::vector<std::string_view> patterns)
      : patterns_(std::move(patterns)), first_(65536, 0), next_same_(patterns_.size(), 0) {
    for (size_t j = patterns_.size(); j-- > 0;) {  // chains in pattern order
      const uint32_t k = key(patterns_[j][0], patterns_[j][1]);
      next_same_[j] = first_[k];
      first_[k] = static_cast<uint8_t>(j + 1);
    }
  }
  std::vector<size_t> count(std::string_view text) const {
    std::vector<size_t> n(patterns_.size(), 0), next(patterns_.size(), 0);
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      for (uint8_t at = first_[key(text[i], text[i + 1])]; at != 0; at = next_same_[at - 1]) {
        const size_t j = at - 1;
        std::string_view p = patterns_[j];
        if (i >= next[j] && text.substr(i, p.size()) == p) {
          ++n[j];
          next[j] = i + p.size();
        }
      }
    }
    return n;
  }

 private:
  static uint32_t key(char a, char b) { return (uint32_t(uint8_t(a)) << 8) | uint8_t(b); }
  std::vector<std::string_view> patterns_;
  std::vector<uint8_t> first_;      // per two-byte start: 1 + the first pattern beginning so; 0: none
  std::vector<uint8_t> next_same_;  // per pattern: 1 + the next one with the same start; 0: none
};

// Characters between the first pair of triple quotes (''' or """).
size_t docstring_length(std::string_view s) {
  for (std::string_view q : {std::string_view("\"\"\""), std::string_view("'''")}) {
    size_t open = s.find(q);
    if (open == std::string_view::npos) continue;
    size_t close = s.find(q, open + 3);
    if (close != std::string_view::npos) return close - open - 3;
  }
  return 0;
}

// Words that, in HumanEval/MBPP-style tasks, mark algorithmic work beyond a
// one-liner. Matched as lower-case substrings.
const PatternSet& hard_words() {
  static const PatternSet words(
      {"recurs",    "dynamic",    "matrix",           "prime",     "permutation", "combination", "subsequence",
       "substring", "palindrome", "binary",           "tree",      "graph",       "path",        "sort",
       "regex",     "parse",      "nested",           "fibonacci", "maximum",     "minimum",     "optimal",
       "shortest",  "longest",    "count the number", "bit"});
  return words;
}

// Signs of structure: examples (doctest prompts), asserts, functions, classes.
enum Mark { kExample, kAssert, kDef, kClass };
const PatternSet& structure_marks() {
  static const PatternSet marks({">>>", "assert ", "def ", "class "});
  return marks;
}

}  // namespace

const std::vector<std::string>& Features::names() {
  static const std::vector<std::string> n = {"log_tokens", "lines",      "examples",  "asserts",      "docstring_chars",
                                             "functions",  "hard_words", "has_class", "bias_free_len"};
  return n;
}

Features extract_features(std::string_view query, int64_t n_tokens) {
  // ASCII lower case, as std::tolower in the "C" locale, without a call per byte.
  std::string lower(query);
  for (char& c : lower) c = static_cast<char>(c + (static_cast<unsigned char>(c - 'A') < 26 ? 'a' - 'A' : 0));
  const std::vector<size_t> words = hard_words().count(lower);
  const auto hard = std::count_if(words.begin(), words.end(), [](size_t n) { return n > 0; });
  const std::vector<size_t> marks = structure_marks().count(query);
  const auto tokens = static_cast<double>(std::clamp<int64_t>(n_tokens, 0, kFeatureTokenCap));
  Features f;
  f.values = {
      std::log1p(tokens),
      static_cast<double>(std::count(query.begin(), query.end(), '\n') + 1),
      static_cast<double>(marks[kExample]),
      static_cast<double>(marks[kAssert]),
      std::log1p(static_cast<double>(docstring_length(query))),
      static_cast<double>(marks[kDef]),
      static_cast<double>(hard),
      marks[kClass] > 0 ? 1.0 : 0.0,
      tokens / 100.0,
  };
  return f;
}

}  // namespace lcte::route
