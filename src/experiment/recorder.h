// One run of lcte as a row in the experiment store, recorded while it
// happens: the run record (configuration, model identity, code version,
// machine) is written first, the resource sampler's readings and each result
// are appended as they are made, and the summary (with energy and the
// sampler's own cost) when it ends. A run killed half way therefore leaves
// everything measured so far, with status "running" until it is resumed.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "measure/sampler.h"
#include "store/store.h"

namespace lcte::experiment {

struct RecorderOptions {
  double sample_rate_hz = 1.0;  // the resource sampler; 0 turns it off
  measure::PowerModel power;
  bool gpus = true;
  std::string nvml_library = "libnvidia-ml.so.1";
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
  double t_offset_ = 0;  // a resumed run's time axis continues after its last reading
  std::atomic<bool> ended_{false};
  std::mutex write_mutex_;
};

}  // namespace lcte::experiment
