// `lcte demo`: lcte's whole loop on models and data it makes itself, with no
// download. It generates a synthetic Python task suite, learns a vocabulary
// from it, trains a tiny teacher from scratch, distils a half-depth student
// from the teacher, registers both with their lineage, and runs a study on
// them: quantized versions of each, evaluation by execution on the held-out
// tasks (and on HumanEval/MBPP where the data is present), routers judged on
// cost against accuracy, a report and the store runs the dashboard shows.
//
// Every step is cached under the output directory by a recipe of its inputs,
// so a second `lcte demo` reuses the models and only redoes what changed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/progress.h"

namespace lcte::demo {

struct ModelShape {
  int dim = 128, n_layers = 4, n_heads = 4, n_kv_heads = 2, ffn_dim = 384;
};

struct DemoOptions {
  std::string out_dir = "lcte-demo";
  std::string store;     // "": the default experiment store
  std::string registry;  // "": <out_dir>/registry
  uint64_t seed = 1;
  int threads = 0;  // 0: one per core

  // The suite.
  int train_per_level = 1000;
  int test_per_level = 20;
  int vocab_merges = 400;

  // The teacher, trained from scratch on the training tasks.
  ModelShape teacher;
  int64_t teacher_steps = 600;
  int batch = 16, seq = 128;
  double lr = 3e-3;

  // The student: a narrower, shallower model distilled from the teacher (with
  // zero width, the teacher's width and the layers `student_layers` picks,
  // copied from the teacher before distillation).
  ModelShape student{64, 2, 4, 2, 192};
  std::string student_layers = "every:2";
  int64_t student_steps = 300;
  double alpha = 0.3;  // weight of the hard labels against the teacher's distribution
  double temperature = 1.0;
  int top_k = 32;

  std::vector<std::string> quant_types = {"Q8_0", "Q4_0"};
  bool public_suites = true;  // also HumanEval/MBPP (a few tasks) where the data is present
  size_t public_limit = 10;
  bool resume = false;  // continue an interrupted study eval

  // Progress of the long parts (training steps, the study's quantize and
  // eval steps, the fidelity chunks), for the CLI to draw; empty: none.
  // Training then reports through it instead of its own log lines.
  ProgressCallback progress;
};

struct DemoResult {
  std::string study_file;
  std::string report_dir;
  std::string teacher, student;  // GGUF paths
  std::string registry;          // where both are registered
  nlohmann::json summary;        // the study's study.json
  // Per compressed model: KL divergence and top-1 agreement against the model
  // it was made from (the student against the teacher), on the held-out text.
  nlohmann::json fidelity;
};

using PrintFn = std::function<void(const std::string&)>;

DemoResult run_demo(const DemoOptions& options, const PrintFn& print);

// The closing tables: each model's cost, size, pass@1 per suite and fidelity,
// then each suite's routing policies (pass@1 against cost).
std::string summary_text(const DemoResult& result);

}  // namespace lcte::demo
