// One distillation run as `lcte distill` runs it: tokenise the data with the
// teacher's tokenizer, score it once with the teacher (the inference engine,
// so any model lcte runs, quantized included) into a top-k cache on disk, let
// the teacher go, then train the student from the cache, evaluating it
// against the teacher on held-out examples, reporting to the terminal and to
// an observer (train/driver.h), and write the student GGUF with lineage
// metadata.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "train/driver.h"
#include "train/gguf_io.h"
#include "train/text_data.h"
#include "train/topk_cache.h"
#include "train/trainer.h"

namespace lcte::train {

// The student's shape from a TOML or JSON file (by extension: .toml, .json):
//   layers, dim, heads, kv_heads, ffn   (integers; absent: the teacher's)
//   init_layers = "every:2"             (teacher layers copied where shapes match; default every:2)
StudentSpec read_student_config(const std::string& path);

// Throws lcte::Error when two tokenizers differ: size, or the first token id
// whose text differs (both texts shown).
void require_same_vocabulary(const tokenizer::Tokenizer& teacher, const tokenizer::Tokenizer& student,
                             const std::string& teacher_path, const std::string& student_path);

struct DistillOptions {
  std::string teacher;  // GGUF
  // The student: exactly one of these three.
  std::string student_config;     // TOML/JSON shape; built from the teacher's layers where they fit
  std::string student;            // an existing GGUF sharing the teacher's tokenizer
  std::string init_from_teacher;  // "every:K" or "first:N": the teacher's layers, its shape

  std::string data;
  TextDataOptions data_opts;
  std::string chat_template;  // family name overriding the teacher's template

  int top_k = 64;
  std::string cache;      // explicit cache file; empty: <cache_dir>/lcte-topk-<key>.bin
  std::string cache_dir;  // empty: the directory of `out`

  // Sequence-level distillation: the teacher writes the completions.
  bool teacher_generate = false;
  double generate_temperature = 0;  // 0: greedy
  int generate_max_tokens = 0;      // 0: up to seq + 1 tokens in all

  int lora_rank = 0;
  double lora_alpha = 16.0;
  std::string lora_targets = "all";

  TrainConfig train;  // train.steps = 0: from epochs
  int epochs = 1;
  uint64_t seed = 1;
  int64_t eval_every = 0;    // 0: at the end only
  size_t eval_examples = 0;  // 0: all held-out examples

  std::string out;
  GgmlType out_type = GgmlType::F32;
  std::string name = "lcte-student";
  std::string checkpoint;  // empty: <out>.ckpt.gguf
  int64_t checkpoint_every = 0;
  std::string resume;

  size_t max_memory = 0;  // bytes; 0: MemAvailable
  int threads = 0;
  int log_every = 10;
  // Checked between steps: when it becomes true the run saves its checkpoint
  // and returns with interrupted set (SIGINT in lcte distill).
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const StepStats&)> on_step;
  RunObserver* observer = nullptr;  // told of the run (kind "distill")
};

// The student against the teacher's cached signal on held-out examples.
struct DistillEval {
  double loss = 0;  // the training loss (CE/divergence mix)
  double ce = 0;    // hard-label cross-entropy
  double kl = 0;    // forward KL(teacher || student) on the k+1 buckets, temperature 1
  double top1 = 0;  // share of positions where the student's argmax is the teacher's
  double top5 = 0;  // share where the teacher's argmax is in the student's top 5
  int64_t positions = 0;
};
DistillEval evaluate_against_teacher(Model<float>& student, const TopkCache& cache, int64_t begin, int64_t end,
                                     int batch, int seq, const LossConfig& loss, size_t max_examples = 0);

struct DistillResult {
  int64_t steps = 0, total_steps = 0;
  bool interrupted = false;
  std::string checkpoint;  // written (at the end, or on interrupt)
  std::string cache;       // the top-k cache used
  bool cache_reused = false;
  int64_t train_examples = 0, valid_examples = 0;
  std::optional<DistillEval> valid;  // the last evaluation
  double final_loss = 0;
  double tokens_per_second = 0;
  MemoryPlan plan;
  size_t cache_bytes = 0, teacher_bytes = 0;
};

DistillResult run_distill(const DistillOptions& o);

}  // namespace lcte::train
