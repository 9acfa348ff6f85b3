// lcte dashboard: the web dashboard on its own plain HTTP server (the same
// routes `lcte serve` mounts), for development and the browser tests.
#include <httplib.h>

#include <csignal>
#include <cstdio>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "store/store.h"
#include "web/dashboard.h"

namespace lcte::cli {
namespace {

struct DashboardArgs {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string store = store::Store::default_path();
  std::string rules;
  std::string token;
  std::string assets;
  bool offline = false;
};

httplib::Server* g_server = nullptr;  // for the signal handler only

void on_signal(int) {
  if (g_server != nullptr) g_server->stop();
}

bool loopback_address(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

void run(const DashboardArgs& a) {
  if (a.port < 0 || a.port > 65535) fail("--port: {} is outside 0-65535", a.port);
  bool loopback = loopback_address(a.host);
  if (!loopback && a.token.empty())
    fail("--host {}: listening beyond loopback needs --token (every request must then carry it)", a.host);
  if (!a.token.empty() && a.token.size() < 16) fail("--token: use at least 16 characters");
  web::DashboardOptions o;
  o.store_path = a.store;
  o.rules_path = a.rules;
  o.token = a.token;
  o.assets_dir = a.assets;
  o.loopback_only = loopback;
  o.where.allow_download = !a.offline;
  web::Dashboard dashboard(o);
  httplib::Server server;
  dashboard.mount(server);
  int port = a.port;
  if (port == 0) {
    port = server.bind_to_any_port(a.host);
    if (port < 0) fail("--host {}: cannot bind", a.host);
  } else if (!server.bind_to_port(a.host, port)) {
    fail("--host {} --port {}: cannot bind (in use?)", a.host, port);
  }
  std::string url = fmt::format("http://{}:{}/", a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host, port);
  // The line tests and scripts wait for; the token is only printed when the
  // user did not choose it (it is theirs to know).
  std::printf("lcte dashboard: listening on %s (store %s)\n", url.c_str(), a.store.c_str());
  std::fflush(stdout);
  g_server = &server;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  server.listen_after_bind();
  g_server = nullptr;
  dashboard.shutdown();
}

}  // namespace

void add_dashboard_command(CLI::App& app) {
  auto args = std::make_shared<DashboardArgs>();
  CLI::App* c = app.add_subcommand("dashboard", "Serve the web dashboard alone (lcte serve mounts the same pages)");
  c->add_option("--host", args->host, "Address to listen on; beyond loopback needs --token")->capture_default_str();
  c->add_option("--port", args->port, "Port (0: any free one, printed)")->capture_default_str();
  c->add_option("--store", args->store, "Experiment store")->capture_default_str();
  c->add_option("--rules", args->rules, "Routing rules JSON, loaded and saved on every change (default: in memory)");
  c->add_option("--token", args->token, "Access token (at least 16 characters); required beyond loopback");
  c->add_option("--assets", args->assets, "Directory of the built page (default: the build's web/dist)");
  c->add_flag("--offline", args->offline, "Never download datasets");
  c->callback([args] { run(*args); });
}

}  // namespace lcte::cli
