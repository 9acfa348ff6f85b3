#include "route/policy.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/random.h"

namespace lcte::route {

uint64_t query_hash(const std::string& text) { return fnv1a64(text); }

namespace {

class ThresholdPolicy : public Policy {
 public:
  ThresholdPolicy(ComplexityScale scale, TierThresholds tiers) : scale_(std::move(scale)), tiers_(std::move(tiers)) {
    scale_.validate();
    tiers_.validate();
  }
  std::string name() const override { return "threshold"; }
  Decision decide(const Query& q) const override {
    Decision d;
    d.score = scale_.score(q.n_tokens);
    d.tier = tiers_.tier_for_score(d.score);
    d.reason =
        fmt::format("{}{} tokens -> score {} -> {} (takes scores up to {})", q.n_tokens_at_least ? "at least " : "",
                    q.n_tokens, d.score, tiers_.tiers[d.tier], tiers_.max_score[d.tier]);
    return d;
  }

 private:
  ComplexityScale scale_;
  TierThresholds tiers_;
};

class RandomPolicy : public Policy {
 public:
  RandomPolicy(ComplexityScale scale, size_t n_tiers, double share, uint64_t seed)
      : scale_(std::move(scale)), n_tiers_(n_tiers), share_(share), seed_(seed) {
    if (n_tiers == 0) fail("random policy: no tiers");
    if (!(share >= 0 && share <= 1)) fail("random policy: share {} is outside 0-1", share);
  }
  std::string name() const override { return fmt::format("random({:.2f})", share_); }
  Decision decide(const Query& q) const override {
    Decision d;
    d.score = scale_.score(q.n_tokens);
    // SplitMix64 of the query hash and seed: the same query always routes the same way.
    const uint64_t z = splitmix64_mix(query_hash(q.text) + seed_ * kGoldenGamma);
    double u = static_cast<double>(z >> 11) * 0x1.0p-53;
    d.tier = u < share_ ? n_tiers_ - 1 : 0;
    d.reason = fmt::format("random draw {:.3f} {} {:.2f}", u, u < share_ ? "<" : ">=", share_);
    return d;
  }

 private:
  ComplexityScale scale_;
  size_t n_tiers_;
  double share_;
  uint64_t seed_;
};

class AlwaysPolicy : public Policy {
 public:
  AlwaysPolicy(ComplexityScale scale, size_t tier, std::string tier_name)
      : scale_(std::move(scale)), tier_(tier), tier_name_(std::move(tier_name)) {}
  std::string name() const override { return "always-" + tier_name_; }
  Decision decide(const Query& q) const override {
    return {tier_, scale_.score(q.n_tokens), "always " + tier_name_, {}};
  }

 private:
  ComplexityScale scale_;
  size_t tier_;
  std::string tier_name_;
};

class LearnedPolicy : public Policy {
 public:
  LearnedPolicy(ComplexityScale scale, PassPredictor predictor, double target)
      : scale_(std::move(scale)), predictor_(std::move(predictor)), target_(target) {
    if (!(target >= 0 && target <= 1)) fail("learned policy: target {} is outside 0-1", target);
  }
  std::string name() const override { return fmt::format("learned({:.2f})", target_); }
  Decision decide(const Query& q) const override {
    Decision d;
    d.score = scale_.score(q.n_tokens);
    d.p_pass = predictor_.predict(q.features.values);
    d.tier = d.p_pass.size() - 1;
    for (size_t t = 0; t < d.p_pass.size(); ++t) {
      if (d.p_pass[t] >= target_) {
        d.tier = t;
        break;
      }
    }
    d.reason = fmt::format("P(pass) {} = {:.2f} {} target {:.2f}", predictor_.tiers()[d.tier], d.p_pass[d.tier],
                           d.p_pass[d.tier] >= target_ ? ">=" : "<", target_);
    return d;
  }

 private:
  ComplexityScale scale_;
  PassPredictor predictor_;
  double target_;
};

}  // namespace

std::unique_ptr<Policy> make_threshold_policy(ComplexityScale scale, TierThresholds tiers) {
  return std::make_unique<ThresholdPolicy>(std::move(scale), std::move(tiers));
}
std::unique_ptr<Policy> make_random_policy(ComplexityScale scale, size_t n_tiers, double share_last, uint64_t seed) {
  return std::make_unique<RandomPolicy>(std::move(scale), n_tiers, share_last, seed);
}
std::unique_ptr<Policy> make_always_policy(ComplexityScale scale, size_t tier, std::string tier_name) {
  return std::make_unique<AlwaysPolicy>(std::move(scale), tier, std::move(tier_name));
}
std::unique_ptr<Policy> make_learned_policy(ComplexityScale scale, PassPredictor predictor, double target) {
  return std::make_unique<LearnedPolicy>(std::move(scale), std::move(predictor), target);
}

}  // namespace lcte::route
