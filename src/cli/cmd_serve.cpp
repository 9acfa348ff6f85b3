// lcte serve [--host 127.0.0.1] [--port 8080] (--config FILE | -m MODEL.gguf)
//   [--api-key-env VAR | --api-key-file FILE] [-t THREADS] [--ctx N] [--max-seqs N] [--prefill-chunk N]
//   [--kv-budget MIB]
//   [--max-n N] [--max-tokens N]
// Serves the catalogue's models (or one GGUF file) through the OpenAI API
// until SIGINT or SIGTERM.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "backend/catalogue.h"
#include "backend/engine_backend.h"
#include "backend/open.h"
#include "cli/commands.h"
#include "cli/usage.h"
#include "core/error.h"
#include "core/log.h"
#include "dashboard/dashboard.h"
#include "experiment/eval_run.h"
#include "route/router.h"
#include "server/model_routing.h"
#include "server/secret.h"
#include "server/server.h"
#include "store/store.h"

namespace lcte::cli {
namespace {

struct ServeArgs {
  std::string config, model_file, api_key_on_argv, api_key_env, api_key_file;
  server::ServerOptions server;
  backend::EngineOptions engine;
  double upstream_timeout = 600;
  int upstream_retries = 4;
  std::string store = store::Store::default_path();
  std::string rules;  // routing rules JSON the dashboard edits; "" : in memory
  bool no_dashboard = false;
  std::string isolation = "auto";  // the dashboard's eval runs
};

void run(ServeArgs& a) {
  if (a.config.empty() == a.model_file.empty()) fail("give exactly one of --config FILE and -m MODEL.gguf");
  if (!a.api_key_on_argv.empty())
    fail(
        "--api-key: a key on the command line is visible to every local user (ps, /proc/PID/cmdline); put it in "
        "an environment variable (--api-key-env VAR) or a file (--api-key-file FILE)");
  a.server.api_key = server::load_secret(a.api_key_env, a.api_key_file, "--api-key-env", "--api-key-file");
  // Checked before any model is loaded, so a refused bind fails fast.
  if (!server::is_loopback_address(a.server.host) && a.server.api_key.empty())
    fail(
        "--host {}: serving beyond this machine needs an API key (--api-key-env VAR or --api-key-file FILE; every "
        "request must then present it)",
        a.server.host);

  std::vector<server::ServedModel> models;
  route::RouterConfig routing;  // the catalogue's [routing]; one model: that model, whose own vocabulary counts
  std::map<std::string, std::string> model_files;
  backend::HttpOptions http;
  http.request_timeout_s = a.upstream_timeout;
  http.max_retries = a.upstream_retries;
  if (!a.model_file.empty()) {
    a.engine.path = a.model_file;
    auto engine = std::make_shared<backend::EngineBackend>(a.engine);
    models.push_back({engine->model(), engine});
    routing.tiers = {engine->model()};
    routing.max_score = {10};
    routing.tokenizer = engine->model();
    model_files[engine->model()] = a.model_file;
  } else {
    backend::Catalogue c = backend::load_catalogue(a.config);
    for (const backend::ModelEntry& entry : c.models) {
      spdlog::info("loading {} ({})", entry.name, entry.is_local() ? entry.path : entry.url);
      models.push_back({entry.name, backend::open_backend(entry, a.engine, http)});
    }
    routing = c.routing;
    model_files = backend::model_files(c);
  }
  try {
    route::check_deployable(routing);
  } catch (const Error& e) {
    fail("{}: [routing] {}", a.config, e.what());
  }
  auto tokenizers = std::make_shared<route::TokenizerCache>(model_files);

  // SIGINT/SIGTERM are taken by sigwait below, so every thread must block them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The dashboard at /, with the live routing rules: "router"/"auto" requests
  // are routed by the rules it edits, so a change applies to the next request.
  // Without it, by the catalogue's [routing] as loaded. Either way the router
  // is built now: a tokenizer that will not load stops the server here.
  std::unique_ptr<dashboard::Dashboard> dashboard;
  server::RouteFn router;
  if (!a.no_dashboard) {
    dashboard::DashboardOptions o;
    o.store_path = a.store;
    o.rules_path = a.rules;
    o.loopback_only = server::is_loopback_address(a.server.host);
    o.isolation = a.isolation;
    o.token = a.server.api_key;  // the dashboard's login takes the API key
    o.routing = routing;
    o.tokenizers = tokenizers;
    std::map<std::string, std::shared_ptr<backend::Backend>> by_name;
    for (const server::ServedModel& m : models) by_name[m.name] = m.backend;
    o.models = {"canonical"};
    for (const auto& [name, b] : by_name) o.models.push_back(name);
    o.backends = [by_name](const std::string& model, const eval::Suite&) -> std::shared_ptr<eval::Backend> {
      auto it = by_name.find(model);
      return it == by_name.end() ? nullptr : it->second;
    };
    dashboard = std::make_unique<dashboard::Dashboard>(o);
    auto rules = dashboard->rules().get();
    if (!rules->router)
      fail("{}: {}", a.rules.empty() || !std::filesystem::exists(a.rules) ? "routing" : a.rules, rules->error);
    dashboard::Dashboard* d = dashboard.get();
    router = [d](const std::string& text) {
      nlohmann::json j = d->route(text);
      return server::RouteChoice{j.value("model", ""), j};
    };
  } else {
    auto store = std::make_shared<store::Store>(a.store);
    router = server::make_route_fn(route::make_router(routing, *tokenizers),
                                   [store](const route::RouteResult& r, const std::string& text) {
                                     store->add_decision(experiment::stored_decision(route::to_record(r, text)));
                                   });
  }

  std::string names;
  for (const server::ServedModel& m : models) names += " " + m.name;
  server::Server server(std::move(models), a.server, router);
  if (dashboard)
    server.mount([&](httplib::Server& http) { dashboard->mount(http); },
                 [d = dashboard.get()](const httplib::Request& req) { return d->admit(req); });
  int port = server.start();
  // Tests and scripts read the port from this line (--port 0).
  std::printf("lcte serve: listening on http://%s:%d (models:%s, router%s)\n", a.server.host.c_str(), port,
              names.c_str(), dashboard ? ", dashboard at /" : "");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("serve: signal {}, stopping", sig);
  if (dashboard) dashboard->shutdown();  // ends the event streams, so the server can stop
  server.stop();
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("serve", "Serve models through the OpenAI API (/v1/completions, /v1/chat/completions)");
  auto a = std::make_shared<ServeArgs>();
  cmd->add_option("--host", a->server.host, "Address to bind (beyond loopback needs an API key)")
      ->capture_default_str();
  cmd->add_option("--port", a->server.port, "Port (0: any free port, printed)")->capture_default_str();
  cmd->add_option("--config", a->config, "Model catalogue (TOML)");
  cmd->add_option("-m,--model", a->model_file, "Serve this one GGUF file");
  cmd->add_option("--api-key-env", a->api_key_env,
                  "Environment variable holding the key every /v1 request must present (Authorization: Bearer KEY)");
  cmd->add_option("--api-key-file", a->api_key_file, "File holding that key (one line)");
  // Refused with a message: a secret on argv is readable by every local user.
  cmd->add_option("--api-key", a->api_key_on_argv, "Refused: use --api-key-env or --api-key-file")->group("");
  cmd->add_flag("--key-for-health", a->server.key_for_health, "/health and /metrics need the key too");
  cmd->add_option("-t,--threads", a->engine.threads, "Engine threads per local model (default: cores, at most 8)");
  cmd->add_option("--ctx", a->engine.n_ctx, "Engine context size per sequence")->capture_default_str();
  cmd->add_option("--chat-template", a->engine.chat_template, "Chat template family instead of the detected one");
  cmd->add_option("--max-seqs", a->engine.max_sequences,
                  "Engine: most sequences decoded together over all requests (continuous batching; 1: one at a time)")
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", a->engine.prefill_chunk,
                  "Engine: most prompt tokens prefilled between two decode steps, so that a long prompt delays the "
                  "running streams by one chunk (0: a prompt at once)")
      ->capture_default_str()
      ->check(prefill_chunk_validator());
  cmd->add_option("--kv-budget", a->engine.kv_budget_mib,
                  "Engine: MiB of KV cache all sequences share; a request that finds it spent fails (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--max-n", a->server.limits.max_n, "Most choices (n) per request")->capture_default_str();
  cmd->add_option("--max-tokens", a->server.limits.max_tokens, "Most max_tokens per request")->capture_default_str();
  cmd->add_option("--max-body", a->server.http.max_body_bytes, "Largest request body in bytes")->capture_default_str();
  cmd->add_option("--max-generations", a->server.max_generations,
                  "Completion requests in progress at once (one more gets 503 with Retry-After)")
      ->capture_default_str();
  cmd->add_option("--max-connections", a->server.http.max_connections, "Open client connections at most")
      ->capture_default_str();
  cmd->add_option("--queue", a->server.http.queue, "Requests waiting for a worker at most (one more gets 503)")
      ->capture_default_str();
  cmd->add_option("--header-timeout", a->server.http.header_timeout_s, "Seconds a request's headers may take")
      ->capture_default_str();
  cmd->add_option("--body-timeout", a->server.http.body_timeout_s, "Seconds a request's body may take")
      ->capture_default_str();
  cmd->add_option("--upstream-timeout", a->upstream_timeout, "Seconds per request to remote models")
      ->capture_default_str();
  cmd->add_option("--upstream-retries", a->upstream_retries, "Retries of failed requests to remote models")
      ->capture_default_str();
  cmd->add_option("--store", a->store, "Experiment store (dashboard, decision log)")->capture_default_str();
  cmd->add_option(
         "--isolation", a->isolation,
         "Sandbox isolation for samples: auto (refuses without namespaces), namespaces, user-namespaces or processes")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "namespaces", "user-namespaces", "processes"}));
  cmd->add_option("--rules", a->rules,
                  "Routing rules JSON the dashboard edits (default: in memory, from the catalogue)");
  cmd->add_flag("--no-dashboard", a->no_dashboard, "Serve the API only (routing by the catalogue's [routing])");
  cmd->callback([a] { run(*a); });
}

}  // namespace lcte::cli
