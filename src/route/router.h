// The router as the server, the CLI and the online evaluation use it: count a
// query's tokens, compute its features, let the configured policy pick a tier,
// and apply an override (the request's own choice, or a globally forced
// tier). Decision time covers all of it, tokenisation included, because that
// is what a request pays.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "route/decision_log.h"
#include "route/policy.h"

namespace lcte::route {

struct RouterConfig {
  std::vector<std::string> tiers = {"small", "large"};  // cheapest first
  std::vector<int> max_score = {6, 10};                 // threshold policy: highest score per tier
  std::vector<int64_t> token_bounds;                    // empty: the default 1-10 scale
  std::string policy = "threshold";  // threshold, learned, random, always-<tier>, cascade
  std::string forced_tier;           // global override; "" routes normally
  double random_share = 0.5;         // random: share of queries sent to the last tier
  double learned_target = 0.5;       // learned: pass chance a tier must reach
  std::string learned_model;         // learned: file written by `lcte route train`
  uint64_t seed = 0;

  void validate() const;  // throws lcte::Error naming the field
};

// Tokens of a text under the routing tokenizer.
using TokenCounter = std::function<int64_t(std::string_view)>;

// When no tokenizer is available (every tier remote): about four bytes per
// token, as code tokenizers give on English and Python. Labelled an estimate
// in every decision that uses it.
int64_t estimate_tokens(std::string_view text);

struct RouteResult {
  std::string tier;
  size_t tier_index = 0;
  Decision decision;  // what the policy said (score, reason, predicted pass chances)
  int64_t n_tokens = 0;
  Features features;
  double decision_us = 0;
  bool override_applied = false;
  std::string policy, policy_version;
};

std::unique_ptr<Policy> make_policy(const RouterConfig& config);

class Router {
 public:
  // `count_tokens` empty: estimate_tokens, and decisions say so.
  Router(RouterConfig config, TokenCounter count_tokens);
  // `requested`: a tier name the request asked for ("" or "router"/"auto": route).
  RouteResult route(std::string_view text, const std::string& requested = "") const;
  const RouterConfig& config() const { return config_; }

 private:
  RouterConfig config_;
  TokenCounter count_;
  std::unique_ptr<Policy> policy_;
};

// The log's form of a decision.
DecisionRecord to_record(const RouteResult& r, std::string_view text);

}  // namespace lcte::route
