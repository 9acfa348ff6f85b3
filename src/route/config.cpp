#include "route/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/text.h"

namespace lcte::route {

using nlohmann::json;

namespace {

// Each tier takes a rising range of the 1-10 score.
constexpr size_t kMaxTiers = 10;
constexpr size_t kMaxName = 64;

// Names show up in logs, URLs and the page: printable, short, non-empty.
void check_name(const std::string& s, const std::string& field) {
  if (s.empty() || s.size() > kMaxName) fail("{}: \"{}\" must be 1 to {} bytes", field, s, kMaxName);
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) fail("{}: \"{}\" holds a control character", field, s);
}

// Each reader takes the key when present and names it when its type is wrong
// (a JSON number 6.5 is not silently an integer 6).
[[noreturn]] void wrong(const json& j, const char* key, const char* expected) {
  fail("{}: expected {}, got {}", key, expected, j.at(key).dump());
}

void read_string(const json& j, const char* key, std::string& out) {
  if (!j.contains(key)) return;
  if (!j[key].is_string()) wrong(j, key, "a string");
  out = j[key].get<std::string>();
}

void read_number(const json& j, const char* key, double& out) {
  if (!j.contains(key)) return;
  if (!j[key].is_number()) wrong(j, key, "a number");
  out = j[key].get<double>();
}

void read_strings(const json& j, const char* key, std::vector<std::string>& out) {
  if (!j.contains(key)) return;
  const json& a = j[key];
  if (!a.is_array() || !std::all_of(a.begin(), a.end(), [](const json& x) { return x.is_string(); }))
    wrong(j, key, "an array of names");
  out = a.get<std::vector<std::string>>();
}

template <class T>
void read_integers(const json& j, const char* key, std::vector<T>& out) {
  if (!j.contains(key)) return;
  const json& a = j[key];
  if (!a.is_array() || !std::all_of(a.begin(), a.end(), [](const json& x) { return x.is_number_integer(); }))
    wrong(j, key, "an array of integers");
  out.clear();
  for (const json& x : a) {
    if (x.is_number_unsigned() && x.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      wrong(j, key, "an array of integers in range");
    const int64_t v = x.get<int64_t>();
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
      wrong(j, key, "an array of integers in range");
    out.push_back(static_cast<T>(v));
  }
}

}  // namespace

size_t tier_index(const std::vector<std::string>& tiers, const std::string& name, const std::string& field) {
  auto it = std::find(tiers.begin(), tiers.end(), name);
  if (it == tiers.end()) {
    std::string list;
    for (const auto& t : tiers) list += (list.empty() ? "" : ", ") + t;
    fail("{}: \"{}\" is not one of the tiers ({})", field, name, list);
  }
  return static_cast<size_t>(it - tiers.begin());
}

std::vector<int> default_max_scores(size_t n_tiers) {
  if (n_tiers == 0 || n_tiers > kMaxTiers)
    fail("tiers: the 1-10 complexity score separates 1 to {} tiers, not {}", kMaxTiers, n_tiers);
  std::vector<int> out;
  const double n = static_cast<double>(n_tiers);
  for (size_t i = 0; i + 1 < n_tiers; ++i) {
    const double d = static_cast<double>(i);
    out.push_back(n_tiers <= 5 ? (i == 0 ? 6 : static_cast<int>(std::lround(6 + 4 * d / (n - 1))))
                               : static_cast<int>(std::lround(10 * (d + 1) / n)));
  }
  out.push_back(10);
  return out;
}

void RouterConfig::validate() const {
  if (tiers.empty() || tiers.size() > kMaxTiers) fail("tiers: needs 1 to {} tiers, got {}", kMaxTiers, tiers.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < tiers.size(); ++i) {
    check_name(tiers[i], fmt::format("tiers[{}]", i));
    if (!seen.insert(tiers[i]).second) fail("tiers[{}]: \"{}\" is listed twice", i, tiers[i]);
  }
  if (max_score.size() != tiers.size())
    fail("max_score: {} entries for {} tiers (one highest score per tier)", max_score.size(), tiers.size());
  for (size_t i = 0; i < max_score.size(); ++i) {
    if (max_score[i] < 1 || max_score[i] > 10) fail("max_score[{}]: {} is outside 1-10", i, max_score[i]);
    if (i > 0 && max_score[i] <= max_score[i - 1])
      fail("max_score[{}]: {} is not above the previous tier's {}", i, max_score[i], max_score[i - 1]);
  }
  if (max_score.back() != 10)
    fail("max_score[{}]: the last tier must take every score up to 10, got {}", max_score.size() - 1, max_score.back());
  if (!token_bounds.empty()) {
    if (token_bounds.size() != 9)
      fail("token_bounds: needs nine bounds (the highest token count of scores 1-9), got {}", token_bounds.size());
    for (size_t i = 0; i < token_bounds.size(); ++i) {
      if (token_bounds[i] < 1) fail("token_bounds[{}]: must be at least 1, got {}", i, token_bounds[i]);
      if (i > 0 && token_bounds[i] <= token_bounds[i - 1])
        fail("token_bounds[{}]: {} is not above the previous bound {}", i, token_bounds[i], token_bounds[i - 1]);
    }
  }
  if (!models.empty()) {
    if (models.size() != tiers.size()) fail("models: {} entries for {} tiers", models.size(), tiers.size());
    for (size_t i = 0; i < models.size(); ++i) check_name(models[i], fmt::format("models[{}]", i));
  }
  if (policy == "random") {
    if (!(random_share >= 0 && random_share <= 1)) fail("random_share: {} is outside 0-1", random_share);
  } else if (policy == "learned") {
    if (learned_model.empty()) fail("learned_model: the learned policy needs a file from `lcte route train`");
    if (!(learned_target > 0 && learned_target <= 1)) fail("learned_target: {} is outside (0, 1]", learned_target);
  } else if (policy.rfind("always-", 0) == 0) {
    tier_index(tiers, policy.substr(7), "policy always-<tier>");
  } else if (policy != "threshold" && policy != "cascade") {
    fail("policy: unknown policy \"{}\" (threshold, learned, random, cascade or always-<tier>)", policy);
  }
  if (!forced_tier.empty()) tier_index(tiers, forced_tier, "forced_tier");
  if (tokenizer.size() > 4096) fail("tokenizer: longer than 4096 bytes");
}

ComplexityScale RouterConfig::scale() const {
  ComplexityScale s;
  if (!token_bounds.empty()) s.upper_bounds = token_bounds;
  return s;
}

TierThresholds RouterConfig::thresholds() const { return TierThresholds{tiers, max_score}; }

const std::string& RouterConfig::model_of(size_t tier) const {
  return models.empty() ? tiers.at(tier) : models.at(tier);
}

std::string RouterConfig::tokenizer_name() const { return tokenizer.empty() ? kDefaultTokenizer : tokenizer; }

json RouterConfig::to_json() const {
  std::vector<std::string> m;
  for (size_t i = 0; i < tiers.size(); ++i) m.push_back(models.size() == tiers.size() ? models[i] : tiers[i]);
  return {{"tiers", tiers},
          {"max_score", max_score},
          {"token_bounds", scale().upper_bounds},
          {"policy", policy},
          {"forced_tier", forced_tier},
          {"random_share", random_share},
          {"learned_target", learned_target},
          {"learned_model", learned_model},
          {"seed", seed},
          {"tokenizer", tokenizer},
          {"models", m}};
}

RouterConfig RouterConfig::from_json(const json& j) {
  if (!j.is_object()) fail("routing: expected an object of settings, got {}", j.type_name());
  static const std::vector<std::string> kKeys = {"tiers",       "max_score",    "token_bounds",   "policy",
                                                 "forced_tier", "random_share", "learned_target", "learned_model",
                                                 "seed",        "tokenizer",    "models"};
  for (const auto& [key, value] : j.items()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end()) continue;
    // The closest setting where one is close, as for every unknown key (core/text.h).
    const std::vector<std::string> near = closest_names(key, kKeys);
    if (!near.empty()) fail("{}: unknown setting; did you mean '{}'?", key, near.front());
    fail(
        "{}: unknown setting (tiers, max_score, token_bounds, policy, forced_tier, random_share, learned_target, "
        "learned_model, seed, tokenizer, models)",
        key);
  }
  RouterConfig c;
  read_strings(j, "tiers", c.tiers);
  if (j.contains("tiers")) c.max_score = default_max_scores(c.tiers.size());
  read_integers(j, "max_score", c.max_score);
  read_integers(j, "token_bounds", c.token_bounds);
  read_string(j, "policy", c.policy);
  read_string(j, "forced_tier", c.forced_tier);
  read_number(j, "random_share", c.random_share);
  read_number(j, "learned_target", c.learned_target);
  read_string(j, "learned_model", c.learned_model);
  if (j.contains("seed")) {
    const json& v = j["seed"];
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
      wrong(j, "seed", "a non-negative integer");
    c.seed = v.get<uint64_t>();
  }
  read_string(j, "tokenizer", c.tokenizer);
  read_strings(j, "models", c.models);
  // The form writes every tier's model; equal to the tier names means "the tiers themselves".
  if (c.models == c.tiers) c.models.clear();
  return c;
}

void check_deployable(const RouterConfig& config) {
  if (config.policy == "cascade")
    fail(
        "policy: the cascade escalates after judging an answer, which `lcte route eval` does offline; online, use "
        "threshold, learned, random or always-<tier>");
}

}  // namespace lcte::route
