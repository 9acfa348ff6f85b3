// Logs an lcte run to an MLflow tracking server through its REST API
// (https://mlflow.org/docs/latest/rest-api.html): finds or creates the
// experiment, creates the run, logs params, metrics and tags in batches within
// MLflow's limits, uploads the run's files through the proxied artifact
// service (`mlflow server` with --serve-artifacts, the default since 2.0) and
// sets the final status.
#pragma once

#include <string>

#include "store/store.h"

namespace lcte::store {

struct MlflowRestOptions {
  std::string uri;         // http(s)://host:port[/prefix]
  std::string experiment;  // "" for the run's own experiment ("Default" when it has none)
  std::string token;       // Bearer token; wins over username/password
  std::string username, password;
  double timeout_s = 60;
};

// Fills token, username and password from MLFLOW_TRACKING_TOKEN,
// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
void mlflow_credentials_from_env(MlflowRestOptions& options);

struct MlflowRestResult {
  std::string experiment_id;
  std::string run_id;  // the server's
  std::string url;     // the run's page in MLflow's UI
  size_t params = 0, metrics = 0, tags = 0, artifacts = 0;
};

// Throws lcte::Error naming the endpoint, HTTP status and MLflow's
// error_code and message when the server refuses a call.
MlflowRestResult export_mlflow_rest(Store& store, const std::string& run_id, const MlflowRestOptions& options);

}  // namespace lcte::store
