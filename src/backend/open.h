// A catalogue entry as a Backend: a local GGUF file becomes an EngineBackend
// (loaded now), an endpoint an HttpBackend; and the reachability check of
// `lcte models list`.
#pragma once

#include <memory>
#include <string>

#include "backend/catalogue.h"
#include "backend/engine_backend.h"
#include "backend/generation.h"
#include "backend/openai_client.h"

namespace lcte::backend {

// `engine` and `http` supply the settings a catalogue entry does not name
// (threads, context, timeouts, retries); the entry's name, file or URL,
// model id, key variable and in-flight cap win.
std::shared_ptr<Backend> open_backend(const ModelEntry& entry, const EngineOptions& engine, const HttpOptions& http);

struct ModelCheck {
  bool ok = false;
  std::string detail;  // what was found, or what is wrong
};

// Local: the GGUF header and tokenizer are readable. Endpoint: GET /v1/models
// answers and lists the entry's model id.
ModelCheck check_model(const ModelEntry& entry, double timeout_s = 5.0);

}  // namespace lcte::backend
