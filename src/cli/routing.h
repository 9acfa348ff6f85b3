// The router as the commands build it from a model catalogue (`[routing]`)
// and the command line: the routing settings, and the tokenizer that counts a
// query's tokens (a catalogue model's GGUF, or a GGUF given directly).
#pragma once

#include <memory>
#include <string>

#include "backend/catalogue.h"
#include "route/router.h"
#include "tokenizer/tokenizer.h"

namespace lcte::cli {

route::RouterConfig router_config(const backend::Catalogue& catalogue);

// The routing tokenizer: `tokenizer` names a local catalogue model or is a
// GGUF path; nullptr when it names a remote model (token counts are then
// estimated, and decisions say so).
std::shared_ptr<const tokenizer::Tokenizer> routing_tokenizer(const backend::Catalogue* catalogue,
                                                              const std::string& tokenizer);

route::TokenCounter token_counter(std::shared_ptr<const tokenizer::Tokenizer> tok);

}  // namespace lcte::cli
