#include "web/routing_rules.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"

namespace lcte::web {

using nlohmann::json;

namespace {

const std::set<std::string> kPolicies = {"threshold", "random", "always"};

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':' || c == '/')) return false;
  return true;
}

}  // namespace

void RoutingRules::validate() const {
  if (!kPolicies.contains(policy)) fail("policy: \"{}\" is not one of threshold, random, always", policy);
  const auto& b = scale.upper_bounds;
  if (b.empty() || b.size() > 20) fail("scale.upper_bounds: needs 1 to 20 bounds, got {}", b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i] < 1) fail("scale.upper_bounds[{}]: must be at least 1, got {}", i, b[i]);
    if (i > 0 && b[i] <= b[i - 1]) fail("scale.upper_bounds[{}]: {} is not above the previous bound {}", i, b[i], b[i - 1]);
  }
  int top_score = static_cast<int>(b.size()) + 1;
  const auto& names = tiers.tiers;
  if (names.empty() || names.size() > 8) fail("tiers.names: needs 1 to 8 tiers, got {}", names.size());
  if (tiers.max_score.size() != names.size())
    fail("tiers.max_score: {} entries for {} tiers", tiers.max_score.size(), names.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!valid_name(names[i])) fail("tiers.names[{}]: \"{}\" must be 1-64 letters, digits or -_.:/", i, names[i]);
    if (!seen.insert(names[i]).second) fail("tiers.names[{}]: \"{}\" appears twice", i, names[i]);
    int m = tiers.max_score[i];
    if (m < 1 || m > top_score) fail("tiers.max_score[{}]: {} is outside 1-{}", i, m, top_score);
    if (i > 0 && m <= tiers.max_score[i - 1])
      fail("tiers.max_score[{}]: {} is not above the previous tier's {}", i, m, tiers.max_score[i - 1]);
  }
  if (tiers.max_score.back() != top_score)
    fail("tiers.max_score[{}]: the last tier must take every score up to {}, got {}", names.size() - 1, top_score,
         tiers.max_score.back());
  if (models.size() != names.size()) fail("models: {} entries for {} tiers", models.size(), names.size());
  for (size_t i = 0; i < models.size(); ++i)
    if (!valid_name(models[i])) fail("models[{}]: \"{}\" must be 1-64 letters, digits or -_.:/", i, models[i]);
  if (policy == "always" && !seen.contains(always_tier))
    fail("always_tier: \"{}\" is not one of the tiers", always_tier);
  if (!(random_share >= 0 && random_share <= 1)) fail("random_share: {} is outside 0-1", random_share);
  if (!forced_tier.empty() && !seen.contains(forced_tier))
    fail("forced_tier: \"{}\" is not one of the tiers (empty for none)", forced_tier);
}

json RoutingRules::to_json() const {
  return {{"policy", policy},
          {"scale", {{"upper_bounds", scale.upper_bounds}}},
          {"tiers", {{"names", tiers.tiers}, {"max_score", tiers.max_score}}},
          {"models", models},
          {"always_tier", always_tier},
          {"random_share", random_share},
          {"seed", seed},
          {"forced_tier", forced_tier},
          {"version", version}};
}

RoutingRules RoutingRules::from_json(const json& j) {
  if (!j.is_object()) fail("routing rules: expected a JSON object");
  static const std::set<std::string> kKeys = {"policy", "scale",  "tiers",       "models", "always_tier",
                                              "random_share", "seed", "forced_tier", "version"};
  for (const auto& [key, value] : j.items())
    if (!kKeys.contains(key)) fail("{}: unknown field", key);
  RoutingRules r;
  auto field = [&](const json& obj, const std::string& key, const std::string& path, auto& out) {
    if (!obj.contains(key)) return;
    try {
      obj.at(key).get_to(out);
    } catch (const json::exception&) {
      fail("{}: wrong type ({})", path, obj.at(key).type_name());
    }
  };
  field(j, "policy", "policy", r.policy);
  if (j.contains("scale")) {
    if (!j["scale"].is_object()) fail("scale: expected an object");
    field(j["scale"], "upper_bounds", "scale.upper_bounds", r.scale.upper_bounds);
  }
  if (j.contains("tiers")) {
    if (!j["tiers"].is_object()) fail("tiers: expected an object");
    field(j["tiers"], "names", "tiers.names", r.tiers.tiers);
    field(j["tiers"], "max_score", "tiers.max_score", r.tiers.max_score);
  }
  r.models = {"canonical", "canonical"};
  field(j, "models", "models", r.models);
  field(j, "always_tier", "always_tier", r.always_tier);
  field(j, "random_share", "random_share", r.random_share);
  field(j, "seed", "seed", r.seed);
  field(j, "forced_tier", "forced_tier", r.forced_tier);
  field(j, "version", "version", r.version);
  return r;
}

int64_t approximate_tokens(const std::string& text) {
  int64_t n = 0;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    if (std::isalnum(c) || c == '_' || c >= 0x80) {
      size_t start = i;
      while (i < text.size()) {
        unsigned char d = static_cast<unsigned char>(text[i]);
        if (!(std::isalnum(d) || d == '_' || d >= 0x80)) break;
        ++i;
      }
      n += static_cast<int64_t>((i - start + 3) / 4);
      continue;
    }
    ++n;  // one punctuation mark
    ++i;
  }
  return n;
}

RouteOutcome route_query(const RoutingRules& rules, const std::string& text, int64_t n_tokens) {
  RouteOutcome out;
  out.n_tokens = n_tokens;
  out.rules_version = rules.version;
  std::unique_ptr<route::Policy> policy;
  if (rules.policy == "random") {
    policy = route::make_random_policy(rules.scale, rules.tiers.tiers.size(), rules.random_share, rules.seed);
  } else if (rules.policy == "always") {
    size_t t = 0;
    while (t + 1 < rules.tiers.tiers.size() && rules.tiers.tiers[t] != rules.always_tier) ++t;
    policy = route::make_always_policy(rules.scale, t, rules.always_tier);
  } else {
    policy = route::make_threshold_policy(rules.scale, rules.tiers);
  }
  route::Query q;
  q.text = text;
  q.n_tokens = n_tokens;
  out.decision = policy->decide(q);
  out.policy = policy->name();
  if (!rules.forced_tier.empty()) {
    size_t t = 0;
    while (t + 1 < rules.tiers.tiers.size() && rules.tiers.tiers[t] != rules.forced_tier) ++t;
    out.decision.reason = fmt::format("forced to {} (policy said {}: {})", rules.forced_tier,
                                      rules.tiers.tiers[out.decision.tier], out.decision.reason);
    out.decision.tier = t;
    out.override_applied = true;
  }
  out.tier = rules.tiers.tiers[out.decision.tier];
  out.model = rules.models[out.decision.tier];
  return out;
}

namespace {

RoutingRules default_rules() {
  RoutingRules r;
  r.models = {"canonical", "canonical"};
  r.always_tier = r.tiers.tiers.front();
  return r;
}

void write_atomically(const std::string& path, const std::string& text) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) fail("{}: cannot write", tmp);
    out << text;
    out.flush();
    if (!out) fail("{}: write failed", tmp);
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

RulesHolder::RulesHolder(std::string path) : path_(std::move(path)) {
  RoutingRules rules = default_rules();
  if (!path_.empty() && std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    json j;
    try {
      j = json::parse(ss.str());
    } catch (const json::parse_error& e) {
      fail("{}: not JSON: {}", path_, e.what());
    }
    try {
      rules = RoutingRules::from_json(j);
      rules.validate();
    } catch (const Error& e) {
      fail("{}: {}", path_, e.what());
    }
  }
  current_ = std::make_shared<const RoutingRules>(std::move(rules));
}

std::shared_ptr<const RoutingRules> RulesHolder::get() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::shared_ptr<const RoutingRules> RulesHolder::set(RoutingRules rules) {
  rules.validate();
  std::lock_guard lock(mutex_);
  rules.version = current_->version + 1;
  if (!path_.empty()) write_atomically(path_, rules.to_json().dump(2) + "\n");
  current_ = std::make_shared<const RoutingRules>(std::move(rules));
  return current_;
}

}  // namespace lcte::web
