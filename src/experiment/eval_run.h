// `lcte eval` as an experiment: the evaluation session (eval/) runs on its
// own terms, writing its resumable run directory, and at the same time the run is
// published to the experiment store with the resource sampler attached; when
// it ends the summary gains energy and resource figures and the run's report
// (report/) is written into the run directory.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "eval/session.h"
#include "experiment/recorder.h"
#include "route/decision_log.h"

namespace lcte::experiment {

struct EvalExperimentOptions {
  std::string store_path;  // empty: the run is not published to a store
  std::string experiment;  // experiment name in the store ("" for none)
  RecorderOptions recorder;
  bool write_report = true;  // <run dir>/report/ (needs a store)
};

struct EvalExperimentResult {
  eval::SessionResult session;  // its summary includes "energy" and "resources" when published
  std::string report_dir;       // empty when no report was written
  std::string store_run_id;     // the run's id in the store (the run id, suffixed if the store had it)
};

// A new run (`resume` empty) or a resumed one (`resume`: a run directory or a
// run id under options.out_dir; `given` as for eval::resume_eval).
EvalExperimentResult run_eval_experiment(const eval::EvalConfig& config, eval::SessionOptions session,
                                         const EvalExperimentOptions& options, const std::string& resume = "",
                                         const nlohmann::json& given = nlohmann::json::object());

// The store's form of a routing decision (run_id: the run it belongs to, if any).
store::StoredDecision stored_decision(const route::DecisionRecord& d, std::optional<std::string> run_id = std::nullopt);

// The store's form of a run's sample row.
store::StoredSample stored_sample(const eval::SampleRow& row, const std::string& suite, const std::string& model,
                                  double temperature);

}  // namespace lcte::experiment
