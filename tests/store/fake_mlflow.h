// A local server that speaks the MLflow REST endpoints lcte uses and records
// what it received, and a store run to export to it.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace lcte::store::fake {

using nlohmann::json;

inline constexpr const char* kServerRunId = "0123456789abcdef0123456789abcdef";

struct FakeMlflow {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mutex;
  std::map<std::string, std::string> experiments = {{"Default", "0"}};  // name -> id
  std::vector<std::string> calls;                                       // "METHOD path" in order
  std::vector<std::string> auth;
  json created_experiment, created_run, updated_run;
  std::vector<json> batches;
  std::map<std::string, std::string> artifacts;  // path after /artifacts/ -> body
  std::string artifact_uri = std::string("mlflow-artifacts:/7/") + kServerRunId + "/artifacts";
  std::string fail_endpoint;  // answers 400 with an MLflow error body

  static void error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
    res.status = status;
    res.set_content(json{{"error_code", code}, {"message", message}}.dump(), "application/json");
  }
  // Records the call; true when the test asked this endpoint to fail.
  bool enter(const httplib::Request& req, httplib::Response& res) {
    calls.push_back(req.method + " " + req.path);
    auth.push_back(req.get_header_value("Authorization"));
    if (!fail_endpoint.empty() && req.path.find(fail_endpoint) != std::string::npos) {
      error(res, 400, "INVALID_PARAMETER_VALUE",
            "Param value 'x' had length 7000, which exceeded length limit of 6000");
      return true;
    }
    return false;
  }

  void start() {
    const std::string api = "/api/2.0/mlflow";
    server.Get(api + "/experiments/get-by-name", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex);
      if (enter(req, res)) return;
      auto it = experiments.find(req.get_param_value("experiment_name"));
      if (it == experiments.end())
        return error(res, 404, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name");
      res.set_content(json{{"experiment", {{"experiment_id", it->second}, {"name", it->first}}}}.dump(),
                      "application/json");
    });
    server.Post(api + "/experiments/create", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex);
      if (enter(req, res)) return;
      created_experiment = json::parse(req.body);
      experiments[created_experiment["name"]] = "7";
      res.set_content(R"({"experiment_id":"7"})", "application/json");
    });
    server.Post(api + "/runs/create", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex);
      if (enter(req, res)) return;
      created_run = json::parse(req.body);
      json info = {{"run_id", kServerRunId},
                   {"run_uuid", kServerRunId},
                   {"experiment_id", created_run["experiment_id"]},
                   {"status", "RUNNING"},
                   {"artifact_uri", artifact_uri}};
      res.set_content(json{{"run", {{"info", info}, {"data", json::object()}}}}.dump(), "application/json");
    });
    server.Post(api + "/runs/log-batch", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex);
      if (enter(req, res)) return;
      json b = json::parse(req.body);
      size_t m = b.value("metrics", json::array()).size(), p = b.value("params", json::array()).size(),
             t = b.value("tags", json::array()).size();
      // MLflow's documented limits for one call.
      if (m > 1000 || p > 100 || t > 100 || m + p + t > 1000)
        return error(res, 400, "INVALID_PARAMETER_VALUE",
                     "A batch logging request can contain at most 1000 metrics, 100 params and 100 tags");
      if (b.value("run_id", "") != kServerRunId) return error(res, 404, "RESOURCE_DOES_NOT_EXIST", "no such run");
      batches.push_back(b);
      res.set_content("{}", "application/json");
    });
    server.Put(R"(/api/2.0/mlflow-artifacts/artifacts/(.*))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 std::lock_guard<std::mutex> lock(mutex);
                 if (enter(req, res)) return;
                 artifacts[req.matches[1]] = req.body;
                 res.set_content("{}", "application/json");
               });
    server.Post(api + "/runs/update", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex);
      if (enter(req, res)) return;
      updated_run = json::parse(req.body);
      res.set_content(json{{"run_info", {{"run_id", kServerRunId}, {"status", updated_run["status"]}}}}.dump(),
                      "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeMlflow() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// An eval run whose model name holds a slash, with more params and metric
// points than one log-batch call may carry.
inline void make_run(Store& store, const std::string& dir) {
  RunRecord r;
  r.id = "eval-2026-11-27T08:30:00.250Z-Qwen/Qwen2.5-0.5B-1a2b3c4d";
  r.kind = "eval";
  r.experiment = "quant study";
  r.name = "humaneval Qwen/Qwen2.5-0.5B q4_0";
  r.started_at = "2026-11-27T08:30:00.250Z";
  r.model_name = "Qwen/Qwen2.5-0.5B";
  r.code_version = "0.1.0";
  store.begin_run(r);
  std::map<std::string, std::string> params;
  for (int i = 0; i < 150; ++i) params[std::string("p").append(std::to_string(i))] = std::to_string(i * 2);
  params["sampler:top_p"] = "0.95";
  store.set_params(r.id, params);
  std::vector<MetricPoint> points;
  for (int i = 0; i < 2500; ++i) points.push_back({"cpu util", i, i * 0.5, i / 100.0});
  store.add_metrics(r.id, points);
  std::ofstream(dir + "/samples.csv") << "task,passed\nHumanEval/0,1\n";
  std::ofstream(dir + "/report.html") << "<html>report</html>";
  store.add_artifact(r.id, {"samples.csv", dir + "/samples.csv", "csv"});
  store.add_artifact(r.id, {"report.html", dir + "/report.html", "report"});
  store.add_artifact(r.id, {"model", dir + "/absent.gguf", "gguf"});
  store.finish_run(r.id, "finished", {{"pass@k", {{"1", 0.25}}}});
}

}  // namespace lcte::store::fake
