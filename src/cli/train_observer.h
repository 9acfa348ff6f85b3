// The bridge from a training run (train/driver.h) to the experiment store:
// lcte train and lcte distill hand this observer to the run when --store is
// given, and the run is recorded by experiment::RunRecorder like every other
// run (its record, the resource sampler's readings, the metric series, the
// written models as artifacts, the summary).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
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

// Runs `train(options)` (run_training or run_distill) with Ctrl-C stopping
// it between steps and, when `store_path` is given, the run recorded there
// (`run_id` set); a run that throws is marked failed before the error goes on.
template <typename Options, typename Train>
auto run_recorded(Options& options, const std::string& store_path, std::string& run_id, Train train) {
  train::SigintStop sigint;
  options.stop = sigint.flag();
  if (store_path.empty()) return train(options);
  TrainObserver observer(store_path);
  options.observer = &observer;
  try {
    auto result = train(options);
    run_id = observer.run_id();
    return result;
  } catch (const std::exception& e) {
    observer.failed(e.what());
    throw;
  }
}

// A run stopped by Ctrl-C: says how to resume and exits with status 130.
inline void exit_if_interrupted(bool interrupted, int64_t steps, int64_t total, const std::string& checkpoint) {
  if (!interrupted) return;
  std::printf("interrupted at step %lld of %lld; checkpoint %s (continue with --resume %s)\n", (long long)steps,
              (long long)total, checkpoint.c_str(), checkpoint.c_str());
  throw CLI::RuntimeError(130);
}

}  // namespace lcte::cli
