// lcte's web dashboard as routes on an httplib::Server: the static page at /,
// a JSON API under /api (runs, samples, metrics, CSV downloads, comparisons,
// problems, interactive tries, evaluations, routing rules and decisions) and
// the live event stream (/api/events, Server-Sent Events). `lcte serve`
// mounts it next to its OpenAI-compatible API; `lcte dashboard` serves it
// alone.
//
// Security (docs/parts/dashboard.md): every request passes the site checks of
// server/site.h (a loopback Host with this port, and for changes a matching
// Origin and Content-Type: application/json). The browser's session is a
// random id in an HttpOnly, SameSite=Strict cookie: issued when the page is
// loaded on a loopback server without a token, else by POST /api/login with
// the token. Changes always need the session (or, for scripts, the token in
// an Authorization: Bearer or X-LCTE-Token header); reads need it when there
// is a token. No secret is ever put in a URL or given to the page's scripts.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dashboard/event_bus.h"
#include "dashboard/jobs.h"
#include "dashboard/routing_rules.h"
#include "dashboard/session.h"
#include "dashboard/store_tail.h"
#include "eval/datasets.h"
#include "eval/executor.h"
#include "server/site.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace lcte::dashboard {

// Two tiers, small and large, both answered by the canonical backend.
route::RouterConfig default_routing();

struct DashboardOptions {
  std::string store_path;     // the experiment store (SQLite)
  std::string rules_path;     // routing rules JSON; "" keeps them in memory
  std::string assets_dir;     // built front end; "" : default_assets_dir()
  std::string token;          // the login secret; "" : none (loopback only)
  bool loopback_only = true;  // the server listens on loopback only
  BackendFactory backends;    // null: canonical only
  std::vector<std::string> models = {"canonical"};
  eval::DatasetLocations where = eval::default_dataset_locations();
  std::function<std::unique_ptr<eval::Executor>()> executor;  // null: the sandbox
  std::string isolation = "auto";                             // the sandbox's, for runs the dashboard starts
  // The routing rules when there is no rules file yet (lcte serve: the
  // catalogue's [routing]); by default the published two tiers, both
  // answered by the canonical backend.
  route::RouterConfig routing = default_routing();
  // Loads the tokenizers the rules name (model names: the served models);
  // null: a cache of its own, knowing no model names.
  std::shared_ptr<route::TokenizerCache> tokenizers;
  double resource_rate_hz = 2.0;
  // How often the server looks for runs other processes write (0: never).
  int store_tail_ms = 1000;
  // Each open event stream holds one of the server's workers; beyond this
  // many the server answers 503 so plain requests still find a worker.
  int max_event_streams = 6;
  // How the interactive tab's streamed text is batched into events.
  TokenStreamOptions try_stream;
  // How long a login lasts (idle and in all), and the clock that says so
  // (null: the steady clock; tests move their own on).
  SessionLimits sessions;
  Sessions::Now session_clock;
};

// Where the page is looked for, in order: $LCTE_WEB_DIR; beside the running
// binary as `cmake --install` lays it out (<prefix>/bin/lcte ->
// <prefix>/share/lcte/web); where the build put it, relative to the binary in
// the build tree. Paths are relative to the binary, so a moved build or
// install still finds its page.
std::vector<std::string> assets_dir_candidates();
// The first candidate holding index.html ($LCTE_WEB_DIR whenever it is set), or "".
std::string default_assets_dir();

class Dashboard {
 public:
  explicit Dashboard(DashboardOptions options);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  void mount(httplib::Server& server);
  // Where the page is served from ("" when it was not found).
  const std::string& assets_dir() const { return options_.assets_dir; }
  // The access check of a request whose body is not read yet (site checks,
  // then the session or token where one is needed). Serving processes run
  // it as an HttpFront admission; the handlers run it again.
  std::optional<server::Refusal> admit(const httplib::Request& req);
  // Ends event streams (so the server can stop) and stops running jobs.
  void shutdown();

  // For the serving process: the rules to apply per request, the decision of
  // a query under them (route::explain and the rules' version; recorded in
  // the store and published as an event when `log`; lcte::Error when the
  // rules have no router), and the live log.
  RulesHolder& rules() { return rules_; }
  nlohmann::json route(const std::string& query, bool log = true);
  EventBus& events() { return bus_; }

 private:
  enum class Access { Read, Write };
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  // Runs the access check (a Write always needs the session or token), then
  // the handler, turning its errors into JSON answers.
  Handler guard(Access access, Handler handler);
  std::optional<server::Refusal> access_refusal(const httplib::Request& req, Access access);
  bool authenticated(const httplib::Request& req);
  // Sets a new session cookie on `res`.
  void start_session(const httplib::Request& req, httplib::Response& res);
  void login(const httplib::Request& req, httplib::Response& res);
  void logout(const httplib::Request& req, httplib::Response& res);

  void get_runs(const httplib::Request& req, httplib::Response& res);
  void get_run(const std::string& id, httplib::Response& res);
  void get_compare(const httplib::Request& req, httplib::Response& res);
  void get_problems(const httplib::Request& req, httplib::Response& res);
  void get_problem(const httplib::Request& req, httplib::Response& res);
  void get_curve(const httplib::Request& req, httplib::Response& res);
  void serve_events(const httplib::Request& req, httplib::Response& res);
  void serve_index(const httplib::Request& req, httplib::Response& res);

  DashboardOptions options_;
  Sessions sessions_;
  LoginThrottle throttle_;
  RulesHolder rules_;
  EventBus bus_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<StoreTail> tail_;
  std::shared_ptr<std::atomic<int>> event_streams_ = std::make_shared<std::atomic<int>>(0);
};

// Shared by the handlers and the tests.
std::string samples_csv_for_run(const std::string& store_path, const std::string& run_id);
// The session cookie's name for a server on `port` (cookies do not tell
// ports apart, so two servers on one host each need their own name).
std::string session_cookie_name(int port);

}  // namespace lcte::dashboard
