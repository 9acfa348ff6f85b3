#include "server/router.h"

#include <memory>

#include "route/complexity.h"
#include "route/policy.h"

namespace lcte::server {

RouteFn make_threshold_router(const backend::RoutingSettings& settings, TokenCounter count_tokens) {
  route::ComplexityScale scale;
  if (!settings.token_bounds.empty()) scale.upper_bounds = settings.token_bounds;
  route::TierThresholds tiers;
  tiers.tiers = settings.tiers;
  tiers.max_score = settings.max_score;
  std::shared_ptr<route::Policy> policy = route::make_threshold_policy(scale, tiers);  // validates
  std::string forced = settings.forced_tier;
  return [policy, tiers, forced, count_tokens](const std::string& text) {
    route::Query q;
    q.text = text;
    bool estimated = !count_tokens;
    q.n_tokens = estimated ? static_cast<int64_t>((text.size() + 3) / 4) : count_tokens(text);
    route::Decision d = policy->decide(q);
    RouteChoice c;
    c.model = forced.empty() ? tiers.tiers[d.tier] : forced;
    c.routing = {{"policy", policy->name()},
                 {"tokens", q.n_tokens},
                 {"tokens_estimated", estimated},
                 {"score", d.score},
                 {"tier", d.tier},
                 {"model", c.model},
                 {"reason", forced.empty() ? d.reason : "forced_tier " + forced + " (rule said: " + d.reason + ")"}};
    return c;
  };
}

}  // namespace lcte::server
