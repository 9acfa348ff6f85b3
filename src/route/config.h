// The one routing configuration: the tiers (cheapest first) and the model
// behind each, the policy and its settings, the complexity scale, a global
// override and the tokenizer that counts a query's tokens. The catalogue's
// [routing] table, a study's [routing] table, the dashboard's rules file and
// the `lcte route` options all read into it, with the same keys and the same
// checks.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "route/complexity.h"

namespace lcte::route {

// The published rule counts with OpenAI's cl100k_base encoding: a
// configuration that names no tokenizer counts with it.
inline constexpr const char* kDefaultTokenizer = "cl100k_base";

struct RouterConfig {
  std::vector<std::string> tiers = {"small", "large"};  // cheapest first
  std::vector<int> max_score = {6, 10};                 // threshold policy: highest score per tier
  std::vector<int64_t> token_bounds;                    // the 1-10 scale's nine bounds; empty: the default
  std::string policy = "threshold";                     // threshold, learned, random, cascade, always-<tier>
  std::string forced_tier;                              // global override; "" routes normally
  double random_share = 0.5;                            // random: share of queries sent to the last tier
  double learned_target = 0.5;                          // learned: pass chance a tier must reach
  std::string learned_model;                            // learned: file written by `lcte route train`
  uint64_t seed = 0;                                    // random: which queries make up the share
  // Counts a query's tokens: an encoding name (cl100k_base, o200k_base, ...),
  // a .tiktoken or GGUF file, or a model of the catalogue or study; "" is
  // kDefaultTokenizer.
  std::string tokenizer;
  // Per tier, the model that answers its queries; empty: the tier's name.
  std::vector<std::string> models;

  // Throws lcte::Error whose message starts with the field ("max_score[1]: ...").
  void validate() const;
  ComplexityScale scale() const;
  TierThresholds thresholds() const;
  const std::string& model_of(size_t tier) const;
  std::string tokenizer_name() const;  // tokenizer, or kDefaultTokenizer when none is named

  // Every field, the scale and the models as they take effect.
  nlohmann::json to_json() const;
  // Reads the fields `j` has (the others keep their defaults; max_score
  // defaults to default_max_scores for the tiers given). Unknown keys and
  // wrong types are lcte::Error naming the field. Does not validate.
  static RouterConfig from_json(const nlohmann::json& j);
};

// The position of tier `name`; lcte::Error "<field>: "<name>" is not one of
// the tiers (...)" when it is not one.
size_t tier_index(const std::vector<std::string>& tiers, const std::string& name, const std::string& field);

// The threshold policy's highest score per tier: the published rule (1-6 to
// the first tier) with the others spread over 7-10, or, past five tiers, all
// tiers spread evenly over 1-10; one tier takes everything. Scores rise
// strictly from tier to tier, so at most ten tiers (more: lcte::Error).
std::vector<int> default_max_scores(size_t n_tiers);

// Online routing (serve, the dashboard, an eval through the router) cannot
// run the cascade: it escalates after judging an answer, which only the
// offline evaluation does. Throws lcte::Error saying so.
void check_deployable(const RouterConfig& config);

}  // namespace lcte::route
