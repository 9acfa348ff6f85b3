// An lcte server on a loopback port of its own, serving the stories260K model
// through the engine backend, and a small HTTP client for the tests.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "backend/engine_backend.h"
#include "common/test_data.h"
#include "server/server.h"

namespace lcte::server::testing {

inline const char* kModelFile = "models/stories260K-f32.gguf";

inline std::shared_ptr<backend::EngineBackend> load_engine(const std::string& name = "stories") {
  backend::EngineOptions o;
  o.path = lcte::testing::data_path(kModelFile);
  o.name = name;
  o.threads = 1;
  o.n_ctx = 1024;
  return std::make_shared<backend::EngineBackend>(o);
}

struct LiveServer {
  std::unique_ptr<Server> server;
  int port = 0;

  LiveServer(std::vector<ServedModel> models, ServerOptions options, RouteFn router = {}) {
    options.port = 0;
    server = std::make_unique<Server>(std::move(models), options, router);
    port = server->start();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c;
  }
};

struct Answer {
  int status = -1;  // -1: no answer (connection failed)
  nlohmann::json body;
  std::string text;
};

inline Answer post(const LiveServer& s, const std::string& path, const std::string& body,
                   const httplib::Headers& headers = {}) {
  httplib::Client c = s.client();
  auto res = c.Post(path.c_str(), headers, body, "application/json");
  Answer a;
  if (!res) return a;
  a.status = res->status;
  a.text = res->body;
  a.body = nlohmann::json::parse(res->body, nullptr, false);
  return a;
}

inline Answer get(const LiveServer& s, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client c = s.client();
  auto res = c.Get(path.c_str(), headers);
  Answer a;
  if (!res) return a;
  a.status = res->status;
  a.text = res->body;
  a.body = nlohmann::json::parse(res->body, nullptr, false);
  return a;
}

}  // namespace lcte::server::testing
