// `lcte runs export RUN --mlflow-uri URL` as a whole program: credentials come
// from the environment, a refused call exits non-zero with MLflow's message.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/run_command.h"
#include "common/test_data.h"
#include "fake_mlflow.h"

namespace lcte::store {
namespace {

using namespace fake;

struct TokenEnv {
  TokenEnv() { setenv("MLFLOW_TRACKING_TOKEN", "env-token", 1); }
  ~TokenEnv() { unsetenv("MLFLOW_TRACKING_TOKEN"); }
};

TEST(MlflowCli, ExportsToTheServerWithTheTokenFromTheEnvironment) {
  std::string dir = testing::temp_dir();
  {
    Store store(dir + "/lcte.sqlite");
    make_run(store, dir);
  }
  FakeMlflow mlflow;
  mlflow.start();
  TokenEnv env;
  auto r = testing::run_command({testing::lcte_binary(), "runs", "--store", dir + "/lcte.sqlite", "export", "eval-2026",
                                 "--mlflow-uri", mlflow.url(), "--mlflow-experiment", "cli exp"},
                                dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, mlflow.url() + "/#/experiments/7/runs/" + kServerRunId + "\n");
  EXPECT_EQ(mlflow.created_experiment["name"], "cli exp");
  for (const auto& a : mlflow.auth) EXPECT_EQ(a, "Bearer env-token");
  EXPECT_EQ(mlflow.updated_run["status"], "FINISHED");
  EXPECT_EQ(mlflow.artifacts.size(), 3u);
}

TEST(MlflowCli, ARefusedCallExitsNonZeroNamingTheEndpoint) {
  std::string dir = testing::temp_dir();
  {
    Store store(dir + "/lcte.sqlite");
    make_run(store, dir);
  }
  FakeMlflow mlflow;
  mlflow.fail_endpoint = "runs/create";
  mlflow.start();
  auto r = testing::run_command({testing::lcte_binary(), "runs", "--store", dir + "/lcte.sqlite", "export", "eval-2026",
                                 "--mlflow-uri", mlflow.url()},
                                dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  EXPECT_NE(r.err.find("POST /api/2.0/mlflow/runs/create: HTTP 400 INVALID_PARAMETER_VALUE"), std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace lcte::store
