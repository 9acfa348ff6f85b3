// The flags lcte train and lcte distill share, declared once so that both
// commands name, default, document and check them alike.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "core/error.h"
#include "kernels/ggml_type.h"
#include "train/trainer.h"

namespace lcte::cli {

// Values read as text and checked when the command runs.
struct TrainOutputFlags {
  std::string out_type = "f32";
  double max_memory_mib = 0;
  std::string store_path;
};

// --beta, --temperature, --alpha: the distillation loss's settings.
inline void add_kd_loss_flags(CLI::App* cmd, train::TrainConfig& t) {
  cmd->add_option("--beta", t.loss.beta, "JSD beta")->capture_default_str();
  cmd->add_option("--temperature", t.loss.temperature, "Distillation temperature")->capture_default_str();
  cmd->add_option("--alpha", t.loss.alpha, "Weight of the hard-label cross-entropy (1 - alpha on the divergence)")
      ->capture_default_str();
}

// The optimiser and its schedule: AdamW, cosine decay after a linear warm-up,
// gradient clipping, micro-batches and accumulation.
inline void add_optimiser_flags(CLI::App* cmd, train::TrainConfig& t) {
  cmd->add_option("--lr", t.lr.max_lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--min-lr", t.lr.min_lr, "Learning rate at the end of the cosine decay")->capture_default_str();
  cmd->add_option("--warmup", t.lr.warmup, "Linear warm-up steps")->capture_default_str();
  cmd->add_option("--weight-decay", t.adamw.weight_decay, "AdamW decoupled weight decay (matrices only)")
      ->capture_default_str();
  cmd->add_option("--beta1", t.adamw.beta1, "AdamW beta1")->capture_default_str();
  cmd->add_option("--beta2", t.adamw.beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--clip", t.clip, "Max global gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--batch", t.batch, "Sequences per micro-batch")->capture_default_str();
  cmd->add_option("--accum", t.accum, "Micro-batches per optimiser step")->capture_default_str();
}

// --out-type, --store, --max-memory, --threads, --log-every.
inline void add_run_flags(CLI::App* cmd, TrainOutputFlags& f, int& threads, int& log_every) {
  cmd->add_option("--out-type", f.out_type, "Output matrix type: f32 or f16")->capture_default_str();
  cmd->add_option("--store", f.store_path, "Experiment store to record the run and its metrics in");
  cmd->add_option("--max-memory", f.max_memory_mib, "Memory limit in MiB (default: MemAvailable)");
  cmd->add_option("--threads", threads, "Threads (0: one per core)")->capture_default_str();
  cmd->add_option("--log-every", log_every, "Steps between progress lines")->capture_default_str();
}

inline GgmlType out_type_from_flag(const std::string& name) {
  if (name == "f32") return GgmlType::F32;
  if (name == "f16") return GgmlType::F16;
  fail("--out-type {}: expected f32 or f16", name);
}

inline size_t max_memory_from_flag(double mib) {
  if (!(mib >= 0)) fail("--max-memory {}: must be >= 0", mib);
  return static_cast<size_t>(mib * 1024 * 1024);
}

}  // namespace lcte::cli
