// The server's routing seam: a function from a request's text to the model
// that should answer it, with a JSON explanation returned to the client (the
// response's "routing" field). `lcte serve` installs the complexity threshold
// rule over the catalogue's tiers; a richer router can replace it by handing
// the server another RouteFn.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "backend/catalogue.h"

namespace lcte::server {

struct RouteChoice {
  std::string model;        // a served model's name
  nlohmann::json routing;   // why: policy, score, tokens, tier, reason
};

using RouteFn = std::function<RouteChoice(const std::string& text)>;
// Tokens of a text under the routing tokenizer.
using TokenCounter = std::function<int64_t(const std::string& text)>;

// The threshold rule of route/: tokens -> complexity score -> the cheapest
// tier that takes the score (catalogue [routing]: tiers, max_score,
// token_bounds, forced_tier). Without a token counter, tokens are estimated
// as characters / 4 (and the explanation says so).
RouteFn make_threshold_router(const backend::RoutingSettings& settings, TokenCounter count_tokens);

}  // namespace lcte::server
