// The routing rules the live server applies: which policy, the complexity
// scale and tier thresholds, the model behind each tier and a forced
// override. Edited from the dashboard, validated before they replace the
// current rules, persisted as JSON, and read per request through RulesHolder.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "route/complexity.h"
#include "route/policy.h"

namespace lcte::web {

struct RoutingRules {
  std::string policy = "threshold";  // threshold, random or always
  route::ComplexityScale scale;      // token count -> score 1-10
  route::TierThresholds tiers;       // score -> tier, cheapest first
  std::vector<std::string> models;   // one per tier: what the tier's requests go to
  std::string always_tier;           // policy "always": the tier's name
  double random_share = 0.3;         // policy "random": share sent to the last tier
  uint64_t seed = 0;
  std::string forced_tier;           // non-empty: every request goes here (override)
  int version = 0;                   // bumped on every accepted change

  // Throws lcte::Error naming the field ("tiers.max_score[1]: ...").
  void validate() const;
  nlohmann::json to_json() const;
  // Reads every field (missing ones keep their defaults); type errors and
  // unknown keys are lcte::Error naming the field. Does not validate.
  static RoutingRules from_json(const nlohmann::json& j);
};

struct RouteOutcome {
  route::Decision decision;
  std::string tier;
  std::string model;
  std::string policy;
  int rules_version = 0;
  bool override_applied = false;
  int64_t n_tokens = 0;
};

// Decides a query under `rules` (already validated).
RouteOutcome route_query(const RoutingRules& rules, const std::string& text, int64_t n_tokens);

// A rough token count for routing when no tokenizer is plugged in: words,
// numbers and single punctuation marks each count one, and long words one per
// four characters (close to BPE counts on code and English).
int64_t approximate_tokens(const std::string& text);

// Holds the current rules; readers take a snapshot per request, writers
// validate, bump the version and persist (atomically: temp file + rename)
// before the new rules become visible.
class RulesHolder {
 public:
  // path "" keeps the rules in memory only. An existing file is loaded and
  // validated (a bad file is lcte::Error naming it).
  explicit RulesHolder(std::string path = {});
  std::shared_ptr<const RoutingRules> get() const;
  // Validates and applies; returns the stored rules (with the new version).
  std::shared_ptr<const RoutingRules> set(RoutingRules rules);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const RoutingRules> current_;
};

}  // namespace lcte::web
