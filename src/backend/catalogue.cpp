#include "backend/catalogue.h"

#include <toml++/toml.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/model_entry.h"
#include "core/error.h"
#include "core/toml_read.h"

namespace lcte::backend {
namespace {

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
route::RouterConfig parse_routing(const TomlTable& root, const Catalogue& c) {
  nlohmann::json j = nlohmann::json::object();
  const std::optional<TomlTable> t = root.subtable("routing", "[routing]");
  // Errors at the key they name, or at [routing] (or the file when it has none).
  auto fail_routing = [&](const std::string& message) {
    if (t) t->fail_keyed_message(message);
    fail("{}: [routing] {}", root.file(), message);
  };
  if (t) {
    std::stringstream ss;
    ss << toml::json_formatter{t->table()};
    j = nlohmann::json::parse(ss.str());
  }
  route::RouterConfig r;
  try {
    r = route::RouterConfig::from_json(j);
  } catch (const Error& e) {
    fail_routing(e.what());
  }
  if (!j.contains("tiers")) {
    // Default: every model in tier order, ties cheapest first (as a study orders them).
    std::vector<ModelEntry> by_cost = c.models;
    std::stable_sort(by_cost.begin(), by_cost.end(), [](const ModelEntry& a, const ModelEntry& b) {
      return a.tier != b.tier ? a.tier < b.tier : a.cost < b.cost;
    });
    r.tiers.clear();
    for (const ModelEntry& m : by_cost) r.tiers.push_back(m.name);
    if (!j.contains("max_score")) r.max_score = route::default_max_scores(r.tiers.size());
  }
  try {
    r.validate();
  } catch (const Error& e) {
    fail_routing(e.what());
  }
  for (size_t i = 0; i < r.tiers.size(); ++i)
    if (!c.find(r.model_of(i)))
      fail_routing(
          fmt::format("{}[{}]: '{}' is not a [[model]] name", r.models.empty() ? "tiers" : "models", i, r.model_of(i)));
  const std::filesystem::path base = std::filesystem::path(root.file()).parent_path();
  r.learned_model = relative_to(base, r.learned_model);
  if (const ModelEntry* m = c.find(r.tokenizer)) {
    if (!m->is_local())
      fail_routing(fmt::format(
          "tokenizer: '{}' is a remote model, whose vocabulary is not on this machine; name a local model, a GGUF "
          "or .tiktoken file, or an encoding ({}, o200k_base)",
          r.tokenizer, route::kDefaultTokenizer));
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
  const toml::table doc = parse_toml(text, origin);
  const TomlTable root(doc, origin, "");
  root.check_keys({"model", "routing"});
  Catalogue c;
  c.path = origin;
  const std::vector<TomlTable> tables = root.tables("model");
  for (size_t i = 0; i < tables.size(); ++i) {
    const TomlTable& t = tables[i];
    ModelEntry m = read_model_entry(t.table(), origin, i);
    // A catalogue is opened by `lcte serve` and `lcte eval --backend router`,
    // which answer queries: a model-free tier has nothing to answer with,
    // and resolving registry references is a study's job.
    if (m.backend == "canonical" || m.backend == "file")
      t.fail_key("backend", fmt::format("\"{}\" is for studies; a catalogue serves GGUF files ('path') and endpoints "
                                        "('url')",
                                        m.backend));
    if (!m.ref.empty())
      t.fail_key("ref", fmt::format("'{}' is for studies; a catalogue names the GGUF file ('path'; `lcte models show "
                                    "{}` prints it)",
                                    m.ref, m.ref));
    if (c.find(m.name)) t.fail_key("name", fmt::format("'{}' is the name of an earlier [[model]] too", m.name));
    c.models.push_back(std::move(m));
  }
  if (c.models.empty()) fail("{}: no [[model]] entries; add at least one", origin);

  c.routing = parse_routing(root, c);
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
