#include "cli/routing.h"

#include <filesystem>

#include "backend/router_backend.h"
#include "core/error.h"

namespace lcte::cli {

route::RouterConfig router_config(const backend::Catalogue& catalogue) { return backend::router_config(catalogue); }

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
