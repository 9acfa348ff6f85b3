#include "backend/model_entry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/toml_read.h"

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

std::string absolute_beside(const std::string& file, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  if (path.is_absolute()) return path.lexically_normal().string();
  return (fs::absolute(fs::path(file)).parent_path() / path).lexically_normal().string();
}

// Which keys of `backend` are set that it has no use for.
void refuse_foreign_keys(const ModelEntry& m, const TomlTable& t) {
  struct Use {
    const char* key;
    std::vector<std::string> backends;
  };
  static const std::vector<Use> uses = {
      {"path", {"engine"}},      {"ref", {"engine"}},         {"samples_file", {"file"}},
      {"url", {"http"}},         {"base_url", {"http"}},      {"model", {"http"}},
      {"api_key_env", {"http"}}, {"max_in_flight", {"http"}}, {"top_p", {"engine", "http"}}};
  for (const Use& u : uses) {
    if (!t.has(u.key)) continue;
    if (std::find(u.backends.begin(), u.backends.end(), m.backend) != u.backends.end()) continue;
    t.fail_key(u.key,
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

ModelEntry read_model_entry(const toml::table& table, const std::string& file, size_t index) {
  const TomlTable t(table, file, fmt::format("[[model]] #{}", index + 1));
  t.check_keys(model_entry_keys());
  ModelEntry m;
  m.name = t.string("name").value_or("");
  if (!t.has("name")) t.fail_missing("name");
  // Step ids (<kind>:<model>:<suite>) and routing tiers (1-64 bytes, no
  // control characters) carry the name.
  if (m.name.empty()) t.fail_key("name", "must not be empty");
  if (m.name.find(':') != std::string::npos) t.fail_key("name", fmt::format("'{}' must not contain ':'", m.name));
  if (m.name.size() > 64) t.fail_key("name", "must be at most 64 bytes");
  if (std::any_of(m.name.begin(), m.name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    t.fail_key("name", "must not contain control characters");

  m.path = t.string("path").value_or("");
  m.ref = t.string("ref").value_or("");
  m.samples_file = t.string("samples_file").value_or("");
  m.url = t.string("url").value_or("");
  if (auto base = t.string("base_url")) {
    if (t.has("url")) t.fail_key("base_url", "give 'url' or 'base_url', not both (they are one key)");
    m.url = *base;
  }
  m.remote_model = t.string("model").value_or("");
  m.api_key_env = t.string("api_key_env").value_or("");

  if (auto b = t.string("backend")) {
    m.backend = *b;
    if (std::find(kBackends.begin(), kBackends.end(), m.backend) == kBackends.end())
      t.fail_key("backend", fmt::format("must be {}, not '{}'", join(kBackends, " or "), m.backend));
  } else if (!m.url.empty()) {
    m.backend = "http";
  } else if (!m.samples_file.empty()) {
    m.backend = "file";
  } else if (m.path.empty() && m.ref.empty()) {
    t.fail_table(
        "give 'path' (a GGUF file), 'ref' (a registry model), 'url' (an endpoint) or 'backend' "
        "(canonical, file)");
  }
  refuse_foreign_keys(m, t);
  if (m.backend == "engine" && m.path.empty() == m.ref.empty())
    t.fail_table("give exactly one of 'path' (a GGUF file) or 'ref' (a registry model)");
  if (m.backend == "http" && m.url.empty())
    t.fail_table("an endpoint needs 'url' (its base URL, e.g. http://gpu-box:8000/v1)");
  if (m.backend == "http" && m.remote_model.empty())
    t.fail_table("an endpoint needs 'model', the server's name for the model (vLLM: --served-model-name)");
  if (m.backend == "http" && !m.url.starts_with("http://") && !m.url.starts_with("https://"))
    t.fail_key(t.has("url") ? "url" : "base_url", fmt::format("'{}' is not an http:// or https:// URL", m.url));
  if (m.backend == "file" && m.samples_file.empty()) t.fail_missing("samples_file", "required with backend = \"file\"");

  if (auto v = t.integer("max_in_flight", 1, 4096)) m.max_in_flight = static_cast<int>(*v);
  if (auto v = t.integer("tier", 0, 1000000)) m.tier = static_cast<int>(*v);
  if (auto v = t.number("cost")) {
    if (!(*v > 0) || !std::isfinite(*v)) t.fail_key("cost", fmt::format("must be positive, got {}", *v));
    m.cost = *v;
  }
  if (auto v = t.string("style")) {
    if (std::find(kStyles.begin(), kStyles.end(), *v) == kStyles.end())
      t.fail_key("style", fmt::format("must be completion (the raw prompt) or instruct (chat messages; also "
                                      "'chat'), not '{}'",
                                      *v));
    m.style = *v == "chat" ? "instruct" : *v;
  }
  if (auto v = t.number("top_p")) {
    if (!(*v > 0 && *v <= 1)) t.fail_key("top_p", fmt::format("must be in (0, 1], got {}", *v));
    m.top_p = *v;
  }
  if (auto v = t.string("split")) {
    if (std::find(kSplits.begin(), kSplits.end(), *v) == kSplits.end())
      t.fail_key("split", fmt::format("must be {}, not '{}'", join(kSplits, " or "), *v));
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
