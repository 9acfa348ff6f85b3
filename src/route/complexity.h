// The complexity estimator of the published routing rule: a query's token
// count under a chosen tokenizer, mapped to a score from 1 to 10, and the
// score mapped to a tier. The default reproduces the rule: up to 150 tokens
// scores 1-6 and goes to the small tier; 151 and more scores 7-10 and goes to
// the larger tier.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lcte::route {

struct ComplexityScale {
  // upper_bounds[i] is the largest token count that scores i + 1; counts
  // above the last bound score upper_bounds.size() + 1. Nine ascending bounds
  // give scores 1-10.
  std::vector<int64_t> upper_bounds = {25, 50, 75, 100, 125, 150, 300, 600, 1200};

  int score(int64_t n_tokens) const;
  void validate() const;  // throws lcte::Error naming the problem
};

// Tiers are ordered cheapest first. tier_max_score[i] is the highest score
// tier i takes; the last tier takes everything above the previous bound.
struct TierThresholds {
  std::vector<std::string> tiers = {"small", "large"};
  std::vector<int> max_score = {6, 10};

  size_t tier_for_score(int score) const;
  void validate() const;
};

}  // namespace lcte::route
