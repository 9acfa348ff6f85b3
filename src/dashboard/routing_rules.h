// The routing rules the live server applies: a route::RouterConfig (the one
// configuration type, with the catalogue's keys) and a version bumped on
// every accepted change, with the router built from them. Edited from the
// dashboard, checked by building the router before they replace the current
// rules (a tokenizer that will not load or a learned model trained for other
// tiers is refused then, not at the next request), persisted as JSON, and
// read per request through RulesHolder.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <string>

#include "route/config.h"
#include "route/router.h"
#include "route/tokens.h"

namespace lcte::dashboard {

struct Rules {
  route::RouterConfig config;
  int version = 0;
  // Null when the router could not be built from a rules file read at start
  // (`error` says why); set() never accepts such rules.
  std::shared_ptr<const route::Router> router;
  std::string error;

  // The configuration's JSON and "version" (and "error" when there is no router).
  nlohmann::json to_json() const;
};

// Reads a rules document (a rules file or an API body): RouterConfig's keys
// and "version". The dashboard's earlier form (policy threshold, random or
// always with always_tier; scale.upper_bounds; tiers.names and
// tiers.max_score) is converted, and `converted` says so. Unknown keys and
// wrong types are lcte::Error naming the field. Does not validate.
route::RouterConfig read_rules(const nlohmann::json& j, int* version = nullptr, bool* converted = nullptr);

// Holds the current rules; readers take a snapshot per request, writers
// validate, build the router, bump the version and persist (atomically: temp
// file + rename) before the new rules become visible.
class RulesHolder {
 public:
  // path "" keeps the rules in memory only. An existing file is read and
  // validated (a bad file is lcte::Error naming it; one in the earlier form is
  // converted, with a warning in the log); otherwise the rules start as
  // `initial`, version 0, and an absent file is written with them. The
  // router is built with `tokenizers`.
  RulesHolder(std::string path, route::RouterConfig initial, std::shared_ptr<route::TokenizerCache> tokenizers);
  std::shared_ptr<const Rules> get() const;
  // Validates and applies; returns the stored rules (with the new version).
  // Throws lcte::Error naming the field, or why the router cannot be built.
  std::shared_ptr<const Rules> set(route::RouterConfig config);
  const std::string& path() const { return path_; }
  route::TokenizerCache& tokenizers() const { return *tokenizers_; }

 private:
  std::string path_;
  std::shared_ptr<route::TokenizerCache> tokenizers_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Rules> current_;
};

}  // namespace lcte::dashboard
