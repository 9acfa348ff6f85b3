// lcte dashboard: the web dashboard on its own HTTP server (the same routes
// and checks `lcte serve` mounts), for development and the browser tests.
#include <signal.h>
#include <sys/socket.h>

#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "dashboard/dashboard.h"
#include "server/http_front.h"
#include "server/secret.h"
#include "server/site.h"
#include "store/store.h"

namespace lcte::cli {
namespace {

struct DashboardArgs {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string store = store::Store::default_path();
  std::string rules;
  std::string token_on_argv, token_env, token_file;
  std::string assets;
  bool offline = false;
  std::string isolation = "auto";
  server::HttpLimits http = [] {
    server::HttpLimits h;
    h.workers = 16;  // 6 event streams at most, the rest for requests
    return h;
  }();
};

void run(const DashboardArgs& a) {
  if (a.port < 0 || a.port > 65535) fail("--port: {} is outside 0-65535", a.port);
  if (!a.token_on_argv.empty())
    fail(
        "--token: a token on the command line is visible to every local user (ps, /proc/PID/cmdline); put it in "
        "an environment variable (--token-env VAR) or a file (--token-file FILE)");
  const std::string token = server::load_secret(a.token_env, a.token_file, "--token-env", "--token-file", 16);
  const bool loopback = server::is_loopback_address(a.host);
  if (!loopback && token.empty())
    fail(
        "--host {}: listening beyond loopback needs a token (--token-env VAR or --token-file FILE; the page asks "
        "for it, scripts send it as Authorization: Bearer)",
        a.host);
  dashboard::DashboardOptions o;
  o.store_path = a.store;
  o.rules_path = a.rules;
  o.token = token;
  o.assets_dir = a.assets;
  o.loopback_only = loopback;
  o.where.allow_download = !a.offline;
  o.isolation = a.isolation;

  // SIGINT/SIGTERM are taken by sigwait below, so every thread must block them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  dashboard::Dashboard dashboard(o);
  server::HttpFront http(a.http);
  http.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.add_admission([&dashboard](const httplib::Request& req) { return dashboard.admit(req); });
  dashboard.mount(http);
  int port = a.port;
  if (port == 0) {
    port = http.bind_to_any_port(a.host);
    if (port < 0) fail("--host {}: cannot bind", a.host);
  } else if (!http.bind_to_port(a.host, port)) {
    fail("--host {} --port {}: cannot bind (in use?)", a.host, port);
  }
  std::thread listener([&http] { http.listen_after_bind(); });
  for (int i = 0; i < 10000 && !http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::string url =
      fmt::format("http://{}:{}/", a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host, port);
  // The line tests and scripts wait for.
  std::printf("lcte dashboard: listening on %s (store %s%s)\n", url.c_str(), a.store.c_str(),
              token.empty() ? "" : ", login with the token");
  std::fflush(stdout);
  if (dashboard.assets_dir().empty()) {
    std::string looked;
    for (const std::string& dir : dashboard::assets_dir_candidates()) looked += (looked.empty() ? "" : ", ") + dir;
    std::fprintf(stderr,
                 "lcte dashboard: the page was not found (looked in %s); --assets DIR or $LCTE_WEB_DIR names it\n",
                 looked.c_str());
  } else {
    std::fprintf(stderr, "lcte dashboard: page from %s\n", dashboard.assets_dir().c_str());
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("dashboard: signal {}, stopping", sig);
  dashboard.shutdown();  // ends the event streams, so the server can stop
  http.stop();
  listener.join();
}

}  // namespace

void add_dashboard_command(CLI::App& app) {
  auto args = std::make_shared<DashboardArgs>();
  CLI::App* c = app.add_subcommand("dashboard", "Serve the web dashboard alone (lcte serve mounts the same pages)");
  c->add_option("--host", args->host, "Address to listen on; beyond loopback needs a token")->capture_default_str();
  c->add_option("--port", args->port, "Port (0: any free one, printed)")->capture_default_str();
  c->add_option("--store", args->store, "Experiment store")->capture_default_str();
  c->add_option(
       "--isolation", args->isolation,
       "Sandbox isolation for samples: auto (refuses without namespaces), namespaces, user-namespaces or processes")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "namespaces", "user-namespaces", "processes"}));
  c->add_option("--rules", args->rules, "Routing rules JSON, loaded and saved on every change (default: in memory)");
  c->add_option("--token-env", args->token_env,
                "Environment variable holding the login token (at least 16 characters); required beyond loopback");
  c->add_option("--token-file", args->token_file, "File holding the login token (one line)");
  c->add_option("--token", args->token_on_argv, "Refused: use --token-env or --token-file")->group("");
  c->add_option("--assets", args->assets,
                "Directory of the built page (default: $LCTE_WEB_DIR, else ../share/lcte/web beside the binary, else "
                "the build tree's web/dist)");
  c->add_option("--max-connections", args->http.max_connections, "Open client connections at most")
      ->capture_default_str();
  c->add_flag("--offline", args->offline, "Never download datasets");
  c->callback([args] { run(*args); });
}

}  // namespace lcte::cli
