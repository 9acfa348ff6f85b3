// The training loop: micro-batches with gradient accumulation, the loss
// (hard labels, or distillation from a teacher), global-norm clipping, the
// learning-rate schedule and AdamW; checkpoints that resume bit for bit.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "train/data.h"
#include "train/losses.h"
#include "train/model.h"
#include "train/optim.h"

namespace lcte::train {

struct TrainConfig {
  int batch = 8;        // sequences per micro-batch
  int seq = 128;        // tokens per sequence
  int accum = 1;        // micro-batches per optimiser step
  int64_t steps = 100;  // optimiser steps in all
  LrSchedule lr;
  AdamWConfig adamw;
  double clip = 1.0;  // max global gradient norm; <= 0 disables
  LossConfig loss;
  void validate() const;
  // batch, seq, accum, steps, lr, adamw and clip, as run records and lineage store them.
  nlohmann::json to_json() const;
};

// Fills `out` with the teacher's top-k for every position of the batch.
using TeacherFn = std::function<void(const Batch&, TeacherSignal& out)>;
// A teacher that is a model in memory: its forward on the batch, top-k of the
// logits at temperature 1.
TeacherFn model_teacher(Model<float>& teacher, int k);

// n sequences of len tokens sampled from the model (ancestral sampling at
// `temperature`, seeded), each starting with token `first`: training data for
// sequence-level distillation when no text corpus is at hand. Each new token
// re-runs the forward on the prefix (no KV cache): O(len^2), fine for the
// short sequences and small teachers it is meant for.
std::vector<Example> sample_sequences(Model<float>& m, int n, int len, int32_t first, double temperature, uint64_t seed,
                                      int batch = 8);

struct StepStats {
  int64_t step = 0;  // optimiser steps done after this one
  double loss = 0, ce = 0, kd = 0;
  double grad_norm = 0;  // before clipping
  double lr = 0;
  int64_t tokens = 0;  // target positions in this step
  double seconds = 0;
};

// MemAvailable from /proc/meminfo, in bytes (0 if it cannot be read).
size_t available_memory_bytes();
// Throws lcte::Error, itemising the plan, when plan.total() > limit.
void require_memory(const MemoryPlan& plan, size_t limit, const std::string& what);
std::string describe(const MemoryPlan& plan);

class Trainer {
 public:
  // The model's trainable buffer (parameters, or adapters in LoRA mode) is
  // what AdamW updates. With a teacher the loss is the distillation mix of
  // cfg.loss; without one, hard-label cross-entropy.
  Trainer(Model<float>& model, DataLoader& data, const TrainConfig& cfg, TeacherFn teacher = {});

  StepStats step();
  int64_t steps_done() const { return step_; }
  const TrainConfig& config() const { return cfg_; }
  const AdamW& optimizer() const { return opt_; }

  // Mean loss per target position over the first `max_examples` examples (0:
  // all), each counted once, in order, in batches of the training shape (the
  // last batch's spare rows masked); no training state changes.
  LossStats evaluate(const std::vector<Example>& examples, size_t max_examples = 0);

  // A GGUF file: metadata lcte.ckpt.* (step, AdamW t, data seed/epoch/cursor,
  // model shape, LoRA shape), tensors "ckpt.params" (all model weights),
  // "ckpt.lora" (adapters, LoRA mode), "ckpt.adam_m", "ckpt.adam_v".
  void save_checkpoint(const std::string& path) const;
  // Restores weights, adapters, moments, step and data position; throws if
  // the file's model or LoRA shape differs from this trainer's.
  void load_checkpoint(const std::string& path);

 private:
  Model<float>& model_;
  DataLoader& data_;
  TrainConfig cfg_;
  TeacherFn teacher_;
  AdamW opt_;
  int64_t step_ = 0;
  std::vector<float> dlogits_;
  TeacherSignal signal_;
};

}  // namespace lcte::train
