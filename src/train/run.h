// One training run from files to files, as `lcte train` runs it: load the
// teacher and/or initial model, build the student (or LoRA adapters), read or
// sample the data, state the memory the run needs and refuse it if it does
// not fit, train with periodic checkpoints (resumable), and write the result
// as a llama GGUF with lineage metadata under lcte.lineage.*. The loop is
// train/driver.h's, shared with lcte distill.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "train/driver.h"
#include "train/gguf_io.h"
#include "train/trainer.h"

namespace lcte::train {

struct RunOptions {
  // Models. With `init`, training starts from that GGUF (fine-tuning, or the
  // frozen LoRA base); otherwise the student is built from the teacher.
  std::string teacher;  // GGUF; when set the loss distils from it
  std::string init;     // GGUF
  StudentSpec student;  // shape and layer pick, when init is empty
  int top_k = 64;       // teacher top-k per position

  // LoRA: rank > 0 freezes the model and trains adapters.
  int lora_rank = 0;
  double lora_alpha = 16.0;
  std::string lora_targets = "all";

  // Data: token-id JSONL (see read_token_jsonl), or else `sample` sequences
  // sampled from the teacher at `sample_temperature`.
  std::string data;
  int sample = 0;
  double sample_temperature = 1.0;

  // Held-out share of the examples (seeded), evaluated every eval_every
  // steps and at the end with the training loss (distillation mix or CE).
  double valid_fraction = 0.0;
  int64_t eval_every = 0;
  size_t eval_examples = 0;  // 0: all held-out examples

  TrainConfig train;
  uint64_t seed = 1;  // initialisation and data order

  std::string out;  // the trained model (LoRA merged in); empty: none
  GgmlType out_type = GgmlType::F32;
  std::string adapter_out;  // LoRA mode: the adapter GGUF; empty: none
  std::string name = "lcte-student";

  // Written every checkpoint_every steps and at the end; on a stop, this or
  // else <out or adapter_out>.ckpt.gguf.
  std::string checkpoint;
  int64_t checkpoint_every = 0;
  std::string resume;  // a checkpoint to continue from

  size_t max_memory = 0;  // bytes; 0: MemAvailable from /proc/meminfo
  int threads = 0;        // 0: one per core
  int log_every = 10;
  std::function<void(const StepStats&)> on_step;  // called after every step
  const std::atomic<bool>* stop = nullptr;        // see DriveOptions::stop
  RunObserver* observer = nullptr;                // told of the run (kind "train")
};

struct RunResult {
  MemoryPlan student_plan;
  size_t teacher_bytes = 0;
  int64_t steps = 0;
  bool interrupted = false;  // stopped between steps; no output written
  std::string checkpoint;    // written at the end or on the stop; empty: none
  double final_loss = 0;
  int64_t tokens = 0;              // target positions trained on in this process
  std::optional<LossStats> valid;  // the last held-out evaluation
  double seconds = 0;
  std::vector<std::string> copied;  // tensors copied from the teacher into the student
};

// Bytes a teacher needs to produce top-k signals for B x T tokens: its
// weights, its forward activations and the signal.
size_t teacher_memory(const ModelConfig& c, int B, int T, int k);

RunResult run_training(const RunOptions& o);

}  // namespace lcte::train
