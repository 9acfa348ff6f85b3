// export_mlflow_rest against a local server that speaks MLflow's documented
// REST endpoints and records what it received.
#include "store/mlflow_rest.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/test_data.h"
#include "core/error.h"
#include "fake_mlflow.h"
#include "store/mlflow_export.h"

namespace lcte::store {
namespace {

using nlohmann::json;

using namespace fake;

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
  EXPECT_EQ(param_batches, 2u);    // 153 params, 100 a call
  EXPECT_EQ(metric_batches, 3u);   // 2501 points, 1000 a call
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
    EXPECT_NE(msg.find(std::string("MLflow run ") + kServerRunId + " marked FAILED"), std::string::npos) << msg;
  }
  // The half-logged run is not left RUNNING.
  EXPECT_EQ(mlflow.updated_run["run_id"], kServerRunId);
  EXPECT_EQ(mlflow.updated_run["status"], "FAILED");
  EXPECT_GT(mlflow.updated_run["end_time"].get<int64_t>(), 0);
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
