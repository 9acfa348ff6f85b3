#include "backend/open.h"

#include <algorithm>

#include <fmt/format.h>

#include "backend/http_backend.h"

namespace lcte::backend {

std::shared_ptr<Backend> open_backend(const ModelEntry& entry, const EngineOptions& engine, const HttpOptions& http) {
  if (entry.is_local()) {
    EngineOptions o = engine;
    o.path = entry.path;
    o.name = entry.name;
    return std::make_shared<EngineBackend>(o);
  }
  HttpOptions o = http;
  o.base_url = entry.url;
  o.model = entry.remote_model;
  o.api_key_env = entry.api_key_env;
  o.max_in_flight = entry.max_in_flight;
  return std::make_shared<HttpBackend>(o);
}

ModelCheck check_model(const ModelEntry& entry, double timeout_s) {
  ModelCheck c;
  try {
    if (entry.is_local()) {
      c.detail = describe_gguf(entry.path);
      c.ok = true;
      return c;
    }
    HttpOptions o;
    o.base_url = entry.url;
    o.model = entry.remote_model;
    o.api_key_env = entry.api_key_env;
    o.connect_timeout_s = timeout_s;
    OpenAIClient client(o);
    std::vector<std::string> ids = client.list_models();
    if (std::find(ids.begin(), ids.end(), entry.remote_model) == ids.end()) {
      std::string listed;
      for (size_t i = 0; i < ids.size() && i < 5; ++i) listed += (i ? ", " : "") + ids[i];
      c.detail = fmt::format("reachable, but it does not serve '{}' (it serves: {}{})", entry.remote_model,
                             listed.empty() ? "nothing" : listed, ids.size() > 5 ? ", ..." : "");
      return c;
    }
    c.ok = true;
    c.detail = fmt::format("reachable, serves '{}'", entry.remote_model);
  } catch (const std::exception& e) {
    c.detail = e.what();
  }
  return c;
}

}  // namespace lcte::backend
