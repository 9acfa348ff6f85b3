// lcte distill: score the data once with a teacher into a top-k cache, then
// train a student on it; see docs/parts/train.md.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/train_flags.h"
#include "cli/train_observer.h"
#include "core/error.h"
#include "train/distill.h"

namespace lcte::cli {

void add_distill_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("distill", "Distil a student from a teacher through a cached top-k signal");
  auto o = std::make_shared<train::DistillOptions>();
  auto loss = std::make_shared<std::string>("kl");
  auto format = std::make_shared<std::string>("auto");
  auto flags = std::make_shared<TrainOutputFlags>();
  train::TrainConfig& t = o->train;
  t.steps = 0;
  t.lr.max_lr = 1e-3;

  cmd->add_option("--teacher", o->teacher, "Teacher GGUF (any model lcte runs, quantized included)")->required();
  cmd->add_option("--student-config", o->student_config,
                  "Student shape, TOML or JSON: layers, dim, heads, kv_heads, ffn, init_layers");
  cmd->add_option("--student", o->student, "Start from this GGUF (must share the teacher's tokenizer)");
  cmd->add_option("--init-from-teacher", o->init_from_teacher, "Student = these teacher layers: every:K or first:N");
  cmd->add_option("--data", o->data,
                  "MBPP JSONL, JSONL of {\"prompt\",\"completion\"} or {\"text\"}, token-id JSONL, or plain text")
      ->required();
  cmd->add_option("--data-format", *format, "auto, mbpp, pairs, documents, text or tokens")->capture_default_str();
  cmd->add_flag("--chat", o->data_opts.chat, "Prompt/completion pairs: render them with the teacher's chat template");
  cmd->add_option("--chat-template", o->chat_template, "Chat template family instead of the teacher's");
  cmd->add_option("--mbpp-split", o->data_opts.mbpp_split,
                  "seeded (800/100/74 by --seed) or standard (train 601-974, valid 511-600)")
      ->capture_default_str();
  cmd->add_option("--valid-fraction", o->data_opts.valid_fraction, "Held-out share of other data (seeded)")
      ->capture_default_str();
  cmd->add_flag("--pack", o->data_opts.pack, "Pack examples into full rows of --seq-len tokens");
  cmd->add_option("--top-k", o->top_k, "Teacher top-k per position")->capture_default_str();
  cmd->add_option("--cache", o->cache, "Teacher top-k cache file (default: <out dir>/lcte-topk-<key>.bin)");
  cmd->add_option("--cache-dir", o->cache_dir, "Directory of the default cache file");
  cmd->add_flag("--teacher-generate", o->teacher_generate,
                "Sequence-level distillation: the teacher writes the completions of the prompts");
  cmd->add_option("--generate-temperature", o->generate_temperature, "Temperature of --teacher-generate (0: greedy)")
      ->capture_default_str();
  cmd->add_option("--generate-max-tokens", o->generate_max_tokens,
                  "Most tokens per generated completion (0: fill --seq-len)")
      ->capture_default_str();
  cmd->add_option("--loss", *loss, "Divergence: kl (forward), rkl or jsd")->capture_default_str();
  add_kd_loss_flags(cmd, t);
  cmd->add_option("--lora-rank", o->lora_rank, "Train rank-r LoRA adapters on the frozen student (0: full)")
      ->capture_default_str();
  cmd->add_option("--lora-alpha", o->lora_alpha, "LoRA alpha")->capture_default_str();
  cmd->add_option("--lora-targets", o->lora_targets, "Adapted projections")->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "Passes over the training examples (when --steps is 0)")
      ->capture_default_str();
  cmd->add_option("--steps", t.steps, "Optimiser steps (0: from --epochs)")->capture_default_str();
  add_optimiser_flags(cmd, t);
  cmd->add_option("--seq-len", t.seq, "Tokens per sequence")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the split, initialisation and data order")->capture_default_str();
  cmd->add_option("--eval-every", o->eval_every, "Steps between evaluations (0: at the end only)")
      ->capture_default_str();
  cmd->add_option("--eval-examples", o->eval_examples, "Held-out examples per evaluation (0: all)")
      ->capture_default_str();
  cmd->add_option("--out,-o", o->out, "Student GGUF")->required();
  cmd->add_option("--name", o->name, "general.name of the student")->capture_default_str();
  cmd->add_option("--checkpoint", o->checkpoint, "Checkpoint file (default <out>.ckpt.gguf)");
  cmd->add_option("--checkpoint-every", o->checkpoint_every,
                  "Steps between checkpoints (also at the end and on Ctrl-C)")
      ->capture_default_str();
  cmd->add_option("--resume", o->resume, "Continue from this checkpoint");
  add_run_flags(cmd, *flags, o->threads, o->log_every);

  cmd->callback([=] {
    train::DistillOptions run = *o;
    if (*loss != "kl" && *loss != "fkl" && *loss != "rkl" && *loss != "jsd")
      fail("--loss {}: expected kl (forward KL), rkl or jsd", *loss);
    run.train.loss.divergence = train::divergence_from_name(*loss == "kl" ? "fkl" : *loss);
    run.data_opts.format = train::text_format_from_name(*format);
    run.out_type = out_type_from_flag(flags->out_type);
    run.max_memory = max_memory_from_flag(flags->max_memory_mib);
    std::string run_id;
    const train::DistillResult r = run_recorded(run, flags->store_path, run_id, train::run_distill);
    exit_if_interrupted(r.interrupted, r.steps, r.total_steps, r.checkpoint);
    std::printf("distilled %lld steps (%.0f target tokens/s), final loss %.4f; wrote %s\n", (long long)r.steps,
                r.tokens_per_second, r.final_loss, run.out.c_str());
    if (r.valid)
      std::printf(
          "held-out: loss %.4f, ce %.4f, KL to teacher %.4f, top-1 agreement %.3f, top-5 %.3f over %lld "
          "positions\n",
          r.valid->loss, r.valid->ce, r.valid->kl, r.valid->top1, r.valid->top5, (long long)r.valid->positions);
    if (!run_id.empty()) std::printf("store run %s\n", run_id.c_str());
  });
}

}  // namespace lcte::cli
