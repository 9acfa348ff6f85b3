#include "route/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

namespace lcte::route {

namespace {

// Cascade asks the cheapest tier first; escalation happens after its answer
// is checked, which is the caller's part (the evaluation runs the check).
class CascadeStart : public Policy {
 public:
  explicit CascadeStart(ComplexityScale scale) : scale_(std::move(scale)) {}
  std::string name() const override { return "cascade"; }
  Decision decide(const Query& q) const override {
    Decision d;
    d.score = scale_.score(q.n_tokens);
    d.tier = 0;
    d.reason = "cascade: cheapest tier first; escalate when its answer fails the visible examples";
    return d;
  }

 private:
  ComplexityScale scale_;
};

}  // namespace

int64_t count_limit(const RouterConfig& config) {
  const int64_t needed = std::max(config.scale().upper_bounds.back(), kFeatureTokenCap);
  return needed > std::numeric_limits<int64_t>::max() - kCountMargin ? std::numeric_limits<int64_t>::max()
                                                                     : needed + kCountMargin;
}

std::unique_ptr<Policy> make_policy(const RouterConfig& c, const std::string& tokenizer) {
  try {
    c.validate();
  } catch (const Error& e) {
    fail("routing: {}", e.what());
  }
  ComplexityScale scale = c.scale();
  if (c.policy == "threshold") return make_threshold_policy(scale, c.thresholds());
  if (c.policy == "random") return make_random_policy(scale, c.tiers.size(), c.random_share, c.seed);
  if (c.policy == "cascade") return std::make_unique<CascadeStart>(scale);
  if (c.policy == "learned") {
    PassPredictor predictor = PassPredictor::load(c.learned_model);
    if (predictor.tiers() != c.tiers) {
      std::string want, have;
      for (const auto& t : c.tiers) want += (want.empty() ? "" : ",") + t;
      for (const auto& t : predictor.tiers()) have += (have.empty() ? "" : ",") + t;
      fail("{}: trained for tiers {} but the routing tiers are {}", c.learned_model, have, want);
    }
    if (!tokenizer.empty() && !predictor.tokenizer().empty() && predictor.tokenizer() != tokenizer)
      spdlog::warn("{}: trained on {} token counts, deployed counting with {}: its token features may not match",
                   c.learned_model, predictor.tokenizer(), tokenizer);
    return make_learned_policy(scale, std::move(predictor), c.learned_target);
  }
  std::string tier = c.policy.substr(7);
  return make_always_policy(scale, tier_index(c.tiers, tier, "policy always-<tier>"), tier);
}

Router::Router(RouterConfig config, TokenCounter count)
    : config_(std::move(config)),
      count_(std::move(count)),
      count_limit_(count_limit(config_)),
      policy_(make_policy(config_, count_.name)) {
  if (!count_) fail("routing: no tokenizer to count the queries' tokens");
}

RouteResult Router::route(std::string_view text, const std::string& requested) const {
  auto start = std::chrono::steady_clock::now();
  RouteResult r;
  TokenCount n = count_tokens_up_to(count_.count, text, count_limit_);
  r.n_tokens = n.n;
  r.n_tokens_at_least = n.at_least;
  r.tokenizer = count_.name;
  r.features = extract_features(text, r.n_tokens);
  Query q{std::string(text), r.n_tokens, r.features, r.n_tokens_at_least};
  r.decision = policy_->decide(q);
  r.policy = policy_->name();
  r.policy_version = policy_->version();
  r.tier_index = r.decision.tier;
  bool asked = !requested.empty() && requested != "router" && requested != "auto";
  if (asked || !config_.forced_tier.empty()) {
    const std::string& forced = asked ? requested : config_.forced_tier;
    r.tier_index = tier_index(config_.tiers, forced, asked ? "routing: requested model" : "routing: forced_tier");
    r.override_applied = true;
    r.decision.reason =
        fmt::format("override ({}): {}; the policy would have chosen {} ({})", asked ? "request" : "forced tier",
                    forced, config_.tiers[r.decision.tier], r.decision.reason);
  }
  r.tier = config_.tiers[r.tier_index];
  r.model = config_.model_of(r.tier_index);
  r.decision_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::shared_ptr<const Router> make_router(const RouterConfig& config, TokenizerCache& tokenizers) {
  TokenCounter count = tokenizers.counter(config.tokenizer);
  return std::make_shared<const Router>(config, std::move(count));
}

nlohmann::json explain(const RouteResult& r) {
  nlohmann::json features = nlohmann::json::object();
  const auto& names = Features::names();
  for (size_t i = 0; i < names.size() && i < r.features.values.size(); ++i) features[names[i]] = r.features.values[i];
  nlohmann::json j = {{"tier", r.tier},
                      {"tier_index", r.tier_index},
                      {"model", r.model},
                      {"score", r.decision.score},
                      {"n_tokens", r.n_tokens},
                      {"n_tokens_at_least", r.n_tokens_at_least},
                      {"tokenizer", r.tokenizer},
                      {"features", features},
                      {"policy", r.policy},
                      {"policy_version", r.policy_version},
                      {"override", r.override_applied},
                      {"reason", r.decision.reason},
                      {"decision_us", r.decision_us}};
  if (!r.decision.p_pass.empty()) j["p_pass"] = r.decision.p_pass;
  return j;
}

DecisionRecord to_record(const RouteResult& r, std::string_view text) {
  DecisionRecord d;
  d.time = utc_now_iso8601();
  d.query_hash = fmt::format("{:016x}", query_hash(std::string(text)));
  d.n_tokens = r.n_tokens;
  d.n_tokens_at_least = r.n_tokens_at_least;
  d.tokenizer = r.tokenizer;
  d.features = r.features.values;
  d.score = r.decision.score;
  d.policy = r.policy;
  d.policy_version = r.policy_version;
  d.tier = r.tier;
  d.override_applied = r.override_applied;
  d.decision_us = r.decision_us;
  d.reason = r.decision.reason;
  return d;
}

}  // namespace lcte::route
