#include "backend/catalogue.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"

namespace lcte::backend {
namespace {

template <class T>
std::optional<T> get(const toml::table& t, const std::string& key, const std::string& where) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::nullopt;
  if constexpr (std::is_same_v<T, double>) {
    if (auto v = n->value<double>()) return *v;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (auto v = n->value<int64_t>()) return *v;
  } else {
    if (auto v = n->value<T>()) return *v;
  }
  fail("{}: key '{}' has the wrong type", where, key);
}

template <class T>
std::vector<T> get_array(const toml::table& t, const std::string& key, const std::string& where) {
  std::vector<T> out;
  const toml::node* n = t.get(key);
  if (n == nullptr) return out;
  const toml::array* a = n->as_array();
  if (a == nullptr) fail("{}: key '{}' must be an array", where, key);
  for (const toml::node& item : *a) {
    auto v = item.value<T>();
    if (!v) fail("{}: key '{}' holds an element of the wrong type", where, key);
    out.push_back(*v);
  }
  return out;
}

void check_known_keys(const toml::table& t, const std::set<std::string>& known, const std::string& where) {
  for (const auto& [k, v] : t)
    if (!known.count(std::string(k.str()))) fail("{}: unknown key '{}'", where, k.str());
}

}  // namespace

const ModelEntry* Catalogue::find(const std::string& name) const {
  for (const ModelEntry& m : models)
    if (m.name == name) return &m;
  return nullptr;
}

const ModelEntry& Catalogue::get(const std::string& name) const {
  const ModelEntry* m = find(name);
  if (m == nullptr) fail("{}: no model named '{}'", path, name);
  return *m;
}

Catalogue parse_catalogue(const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: {}", origin, e.source().begin.line, e.source().begin.column, e.description());
  }
  Catalogue c;
  c.path = origin;
  check_known_keys(root, {"model", "routing"}, origin);
  std::filesystem::path base = std::filesystem::path(origin).parent_path();
  if (const toml::node* ms = root.get("model")) {
    const toml::array* arr = ms->as_array();
    if (arr == nullptr) fail("{}: 'model' must be an array of tables ([[model]])", origin);
    int index = 0;
    for (const toml::node& node : *arr) {
      ++index;
      const toml::table* t = node.as_table();
      std::string where = fmt::format("{}: [[model]] #{}", origin, index);
      if (t == nullptr) fail("{} is not a table", where);
      check_known_keys(*t, {"name", "path", "url", "model", "api_key_env", "max_in_flight", "cost"}, where);
      ModelEntry m;
      m.name = get<std::string>(*t, "name", where).value_or("");
      if (m.name.empty()) fail("{}: needs a name", where);
      where = fmt::format("{}: model '{}'", origin, m.name);
      m.path = get<std::string>(*t, "path", where).value_or("");
      m.url = get<std::string>(*t, "url", where).value_or("");
      m.remote_model = get<std::string>(*t, "model", where).value_or("");
      m.api_key_env = get<std::string>(*t, "api_key_env", where).value_or("");
      m.max_in_flight = static_cast<int>(get<int64_t>(*t, "max_in_flight", where).value_or(8));
      m.cost = get<double>(*t, "cost", where).value_or(1.0);
      if (m.path.empty() == m.url.empty()) fail("{}: give exactly one of 'path' (a GGUF file) or 'url' (an endpoint)", where);
      if (!m.url.empty() && m.remote_model.empty()) fail("{}: an endpoint needs 'model', the server's model id", where);
      if (!(m.cost > 0)) fail("{}: cost must be positive, got {}", where, m.cost);
      if (m.max_in_flight < 1) fail("{}: max_in_flight must be at least 1", where);
      if (!m.path.empty() && std::filesystem::path(m.path).is_relative() && !base.empty())
        m.path = (base / m.path).string();
      if (c.find(m.name)) fail("{}: the name is used twice", where);
      c.models.push_back(std::move(m));
    }
  }
  if (c.models.empty()) fail("{}: no [[model]] entries", origin);

  RoutingSettings& r = c.routing;
  if (const toml::node* rn = root.get("routing")) {
    const toml::table* t = rn->as_table();
    std::string where = origin + ": [routing]";
    if (t == nullptr) fail("{} must be a table", where);
    check_known_keys(*t,
                     {"tiers", "max_score", "token_bounds", "policy", "forced_tier", "tokenizer", "random_share",
                      "learned_target", "learned_model"},
                     where);
    r.tiers = get_array<std::string>(*t, "tiers", where);
    for (int64_t s : get_array<int64_t>(*t, "max_score", where)) r.max_score.push_back(static_cast<int>(s));
    r.token_bounds = get_array<int64_t>(*t, "token_bounds", where);
    r.policy = get<std::string>(*t, "policy", where).value_or("threshold");
    r.forced_tier = get<std::string>(*t, "forced_tier", where).value_or("");
    r.tokenizer = get<std::string>(*t, "tokenizer", where).value_or("");
    r.random_share = get<double>(*t, "random_share", where).value_or(0.5);
    r.learned_target = get<double>(*t, "learned_target", where).value_or(0.5);
    r.learned_model = get<std::string>(*t, "learned_model", where).value_or("");
  }
  if (r.tiers.empty()) {
    std::vector<ModelEntry> by_cost = c.models;
    std::stable_sort(by_cost.begin(), by_cost.end(), [](const ModelEntry& a, const ModelEntry& b) { return a.cost < b.cost; });
    for (const ModelEntry& m : by_cost) r.tiers.push_back(m.name);
  }
  for (const std::string& t : r.tiers)
    if (!c.find(t)) fail("{}: [routing] tier '{}' is not a [[model]] name", origin, t);
  if (r.max_score.empty()) {
    // The published rule for two tiers; more tiers split scores 7-10 evenly.
    if (r.tiers.size() == 1) r.max_score = {10};
    else if (r.tiers.size() == 2) r.max_score = {6, 10};
    else {
      r.max_score.push_back(6);
      for (size_t i = 1; i + 1 < r.tiers.size(); ++i)
        r.max_score.push_back(static_cast<int>(6 + (4 * i) / (r.tiers.size() - 1)));
      r.max_score.push_back(10);
    }
  }
  if (r.max_score.size() != r.tiers.size())
    fail("{}: [routing] has {} tiers but {} max_score values", origin, r.tiers.size(), r.max_score.size());
  if (!r.forced_tier.empty() && !c.find(r.forced_tier))
    fail("{}: [routing] forced_tier '{}' is not a [[model]] name", origin, r.forced_tier);
  if (r.tokenizer.empty()) r.tokenizer = r.tiers.front();
  return c;
}

Catalogue load_catalogue(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open the model catalogue", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_catalogue(ss.str(), path);
}

}  // namespace lcte::backend
