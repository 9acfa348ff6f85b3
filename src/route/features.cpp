#include "route/features.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace lcte::route {
namespace {

size_t count(std::string_view s, std::string_view needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string_view::npos; at = s.find(needle, at + needle.size())) ++n;
  return n;
}

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
const std::vector<std::string_view>& hard_words() {
  static const std::vector<std::string_view> words = {
      "recurs", "dynamic", "matrix", "prime", "permutation", "combination", "subsequence", "substring",
      "palindrome", "binary", "tree", "graph", "path", "sort", "regex", "parse", "nested", "fibonacci",
      "maximum", "minimum", "optimal", "shortest", "longest", "count the number", "bit"};
  return words;
}

}  // namespace

const std::vector<std::string>& Features::names() {
  static const std::vector<std::string> n = {
      "log_tokens", "lines", "examples", "asserts", "docstring_chars", "functions", "hard_words", "has_class", "bias_free_len"};
  return n;
}

Features extract_features(std::string_view query, int64_t n_tokens) {
  std::string lower(query);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t hard = 0;
  for (std::string_view w : hard_words()) hard += count(lower, w) > 0 ? 1 : 0;
  Features f;
  f.values = {
      std::log1p(static_cast<double>(std::max<int64_t>(n_tokens, 0))),
      static_cast<double>(count(query, "\n") + 1),
      static_cast<double>(count(query, ">>>")),
      static_cast<double>(count(query, "assert ")),
      std::log1p(static_cast<double>(docstring_length(query))),
      static_cast<double>(count(query, "def ")),
      static_cast<double>(hard),
      count(query, "class ") > 0 ? 1.0 : 0.0,
      static_cast<double>(std::max<int64_t>(n_tokens, 0)) / 100.0,
  };
  return f;
}

}  // namespace lcte::route
