#include "dashboard/routing_rules.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/file.h"

namespace lcte::dashboard {

using nlohmann::json;

namespace {

bool earlier_form(const json& j) {
  return j.contains("scale") || j.contains("always_tier") || (j.contains("tiers") && j["tiers"].is_object());
}

// The dashboard's earlier rules form in RouterConfig's keys.
json convert_earlier_form(const json& j) {
  json out = json::object();
  for (const auto& [key, value] : j.items()) {
    if (key == "scale") {
      if (!value.is_object()) fail("scale: expected an object");
      for (const auto& [k, v] : value.items()) {
        if (k != "upper_bounds") fail("scale.{}: unknown field", k);
        out["token_bounds"] = v;
      }
    } else if (key == "tiers") {
      if (!value.is_object()) fail("tiers: expected an object (names, max_score) in the earlier form");
      for (const auto& [k, v] : value.items()) {
        if (k == "names")
          out["tiers"] = v;
        else if (k == "max_score")
          out["max_score"] = v;
        else
          fail("tiers.{}: unknown field", k);
      }
    } else if (key != "always_tier") {
      out[key] = value;
    }
  }
  if (j.value("policy", json("threshold")) == json("always")) {
    if (!j.contains("always_tier") || !j["always_tier"].is_string())
      fail("always_tier: the always policy needs a tier");
    out["policy"] = "always-" + j["always_tier"].get<std::string>();
  }
  return out;
}

void write_atomically(const std::string& path, const std::string& text) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  write_file_atomic(path, text);
}

// The router the rules describe; throws when it cannot be built.
std::shared_ptr<const route::Router> build(const route::RouterConfig& config, route::TokenizerCache& tokenizers) {
  config.validate();
  route::check_deployable(config);
  return route::make_router(config, tokenizers);
}

// What a rules file holds: the configuration and its version.
std::string file_text(const Rules& rules) {
  json j = rules.config.to_json();
  j["version"] = rules.version;
  return j.dump(2) + "\n";
}

}  // namespace

json Rules::to_json() const {
  json j = config.to_json();
  j["version"] = version;
  if (!router) j["error"] = error;
  return j;
}

route::RouterConfig read_rules(const json& j, int* version, bool* converted) {
  if (!j.is_object()) fail("routing rules: expected a JSON object");
  const bool earlier = earlier_form(j);
  json settings = earlier ? convert_earlier_form(j) : j;
  if (settings.contains("version")) {
    if (!settings["version"].is_number_integer())
      fail("version: expected an integer, got {}", settings["version"].dump());
    if (version != nullptr) *version = settings["version"].get<int>();
    settings.erase("version");
  }
  settings.erase("error");  // what GET adds when the router is missing
  if (converted != nullptr) *converted = earlier;
  return route::RouterConfig::from_json(settings);
}

RulesHolder::RulesHolder(std::string path, route::RouterConfig initial,
                         std::shared_ptr<route::TokenizerCache> tokenizers)
    : path_(std::move(path)),
      tokenizers_(tokenizers ? std::move(tokenizers) : std::make_shared<route::TokenizerCache>()) {
  auto rules = std::make_shared<Rules>();
  rules->config = std::move(initial);
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
    bool converted = false;
    try {
      rules->config = read_rules(j, &rules->version, &converted);
      rules->config.validate();
    } catch (const Error& e) {
      fail("{}: {}{}", path_, e.what(), converted ? " (in rules converted from the dashboard's earlier form)" : "");
    }
    if (converted)
      spdlog::warn(
          "{}: routing rules in the dashboard's earlier form, read as policy {}{}; they are saved in the "
          "current form (docs/formats.md) at the next change",
          path_, rules->config.policy,
          rules->config.tokenizer.empty() ? ", counting tokens with " + std::string(route::kDefaultTokenizer) : "");
  } else if (!path_.empty()) {
    rules->config.validate();
    write_atomically(path_, file_text(*rules));  // a file to edit, holding the rules in use
  }
  try {
    rules->router = build(rules->config, *tokenizers_);
  } catch (const Error& e) {
    rules->error = e.what();
    spdlog::warn("routing rules{}: no router: {}", path_.empty() ? "" : " " + path_, rules->error);
  }
  current_ = std::move(rules);
}

std::shared_ptr<const Rules> RulesHolder::get() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::shared_ptr<const Rules> RulesHolder::set(route::RouterConfig config) {
  auto rules = std::make_shared<Rules>();
  rules->router = build(config, *tokenizers_);  // outside the lock: a tokenizer may take a while to load
  rules->config = std::move(config);
  std::lock_guard lock(mutex_);
  rules->version = current_->version + 1;
  if (!path_.empty()) write_atomically(path_, file_text(*rules));
  current_ = std::move(rules);
  return current_;
}

}  // namespace lcte::dashboard
