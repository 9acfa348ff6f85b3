// One run of lcte as a row in the experiment store, recorded while it
// happens: the run record (configuration, model identity, code version,
// machine) is written first, the resource sampler's readings and each result
// are appended as they are made, and the summary (with energy and the
// sampler's own cost) when it ends. A run killed half way therefore leaves
// everything measured so far, with status "running" until it is resumed.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "measure/sampler.h"
#include "store/store.h"

namespace lcte::experiment {

struct RecorderOptions {
  double sample_rate_hz = 1.0;  // the resource sampler; 0 turns it off
  measure::PowerModel power;
  bool gpus = true;
  std::string nvml_library = "libnvidia-ml.so.1";
  // Also told of each reading, after it is stored (the dashboard's live view).
  std::function<void(const measure::Sample&)> on_reading;
};

// The metric names a sampler reading is stored under (GPU fields per index:
// gpu0_utilisation, ...). Absent readings are not stored: a missing GPU is a
// missing series, never a series of zeros.
std::vector<store::MetricPoint> metric_points(const measure::Sample& s, double t_offset);

// The energy and resource part of a run's summary: totals with their sources
// and labels, per 1,000 generated tokens and per passing sample where those
// counts are given, peak memory, and what the sampler itself cost.
nlohmann::json resource_summary(const measure::ResourceSampler& sampler, int64_t completion_tokens, int64_t passed,
                                int64_t tasks);

// A new run record of `kind` (eval, train, distill, quantize, bench, kld,
// ...): a fresh id "<kind>-<UTC time>-<8 hex digits>", the start time, the
// code version and the machine (measure::describe_machine). Every command
// and the dashboard start their runs from it, so all runs describe
// themselves alike.
store::RunRecord new_run_record(const std::string& kind, const std::string& name,
                                nlohmann::json config = nlohmann::json::object());

class RunRecorder {
 public:
  // Begins `run` in the store; when `resume` is set and the run exists it is
  // reopened instead and new readings continue its time axis.
  RunRecorder(store::Store& store, store::RunRecord run, RecorderOptions options, bool resume = false);
  ~RunRecorder();  // a run never finished is left "running" (resumable), sampler stopped
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  const std::string& run_id() const { return run_.id; }
  store::Store& store() { return store_; }
  measure::ResourceSampler* sampler() { return sampler_.get(); }

  // Thread-safe; each call is its own committed write.
  void add_sample(const store::StoredSample& sample);
  void add_metrics(const std::vector<store::MetricPoint>& points);
  // Named values at `step`, timed in seconds from the run's start.
  void add_values(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  // Files the run made; one that does not exist is skipped.
  void add_artifact(const store::Artifact& artifact);

  // Stops the sampler, merges the resource summary into `summary` (under
  // "energy" and "resources") and marks the run finished (or `status`).
  nlohmann::json finish(nlohmann::json summary, int64_t completion_tokens, int64_t passed, int64_t tasks,
                        const std::string& status = "finished");
  void fail(const std::string& message);

 private:
  void on_reading(const measure::Sample& s);

  store::Store& store_;
  store::RunRecord run_;
  std::unique_ptr<measure::ResourceSampler> sampler_;
  std::function<void(const measure::Sample&)> on_reading_;
  double t_offset_ = 0;  // a resumed run's time axis continues after its last reading
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<bool> ended_{false};
  std::mutex write_mutex_;
};

// Runs `body` recorded as `run` in the store at `store_path`, or unrecorded
// when the path is empty (body then gets a null recorder). body returns the
// run's summary; a throw marks the run failed with its message and goes on.
// Returns the run's id ("" when unrecorded). lcte quantize, bench and kld
// record themselves through it.
template <typename Body>
std::string record_run(const std::string& store_path, store::RunRecord run, Body body) {
  if (store_path.empty()) {
    body(static_cast<RunRecorder*>(nullptr));
    return "";
  }
  store::Store store(store_path);
  RunRecorder recorder(store, std::move(run), RecorderOptions{});
  nlohmann::json summary;
  try {
    summary = body(&recorder);
  } catch (const std::exception& e) {
    recorder.fail(e.what());
    throw;
  }
  recorder.finish(std::move(summary), 0, 0, 0);
  return recorder.run_id();
}

}  // namespace lcte::experiment
