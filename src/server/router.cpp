#include "server/router.h"

#include <memory>

#include "route/complexity.h"
#include "route/policy.h"
#include "route/router.h"

namespace lcte::server {

RouteFn make_threshold_router(const backend::RoutingSettings& settings, TokenCounter count_tokens) {
  route::ComplexityScale scale;
  if (!settings.token_bounds.empty()) scale.upper_bounds = settings.token_bounds;
  route::TierThresholds tiers;
  tiers.tiers = settings.tiers;
  tiers.max_score = settings.max_score;
  std::shared_ptr<route::Policy> policy = route::make_threshold_policy(scale, tiers);  // validates
  std::string forced = settings.forced_tier;
  // The score needs the count only up to the scale's last bound: a long query
  // is counted as far as that (plus a margin), and its decision says "at least".
  const int64_t stop_above = scale.upper_bounds.back() + route::kCountMargin;
  return [policy, tiers, forced, count_tokens, stop_above](const std::string& text) {
    route::Query q;
    q.text = text;
    bool estimated = !count_tokens;
    bool at_least = false;
    if (estimated) {
      q.n_tokens = static_cast<int64_t>((text.size() + 3) / 4);
    } else {
      route::TokenCount n = route::count_tokens_up_to(
          [&](std::string_view t) { return count_tokens(std::string(t)); }, text, stop_above);
      q.n_tokens = n.n;
      at_least = n.at_least;
    }
    route::Decision d = policy->decide(q);
    RouteChoice c;
    c.model = forced.empty() ? tiers.tiers[d.tier] : forced;
    c.routing = {{"policy", policy->name()},
                 {"tokens", q.n_tokens},
                 {"tokens_estimated", estimated},
                 {"tokens_at_least", at_least},
                 {"score", d.score},
                 {"tier", d.tier},
                 {"model", c.model},
                 {"reason", forced.empty() ? d.reason : "forced_tier " + forced + " (rule said: " + d.reason + ")"}};
    return c;
  };
}

}  // namespace lcte::server
