// The bridge from a training run (train/driver.h) to the experiment store:
// lcte train and lcte distill hand this observer to the run when --store is
// given, and the run is recorded by experiment::RunRecorder like every other
// run (its record, the resource sampler's readings, the metric series, the
// written models as artifacts, the summary).
#pragma once

#include <memory>
#include <string>

#include "experiment/recorder.h"
#include "store/store.h"
#include "train/driver.h"

namespace lcte::cli {

class TrainObserver : public train::RunObserver {
 public:
  explicit TrainObserver(std::string store_path) : path_(std::move(store_path)) {}

  void started(const train::RunDescription& d) override {
    store_ = std::make_unique<store::Store>(path_);
    store::RunRecord r = experiment::new_run_record(d.kind, d.name, d.config);
    r.model_name = d.name;
    r.model_path = d.model_path;
    recorder_ = std::make_unique<experiment::RunRecorder>(*store_, r, experiment::RecorderOptions{});
    store_->set_params(r.id, d.params);
  }
  void metrics(int64_t step, const std::vector<train::Metric>& values) override {
    if (recorder_) recorder_->add_values(step, values);
  }
  void finished(const std::string& status, const nlohmann::json& summary,
                const std::vector<std::pair<std::string, std::string>>& outputs) override {
    if (!recorder_) return;
    for (const auto& [name, path] : outputs) recorder_->add_artifact({name, path, "gguf"});
    recorder_->finish(summary, 0, 0, 0, status);
  }
  // A run that threw: marked failed with the message.
  void failed(const std::string& message) {
    if (recorder_) recorder_->fail(message);
  }
  std::string run_id() const { return recorder_ ? recorder_->run_id() : ""; }

 private:
  std::string path_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<experiment::RunRecorder> recorder_;
};

// Runs `body` with the observer (or none when `store_path` is empty); a run
// that throws is marked failed in the store before the error goes on.
template <typename Body>
auto with_train_observer(const std::string& store_path, Body body) {
  if (store_path.empty()) return body(static_cast<TrainObserver*>(nullptr));
  TrainObserver observer(store_path);
  try {
    return body(&observer);
  } catch (const std::exception& e) {
    observer.failed(e.what());
    throw;
  }
}

}  // namespace lcte::cli
