#include "server/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.h"

namespace lcte::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

bool constant_time_equal(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

// The earliest first token of the request's samples, for the metrics.
double first_token(const std::vector<backend::Generation>& gens) {
  double t = backend::kUnknown;
  for (const auto& g : gens)
    if (std::isfinite(g.time_to_first_token_s) && !(g.time_to_first_token_s >= t)) t = g.time_to_first_token_s;
  return t;
}

int completion_tokens(const std::vector<backend::Generation>& gens) {
  int n = 0;
  for (const auto& g : gens) n += std::max(0, g.completion_tokens);
  return n;
}

}  // namespace

Server::Server(std::vector<ServedModel> models, ServerOptions options, RouteFn router)
    : models_(std::move(models)), options_(std::move(options)), router_(std::move(router)) {
  if (models_.empty()) fail("serve: no models to serve");
  std::set<std::string> names;
  for (const ServedModel& m : models_) {
    if (m.backend == nullptr) fail("serve: model '{}' has no backend", m.name);
    if (m.name == "router" || m.name == "auto")
      fail("serve: '{}' is reserved for the router; rename the model", m.name);
    if (!names.insert(m.name).second) fail("serve: two models are named '{}'", m.name);
  }
  if (!is_loopback_address(options_.host) && options_.api_key.empty())
    fail(
        "--host {}: serving beyond this machine needs an API key (--api-key-env or --api-key-file; every request "
        "must then present it)",
        options_.host);
  if (options_.max_generations < 1) fail("serve: at least one generation at a time is needed");
  if (options_.http.workers == 0) options_.http.workers = options_.max_generations + 16;
  site_.loopback_only = is_loopback_address(options_.host);
  http_ = std::make_unique<HttpFront>(options_.http);
  // httplib's default also sets SO_REUSEPORT, which lets a second server bind
  // a port in use and silently share its connections; only SO_REUSEADDR here.
  http_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http_->set_error_format([](int status, const std::string& code, const std::string& message) {
    return dump(
        error_body(ApiError(status, message, status >= 500 ? "server_error" : "invalid_request_error", {}, code)));
  });
  http_->add_admission([this](const httplib::Request& req) { return admit(req); });
  install_routes();
}

Server::~Server() { stop(); }

const ServedModel* Server::find(const std::string& name) const {
  for (const ServedModel& m : models_)
    if (m.name == name) return &m;
  return nullptr;
}

void Server::mount(const std::function<void(httplib::Server&)>& hook, Admission admission) {
  hook(*http_);
  mounted_ = std::move(admission);
}

std::optional<Refusal> Server::admit(const httplib::Request& req) {
  const bool api = req.path.rfind("/v1/", 0) == 0 || req.path == "/v1";
  if (auto r = check_request(site_, req, api)) {
    metrics_.record_error("", r->status, r->code);
    return r;
  }
  const bool open = (req.path == "/health" || req.path == "/metrics") && !options_.key_for_health;
  if (!api && !open && mounted_) return mounted_(req);
  if (options_.api_key.empty() || open) return std::nullopt;
  const std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.rfind(prefix, 0) == 0 && constant_time_equal(auth.substr(prefix.size()), options_.api_key))
    return std::nullopt;
  metrics_.record_error("", 401, "invalid_api_key");
  return Refusal{401, "invalid_api_key",
                 auth.empty() ? "no API key: send the header 'Authorization: Bearer KEY'" : "incorrect API key"};
}

void Server::answer_error(httplib::Response& res, const ApiError& e, const std::string& model) {
  res.status = e.status;
  res.set_content(dump(error_body(e)), "application/json");
  metrics_.record_error(model, e.status, e.code.empty() ? e.type : e.code);
}

void Server::install_routes() {
  httplib::Server& h = *http_;
  // Answers httplib makes itself (no route, body too large, unreadable
  // request) get the error object too; answers that have a body keep it.
  h.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e(res.status, fmt::format("HTTP {}", res.status),
               res.status >= 500 ? "server_error" : "invalid_request_error");
    if (res.status == 404)
      e = ApiError(404, fmt::format("unknown route: {} {}", req.method, req.path), "invalid_request_error", {},
                   "unknown_url");
    else if (res.status == 413)
      e = ApiError(413, fmt::format("the request body is larger than {} bytes", options_.http.max_body_bytes),
                   "invalid_request_error", {}, "request_too_large");
    else if (res.status == 400)
      e = ApiError(400, "malformed HTTP request", "invalid_request_error", {}, "bad_request");
    res.set_content(dump(error_body(e)), "application/json");
    metrics_.record_error("", e.status, e.code.empty() ? e.type : e.code);
    return httplib::Server::HandlerResponse::Handled;
  }));
  h.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {}
    spdlog::error("serve: {}", what);
    answer_error(res, ApiError(500, what, "server_error"), "");
  });

  h.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    json names = json::array();
    for (const ServedModel& m : models_) names.push_back(m.name);
    res.set_content(dump({{"status", "ok"}, {"models", names}}), "application/json");
  });
  h.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.prometheus() + front_prometheus(http_->stats()), "text/plain; version=0.0.4");
  });
  h.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json data = json::array();
    for (const ServedModel& m : models_)
      data.push_back({{"id", m.name},
                      {"object", "model"},
                      {"created", 0},
                      {"owned_by", "lcte"},
                      {"backend", m.backend->name()},
                      {"source", m.backend->model()}});
    if (router_) data.push_back({{"id", "router"}, {"object", "model"}, {"created", 0}, {"owned_by", "lcte"}});
    res.set_content(dump({{"object", "list"}, {"data", data}}), "application/json");
  });
  h.Post("/v1/completions",
         [this](const httplib::Request& req, httplib::Response& res) { handle_completion(req, res, false); });
  h.Post("/v1/chat/completions",
         [this](const httplib::Request& req, httplib::Response& res) { handle_completion(req, res, true); });
}

namespace {

// What the request asks beyond the basics must be something the model's
// backend honours: suite-bound backends sample nothing, and a backend added
// later may honour only part of it.
void check_features(const ApiRequest& r, const ServedModel& m) {
  const backend::Features f = m.backend->features();
  const backend::SamplingParams& s = r.generation.sampling;
  auto refuse = [&](const char* param, const char* what) {
    throw ApiError(400,
                   fmt::format("'{}': the model '{}' (backend '{}') cannot {}", param, m.name, m.backend->name(), what),
                   "invalid_request_error", param, "unsupported_parameter");
  };
  if (r.generation.logprobs >= 0 && !f.logprobs) refuse("logprobs", "return log probabilities");
  if (s.top_k > 0 && !f.top_k_min_p) refuse("top_k", "apply top_k");
  if (s.min_p > 0 && !f.top_k_min_p) refuse("min_p", "apply min_p");
  if (s.presence_penalty != 0 && !f.penalties) refuse("presence_penalty", "apply penalties");
  if (s.frequency_penalty != 0 && !f.penalties) refuse("frequency_penalty", "apply penalties");
  if (s.repetition_penalty != 1 && !f.penalties) refuse("repetition_penalty", "apply penalties");
}

}  // namespace

std::shared_ptr<int> Server::generation_slot() {
  if (generations_.fetch_add(1) >= options_.max_generations) {
    generations_.fetch_sub(1);
    return nullptr;
  }
  return std::shared_ptr<int>(new int(0), [this](int* p) {
    delete p;
    generations_.fetch_sub(1);
  });
}

void Server::handle_completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  const auto start = Clock::now();
  ApiRequest r;
  std::string model_name;
  json routing;
  const ServedModel* model = nullptr;
  try {
    r = parse_request(req.body, chat, options_.limits);
    model_name = r.model;
    if (r.model == "router" || r.model == "auto") {
      if (!router_)
        throw ApiError(404, fmt::format("the model '{}' does not exist: this server has no router", r.model),
                       "invalid_request_error", "model", "model_not_found");
      RouteChoice choice = router_(r.routing_text);
      model_name = choice.model;
      routing = choice.routing;
    }
    model = find(model_name);
    if (model == nullptr) {
      std::string served;
      for (const ServedModel& m : models_) served += (served.empty() ? "" : ", ") + m.name;
      throw ApiError(
          404,
          fmt::format("the model '{}' does not exist (served: {}{})", model_name, served, router_ ? ", router" : ""),
          "invalid_request_error", "model", "model_not_found");
    }
    check_features(r, *model);
  } catch (const ApiError& e) {
    answer_error(res, e, model == nullptr ? "" : model_name);
    return;
  }
  std::shared_ptr<int> slot = generation_slot();
  if (!slot) {
    res.set_header("Retry-After", std::to_string(options_.http.retry_after_s));
    answer_error(res,
                 ApiError(503,
                          fmt::format("the server is generating {} completions, its most; retry after {} s",
                                      options_.max_generations, options_.http.retry_after_s),
                          "server_error", {}, "overloaded"),
                 model_name);
    return;
  }
  const std::string id = fmt::format("{}-{:016x}", chat ? "chatcmpl" : "cmpl", next_id_++);
  std::shared_ptr<backend::Backend> backend = model->backend;

  if (!r.stream) {
    metrics_.in_flight(1);
    std::vector<backend::Generation> gens;
    try {
      gens = backend->generate(r.generation);
    } catch (const Error& e) {
      metrics_.in_flight(-1);
      answer_error(res, ApiError(400, e.what(), "invalid_request_error"), model_name);
      return;
    } catch (const std::exception& e) {
      metrics_.in_flight(-1);
      answer_error(res, ApiError(500, e.what(), "server_error"), model_name);
      return;
    }
    metrics_.in_flight(-1);
    for (const auto& g : gens)
      if (!g.error.empty()) {
        answer_error(res, ApiError(502, "upstream: " + g.error, "server_error", {}, "upstream_error"), model_name);
        return;
      }
    res.set_content(dump(completion_response(r, id, model_name, gens, routing)), "application/json");
    metrics_.record_success(model_name, gens.empty() ? 0 : gens.front().prompt_tokens, completion_tokens(gens),
                            since(start), first_token(gens));
    return;
  }

  // Streaming: the headers go out before generation starts, so a failure
  // from here on is reported as an error event in the stream.
  res.set_header("Cache-Control", "no-cache");
  if (!routing.is_null()) res.set_header("X-Lcte-Model", model_name);
  res.set_chunked_content_provider(
      "text/event-stream", [this, r, id, model_name, routing, backend, start,
                            held = std::make_shared<std::shared_ptr<int>>(slot)](size_t, httplib::DataSink& sink) {
        std::mutex write_mutex;
        std::atomic<bool> gone{false};
        // A client that went away is not written to again, and its
        // generation is cancelled where the backend allows (the engine).
        auto write = [&](const std::string& text) {
          std::lock_guard<std::mutex> lock(write_mutex);
          if (!gone && !sink.write(text.data(), text.size())) gone = true;
        };
        backend::GenerationRequest generation = r.generation;
        generation.cancelled = [&gone] { return gone.load(); };
        metrics_.in_flight(1);
        if (!routing.is_null()) {
          json first = stream_chunk(r, id, model_name, 0, "", nullptr);
          first["choices"] = json::array();
          first["routing"] = routing;
          write(sse_event(first));
        }
        if (r.chat)
          for (int index : r.generation.sample_indices) write(sse_event(role_chunk(r, id, model_name, index)));
        std::vector<backend::Generation> gens;
        std::string failure;
        try {
          gens = backend->generate(generation, [&](int index, std::string_view piece) {
            write(sse_event(stream_chunk(r, id, model_name, index, piece, nullptr)));
          });
          for (const auto& g : gens)
            if (!g.error.empty() && failure.empty()) failure = "upstream: " + g.error;
        } catch (const std::exception& e) {
          failure = e.what();
        }
        // The generation is over: its slot is free before the client reads
        // [DONE] and sends its next request.
        held->reset();
        metrics_.in_flight(-1);
        if (!failure.empty()) {
          write(sse_event(error_body(ApiError(500, failure, "server_error"))));
          metrics_.record_error(model_name, 500, "stream_error");
        } else {
          for (const auto& g : gens)
            write(sse_event(stream_chunk(r, id, model_name, g.sample_index, "", g.finish_reason.c_str(), &g)));
          if (r.include_usage) {
            json u = stream_chunk(r, id, model_name, 0, "", nullptr);
            u["choices"] = json::array();
            u["usage"] = usage_json(gens);
            write(sse_event(u));
          }
          if (gone)
            metrics_.record_error(model_name, 499, "client_disconnected");
          else
            metrics_.record_success(model_name, gens.empty() ? 0 : gens.front().prompt_tokens, completion_tokens(gens),
                                    since(start), first_token(gens));
        }
        write("data: [DONE]\n\n");
        sink.done();
        return true;
      });
}

int Server::start() {
  if (started_) fail("serve: already started");
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    if (port_ < 0) fail("serve: cannot bind {} (any port)", options_.host);
  } else {
    if (!http_->bind_to_port(options_.host, options_.port))
      fail("serve: cannot bind {}:{} (in use, or not an address of this machine)", options_.host, options_.port);
    port_ = options_.port;
  }
  site_.port = port_;
  started_ = true;
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  // listen_after_bind sets is_running as its first step; a thread that has
  // not got there within 10 s means something is badly wrong.
  for (int i = 0; i < 10000 && !http_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!http_->is_running()) {
    stop();
    fail("serve: {}:{} did not start listening", options_.host, port_);
  }
  return port_;
}

void Server::stop() {
  if (!started_) return;
  http_->stop();
  if (thread_.joinable()) thread_.join();
  started_ = false;
}

}  // namespace lcte::server
