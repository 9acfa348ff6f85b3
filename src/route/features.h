// Features of a query that are cheap to compute (microseconds) and say
// something about how hard it is: its length, how many tests or examples it
// shows, how long its docstring is, and words that signal harder tasks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::route {

struct Features {
  static const std::vector<std::string>& names();
  std::vector<double> values;  // in the order of names()
};

// The token features (log_tokens, bias_free_len) count tokens only up to this:
// longer queries are all "long", and the router can then stop counting there
// (count_limit). The same cap applies at training and at decision time.
inline constexpr int64_t kFeatureTokenCap = 1200;

// n_tokens comes from the routing tokenizer (the caller's choice); any count
// above kFeatureTokenCap, exact or a lower bound, gives the same features.
Features extract_features(std::string_view query, int64_t n_tokens);

}  // namespace lcte::route
