#include "route/complexity.h"

#include "core/error.h"

namespace lcte::route {

int ComplexityScale::score(int64_t n_tokens) const {
  for (size_t i = 0; i < upper_bounds.size(); ++i)
    if (n_tokens <= upper_bounds[i]) return static_cast<int>(i) + 1;
  return static_cast<int>(upper_bounds.size()) + 1;
}

void ComplexityScale::validate() const {
  if (upper_bounds.size() != 9)
    fail("complexity scale: need 9 token bounds for scores 1-10, got {}", upper_bounds.size());
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (upper_bounds[i] < 0) fail("complexity scale: bound {} is negative", i + 1);
    if (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])
      fail("complexity scale: bounds must increase (bound {} = {} after {})", i + 1, upper_bounds[i],
           upper_bounds[i - 1]);
  }
}

size_t TierThresholds::tier_for_score(int score) const {
  for (size_t i = 0; i < max_score.size(); ++i)
    if (score <= max_score[i]) return i;
  return tiers.size() - 1;
}

void TierThresholds::validate() const {
  if (tiers.empty()) fail("routing: no tiers configured");
  if (tiers.size() != max_score.size())
    fail("routing: {} tiers but {} score thresholds", tiers.size(), max_score.size());
  for (size_t i = 0; i < max_score.size(); ++i) {
    if (max_score[i] < 1 || max_score[i] > 10)
      fail("routing: tier '{}' max score {} is outside 1-10", tiers[i], max_score[i]);
    if (i > 0 && max_score[i] <= max_score[i - 1])
      fail("routing: tier '{}' max score {} must exceed the previous tier's {}", tiers[i], max_score[i],
           max_score[i - 1]);
  }
  if (max_score.back() != 10) fail("routing: the last tier '{}' must take scores up to 10", tiers.back());
}

}  // namespace lcte::route
