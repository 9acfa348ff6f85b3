#include "cli/routing.h"

#include <filesystem>

#include "core/error.h"

namespace lcte::cli {

route::RouterConfig router_config(const backend::Catalogue& catalogue) {
  const backend::RoutingSettings& r = catalogue.routing;
  route::RouterConfig c;
  c.tiers = r.tiers;
  c.max_score = r.max_score;
  c.token_bounds = r.token_bounds;
  c.policy = r.policy;
  c.forced_tier = r.forced_tier;
  c.random_share = r.random_share;
  c.learned_target = r.learned_target;
  c.learned_model = r.learned_model;
  // A relative learned-model path is relative to the catalogue, like model paths.
  if (!c.learned_model.empty() && std::filesystem::path(c.learned_model).is_relative())
    c.learned_model = (std::filesystem::path(catalogue.path).parent_path() / c.learned_model).string();
  return c;
}

std::shared_ptr<const tokenizer::Tokenizer> routing_tokenizer(const backend::Catalogue* catalogue,
                                                              const std::string& tokenizer) {
  std::string path = tokenizer;
  if (catalogue != nullptr) {
    if (path.empty()) path = catalogue->routing.tokenizer;
    if (const backend::ModelEntry* m = catalogue->find(path)) {
      if (!m->is_local()) return nullptr;
      path = m->path;
    }
  }
  if (path.empty()) return nullptr;
  if (!std::filesystem::is_regular_file(path)) fail("--tokenizer: {}: no such model file or catalogue model", path);
  return std::make_shared<const tokenizer::Tokenizer>(tokenizer::load_tokenizer(path));
}

route::TokenCounter token_counter(std::shared_ptr<const tokenizer::Tokenizer> tok) {
  if (!tok) return {};
  return [tok](std::string_view text) { return static_cast<int64_t>(tok->tokenize(text, false).size()); };
}

}  // namespace lcte::cli
