// The router, as serve, the dashboard, an eval through the router, the study
// and `lcte route decide` all use it: count a query's tokens, compute its
// features, let the configured policy pick a tier, and apply an override (the
// request's own choice, or a globally forced tier). Decision time covers all
// of it, tokenisation included, because that is what a request pays.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "route/config.h"
#include "route/decision_log.h"
#include "route/policy.h"
#include "route/tokens.h"

namespace lcte::route {

// How far the router counts: a policy's score needs the count only up to the
// scale's last bound (above it the score is the top one) and the token
// features saturate at kFeatureTokenCap; the margin covers a tokenizer whose
// tokens do span a prefix's end (a SentencePiece vocabulary with tokens such
// as "a\u2581b"), whose prefix count may then exceed the true count by a few.
inline constexpr int64_t kCountMargin = 16;
int64_t count_limit(const RouterConfig& config);

struct RouteResult {
  std::string tier;
  size_t tier_index = 0;
  std::string model;  // the model behind the tier (RouterConfig::models)
  Decision decision;  // what the policy said (score, reason, predicted pass chances)
  int64_t n_tokens = 0;
  bool n_tokens_at_least = false;  // counting stopped early: the query has at least n_tokens
  std::string tokenizer;           // which tokenizer counted
  Features features;
  double decision_us = 0;
  bool override_applied = false;
  std::string policy, policy_version;
};

// The policy a configuration names (validated first; a learned policy's file
// is read and must be trained for the same tiers). Errors start "routing: ".
// `tokenizer`: what will count the queries; a learned router trained on
// another tokenizer's counts is deployed with a warning in the log.
std::unique_ptr<Policy> make_policy(const RouterConfig& config, const std::string& tokenizer = "");

class Router {
 public:
  // Throws lcte::Error for a bad configuration or a missing counter. The
  // router counts only as far as count_limit(config) (see count_tokens_up_to).
  Router(RouterConfig config, TokenCounter count);
  // `requested`: a tier name the request asked for ("" or "router"/"auto": route).
  RouteResult route(std::string_view text, const std::string& requested = "") const;
  const RouterConfig& config() const { return config_; }
  const std::string& tokenizer() const { return count_.name; }

 private:
  RouterConfig config_;
  TokenCounter count_;
  int64_t count_limit_;
  std::unique_ptr<Policy> policy_;
};

// The router a configuration describes, counting with the tokenizer it names.
std::shared_ptr<const Router> make_router(const RouterConfig& config, TokenizerCache& tokenizers);

// A decision explained: the "routing" field of a served response, the
// dashboard's answer and `lcte route decide --json`.
nlohmann::json explain(const RouteResult& r);

// The log's form of a decision.
DecisionRecord to_record(const RouteResult& r, std::string_view text);

}  // namespace lcte::route
