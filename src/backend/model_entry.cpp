#include "backend/model_entry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text.h"

namespace lcte::backend {
namespace fs = std::filesystem;

namespace {

// eval's names (eval::parse_style, eval::parse_split), which this layer
// cannot call; a test checks that each one parses there.
const std::vector<std::string> kStyles = {"completion", "instruct", "chat"};
const std::vector<std::string> kSplits = {"test", "validation", "train", "prompt", "all"};
const std::vector<std::string> kBackends = {"engine", "http", "canonical", "file"};

// "a, b, c" or, with `last`, "a, b or c".
std::string join(const std::vector<std::string>& words, const char* last = ", ") {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i == 0 ? "" : i + 1 == words.size() ? last : ", ") + words[i];
  return out;
}

// Where an error is: the file and line, the entry, and its name once known.
class EntryErrors {
 public:
  EntryErrors(const toml::table& t, std::string file, size_t index)
      : table_(t), file_(std::move(file)), index_(index) {}
  void set_name(const std::string& name) { name_ = name; }

  // An error about one key, at its line.
  [[noreturn]] void key(const char* key, const std::string& message) const {
    const toml::node* n = table_.get(key);
    fail("{}: model[{}].{}{}: {}", at(n != nullptr ? n : &table_), index_, key, named(), message);
  }
  // An error about the entry as a whole, at its header.
  [[noreturn]] void entry(const std::string& message) const {
    fail("{}: model[{}]{}: {}", at(&table_), index_, named(), message);
  }

 private:
  std::string at(const toml::node* n) const {
    const auto& s = n->source();
    return s.begin.line > 0 ? fmt::format("{}:{}", file_, s.begin.line) : file_;
  }
  std::string named() const { return name_.empty() ? "" : fmt::format(" (model '{}')", name_); }

  const toml::table& table_;
  std::string file_;
  size_t index_;
  std::string name_;
};

std::optional<std::string> read_string(const toml::table& t, const char* key, const EntryErrors& err) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::nullopt;
  auto v = n->value_exact<std::string>();
  if (!v) err.key(key, "must be a string");
  return *v;
}

std::optional<int64_t> read_integer(const toml::table& t, const char* key, const EntryErrors& err) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::nullopt;
  auto v = n->value_exact<int64_t>();
  if (!v) err.key(key, "must be an integer");
  return *v;
}

std::optional<double> read_number(const toml::table& t, const char* key, const EntryErrors& err) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::nullopt;
  std::optional<double> v;
  if (auto d = n->value_exact<double>()) v = *d;
  if (auto i = n->value_exact<int64_t>()) v = static_cast<double>(*i);
  if (!v) err.key(key, "must be a number");
  return v;
}

std::string absolute_beside(const std::string& file, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  if (path.is_absolute()) return path.lexically_normal().string();
  return (fs::absolute(fs::path(file)).parent_path() / path).lexically_normal().string();
}

// Which keys of `backend` are set that it has no use for.
void refuse_foreign_keys(const ModelEntry& m, const toml::table& t, const EntryErrors& err) {
  struct Use {
    const char* key;
    std::vector<std::string> backends;
  };
  static const std::vector<Use> uses = {
      {"path", {"engine"}},      {"ref", {"engine"}},         {"samples_file", {"file"}},
      {"url", {"http"}},         {"base_url", {"http"}},      {"model", {"http"}},
      {"api_key_env", {"http"}}, {"max_in_flight", {"http"}}, {"top_p", {"engine", "http"}}};
  for (const Use& u : uses) {
    if (t.get(u.key) == nullptr) continue;
    if (std::find(u.backends.begin(), u.backends.end(), m.backend) != u.backends.end()) continue;
    err.key(u.key,
            fmt::format("is for {} models, and this one is backend = \"{}\"", join(u.backends, " and "), m.backend));
  }
}

}  // namespace

const std::vector<std::string>& model_entry_keys() {
  static const std::vector<std::string> keys = {"name", "backend",  "path",  "ref",         "samples_file",
                                                "url",  "base_url", "model", "api_key_env", "max_in_flight",
                                                "tier", "cost",     "style", "top_p",       "split"};
  return keys;
}

std::string closest_word(const std::string& word, const std::vector<std::string>& known) {
  const std::vector<std::string> close = closest_names(word, known);
  return close.empty() ? std::string() : close.front();
}

ModelEntry read_model_entry(const toml::table& t, const std::string& file, size_t index) {
  EntryErrors err(t, file, index);
  ModelEntry m;
  m.name = read_string(t, "name", err).value_or("");
  if (m.name.empty()) err.entry("'name' is required");
  // Step ids (<kind>:<model>:<suite>) and routing tiers (1-64 bytes, no
  // control characters) carry the name.
  if (m.name.find(':') != std::string::npos) err.key("name", fmt::format("'{}' must not contain ':'", m.name));
  if (m.name.size() > 64) err.key("name", "must be at most 64 bytes");
  if (std::any_of(m.name.begin(), m.name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    err.key("name", "must not contain control characters");
  err.set_name(m.name);

  const auto& keys = model_entry_keys();
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    std::string near = closest_word(key, keys);
    err.key(key.c_str(), near.empty() ? fmt::format("unknown key (known: {})", join(keys))
                                      : fmt::format("unknown key; did you mean '{}'?", near));
  }

  m.path = read_string(t, "path", err).value_or("");
  m.ref = read_string(t, "ref", err).value_or("");
  m.samples_file = read_string(t, "samples_file", err).value_or("");
  m.url = read_string(t, "url", err).value_or("");
  if (auto base = read_string(t, "base_url", err)) {
    if (t.get("url") != nullptr) err.key("base_url", "give 'url' or 'base_url', not both (they are one key)");
    m.url = *base;
  }
  m.remote_model = read_string(t, "model", err).value_or("");
  m.api_key_env = read_string(t, "api_key_env", err).value_or("");

  if (auto b = read_string(t, "backend", err)) {
    m.backend = *b;
    if (std::find(kBackends.begin(), kBackends.end(), m.backend) == kBackends.end())
      err.key("backend", fmt::format("must be {}, not '{}'", join(kBackends, " or "), m.backend));
  } else if (!m.url.empty()) {
    m.backend = "http";
  } else if (!m.samples_file.empty()) {
    m.backend = "file";
  } else if (m.path.empty() && m.ref.empty()) {
    err.entry(
        "give 'path' (a GGUF file), 'ref' (a registry model), 'url' (an endpoint) or 'backend' "
        "(canonical, file)");
  }
  refuse_foreign_keys(m, t, err);
  if (m.backend == "engine" && m.path.empty() == m.ref.empty())
    err.entry("give exactly one of 'path' (a GGUF file) or 'ref' (a registry model)");
  if (m.backend == "http" && m.url.empty())
    err.entry("an endpoint needs 'url' (its base URL, e.g. http://gpu-box:8000/v1)");
  if (m.backend == "http" && m.remote_model.empty())
    err.entry("an endpoint needs 'model', the server's name for the model (vLLM: --served-model-name)");
  if (m.backend == "http" && !m.url.starts_with("http://") && !m.url.starts_with("https://"))
    err.key(t.get("url") ? "url" : "base_url", fmt::format("'{}' is not an http:// or https:// URL", m.url));
  if (m.backend == "file" && m.samples_file.empty()) err.key("samples_file", "is required with backend = \"file\"");

  if (auto v = read_integer(t, "max_in_flight", err)) {
    if (*v < 1 || *v > 4096) err.key("max_in_flight", fmt::format("must be 1 to 4096, got {}", *v));
    m.max_in_flight = static_cast<int>(*v);
  }
  if (auto v = read_integer(t, "tier", err)) {
    if (*v < 0 || *v > 1000000) err.key("tier", fmt::format("must be 0 or more, got {}", *v));
    m.tier = static_cast<int>(*v);
  }
  if (auto v = read_number(t, "cost", err)) {
    if (!(*v > 0) || !std::isfinite(*v)) err.key("cost", fmt::format("must be positive, got {}", *v));
    m.cost = *v;
  }
  if (auto v = read_string(t, "style", err)) {
    if (std::find(kStyles.begin(), kStyles.end(), *v) == kStyles.end())
      err.key("style", fmt::format("must be completion (the raw prompt) or instruct (chat messages; also 'chat'), "
                                   "not '{}'",
                                   *v));
    m.style = *v == "chat" ? "instruct" : *v;
  }
  if (auto v = read_number(t, "top_p", err)) {
    if (!(*v > 0 && *v <= 1)) err.key("top_p", fmt::format("must be in (0, 1], got {}", *v));
    m.top_p = *v;
  }
  if (auto v = read_string(t, "split", err)) {
    if (std::find(kSplits.begin(), kSplits.end(), *v) == kSplits.end())
      err.key("split", fmt::format("must be {}, not '{}'", join(kSplits, " or "), *v));
    m.split = *v;
  }
  m.path = absolute_beside(file, m.path);
  m.samples_file = absolute_beside(file, m.samples_file);
  return m;
}

std::string model_entry_toml(const ModelEntry& m) {
  // JSON strings and numbers are valid TOML values.
  auto str = [](const std::string& s) { return nlohmann::json(s).dump(); };
  std::string out = "[[model]]\nname = " + str(m.name) + "\n";
  out += "backend = " + str(m.backend) + "\n";
  if (!m.path.empty()) out += "path = " + str(m.path) + "\n";
  if (!m.ref.empty()) out += "ref = " + str(m.ref) + "\n";
  if (!m.samples_file.empty()) out += "samples_file = " + str(m.samples_file) + "\n";
  if (m.is_remote()) {
    out += "url = " + str(m.url) + "\nmodel = " + str(m.remote_model) + "\n";
    if (!m.api_key_env.empty()) out += "api_key_env = " + str(m.api_key_env) + "\n";
    out += fmt::format("max_in_flight = {}\n", m.max_in_flight);
  }
  out += fmt::format("tier = {}\ncost = {}\n", m.tier, nlohmann::json(m.cost).dump());
  if (!m.style.empty()) out += "style = " + str(m.style) + "\n";
  if (m.top_p) out += "top_p = " + nlohmann::json(*m.top_p).dump() + "\n";
  if (!m.split.empty()) out += "split = " + str(m.split) + "\n";
  return out;
}

}  // namespace lcte::backend
