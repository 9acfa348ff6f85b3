// What every training run shares, whether it distils from a teacher in
// memory (`lcte train`) or from a cached top-k signal (`lcte distill`): the
// student and its LoRA adapters, the step loop with progress lines, held-out
// evaluations, periodic checkpoints and a clean stop between steps (SIGINT),
// the lineage written into the output GGUF, and a report of the run to an
// observer. The observer is how a run reaches the experiment store: train
// knows nothing of the store, the caller connects the two.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf.h"
#include "train/gguf_io.h"
#include "train/trainer.h"

namespace lcte::train {

using Metric = std::pair<std::string, double>;

// A run as the experiment store records it.
struct RunDescription {
  std::string kind;  // "train" or "distill"
  std::string name;
  nlohmann::json config = nlohmann::json::object();  // hyper-parameters and inputs
  std::map<std::string, std::string> params;         // teacher, its sha256, data, loss
  std::string model_path;                            // the output GGUF
};

// Told of a run as it happens. Metrics come at each evaluation step:
// train_loss and tokens_per_s over the steps since the last one, and the
// held-out figures when there are held-out examples (docs/formats.md).
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void started(const RunDescription& run) = 0;
  virtual void metrics(int64_t step, const std::vector<Metric>& values) = 0;
  // status "finished", or "killed" for a run stopped between steps; `outputs`
  // are the files written (name, path).
  virtual void finished(const std::string& status, const nlohmann::json& summary,
                        const std::vector<std::pair<std::string, std::string>>& outputs) = 0;
};

// rank > 0: the LoRA configuration (validated); 0: none.
std::optional<LoraConfig> lora_config(int rank, double alpha, const std::string& targets);

// The training model: a GGUF to start from (`init`), or else a student built
// from `teacher` by `spec`; LoRA adapters on top when `lora` is set (the
// model's own weights then frozen).
struct Student {
  std::unique_ptr<Model<float>> model;
  std::vector<int> kept_layers;     // teacher layer of each student layer, when copied whole
  std::vector<std::string> copied;  // tensors copied from the teacher
};
Student make_student(const gguf::File* init, const gguf::File* teacher, const StudentSpec& spec,
                     const std::optional<LoraConfig>& lora, uint64_t seed);

// The hyper-parameters a run records (lineage and store): the TrainConfig,
// seed, the loss (the divergence mix and top_k with a teacher, "ce" without)
// and the LoRA shape.
nlohmann::json hyper_parameters(const TrainConfig& t, uint64_t seed, bool teacher, int top_k,
                                const std::optional<LoraConfig>& lora, const std::string& lora_targets);

// What the held-out evaluation adds at an evaluation step: metrics for the
// observer and a phrase for the progress line.
struct HeldOut {
  std::vector<Metric> metrics;
  std::string text;
};

struct DriveOptions {
  std::string what = "train";  // prefix of the log lines
  int64_t eval_every = 0;      // 0: at the last step only
  int log_every = 10;
  std::string checkpoint;  // written every checkpoint_every steps and on a stop; empty: never
  int64_t checkpoint_every = 0;
  bool checkpoint_at_end = true;
  std::string resume;  // a checkpoint to continue from
  // Checked between steps: when it becomes true the loop ends after the step
  // in progress, with a checkpoint (SIGINT in lcte train and lcte distill).
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const StepStats&)> on_step;
  std::function<HeldOut(int64_t step)> evaluate;  // empty: no held-out examples
  RunObserver* observer = nullptr;
};

// The loop settings that RunOptions and DistillOptions share by name.
template <typename Options>
DriveOptions drive_options(const Options& o, std::string what, std::string checkpoint) {
  DriveOptions d;
  d.what = std::move(what);
  d.eval_every = o.eval_every;
  d.log_every = o.log_every;
  d.checkpoint = std::move(checkpoint);
  d.checkpoint_every = o.checkpoint_every;
  d.resume = o.resume;
  d.stop = o.stop;
  d.on_step = o.on_step;
  d.observer = o.observer;
  return d;
}

struct DriveResult {
  int64_t steps = 0;  // steps done, resumed ones included
  StepStats last;
  int64_t tokens = 0;  // target positions trained on in this process
  double seconds = 0;
  bool interrupted = false;
  double tokens_per_second() const { return tokens / std::max(1e-9, seconds); }
};

DriveResult drive(Trainer& trainer, const DriveOptions& o);

// The lcte.lineage.* keys of a trained model (docs/formats.md).
class Lineage {
 public:
  void add(const std::string& key, gguf::Value v);
  // "<role>" (the file name) and "<role>_sha256"; sha256 computed when empty.
  void add_file(const std::string& role, const std::string& path, std::string sha256 = "");
  void add_layers(const std::vector<int>& kept);
  // steps, final_loss, valid_loss (when given) and lcte_version.
  void add_result(const DriveResult& r, std::optional<double> valid_loss);
  const std::vector<gguf::KeyValue>& keys() const { return keys_; }

 private:
  std::vector<gguf::KeyValue> keys_;
};

// The process's SIGINT handler sets `flag` while the guard lives; the
// previous handler comes back after. One at a time.
class SigintStop {
 public:
  SigintStop();
  ~SigintStop();
  SigintStop(const SigintStop&) = delete;
  SigintStop& operator=(const SigintStop&) = delete;
  const std::atomic<bool>* flag() const;

 private:
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

}  // namespace lcte::train
