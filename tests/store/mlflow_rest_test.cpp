// export_mlflow_rest against a local server that speaks MLflow's documented
// REST endpoints and records what it received.
#include "store/mlflow_rest.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/test_data.h"
#include "core/error.h"
#include "store/mlflow_export.h"

namespace lcte::store {
namespace {

using nlohmann::json;

constexpr const char* kServerRunId = "0123456789abcdef0123456789abcdef";

struct FakeMlflow {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mutex;
  std::map<std::string, std::string> experiments = {{"Default", "0"}};  // name -> id
  std::vector<std::string> calls;                                      // "METHOD path" in order
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
      error(res, 400, "INVALID_PARAMETER_VALUE", "Param value 'x' had length 7000, which exceeded length limit of 6000");
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
      res.set_content(json{{"experiment", {{"experiment_id", it->second}, {"name", it->first}}}}.dump(), "application/json");
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
      json info = {{"run_id", kServerRunId}, {"run_uuid", kServerRunId}, {"experiment_id", created_run["experiment_id"]},
                   {"status", "RUNNING"}, {"artifact_uri", artifact_uri}};
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
        return error(res, 400, "INVALID_PARAMETER_VALUE", "A batch logging request can contain at most 1000 metrics");
      if (b.value("run_id", "") != kServerRunId) return error(res, 404, "RESOURCE_DOES_NOT_EXIST", "no such run");
      batches.push_back(b);
      res.set_content("{}", "application/json");
    });
    server.Put(R"(/api/2.0/mlflow-artifacts/artifacts/(.*))", [this](const httplib::Request& req, httplib::Response& res) {
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
void make_run(Store& store, const std::string& dir) {
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
  for (int i = 0; i < 150; ++i) params["p" + std::to_string(i)] = std::to_string(i * 2);
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

TEST(MlflowRest, LogsExperimentRunParamsMetricsTagsArtifactsAndStatus) {
  std::string dir = testing::temp_dir();
  Store store(dir + "/lcte.sqlite");
  make_run(store, dir);
  auto lcte_run = *store.find_run("eval-2026");
  FakeMlflow mlflow;
  mlflow.start();
  MlflowRestOptions o;
  o.uri = mlflow.url() + "/";
  o.token = "secret-token";
  MlflowRestResult r = export_mlflow_rest(store, "eval-2026", o);

  EXPECT_EQ(r.experiment_id, "7");
  EXPECT_EQ(r.run_id, kServerRunId);
  EXPECT_EQ(r.url, mlflow.url() + "/#/experiments/7/runs/" + kServerRunId);
  EXPECT_EQ(mlflow.created_experiment["name"], "quant study");
  ASSERT_GE(mlflow.calls.size(), 2u);
  EXPECT_EQ(mlflow.calls[0], "GET /api/2.0/mlflow/experiments/get-by-name");
  EXPECT_EQ(mlflow.calls[1], "POST /api/2.0/mlflow/experiments/create");
  EXPECT_EQ(mlflow.calls.back(), "POST /api/2.0/mlflow/runs/update");
  for (const auto& a : mlflow.auth) EXPECT_EQ(a, "Bearer secret-token");

  // The run.
  EXPECT_EQ(mlflow.created_run["experiment_id"], "7");
  EXPECT_EQ(mlflow.created_run["run_name"], "humaneval Qwen/Qwen2.5-0.5B q4_0");
  int64_t t0 = iso8601_to_epoch_ms("2026-11-27T08:30:00.250Z");
  EXPECT_EQ(mlflow.created_run["start_time"].get<int64_t>(), t0);
  std::map<std::string, std::string> tags, params;
  for (const auto& t : mlflow.created_run["tags"]) tags[t["key"]] = t["value"];
  EXPECT_EQ(tags["lcte.run_id"], lcte_run.id);
  EXPECT_EQ(tags["mlflow.runName"], "humaneval Qwen/Qwen2.5-0.5B q4_0");
  EXPECT_EQ(tags["lcte.artifact.model"], dir + "/absent.gguf");

  // Params and metrics, batched within MLflow's limits (the fake refuses larger batches).
  size_t param_batches = 0, metric_batches = 0;
  std::vector<json> cpu;
  std::map<std::string, json> summary;
  for (const json& b : mlflow.batches) {
    if (b.contains("params")) ++param_batches;
    if (b.contains("metrics")) ++metric_batches;
    for (const auto& p : b.value("params", json::array())) {
      EXPECT_EQ(params.count(p["key"]), 0u) << p;
      params[p["key"]] = p["value"];
    }
    for (const auto& m : b.value("metrics", json::array()))
      (m["key"] == "cpu util" ? cpu.push_back(m) : void(summary[m["key"]] = m));
  }
  EXPECT_EQ(param_batches, 2u);   // 153 params, 100 a call
  EXPECT_EQ(metric_batches, 3u);  // 2501 points, 1000 a call
  EXPECT_EQ(params.size(), 153u);  // 151 set, kind and model
  EXPECT_EQ(params["p149"], "298");
  EXPECT_EQ(params["sampler_top_p"], "0.95");
  EXPECT_EQ(params["model"], "Qwen/Qwen2.5-0.5B");
  EXPECT_EQ(params["kind"], "eval");
  ASSERT_EQ(cpu.size(), 2500u);
  std::map<int64_t, json> by_step;
  for (const auto& m : cpu) by_step[m["step"].get<int64_t>()] = m;
  ASSERT_EQ(by_step.size(), 2500u);
  EXPECT_DOUBLE_EQ(by_step[1234]["value"].get<double>(), 12.34);
  EXPECT_EQ(by_step[1234]["timestamp"].get<int64_t>(), t0 + 617000);  // 1234 * 0.5 s
  ASSERT_EQ(summary.count("summary.pass_k.1"), 1u);
  EXPECT_DOUBLE_EQ(summary["summary.pass_k.1"]["value"].get<double>(), 0.25);

  // Artifacts under the run's mlflow-artifacts: root.
  std::string root = std::string("7/") + kServerRunId + "/artifacts/";
  EXPECT_EQ(mlflow.artifacts.size(), 3u);
  EXPECT_EQ(mlflow.artifacts[root + "samples.csv"], "task,passed\nHumanEval/0,1\n");
  EXPECT_EQ(mlflow.artifacts[root + "report.html"], "<html>report</html>");
  json summary_json = json::parse(mlflow.artifacts[root + "summary.json"]);
  EXPECT_EQ(summary_json["id"], lcte_run.id);
  EXPECT_EQ(summary_json["summary"]["pass@k"]["1"], 0.25);
  EXPECT_EQ(r.artifacts, 3u);

  // Final status last.
  EXPECT_EQ(mlflow.updated_run["run_id"], kServerRunId);
  EXPECT_EQ(mlflow.updated_run["status"], "FINISHED");
  EXPECT_EQ(mlflow.updated_run["end_time"].get<int64_t>(), iso8601_to_epoch_ms(lcte_run.finished_at));
}

TEST(MlflowRest, ExistingExperimentAndBasicAuth) {
  std::string dir = testing::temp_dir();
  Store store(dir + "/lcte.sqlite");
  make_run(store, dir);
  FakeMlflow mlflow;
  mlflow.experiments["mine"] = "42";
  mlflow.artifact_uri = "";  // older servers: the documented <experiment>/<run>/artifacts root
  mlflow.start();
  MlflowRestOptions o;
  o.uri = mlflow.url();
  o.experiment = "mine";
  o.username = "ann";
  o.password = "pw";
  MlflowRestResult r = export_mlflow_rest(store, "eval-2026", o);
  EXPECT_EQ(r.experiment_id, "42");
  EXPECT_EQ(mlflow.created_run["experiment_id"], "42");
  EXPECT_TRUE(mlflow.created_experiment.is_null());
  for (const auto& c : mlflow.calls) EXPECT_EQ(c.find("experiments/create"), std::string::npos);
  // base64("ann:pw") = "YW5uOnB3"
  for (const auto& a : mlflow.auth) EXPECT_EQ(a, "Basic YW5uOnB3");
  EXPECT_EQ(mlflow.artifacts.count(std::string("42/") + kServerRunId + "/artifacts/samples.csv"), 1u);
}

TEST(MlflowRest, AnErrorNamesEndpointStatusAndMlflowsMessage) {
  std::string dir = testing::temp_dir();
  Store store(dir + "/lcte.sqlite");
  make_run(store, dir);
  FakeMlflow mlflow;
  mlflow.fail_endpoint = "runs/log-batch";
  mlflow.start();
  MlflowRestOptions o;
  o.uri = mlflow.url();
  try {
    export_mlflow_rest(store, "eval-2026", o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("POST /api/2.0/mlflow/runs/log-batch"), std::string::npos) << msg;
    EXPECT_NE(msg.find("HTTP 400"), std::string::npos) << msg;
    EXPECT_NE(msg.find("INVALID_PARAMETER_VALUE"), std::string::npos) << msg;
    EXPECT_NE(msg.find("exceeded length limit of 6000"), std::string::npos) << msg;
  }
  EXPECT_TRUE(mlflow.updated_run.is_null());
}

TEST(MlflowRest, RefusesArtifactsTheServerDoesNotProxyAndBadUris) {
  std::string dir = testing::temp_dir();
  Store store(dir + "/lcte.sqlite");
  make_run(store, dir);
  FakeMlflow mlflow;
  mlflow.artifact_uri = "s3://bucket/7/run/artifacts";
  mlflow.start();
  MlflowRestOptions o;
  o.uri = mlflow.url();
  try {
    export_mlflow_rest(store, "eval-2026", o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--serve-artifacts"), std::string::npos) << e.what();
  }
  o.uri = "localhost:5000";
  EXPECT_THROW(export_mlflow_rest(store, "eval-2026", o), Error);
  o.uri = "http://127.0.0.1:1";  // nothing listens there
  try {
    export_mlflow_rest(store, "eval-2026", o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("experiments/get-by-name"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lcte::store
