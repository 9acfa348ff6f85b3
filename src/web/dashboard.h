// lcte's web dashboard as routes on an httplib::Server: the static page at /,
// a JSON API under /api (runs, samples, metrics, CSV downloads, comparisons,
// problems, interactive tries, evaluations, routing rules and decisions) and
// the live event stream (/api/events, Server-Sent Events). `lcte serve`
// mounts it next to its OpenAI-compatible API; `lcte dashboard` serves it
// alone.
//
// Security: state changes (POST/PUT) need the session token in a header
// (X-LCTE-Token or Authorization: Bearer), an Origin (when the browser sends
// one) equal to the Host, and on a loopback binding a loopback Host name
// (against DNS rebinding). With a user token (required beyond loopback) reads
// need it too (header, or ?token= for EventSource and download links).
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/datasets.h"
#include "eval/executor.h"
#include "web/event_bus.h"
#include "web/jobs.h"
#include "web/routing_rules.h"
#include "web/store_tail.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace lcte::web {

struct DashboardOptions {
  std::string store_path;          // the experiment store (SQLite)
  std::string rules_path;          // routing rules JSON; "" keeps them in memory
  std::string assets_dir;          // built front end; "" : the build's default
  std::string token;               // "" : a random session token (loopback only)
  bool loopback_only = true;       // the server listens on loopback only
  BackendFactory backends;         // null: canonical only
  std::vector<std::string> models = {"canonical"};
  eval::DatasetLocations where = eval::default_dataset_locations();
  std::function<std::unique_ptr<eval::Executor>()> executor;  // null: the sandbox
  // Routing's token count; null: approximate_tokens.
  std::function<int64_t(const std::string&)> count_tokens;
  double resource_rate_hz = 2.0;
  // How often the server looks for runs other processes write (0: never).
  int store_tail_ms = 1000;
  // Each open event stream holds one of httplib's worker threads (8 here);
  // beyond this many the server answers 503 so plain requests still get served.
  int max_event_streams = 4;
  // How the interactive tab's streamed text is batched into events.
  TokenStreamOptions try_stream;
};

// The directory the build put the assets in (LCTE_WEB_ASSETS_DIR), or "".
std::string default_assets_dir();

class Dashboard {
 public:
  explicit Dashboard(DashboardOptions options);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  void mount(httplib::Server& server);
  // Ends event streams (so the server can stop) and stops running jobs.
  void shutdown();

  // For the serving process: the rules to apply per request, the decision of
  // a query under them, and the live log.
  RulesHolder& rules() { return rules_; }
  nlohmann::json route(const std::string& query, bool log = true);
  EventBus& events() { return bus_; }
  const std::string& token() const { return token_; }

 private:
  enum class Access { Read, Write };
  bool allowed(const httplib::Request& req, httplib::Response& res, Access access) const;
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  Handler guard(Access access, Handler handler);

  void get_runs(const httplib::Request& req, httplib::Response& res);
  void get_run(const std::string& id, httplib::Response& res);
  void get_compare(const httplib::Request& req, httplib::Response& res);
  void get_problems(const httplib::Request& req, httplib::Response& res);
  void get_problem(const httplib::Request& req, httplib::Response& res);
  void get_curve(const httplib::Request& req, httplib::Response& res);
  void serve_events(const httplib::Request& req, httplib::Response& res);
  void serve_index(httplib::Response& res) const;

  DashboardOptions options_;
  std::string token_;
  RulesHolder rules_;
  EventBus bus_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<StoreTail> tail_;
  std::shared_ptr<std::atomic<int>> event_streams_ = std::make_shared<std::atomic<int>>(0);
};

// Shared by the handlers and the tests.
std::string samples_csv_for_run(const std::string& store_path, const std::string& run_id);
bool is_loopback_host(const std::string& host_header);  // "127.0.0.1:8080", "localhost", "[::1]:80"

}  // namespace lcte::web
