// lcte serve: the catalogue's models (local engines and remote endpoints)
// behind the OpenAI API that every client speaks: GET /v1/models,
// POST /v1/completions and /v1/chat/completions (SSE streams or whole
// answers), GET /health and GET /metrics (Prometheus text). The request's
// model names a served model, or "router"/"auto" to let the RouteFn choose.
// Every failure is answered with OpenAI's error object and the right status;
// nothing a client sends stops the server.
//
// Loopback only by default; binding any other address needs an API key,
// which every request must then present (Authorization: Bearer KEY).
// Other parts (the dashboard) add their routes with mount() before start().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend/generation.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/router.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace lcte::server {

struct ServedModel {
  std::string name;
  std::shared_ptr<backend::Backend> backend;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;            // 0: any free port (start() returns it)
  std::string api_key;        // required unless host is a loopback address
  size_t max_body_bytes = 1 << 20;
  int http_threads = 64;      // connections served at once (the engine queues their generations)
  ApiLimits limits;
};

bool is_loopback(const std::string& host);

class Server {
 public:
  // Throws lcte::Error when there are no models, two share a name, or the
  // host is not loopback and there is no API key. `router` empty: "router"
  // and "auto" are unknown models.
  Server(std::vector<ServedModel> models, ServerOptions options, RouteFn router = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Lets another part add routes (before start()); they sit behind the same
  // API-key check.
  void mount(const std::function<void(httplib::Server&)>& hook);
  httplib::Server& http() { return *http_; }

  // Binds and serves on a thread of its own; returns the port (the actual
  // one for port 0). Throws lcte::Error when it cannot bind.
  int start();
  // Stops accepting, lets requests in progress finish, joins. Idempotent.
  void stop();
  int port() const { return port_; }
  const Metrics& metrics() const { return metrics_; }

 private:
  void install_routes();
  void handle_completion(const httplib::Request& req, httplib::Response& res, bool chat);
  void answer_error(httplib::Response& res, const ApiError& e, const std::string& model);
  const ServedModel* find(const std::string& name) const;

  std::vector<ServedModel> models_;
  ServerOptions options_;
  RouteFn router_;
  std::unique_ptr<httplib::Server> http_;
  Metrics metrics_;
  std::thread thread_;
  std::atomic<uint64_t> next_id_{1};
  int port_ = 0;
  bool started_ = false;
};

}  // namespace lcte::server
