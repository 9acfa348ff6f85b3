// Exports runs to MLflow: either in its file-store layout (mlruns/), so
// `mlflow ui --backend-store-uri mlruns` shows lcte's runs, or through a
// tracking server's REST API (mlflow_rest.h). Both share MlflowRun, the run
// already translated into what MLflow accepts: a 32-hex run id, keys of
// letters, digits and `_ - . / space`, values cut to MLflow's lengths.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace lcte::store {

// MLflow's limits (mlflow/utils/validation.py).
inline constexpr size_t kMlflowMaxKey = 250;
inline constexpr size_t kMlflowMaxParamValue = 6000;
inline constexpr size_t kMlflowMaxTagValue = 8000;

struct MlflowMetric {
  std::string key;
  double value = 0;
  int64_t timestamp_ms = 0;
  int64_t step = 0;
};

// A file to attach: from `path`, or `content` when path is empty.
struct MlflowArtifact {
  std::string name;  // relative path inside the run's artifacts, valid segments only
  std::string path;
  std::string content;
};

struct MlflowRun {
  std::string lcte_id;
  std::string run_id;  // 32 hex digits derived from lcte_id (file layout only)
  std::string run_name;
  std::string experiment_name;  // "Default" for none
  std::string status;           // RUNNING, FINISHED, FAILED, KILLED
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // 0 while running
  std::vector<std::pair<std::string, std::string>> params, tags;
  std::vector<MlflowMetric> metrics;
  std::vector<MlflowArtifact> artifacts;
};

// Reads the run from the store and translates it. Model files (kind "gguf")
// are not attached; their path goes into the tag lcte.artifact.<name>.
MlflowRun collect_mlflow_run(Store& store, const std::string& run_id);

// Writes <root>/<experiment id>/meta.yaml and <root>/<experiment id>/<run id>/
// {meta.yaml, params/, metrics/, tags/, artifacts/}. Scalar numbers of the
// run's summary become metrics too. Returns the run's directory.
std::string export_mlflow(Store& store, const std::string& run_id, const std::string& root);

// lcte's run id ("eval-2026-11-27T08:30:00Z-…", may hold ':' and '/') as an
// MLflow run id: the first 32 hex digits of its SHA-256, stable across exports.
std::string mlflow_run_id(const std::string& lcte_id);

// A key MLflow accepts: other characters become '_', '/' separated segments
// without empty, "." or ".." parts, at most kMlflowMaxKey bytes.
std::string mlflow_key(const std::string& key);

// ISO 8601 UTC ("2026-11-27T08:30:00.123Z") to milliseconds since the epoch; 0 if unparsable.
int64_t iso8601_to_epoch_ms(const std::string& iso);

}  // namespace lcte::store
