// The model catalogue: a TOML file naming the models a user evaluates and
// routes among, each a local GGUF file or an OpenAI-compatible endpoint, with
// its tier and cost weight, plus the routing settings. Its [[model]] entries
// are a study's (backend/model_entry.h), less the model-free backends and
// registry references, which only a study can use.
//
//   [[model]]
//   name = "small"            # how runs and routes refer to it
//   path = "models/coder-1b-q4_k_m.gguf"
//   cost = 1.0                # relative cost of one query (routing weighs by it)
//
//   [[model]]
//   name = "large"
//   url = "http://gpu-box:8000/v1"
//   model = "Qwen/Qwen2.5-Coder-32B-Instruct"   # the server's model id
//   api_key_env = "VLLM_API_KEY"                # optional
//   max_in_flight = 32                          # optional, default 8
//   style = "instruct"                          # optional: how lcte eval prompts it
//   cost = 20.0
//
//   [routing]                   # route::RouterConfig's keys (docs/formats.md)
//   tiers = ["small", "large"]  # cheapest first; default: models by tier, then cost
//   max_score = [6, 10]         # highest complexity score each tier takes
//   policy = "threshold"
//   forced_tier = ""            # global override; "" routes normally
//   tokenizer = "cl100k_base"   # counts query tokens: an encoding, a file or a local model
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/model_entry.h"
#include "route/config.h"

namespace lcte::backend {

struct Catalogue {
  std::string path;
  std::vector<ModelEntry> models;
  // Validated: every tier's model is a [[model]] name; a relative
  // learned_model or tokenizer file is relative to the catalogue, like model
  // paths; a tokenizer naming a model names a local one.
  route::RouterConfig routing;

  const ModelEntry* find(const std::string& name) const;
  const ModelEntry& get(const std::string& name) const;  // throws naming the catalogue
};

// The models a routing configuration may name as its tokenizer: each local
// model with its GGUF file, each remote one with "" (route::TokenizerCache).
std::map<std::string, std::string> model_files(const Catalogue& catalogue);

// Parses and validates; errors name the file, the entry and the key.
Catalogue load_catalogue(const std::string& path);
Catalogue parse_catalogue(const std::string& toml_text, const std::string& origin);

}  // namespace lcte::backend
