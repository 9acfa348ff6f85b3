// lcte serve: the catalogue's models (local engines and remote endpoints)
// behind the OpenAI API that every client speaks: GET /v1/models,
// POST /v1/completions and /v1/chat/completions (SSE streams or whole
// answers), GET /health and GET /metrics (Prometheus text). The request's
// model names a served model, or "router"/"auto" to let the RouteFn choose.
// Every failure is answered with OpenAI's error object and the right status;
// nothing a client sends stops the server.
//
// Connections go through HttpFront (limits on connections, heads, bodies,
// time and queued requests). Loopback only by default, where the Host must
// be a loopback name (DNS rebinding) and every request to /v1 must come from
// no other site (Origin, Sec-Fetch-Site) and POST application/json (no simple
// cross-site form or text/plain request gets through). Binding any other
// address needs an API key, which every /v1 request must then present
// (Authorization: Bearer KEY); /health and /metrics stay open unless
// key_for_health. Other parts (the dashboard) add their routes with mount()
// before start(), with an admission of their own for their paths.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backend/generation.h"
#include "server/api.h"
#include "server/http_front.h"
#include "server/metrics.h"
#include "server/model_routing.h"

namespace lcte::server {

struct ServedModel {
  std::string name;
  std::shared_ptr<backend::Backend> backend;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;              // 0: any free port (start() returns it)
  std::string api_key;          // required unless host is a loopback address
  bool key_for_health = false;  // /health and /metrics need the key too
  // Completion requests in progress at once (the engine queues their
  // generations); one more is answered 503 with Retry-After.
  int max_generations = 64;
  // Connection limits; http.workers 0: max_generations + 16, so /health,
  // /metrics and the dashboard always find a worker.
  HttpLimits http = default_http_limits();
  ApiLimits limits;

  static HttpLimits default_http_limits() {
    HttpLimits h;
    h.workers = 0;
    return h;
  }
};

class Server {
 public:
  // Throws lcte::Error when there are no models, two share a name, or the
  // host is not loopback and there is no API key. `router` empty: "router"
  // and "auto" are unknown models.
  Server(std::vector<ServedModel> models, ServerOptions options, RouteFn router = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Lets another part add routes (before start()). Requests outside /v1,
  // /health and /metrics pass the site checks and then `admission` (before
  // their body is read); without one they need the API key when it is set.
  void mount(const std::function<void(httplib::Server&)>& hook, Admission admission = {});
  HttpFront& http() { return *http_; }

  // Binds and serves on a thread of its own; returns the port (the actual
  // one for port 0). Throws lcte::Error when it cannot bind.
  int start();
  // Stops accepting, lets requests in progress finish, joins. Idempotent.
  void stop();
  int port() const { return port_; }
  const Metrics& metrics() const { return metrics_; }

 private:
  void install_routes();
  std::optional<Refusal> admit(const httplib::Request& req);
  // Held while a completion is generated or streamed; null when
  // max_generations are in progress.
  std::shared_ptr<int> generation_slot();
  void handle_completion(const httplib::Request& req, httplib::Response& res, bool chat);
  void answer_error(httplib::Response& res, const ApiError& e, const std::string& model);
  const ServedModel* find(const std::string& name) const;

  std::vector<ServedModel> models_;
  ServerOptions options_;
  RouteFn router_;
  SitePolicy site_;
  Admission mounted_;
  std::atomic<int> generations_{0};
  std::unique_ptr<HttpFront> http_;
  Metrics metrics_;
  std::thread thread_;
  std::atomic<uint64_t> next_id_{1};
  int port_ = 0;
  bool started_ = false;
};

}  // namespace lcte::server
