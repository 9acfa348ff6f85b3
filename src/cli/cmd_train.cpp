// lcte train: distil a student from a teacher GGUF, fine-tune a GGUF, or train
// LoRA adapters on a frozen base; see docs/parts/train.md.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/train_flags.h"
#include "cli/train_observer.h"
#include "core/error.h"
#include "core/progress.h"
#include "train/run.h"

namespace lcte::cli {
namespace {

// On a terminal, the steps redrawn on one line between the driver's log
// lines (blanked before each, redrawn after). In a log file the driver's
// lines, every --log-every steps with the rate and ETA, are the progress.
void draw_steps_on_a_terminal(train::RunOptions& run) {
  auto progress = std::make_shared<Progress>(Progress::to_stream(stderr, "train", "steps"));
  if (!progress->tty()) return;
  const int64_t total = run.train.steps, log_every = run.log_every, eval_every = run.eval_every;
  run.on_step = [progress, total, log_every, eval_every](const train::StepStats& s) {
    if (!progress->started()) progress->start(static_cast<uint64_t>(total), static_cast<uint64_t>(s.step - 1));
    progress->update(static_cast<uint64_t>(s.step), fmt::format("loss {:.4f}", s.loss));
    const bool logs = (log_every > 0 && s.step % log_every == 0) || (eval_every > 0 && s.step % eval_every == 0);
    if (logs) progress->clear_line();
  };
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model: distillation from a teacher, fine-tuning, or LoRA");
  auto o = std::make_shared<train::RunOptions>();
  auto loss = std::make_shared<std::string>("fkl");
  auto layers = std::make_shared<std::string>("every:2");
  auto flags = std::make_shared<TrainOutputFlags>();
  train::TrainConfig& t = o->train;

  cmd->add_option("--teacher", o->teacher, "Teacher GGUF (llama); the loss distils from its top-k");
  cmd->add_option("--init", o->init, "Start from this GGUF instead of a student built from the teacher");
  cmd->add_option("--student-layers", *layers, "Teacher layers the student keeps: every:K or first:N")
      ->capture_default_str();
  cmd->add_option("--student-dim", o->student.dim, "Student width (default: the teacher's)");
  cmd->add_option("--student-heads", o->student.n_heads, "Student attention heads (default: the teacher's)");
  cmd->add_option("--student-kv-heads", o->student.n_kv_heads, "Student KV heads (default: the teacher's)");
  cmd->add_option("--student-ffn", o->student.ffn_dim, "Student FFN size (default: the teacher's)");
  cmd->add_option("--student-n-layers", o->student.n_layers,
                  "Student layers when its width differs from the teacher's (default: as many as picked)");
  cmd->add_option("--top-k", o->top_k, "Teacher top-k per position")->capture_default_str();
  cmd->add_option("--loss", *loss, "Distillation divergence: fkl, rkl or jsd")->capture_default_str();
  add_kd_loss_flags(cmd, t);
  cmd->add_option("--lora-rank", o->lora_rank, "Train rank-r LoRA adapters on the frozen model (0: full training)")
      ->capture_default_str();
  cmd->add_option("--lora-alpha", o->lora_alpha, "LoRA alpha (scale alpha/rank)")->capture_default_str();
  cmd->add_option("--lora-targets", o->lora_targets, "Adapted projections: q,k,v,o,gate,up,down, all or attn")
      ->capture_default_str();
  cmd->add_option("--data", o->data,
                  "Training data: token-id JSONL ({\"tokens\":[...]} or {\"prompt\":[...],\"completion\":[...]})");
  cmd->add_option("--sample", o->sample, "Without --data: sample this many sequences from the teacher");
  cmd->add_option("--sample-temperature", o->sample_temperature, "Temperature of --sample")->capture_default_str();
  cmd->add_option("--valid-fraction", o->valid_fraction, "Held-out share of the examples for a validation loss")
      ->capture_default_str();
  cmd->add_option("--eval-every", o->eval_every, "Steps between held-out evaluations (0: at the end only)")
      ->capture_default_str();
  cmd->add_option("--eval-examples", o->eval_examples, "Held-out examples per evaluation (0: all)")
      ->capture_default_str();
  cmd->add_option("--seq", t.seq, "Tokens per sequence")->capture_default_str();
  cmd->add_option("--steps", t.steps, "Optimiser steps")->capture_default_str();
  add_optimiser_flags(cmd, t);
  cmd->add_option("--seed", o->seed, "Seed of initialisation, data order and sampling")->capture_default_str();
  cmd->add_option("--out,-o", o->out, "Output GGUF (LoRA merged in)");
  cmd->add_option("--adapter-out", o->adapter_out, "LoRA mode: write the adapters as a llama.cpp adapter GGUF");
  cmd->add_option("--name", o->name, "general.name of the output")->capture_default_str();
  cmd->add_option("--checkpoint", o->checkpoint,
                  "Checkpoint file, written every --checkpoint-every steps and at the end");
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "Steps between checkpoints")->capture_default_str();
  cmd->add_option("--resume", o->resume, "Continue from this checkpoint");
  add_run_flags(cmd, *flags, o->threads, o->log_every);

  cmd->callback([=] {
    train::RunOptions run = *o;
    run.train.loss.divergence = train::divergence_from_name(*loss);
    run.student.pick = train::LayerPick::parse(*layers);
    run.out_type = out_type_from_flag(flags->out_type);
    run.max_memory = max_memory_from_flag(flags->max_memory_mib);
    run.train.lr.total = run.train.steps;
    if (run.out.empty() && run.adapter_out.empty() && run.checkpoint.empty())
      fail("train: nothing would be saved: give --out, --adapter-out or --checkpoint");
    std::string run_id;
    draw_steps_on_a_terminal(run);
    const train::RunResult r = run_recorded(run, flags->store_path, run_id, train::run_training);
    exit_if_interrupted(r.interrupted, r.steps, run.train.steps, r.checkpoint);
    std::printf("trained %lld steps in %.1f s (%.0f target tokens/s), final loss %.4f\n", (long long)r.steps, r.seconds,
                r.tokens / std::max(1e-9, r.seconds), r.final_loss);
    if (r.valid)
      std::printf("held-out loss %.4f (ce %.4f, kd %.4f) over %lld positions\n", r.valid->loss, r.valid->ce,
                  r.valid->kd, (long long)r.valid->positions);
    if (!run_id.empty()) std::printf("store run %s\n", run_id.c_str());
  });
}

}  // namespace lcte::cli
