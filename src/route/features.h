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

// n_tokens comes from the routing tokenizer (the caller's choice).
Features extract_features(std::string_view query, int64_t n_tokens);

}  // namespace lcte::route
