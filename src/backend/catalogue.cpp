#include "backend/catalogue.h"

#include <toml++/toml.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
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

// A relative file path in [routing] is relative to the catalogue; an encoding
// name (no directory, no file suffix) or a model name is left as it is.
std::string relative_to(const std::filesystem::path& base, const std::string& path) {
  if (path.empty() || base.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (base / path).string();
}

bool names_a_file(const std::string& s) {
  auto ends = [&](const char* suffix) { return s.size() >= std::strlen(suffix) && s.ends_with(suffix); };
  return s.find('/') != std::string::npos || ends(".gguf") || ends(".tiktoken") || ends(".bin");
}

// [routing] reads into route::RouterConfig through its JSON form, so the
// catalogue, the study file and the dashboard's rules share keys and checks.
route::RouterConfig parse_routing(const toml::table& root, const Catalogue& c, const std::string& origin) {
  const std::string where = origin + ": [routing]";
  nlohmann::json j = nlohmann::json::object();
  if (const toml::node* rn = root.get("routing")) {
    const toml::table* t = rn->as_table();
    if (t == nullptr) fail("{} must be a table", where);
    std::stringstream ss;
    ss << toml::json_formatter{*t};
    j = nlohmann::json::parse(ss.str());
  }
  route::RouterConfig r;
  try {
    r = route::RouterConfig::from_json(j);
  } catch (const Error& e) {
    fail("{} {}", where, e.what());
  }
  if (!j.contains("tiers")) {
    // Default: every model, cheapest first.
    std::vector<ModelEntry> by_cost = c.models;
    std::stable_sort(by_cost.begin(), by_cost.end(), [](const ModelEntry& a, const ModelEntry& b) { return a.cost < b.cost; });
    r.tiers.clear();
    for (const ModelEntry& m : by_cost) r.tiers.push_back(m.name);
    if (!j.contains("max_score")) r.max_score = route::default_max_scores(r.tiers.size());
  }
  try {
    r.validate();
  } catch (const Error& e) {
    fail("{} {}", where, e.what());
  }
  for (size_t i = 0; i < r.tiers.size(); ++i)
    if (!c.find(r.model_of(i)))
      fail("{} {}[{}]: '{}' is not a [[model]] name", where, r.models.empty() ? "tiers" : "models", i, r.model_of(i));
  const std::filesystem::path base = std::filesystem::path(origin).parent_path();
  r.learned_model = relative_to(base, r.learned_model);
  if (const ModelEntry* m = c.find(r.tokenizer)) {
    if (!m->is_local())
      fail("{} tokenizer: '{}' is a remote model, whose vocabulary is not on this machine; name a local model, a GGUF "
           "or .tiktoken file, or an encoding ({}, o200k_base)",
           where, r.tokenizer, route::kDefaultTokenizer);
  } else if (names_a_file(r.tokenizer)) {
    r.tokenizer = relative_to(base, r.tokenizer);
  }
  return r;
}

}  // namespace

std::map<std::string, std::string> model_files(const Catalogue& catalogue) {
  std::map<std::string, std::string> files;
  for (const ModelEntry& m : catalogue.models) files[m.name] = m.is_local() ? m.path : "";
  return files;
}

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

  c.routing = parse_routing(root, c, origin);
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
