// lcte models list [--config FILE] [--json]: the catalogue's models, tiers and
// cost weights, each checked: a local GGUF file's header and tokenizer are
// readable, an endpoint answers GET /v1/models with the entry's model id.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "backend/catalogue.h"
#include "backend/open.h"
#include "cli/commands.h"
#include "core/error.h"
#include "registry/registry.h"

namespace lcte::cli {
namespace {

struct ModelsArgs {
  std::string config;
  bool json = false;
  double timeout = 5;
};

std::string default_config() {
  const char* env = std::getenv("LCTE_MODELS");
  return env != nullptr && *env != '\0' ? env : "models.toml";
}

// The tier a model answers (a tier's model is its name unless [routing] models says otherwise).
int tier_of(const backend::Catalogue& c, const std::string& name) {
  for (size_t i = 0; i < c.routing.tiers.size(); ++i)
    if (c.routing.model_of(i) == name) return static_cast<int>(i);
  return -1;
}

void run(const ModelsArgs& a) {
  const std::string path = a.config.empty() ? default_config() : a.config;
  backend::Catalogue c = backend::load_catalogue(path);
  nlohmann::json rows = nlohmann::json::array();
  size_t bad = 0;
  for (const backend::ModelEntry& m : c.models) {
    backend::ModelCheck check = backend::check_model(m, a.timeout);
    if (!check.ok) bad++;
    int tier = tier_of(c, m.name);
    rows.push_back(
        {{"name", m.name},
         {"kind", m.is_local() ? "local" : "endpoint"},
         {"source", m.is_local() ? m.path : m.url + " (" + m.remote_model + ")"},
         {"tier", tier >= 0 ? nlohmann::json(tier) : nlohmann::json(nullptr)},
         {"max_score", tier >= 0 ? nlohmann::json(c.routing.max_score[size_t(tier)]) : nlohmann::json(nullptr)},
         {"cost", m.cost},
         {"ok", check.ok},
         {"detail", check.detail}});
  }
  if (a.json) {
    std::printf("%s\n",
                nlohmann::json({{"catalogue", path}, {"models", rows}, {"policy", c.routing.policy}}).dump(2).c_str());
  } else {
    std::printf("%-16s %-8s %-5s %-6s %-8s %-4s %s\n", "name", "kind", "tier", "score", "cost", "ok",
                "source / detail");
    for (const auto& r : rows) {
      std::string tier = r["tier"].is_null() ? "-" : std::to_string(r["tier"].get<int>());
      std::string score = r["max_score"].is_null() ? "-" : "<=" + std::to_string(r["max_score"].get<int>());
      std::printf("%-16s %-8s %-5s %-6s %-8g %-4s %s\n    %s\n", r["name"].get<std::string>().c_str(),
                  r["kind"].get<std::string>().c_str(), tier.c_str(), score.c_str(), r["cost"].get<double>(),
                  r["ok"].get<bool>() ? "yes" : "NO", r["source"].get<std::string>().c_str(),
                  r["detail"].get<std::string>().c_str());
    }
    std::printf("routing: %s over %zu tier(s)%s\n", c.routing.policy.c_str(), c.routing.tiers.size(),
                c.routing.forced_tier.empty() ? "" : (", forced to " + c.routing.forced_tier).c_str());
  }
  if (bad > 0) fail("{}: {} of {} model(s) are not reachable or loadable", path, bad, c.models.size());
}

}  // namespace

void add_models_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "models", "The model catalogue (list --config) and the model registry (add, list, show, rm, tag)");
  cmd->require_subcommand(1);
  auto a = std::make_shared<ModelsArgs>();
  auto* list = cmd->add_subcommand("list", "List the catalogue's models and check that each is reachable or loadable");
  list->add_option("--config", a->config, "Model catalogue (TOML; default $LCTE_MODELS or models.toml)");
  list->add_flag("--json", a->json, "Print JSON");
  list->add_option("--timeout", a->timeout, "Seconds to wait for an endpoint")->capture_default_str();
  list->callback([a, cmd] {
    // `models --registry DIR list`, or no catalogue named or found: the
    // registry is what the user asks for (its option lives on `models`).
    const CLI::Option* reg = cmd->get_option_no_throw("--registry");
    bool asked = reg != nullptr && reg->count() > 0;
    bool catalogue =
        !a->config.empty() || std::getenv("LCTE_MODELS") != nullptr || std::filesystem::exists("models.toml");
    if (asked || !catalogue) {
      list_registry(asked ? reg->as<std::string>() : registry::default_registry_dir(), a->json);
      return;
    }
    run(*a);
  });
}

}  // namespace lcte::cli
