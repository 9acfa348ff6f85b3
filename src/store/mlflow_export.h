// Exports runs in MLflow's file-store layout (mlruns/), so `mlflow ui
// --backend-store-uri mlruns` shows lcte's runs with their parameters,
// metrics and artifacts.
#pragma once

#include <string>

#include "store/store.h"

namespace lcte::store {

// Writes <root>/<experiment id>/meta.yaml and <root>/<experiment id>/<run id>/
// {meta.yaml, params/, metrics/, tags/, artifacts/}. Scalar numbers of the
// run's summary become metrics too. Returns the run's directory.
std::string export_mlflow(Store& store, const std::string& run_id, const std::string& root);

// ISO 8601 UTC ("2026-11-27T08:30:00.123Z") to milliseconds since the epoch; 0 if unparsable.
int64_t iso8601_to_epoch_ms(const std::string& iso);

}  // namespace lcte::store
