// Routing policies: given a query, pick a model tier (cheapest first). The
// decision log wraps every policy the same way, so policies only decide.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "route/complexity.h"
#include "route/features.h"
#include "route/learned.h"

namespace lcte::route {

struct Query {
  std::string text;
  int64_t n_tokens = 0;
  Features features;
  bool n_tokens_at_least = false;  // the count stopped early (Router): at least n_tokens
};

struct Decision {
  size_t tier = 0;
  int score = 0;               // complexity score 1-10
  std::string reason;          // one line a person can read
  std::vector<double> p_pass;  // learned policy only: predicted pass chance per tier
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;  // "threshold", "random(0.30)", ...
  virtual std::string version() const { return "1"; }
  virtual Decision decide(const Query& q) const = 0;
};

// A stable 64-bit hash of the query text (FNV-1a), for logs and the random policy.
uint64_t query_hash(const std::string& text);

std::unique_ptr<Policy> make_threshold_policy(ComplexityScale scale, TierThresholds tiers);
// Sends a deterministic share of queries (by hash and seed) to the last tier.
std::unique_ptr<Policy> make_random_policy(ComplexityScale scale, size_t n_tiers, double share_last, uint64_t seed);
std::unique_ptr<Policy> make_always_policy(ComplexityScale scale, size_t tier, std::string tier_name);
// The cheapest tier whose predicted pass chance reaches `target`; the last
// tier when none does.
std::unique_ptr<Policy> make_learned_policy(ComplexityScale scale, PassPredictor predictor, double target);

}  // namespace lcte::route
