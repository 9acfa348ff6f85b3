#include "dashboard/dashboard.h"

#include <httplib.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "eval/prompts.h"
#include "eval/run_outputs.h"
#include "eval/session.h"
#include "experiment/eval_run.h"
#include "experiment/route_runs.h"
#include "report/report.h"
#include "report/svg_chart.h"
#include "route/offline.h"
#include "route/router.h"
#include "store/store.h"

// The build's web/dist relative to the lcte binary's folder in the build tree.
#ifndef LCTE_WEB_ASSETS_FROM_BINARY
#define LCTE_WEB_ASSETS_FROM_BINARY ""
#endif

namespace lcte::dashboard {

using nlohmann::json;
namespace fs = std::filesystem;

std::vector<std::string> assets_dir_candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("LCTE_WEB_DIR"); env != nullptr && *env != '\0') out.push_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path bin = exe.parent_path();
    out.push_back((bin.parent_path() / "share" / "lcte" / "web").string());
    if (*LCTE_WEB_ASSETS_FROM_BINARY != '\0')
      out.push_back((bin / LCTE_WEB_ASSETS_FROM_BINARY).lexically_normal().string());
  }
  return out;
}

std::string default_assets_dir() {
  if (const char* env = std::getenv("LCTE_WEB_DIR"); env != nullptr && *env != '\0') return env;
  for (const std::string& dir : assets_dir_candidates()) {
    std::error_code ec;
    if (fs::is_regular_file(fs::path(dir) / "index.html", ec)) return dir;
  }
  return "";
}

route::RouterConfig default_routing() {
  route::RouterConfig c;
  c.models = {"canonical", "canonical"};
  return c;
}

namespace {

// The folders the page was looked for in, for the page that says it is missing.
std::string searched_assets() {
  std::string out;
  for (const std::string& dir : assets_dir_candidates()) out += (out.empty() ? "" : ", ") + dir;
  return out.empty() ? "(no folder to look in)" : out;
}

// What /api/info says counts the routing tokens.
std::string routing_tokenizer(const Rules& rules) {
  return rules.router ? rules.router->tokenizer() : "none: " + rules.error;
}

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, {{"error", message}}, status);
}

json parse_body(const httplib::Request& req) {
  if (req.body.size() > (1 << 20)) fail("request body: larger than 1 MiB");
  try {
    return json::parse(req.body);
  } catch (const json::parse_error& e) {
    fail("request body: not JSON: {}", e.what());
  }
}

std::string header_token(const httplib::Request& req) {
  std::string t = req.get_header_value("X-LCTE-Token");
  if (!t.empty()) return t;
  std::string auth = req.get_header_value("Authorization");
  if (auth.rfind("Bearer ", 0) == 0) return auth.substr(7);
  return {};
}

json num(const std::optional<double>& v) { return v && std::isfinite(*v) ? json(*v) : json(nullptr); }
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

double mean_finite(const std::vector<double>& v) {
  double s = 0;
  size_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / double(n) : std::nan("");
}

json view_json(const report::RunView& v) {
  json pass = json::object();
  for (const auto& [k, value] : v.pass_at_k) pass["pass@" + std::to_string(k)] = value;
  json per_task = json::object();
  for (const auto& [task, c] : v.per_task) per_task[task] = {c.first, c.second};
  return {{"run", store::to_json(v.run)},
          {"label", v.label},
          {"suite", v.suite},
          {"pass_at_k", pass},
          {"samples", v.samples},
          {"passed", v.passed},
          {"latency_p50_s", num(report::percentile(v.latency_s, 50))},
          {"latency_p90_s", num(report::percentile(v.latency_s, 90))},
          {"latency_mean_s", num(mean_finite(v.latency_s))},
          {"exec_p50_s", num(report::percentile(v.exec_s, 50))},
          {"exec_mean_s", num(mean_finite(v.exec_s))},
          {"energy_j", num(v.energy_j)},
          {"energy_estimated", v.energy_estimated},
          {"peak_rss_bytes", num(v.peak_rss_bytes)},
          {"completion_tokens", v.completion_tokens},
          {"per_task", per_task}};
}

eval::SampleRow row_of(const store::StoredSample& s) {
  eval::SampleRow r;
  double nan = std::nan("");
  r.task_id = s.task_id;
  r.sample_index = int(s.sample_index);
  r.status = s.status;
  r.passed = s.passed;
  r.error_type = s.error_type;
  r.prompt_tokens = int(s.prompt_tokens);
  r.completion_tokens = int(s.completion_tokens);
  r.time_to_first_token_s = s.ttft_s.value_or(nan);
  r.time_per_output_token_s = s.tpot_s.value_or(nan);
  r.latency_s = s.latency_s.value_or(nan);
  r.exec_seconds = s.exec_s.value_or(nan);
  r.completion = s.completion;
  return r;
}

std::string content_type_for(const std::string& path) {
  static const std::map<std::string, std::string> kTypes = {{".html", "text/html; charset=utf-8"},
                                                            {".js", "text/javascript; charset=utf-8"},
                                                            {".mjs", "text/javascript; charset=utf-8"},
                                                            {".css", "text/css; charset=utf-8"},
                                                            {".svg", "image/svg+xml"},
                                                            {".json", "application/json"},
                                                            {".png", "image/png"}};
  auto it = kTypes.find(fs::path(path).extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

const char* kCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'";

}  // namespace

std::string session_cookie_name(int port) { return fmt::format("lcte_session_{}", port); }

std::string samples_csv_for_run(const std::string& store_path, const std::string& run_id) {
  store::Store st(store_path);
  auto run = st.find_run(run_id);
  if (!run) fail("no run '{}'", run_id);
  std::vector<store::StoredSample> samples = st.samples(run->id);
  std::vector<eval::SampleRow> rows;
  for (const auto& s : samples) rows.push_back(row_of(s));
  std::string suite = samples.empty() ? run->config.value("suite", "") : samples.front().suite;
  double temperature = samples.empty() ? run->config.value("temperature", 0.0) : samples.front().temperature;
  return eval::samples_csv(suite, run->model_name, temperature, rows);
}

Dashboard::Dashboard(DashboardOptions options)
    : options_(std::move(options)),
      sessions_(options_.sessions, options_.session_clock),
      rules_(options_.rules_path, options_.routing,
             options_.tokenizers ? options_.tokenizers : std::make_shared<route::TokenizerCache>()) {
  if (!options_.loopback_only && options_.token.empty())
    fail("a dashboard reachable beyond loopback needs a token (--token-env or --token-file)");
  if (options_.assets_dir.empty()) options_.assets_dir = default_assets_dir();
  if (!options_.backends) {
    options_.backends = [](const std::string& model, const eval::Suite& suite) -> std::shared_ptr<eval::Backend> {
      if (model == "canonical") return std::make_shared<eval::CanonicalBackend>(suite);
      return nullptr;
    };
  }
  if (std::find(options_.models.begin(), options_.models.end(), "canonical") == options_.models.end())
    options_.models.insert(options_.models.begin(), "canonical");
  store::Store st(options_.store_path);  // creates or migrates now: a bad path fails at start
  JobOptions jo;
  jo.store_path = options_.store_path;
  jo.where = options_.where;
  jo.backends = options_.backends;
  jo.models = options_.models;
  jo.executor = options_.executor;
  jo.isolation = options_.isolation;
  jo.resource_rate_hz = options_.resource_rate_hz;
  jo.try_stream = options_.try_stream;
  jobs_ = std::make_unique<JobManager>(std::move(jo), bus_);
  if (options_.store_tail_ms > 0)
    tail_ = std::make_unique<StoreTail>(options_.store_path, bus_, std::chrono::milliseconds(options_.store_tail_ms));
}

Dashboard::~Dashboard() { shutdown(); }

void Dashboard::shutdown() {
  tail_.reset();
  bus_.close();
  jobs_->stop_all();
}

namespace {

// Pages and the login itself need no session: the page must load to offer
// the login, and it holds no data.
bool public_path(const std::string& path) {
  return path.rfind("/api/", 0) != 0 || path == "/api/session" || path == "/api/login" || path == "/api/logout";
}

}  // namespace

bool Dashboard::authenticated(const httplib::Request& req) {
  if (sessions_.valid(cookie_value(req.get_header_value("Cookie"), session_cookie_name(req.local_port)))) return true;
  return !options_.token.empty() && same_secret(header_token(req), options_.token);
}

std::optional<server::Refusal> Dashboard::access_refusal(const httplib::Request& req, Access access) {
  server::SitePolicy site{options_.loopback_only, req.local_port};
  if (auto r = server::check_request(site, req, false)) return r;
  if (public_path(req.path) || authenticated(req)) return std::nullopt;
  if (options_.token.empty() && access == Access::Read) return std::nullopt;
  if (options_.token.empty())
    return server::Refusal{403, "no_session",
                           "no dashboard session: load the page (GET /) or GET /api/session first; its cookie "
                           "authorises changes"};
  return server::Refusal{401, "login_required",
                         "this dashboard needs a login: POST /api/login {\"token\": ...} (the page offers it), or "
                         "send the token in an Authorization: Bearer header"};
}

std::optional<server::Refusal> Dashboard::admit(const httplib::Request& req) {
  const bool read = req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS";
  return access_refusal(req, read ? Access::Read : Access::Write);
}

void Dashboard::start_session(const httplib::Request& req, httplib::Response& res) {
  // lcte speaks plain HTTP; behind a proxy that ends TLS for it the cookie
  // is marked Secure, so the browser never sends it over plain HTTP. (A
  // client claiming https itself only gets a cookie its browser may hold back.)
  const bool tls = req.get_header_value("X-Forwarded-Proto") == "https";
  res.set_header("Set-Cookie", fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
                                           session_cookie_name(req.local_port), sessions_.create(),
                                           sessions_.limits().lifetime.count(), tls ? "; Secure" : ""));
}

void Dashboard::login(const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req);
  if (!body.is_object() || (body.contains("token") && !body["token"].is_string()))
    return send_error(res, 400, "token: expected {\"token\": string}");
  if (!options_.token.empty()) {
    if (int wait = throttle_.wait_seconds(); wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      return send_error(res, 429, fmt::format("too many failed logins; try again in {} s", wait));
    }
    if (!same_secret(body.value("token", std::string()), options_.token)) {
      throttle_.failed();
      return send_error(res, 401, "token: wrong token");
    }
  }
  start_session(req, res);
  send_json(res, {{"authenticated", true}, {"login_required", !options_.token.empty()}});
}

void Dashboard::logout(const httplib::Request& req, httplib::Response& res) {
  const std::string name = session_cookie_name(req.local_port);
  sessions_.erase(cookie_value(req.get_header_value("Cookie"), name));
  res.set_header("Set-Cookie", fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", name));
  send_json(res, {{"authenticated", false}, {"login_required", !options_.token.empty()}});
}

Dashboard::Handler Dashboard::guard(Access access, Handler handler) {
  return [this, access, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "no-store");
    if (auto r = access_refusal(req, access)) return send_error(res, r->status, r->message);
    try {
      handler(req, res);
    } catch (const Error& e) {
      std::string what = e.what();
      int status = what.find("still running") != std::string::npos ? 409 : 400;
      send_error(res, status, what);
    } catch (const std::exception& e) {
      spdlog::warn("dashboard: {} {}: {}", req.method, req.path, e.what());
      send_error(res, 500, std::string("internal error: ") + e.what());
    }
  };
}

json Dashboard::route(const std::string& query, bool log) {
  auto rules = rules_.get();
  if (!rules->router) fail("routing: the rules have no router: {}", rules->error);
  route::RouteResult r = rules->router->route(query);
  json j = route::explain(r);
  j["rules_version"] = rules->version;
  if (log) {
    route::DecisionRecord record = route::to_record(r, query);
    record.policy_version = std::to_string(rules->version);  // the log's "rules" column
    store::StoredDecision d = experiment::stored_decision(record);
    store::Store st(options_.store_path);
    j["id"] = st.add_decision(d);
    j["time"] = d.time;
    j["query_hash"] = d.query_hash;
    bus_.publish("decision", j);
  }
  return j;
}

void Dashboard::serve_index(const httplib::Request& req, httplib::Response& res) {
  if (auto r = access_refusal(req, Access::Read)) return send_error(res, r->status, r->message);
  // On a loopback server without a token, loading the page is the login.
  if (options_.token.empty() && !authenticated(req)) start_session(req, res);
  res.set_header("Cache-Control", "no-store");
  std::string html;
  if (!options_.assets_dir.empty() && read_file(options_.assets_dir + "/index.html", html)) {
    res.set_header("Content-Security-Policy", kCsp);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(html, "text/html; charset=utf-8");
    return;
  }
  res.status = 200;
  res.set_content(
      fmt::format("<!doctype html><meta charset=utf-8><title>lcte dashboard</title>"
                  "<h1>lcte dashboard: assets not built</h1><p>The dashboard's page was not found in "
                  "<code>{}</code>. It is built with npm at build time (<code>cmake --build build</code> "
                  "runs <code>npm ci</code> and <code>node web/build.mjs</code> when node and npm are "
                  "installed). The JSON API under <code>/api</code> works without it.</p>",
                  report::html_escape(options_.assets_dir.empty() ? searched_assets() : options_.assets_dir)),
      "text/html; charset=utf-8");
}

void Dashboard::mount(httplib::Server& svr) {
  svr.Get("/", [this](const httplib::Request& req, httplib::Response& res) { serve_index(req, res); });
  svr.Get(R"(/static/([A-Za-z0-9_.\-]+))", [this](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1];
    std::string body;
    if (name.find("..") != std::string::npos || options_.assets_dir.empty() ||
        !read_file(options_.assets_dir + "/" + name, body)) {
      res.status = 404;
      res.set_content("not found", "text/plain");
      return;
    }
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(body, content_type_for(name));
  });

  svr.Get("/api/session", guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) {
            bool in = authenticated(req);
            if (!in && options_.token.empty()) {
              start_session(req, res);
              in = true;
            }
            send_json(res, {{"authenticated", in}, {"login_required", !options_.token.empty()}});
          }));
  svr.Post("/api/login",
           guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) { login(req, res); }));
  svr.Post("/api/logout",
           guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) { logout(req, res); }));
  svr.Get("/api/info", guard(Access::Read, [this](const httplib::Request&, httplib::Response& res) {
            send_json(res, {{"version", eval::lcte_version()},
                            {"store", options_.store_path},
                            {"rules_path", rules_.path()},
                            {"models", options_.models},
                            {"suites", known_suites()},
                            {"token_count", routing_tokenizer(*rules_.get())},
                            {"loopback_only", options_.loopback_only}});
          }));
  svr.Get("/api/runs",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) { get_runs(req, res); }));
  svr.Get(R"(/api/runs/([A-Za-z0-9_.:\-]+))",
          guard(Access::Read,
                [this](const httplib::Request& req, httplib::Response& res) { get_run(req.matches[1], res); }));
  svr.Get(R"(/api/runs/([A-Za-z0-9_.:\-]+)/samples)",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) {
            store::Store st(options_.store_path);
            auto run = st.find_run(req.matches[1]);
            if (!run) return send_error(res, 404, fmt::format("no run '{}'", std::string(req.matches[1])));
            json out = json::array();
            for (const auto& s : st.samples(run->id))
              out.push_back({{"task_id", s.task_id},
                             {"sample_index", s.sample_index},
                             {"model", s.model},
                             {"status", s.status},
                             {"passed", s.passed},
                             {"error_type", s.error_type},
                             {"completion_tokens", s.completion_tokens},
                             {"latency_s", num(s.latency_s)},
                             {"exec_s", num(s.exec_s)},
                             {"energy_j", num(s.energy_j)},
                             {"completion", s.completion}});
            send_json(res, out);
          }));
  svr.Get(R"(/api/runs/([A-Za-z0-9_.:\-]+)/metrics)",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) {
            store::Store st(options_.store_path);
            auto run = st.find_run(req.matches[1]);
            if (!run) return send_error(res, 404, fmt::format("no run '{}'", std::string(req.matches[1])));
            json out = json::object();
            for (const auto& m : st.metrics(run->id)) out[m.name].push_back({m.t, m.value});
            send_json(res, out);
          }));
  svr.Get(R"(/api/runs/([A-Za-z0-9_.:\-]+)/samples\.csv)",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) {
            std::string id = req.matches[1];
            store::Store st(options_.store_path);
            auto run = st.find_run(id);
            if (!run) return send_error(res, 404, fmt::format("no run '{}'", id));
            res.set_header("Content-Disposition", fmt::format("attachment; filename=\"{}-samples.csv\"", run->id));
            res.set_content(samples_csv_for_run(options_.store_path, run->id), "text/csv; charset=utf-8");
          }));
  svr.Get("/api/summary.csv", guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) {
            std::vector<std::string> ids = split_commas(req.get_param_value("ids"));
            if (ids.empty() || ids.size() > 50)
              return send_error(res, 400, "ids: give 1 to 50 run ids, comma-separated");
            store::Store st(options_.store_path);
            std::vector<report::RunView> views;
            for (const auto& id : ids) views.push_back(report::load_run_view(st, id));
            res.set_header("Content-Disposition", "attachment; filename=\"summary.csv\"");
            res.set_content(report::summary_csv(views), "text/csv; charset=utf-8");
          }));
  svr.Get("/api/compare",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) { get_compare(req, res); }));
  svr.Get(R"(/api/suites/([a-z\-]+)/problems)",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) { get_problems(req, res); }));
  svr.Get("/api/problem",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) { get_problem(req, res); }));
  svr.Post("/api/try", guard(Access::Write, [this](const httplib::Request& req, httplib::Response& res) {
             TryRequest rq = TryRequest::from_json(parse_body(req), options_.models);
             send_json(res, jobs_->try_problem(rq, [this](const std::string& q) { return route(q); }));
           }));
  svr.Get("/api/evals", guard(Access::Read, [this](const httplib::Request&, httplib::Response& res) {
            send_json(res, jobs_->list());
          }));
  svr.Post("/api/evals", guard(Access::Write, [this](const httplib::Request& req, httplib::Response& res) {
             send_json(res, jobs_->start(EvalRequest::from_json(parse_body(req), options_.models)), 202);
           }));
  svr.Post(R"(/api/evals/([A-Za-z0-9\-]+)/stop)",
           guard(Access::Write, [this](const httplib::Request& req, httplib::Response& res) {
             if (!jobs_->stop(req.matches[1]))
               return send_error(res, 404, fmt::format("no job '{}'", std::string(req.matches[1])));
             send_json(res, jobs_->get(req.matches[1]));
           }));
  svr.Get("/api/events",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) { serve_events(req, res); }));
  svr.Get("/api/routing/rules", guard(Access::Read, [this](const httplib::Request&, httplib::Response& res) {
            send_json(res, rules_.get()->to_json());
          }));
  svr.Put("/api/routing/rules", guard(Access::Write, [this](const httplib::Request& req, httplib::Response& res) {
            auto applied = rules_.set(read_rules(parse_body(req)));
            json j = applied->to_json();
            bus_.publish("rules", j);
            send_json(res, j);
          }));
  svr.Post("/api/route", guard(Access::Write, [this](const httplib::Request& req, httplib::Response& res) {
             json body = parse_body(req);
             if (!body.is_object() || !body.contains("query") || !body["query"].is_string())
               return send_error(res, 400, "query: expected a string");
             std::string q = body["query"];
             if (q.size() > (256 << 10)) return send_error(res, 400, "query: longer than 256 KiB");
             send_json(res, route(q));
           }));
  svr.Get("/api/routing/decisions", guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) {
            size_t limit = 100;
            if (req.has_param("limit"))
              limit = std::clamp<size_t>(std::strtoul(req.get_param_value("limit").c_str(), nullptr, 10), 1, 10000);
            store::Store st(options_.store_path);
            json out = json::array();
            for (const auto& d : st.decisions(std::nullopt, limit)) out.push_back(store::to_json(d));
            send_json(res, out);
          }));
  svr.Get("/api/routing/curve",
          guard(Access::Read, [this](const httplib::Request& req, httplib::Response& res) { get_curve(req, res); }));
}

void Dashboard::get_runs(const httplib::Request& req, httplib::Response& res) {
  store::RunFilter f;
  f.kind = req.get_param_value("kind");
  f.model = req.get_param_value("model");
  f.experiment = req.get_param_value("experiment");
  std::string status = req.get_param_value("status");
  store::Store st(options_.store_path);
  json out = json::array();
  for (const auto& r : st.list_runs(f)) {
    if (!status.empty() && r.status != status) continue;
    json j = store::to_json(r);
    j.erase("machine");
    if (j["summary"].is_object()) j["summary"].erase("per_task");  // the list needs the headline figures only
    out.push_back(j);
  }
  send_json(res, out);
}

void Dashboard::get_run(const std::string& id, httplib::Response& res) {
  store::Store st(options_.store_path);
  auto run = st.find_run(id);
  if (!run) return send_error(res, 404, fmt::format("no run '{}'", id));
  json j = view_json(report::load_run_view(st, run->id));
  j["params"] = st.params(run->id);
  std::set<std::string> names;
  for (const auto& m : st.metrics(run->id)) names.insert(m.name);
  j["metrics"] = names;
  send_json(res, j);
}

void Dashboard::get_compare(const httplib::Request& req, httplib::Response& res) {
  std::vector<std::string> ids = split_commas(req.get_param_value("ids"));
  if (ids.size() < 1 || ids.size() > 20) return send_error(res, 400, "ids: give 1 to 20 run ids, comma-separated");
  store::Store st(options_.store_path);
  json runs = json::array();
  std::vector<route::OperatingPoint> points;
  std::set<std::string> tasks;
  std::vector<report::RunView> views;
  for (const auto& id : ids) {
    if (!st.find_run(id)) return send_error(res, 404, fmt::format("no run '{}'", id));
    views.push_back(report::load_run_view(st, id));
  }
  for (const auto& v : views) {
    json j = view_json(v);
    runs.push_back(j);
    route::OperatingPoint p;
    p.policy = v.run.id;
    p.accuracy = v.pass_at_k.count(1) ? v.pass_at_k.at(1) : 0.0;
    double cost = mean_finite(v.latency_s);
    if (!std::isfinite(cost) || cost <= 0) cost = mean_finite(v.exec_s);
    p.cost = std::isfinite(cost) ? cost : 0.0;
    points.push_back(p);
    for (const auto& [t, c] : v.per_task) tasks.insert(t);
  }
  json front = json::array();
  for (size_t i : route::pareto_front(points)) front.push_back(ids[i]);
  json grid = json::array();
  for (const auto& t : tasks) {
    json row = {{"task_id", t}, {"results", json::array()}};
    for (const auto& v : views) {
      auto it = v.per_task.find(t);
      row["results"].push_back(it == v.per_task.end() ? json(nullptr) : json({it->second.first, it->second.second}));
    }
    grid.push_back(row);
  }
  json scatter = json::array();
  for (size_t i = 0; i < points.size(); ++i)
    scatter.push_back({{"run_id", ids[i]},
                       {"label", views[i].label},
                       {"accuracy", points[i].accuracy},
                       {"cost_s", points[i].cost},
                       {"energy_j", num(views[i].energy_j)}});
  send_json(res, {{"runs", runs},
                  {"points", scatter},
                  {"pareto", front},
                  {"grid", grid},
                  {"cost_unit", "mean latency per sample (s), or execution time when latency is unknown"}});
}

void Dashboard::get_problems(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1];
  const eval::Suite& s = jobs_->suite(name);
  std::string q = req.get_param_value("q");
  std::transform(q.begin(), q.end(), q.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  json out = json::array();
  for (const auto& t : s.tasks) {
    std::string text = t.task_id + "\n" + t.entry_point + "\n" + t.prompt + "\n" + t.description;
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (!q.empty() && text.find(q) == std::string::npos) continue;
    std::string summary = t.description.empty() ? t.prompt : t.description;
    if (summary.size() > 160) summary = summary.substr(0, 160) + "...";
    out.push_back({{"task_id", t.task_id}, {"entry_point", t.entry_point}, {"summary", summary}});
  }
  send_json(res, {{"suite", name}, {"total", s.tasks.size()}, {"problems", out}});
}

void Dashboard::get_problem(const httplib::Request& req, httplib::Response& res) {
  const eval::Suite& s = jobs_->suite(req.get_param_value("suite"));
  std::string id = req.get_param_value("task_id");
  long i = eval::find_task(s, id);
  if (i < 0) return send_error(res, 404, fmt::format("task_id: no task \"{}\" in {}", id, s.name));
  const eval::Task& t = s.tasks[size_t(i)];
  eval::Prompt p = eval::build_prompt(s, t, {});
  json decision;
  try {
    decision = route(p.text, false);
  } catch (const Error& e) {
    decision = {{"error", e.what()}};  // the problem is still worth showing
  }
  send_json(res, {{"task_id", t.task_id},
                  {"entry_point", t.entry_point},
                  {"prompt", p.text},
                  {"description", t.description},
                  {"tests", t.tests},
                  {"reference", t.reference},
                  {"route", decision}});
}

void Dashboard::get_curve(const httplib::Request& req, httplib::Response& res) {
  std::vector<std::string> ids = split_commas(req.get_param_value("runs"));
  if (ids.size() != 2) return send_error(res, 400, "runs: give two run ids, the cheap tier's first, comma-separated");
  store::Store st(options_.store_path);
  for (const auto& id : ids)
    if (!st.find_run(id)) return send_error(res, 404, fmt::format("no run '{}'", id));
  auto rules = rules_.get();
  if (!rules->router) return send_error(res, 400, "routing: the rules have no router: " + rules->error);
  // The same problems, queries, token counts and costs as `lcte route eval`;
  // the current rules then decide each query as they would a request.
  experiment::RoutingDataOptions ro;
  ro.where = options_.where;
  ro.count_tokens = rules_.tokenizers().counter(rules->router->config().tokenizer);
  const experiment::RoutingData data = experiment::load_routing_data(st, ids, ro);
  const std::vector<route::ProblemRecord>& problems = data.problems;
  if (problems.empty()) return send_error(res, 400, "runs: no problem appears in both runs");
  std::vector<double> by_tokens, by_hash;
  std::vector<size_t> rule_tiers;
  for (const route::ProblemRecord& p : problems) {
    by_tokens.push_back(double(p.n_tokens));
    by_hash.push_back(double(route::query_hash(p.query) >> 11));
    rule_tiers.push_back(rules->router->route(p.query).tier_index == 0 ? 0 : 1);
  }
  auto point_json = [](const route::OperatingPoint& p) {
    return json{{"policy", p.policy},
                {"parameter", p.parameter},
                {"accuracy", p.accuracy},
                {"cost", p.cost},
                {"strong_share", p.strong_share}};
  };
  std::vector<route::OperatingPoint> all;
  json curves = json::object();
  for (auto& [name, prio] : std::vector<std::pair<std::string, std::vector<double>*>>{
           {"threshold (tokens)", &by_tokens}, {"random", &by_hash}}) {
    json c = json::array();
    for (const auto& p : route::priority_curve(problems, *prio, name)) {
      c.push_back(point_json(p));
      all.push_back(p);
    }
    curves[name] = c;
  }
  route::OperatingPoint current = route::evaluate_assignment(problems, rule_tiers, "current rules", rules->version);
  route::OperatingPoint oracle = route::oracle_point(problems);
  all.push_back(current);
  all.push_back(oracle);
  json front = json::array();
  for (size_t i : route::pareto_front(all)) front.push_back(point_json(all[i]));
  route::GapMetrics g = route::gap_metrics(
      route::priority_curve(problems, by_tokens, "threshold"),
      route::evaluate_assignment(problems, std::vector<size_t>(problems.size(), 0), "weak", 0).accuracy,
      route::evaluate_assignment(problems, std::vector<size_t>(problems.size(), 1), "strong", 0).accuracy);
  send_json(res, {{"problems", problems.size()},
                  {"curves", curves},
                  {"current", point_json(current)},
                  {"oracle", point_json(oracle)},
                  {"pareto", front},
                  {"apgr", g.apgr ? json(*g.apgr) : json(nullptr)},
                  {"cost_unit", data.cost_unit},
                  {"notes", data.notes},
                  {"tiers", data.tiers}});
}

void Dashboard::serve_events(const httplib::Request& req, httplib::Response& res) {
  uint64_t after = bus_.last_id();
  std::string from = req.get_header_value("Last-Event-ID");
  if (from.empty() && req.has_param("after")) from = req.get_param_value("after");
  if (!from.empty()) after = std::strtoull(from.c_str(), nullptr, 10);
  if (event_streams_->fetch_add(1) >= options_.max_event_streams) {
    event_streams_->fetch_sub(1);
    return send_error(
        res, 503,
        fmt::format("too many open event streams (at most {}); close a dashboard tab", options_.max_event_streams));
  }
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  auto cursor = std::make_shared<uint64_t>(after);
  auto first = std::make_shared<bool>(true);
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, cursor, first](size_t, httplib::DataSink& sink) {
        if (*first) {
          // Tells the browser how soon to reconnect, and gets headers out at once.
          std::string hello = "retry: 2000\n: connected\n\n";
          *first = false;
          return sink.write(hello.data(), hello.size());
        }
        // Short waits with a ping: a closed browser tab is only noticed when a
        // write fails, and its worker thread is needed back.
        std::vector<Event> events = bus_.wait_after(*cursor, std::chrono::seconds(1));
        if (bus_.closed()) {
          sink.done();
          return true;
        }
        if (events.empty()) {
          std::string ping = ": ping\n\n";
          return sink.write(ping.data(), ping.size());
        }
        std::string out;
        for (const Event& e : events) {
          out += sse_frame(e);
          *cursor = e.id;
        }
        return sink.write(out.data(), out.size());
      },
      [streams = event_streams_](bool) { streams->fetch_sub(1); });
}

}  // namespace lcte::dashboard
