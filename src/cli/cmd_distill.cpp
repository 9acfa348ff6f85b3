// lcte distill: score the data once with a teacher into a top-k cache, then
// train a student on it; see docs/parts/train.md.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/train_observer.h"
#include "core/error.h"
#include "train/distill.h"

namespace lcte::cli {

void add_distill_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("distill", "Distil a student from a teacher through a cached top-k signal");
  auto o = std::make_shared<train::DistillOptions>();
  auto loss = std::make_shared<std::string>("kl");
  auto format = std::make_shared<std::string>("auto");
  auto out_type = std::make_shared<std::string>("f32");
  auto max_memory_mib = std::make_shared<double>(0);
  auto store_path = std::make_shared<std::string>();
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
  cmd->add_option("--beta", t.loss.beta, "JSD beta")->capture_default_str();
  cmd->add_option("--temperature", t.loss.temperature, "Distillation temperature")->capture_default_str();
  cmd->add_option("--alpha", t.loss.alpha, "Weight of the hard-label cross-entropy (1 - alpha on the divergence)")
      ->capture_default_str();
  cmd->add_option("--lora-rank", o->lora_rank, "Train rank-r LoRA adapters on the frozen student (0: full)")
      ->capture_default_str();
  cmd->add_option("--lora-alpha", o->lora_alpha, "LoRA alpha")->capture_default_str();
  cmd->add_option("--lora-targets", o->lora_targets, "Adapted projections")->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "Passes over the training examples (when --steps is 0)")
      ->capture_default_str();
  cmd->add_option("--steps", t.steps, "Optimiser steps (0: from --epochs)")->capture_default_str();
  cmd->add_option("--lr", t.lr.max_lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--min-lr", t.lr.min_lr, "Learning rate at the end of the cosine decay")->capture_default_str();
  cmd->add_option("--warmup", t.lr.warmup, "Linear warm-up steps")->capture_default_str();
  cmd->add_option("--weight-decay", t.adamw.weight_decay, "AdamW weight decay (matrices only)")->capture_default_str();
  cmd->add_option("--clip", t.clip, "Max global gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--batch", t.batch, "Sequences per micro-batch")->capture_default_str();
  cmd->add_option("--accum", t.accum, "Micro-batches per optimiser step")->capture_default_str();
  cmd->add_option("--seq-len", t.seq, "Tokens per sequence")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the split, initialisation and data order")->capture_default_str();
  cmd->add_option("--eval-every", o->eval_every, "Steps between evaluations (0: at the end only)")
      ->capture_default_str();
  cmd->add_option("--eval-examples", o->eval_examples, "Held-out examples per evaluation (0: all)")
      ->capture_default_str();
  cmd->add_option("--out,-o", o->out, "Student GGUF")->required();
  cmd->add_option("--out-type", *out_type, "Output matrix type: f32 or f16")->capture_default_str();
  cmd->add_option("--name", o->name, "general.name of the student")->capture_default_str();
  cmd->add_option("--checkpoint", o->checkpoint, "Checkpoint file (default <out>.ckpt.gguf)");
  cmd->add_option("--checkpoint-every", o->checkpoint_every,
                  "Steps between checkpoints (also at the end and on Ctrl-C)")
      ->capture_default_str();
  cmd->add_option("--resume", o->resume, "Continue from this checkpoint");
  cmd->add_option("--store", *store_path, "Experiment store to record the run and its metrics in");
  cmd->add_option("--max-memory", *max_memory_mib, "Memory limit in MiB (default: MemAvailable)");
  cmd->add_option("--threads", o->threads, "Threads (0: one per core)")->capture_default_str();
  cmd->add_option("--log-every", o->log_every, "Steps between progress lines")->capture_default_str();

  cmd->callback([=] {
    train::DistillOptions run = *o;
    if (*loss != "kl" && *loss != "fkl" && *loss != "rkl" && *loss != "jsd")
      fail("--loss {}: expected kl (forward KL), rkl or jsd", *loss);
    run.train.loss.divergence = train::divergence_from_name(*loss == "kl" ? "fkl" : *loss);
    run.data_opts.format = train::text_format_from_name(*format);
    if (*out_type == "f32")
      run.out_type = GgmlType::F32;
    else if (*out_type == "f16")
      run.out_type = GgmlType::F16;
    else
      fail("--out-type {}: expected f32 or f16", *out_type);
    if (*max_memory_mib < 0) fail("--max-memory {}: must be >= 0", *max_memory_mib);
    run.max_memory = static_cast<size_t>(*max_memory_mib * 1024 * 1024);
    std::string run_id;
    const train::DistillResult r = run_recorded(run, *store_path, run_id, train::run_distill);
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
