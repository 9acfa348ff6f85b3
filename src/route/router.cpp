#include "route/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>

#include "core/error.h"

namespace lcte::route {

namespace {

size_t tier_index(const std::vector<std::string>& tiers, const std::string& name, const char* field) {
  auto it = std::find(tiers.begin(), tiers.end(), name);
  if (it == tiers.end()) {
    std::string list;
    for (const auto& t : tiers) list += (list.empty() ? "" : ", ") + t;
    fail("routing: {} \"{}\" is not one of the tiers ({})", field, name, list);
  }
  return static_cast<size_t>(it - tiers.begin());
}

ComplexityScale scale_of(const RouterConfig& c) {
  ComplexityScale s;
  if (!c.token_bounds.empty()) s.upper_bounds = c.token_bounds;
  return s;
}

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

void RouterConfig::validate() const {
  if (tiers.empty()) fail("routing: tiers is empty");
  for (size_t i = 0; i < tiers.size(); ++i)
    for (size_t j = i + 1; j < tiers.size(); ++j)
      if (tiers[i] == tiers[j]) fail("routing: tier \"{}\" is listed twice", tiers[i]);
  scale_of(*this).validate();
  if (policy == "threshold") {
    TierThresholds t{tiers, max_score};
    t.validate();
  } else if (policy == "random") {
    if (!(random_share >= 0 && random_share <= 1)) fail("routing: random_share {} is outside 0-1", random_share);
  } else if (policy == "learned") {
    if (learned_model.empty()) fail("routing: policy \"learned\" needs learned_model (a file from `lcte route train`)");
    if (!(learned_target > 0 && learned_target <= 1)) fail("routing: learned_target {} is outside (0, 1]", learned_target);
  } else if (policy.rfind("always-", 0) == 0) {
    tier_index(tiers, policy.substr(7), "policy always-<tier>:");
  } else if (policy != "cascade") {
    fail("routing: unknown policy \"{}\" (threshold, learned, random, cascade, always-<tier>)", policy);
  }
  if (!forced_tier.empty()) tier_index(tiers, forced_tier, "forced_tier");
}

int64_t estimate_tokens(std::string_view text) { return static_cast<int64_t>((text.size() + 3) / 4); }

namespace {

// The first place at or after `from` where a prefix may end (see
// count_tokens_up_to); text.size() when there is none.
size_t prefix_end(std::string_view text, size_t from) {
  for (size_t p = std::max<size_t>(from, 1); p < text.size(); ++p) {
    p = text.find(' ', p);
    if (p == std::string_view::npos) break;
    const auto before = static_cast<unsigned char>(text[p - 1]);
    if (std::isalnum(before) != 0 && before < 0x80) return p;
  }
  return text.size();
}

}  // namespace

TokenCount count_tokens_up_to(const TokenCounter& count, std::string_view text, int64_t stop_above) {
  const int64_t want = std::clamp<int64_t>(stop_above, 0, std::numeric_limits<int64_t>::max() - 1) + 1;
  // 3.5 bytes per token: code under the code tokenizers here takes 2.9-3.3,
  // English prose about 4 (then a second, longer prefix is counted).
  auto at_most_text = [&](double bytes) { return bytes >= static_cast<double>(text.size()) ? text.size() : static_cast<size_t>(bytes); };
  size_t guess = at_most_text(3.5 * static_cast<double>(want));
  for (;;) {
    const size_t end = prefix_end(text, guess);
    if (end >= text.size()) return {count(text), false};
    const int64_t n = count(text.substr(0, end));
    if (n >= want) return {n, true};
    // Too short: grow by the bytes per token this prefix showed, a quarter
    // more to make another round unlikely.
    const double bytes_per_token = static_cast<double>(end) / static_cast<double>(std::max<int64_t>(n, 1));
    guess = at_most_text(static_cast<double>(end + 64) + 1.25 * bytes_per_token * static_cast<double>(want - n));
  }
}

int64_t count_limit(const RouterConfig& config) {
  const int64_t last_bound = config.token_bounds.empty() ? ComplexityScale{}.upper_bounds.back() : config.token_bounds.back();
  const int64_t needed = std::max(last_bound, kFeatureTokenCap);
  return needed > std::numeric_limits<int64_t>::max() - kCountMargin ? std::numeric_limits<int64_t>::max()
                                                                     : needed + kCountMargin;
}

std::unique_ptr<Policy> make_policy(const RouterConfig& c) {
  c.validate();
  ComplexityScale scale = scale_of(c);
  if (c.policy == "threshold") return make_threshold_policy(scale, TierThresholds{c.tiers, c.max_score});
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
    return make_learned_policy(scale, std::move(predictor), c.learned_target);
  }
  std::string tier = c.policy.substr(7);
  return make_always_policy(scale, tier_index(c.tiers, tier, "policy always-<tier>:"), tier);
}

Router::Router(RouterConfig config, TokenCounter count_tokens)
    : config_(std::move(config)),
      count_(std::move(count_tokens)),
      count_limit_(count_limit(config_)),
      policy_(make_policy(config_)) {}

RouteResult Router::route(std::string_view text, const std::string& requested) const {
  auto start = std::chrono::steady_clock::now();
  RouteResult r;
  TokenCount n = count_ ? count_tokens_up_to(count_, text, count_limit_) : TokenCount{estimate_tokens(text), false};
  r.n_tokens = n.n;
  r.n_tokens_at_least = n.at_least;
  r.features = extract_features(text, r.n_tokens);
  Query q{std::string(text), r.n_tokens, r.features, r.n_tokens_at_least};
  r.decision = policy_->decide(q);
  r.policy = policy_->name();
  r.policy_version = policy_->version();
  r.tier_index = r.decision.tier;
  if (!count_) r.decision.reason += " (token count estimated from bytes: no routing tokenizer)";
  bool asked = !requested.empty() && requested != "router" && requested != "auto";
  if (asked || !config_.forced_tier.empty()) {
    const std::string& forced = asked ? requested : config_.forced_tier;
    r.tier_index = tier_index(config_.tiers, forced, asked ? "requested model" : "forced_tier");
    r.override_applied = true;
    r.decision.reason = fmt::format("override ({}): {}; the policy would have chosen {}",
                                    asked ? "request" : "forced tier", forced, config_.tiers[r.decision.tier]);
  }
  r.tier = config_.tiers[r.tier_index];
  r.decision_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  return r;
}

DecisionRecord to_record(const RouteResult& r, std::string_view text) {
  DecisionRecord d;
  d.time = utc_now_iso8601();
  d.query_hash = fmt::format("{:016x}", query_hash(std::string(text)));
  d.n_tokens = r.n_tokens;
  d.n_tokens_at_least = r.n_tokens_at_least;
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
