#include "train/run.h"

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/sha256.h"
#include "core/log.h"
#include "train/ops.h"

namespace lcte::train {
namespace {

std::string join(const std::vector<int>& xs) { return fmt::format("{}", fmt::join(xs, ",")); }

nlohmann::json hyper_parameters(const RunOptions& o) {
  const TrainConfig& t = o.train;
  nlohmann::json j = t.to_json();
  j["seed"] = o.seed;
  if (!o.teacher.empty()) {
    j["loss"] = {{"divergence", std::string(divergence_name(t.loss.divergence))},
                 {"beta", t.loss.beta},
                 {"temperature", t.loss.temperature},
                 {"alpha", t.loss.alpha},
                 {"top_k", o.top_k}};
  } else {
    j["loss"] = "ce";
  }
  if (o.lora_rank > 0) j["lora"] = {{"rank", o.lora_rank}, {"alpha", o.lora_alpha}, {"targets", o.lora_targets}};
  return j;
}

}  // namespace

size_t teacher_memory(const ModelConfig& c, int B, int T, int k) {
  const ParamLayout pl = ParamLayout::llama(c);
  const ActLayout al = ActLayout::llama(c, B, T);
  return (pl.total + al.total) * sizeof(float) + (size_t)B * T * k * (sizeof(int32_t) + sizeof(float));
}

RunResult run_training(const RunOptions& o) {
  RunResult result;
  o.train.validate();
  if (o.teacher.empty() && o.init.empty()) fail("train: give a teacher (--teacher) or a model to start from (--init)");
  ops::use_threads(o.threads);
  // libgomp reads its wait policy before main(); spinning idle workers cost a
  // lot on a 2-core machine that other processes share (see docs/parts/train.md).
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && o.threads != 1)
    spdlog::info("train: on a shared machine, OMP_WAIT_POLICY=passive (or --threads 1) is usually faster");

  // Shapes first (the files are only mapped), so that the memory check comes
  // before any large allocation.
  std::optional<gguf::File> teacher_file, init_file;
  std::optional<ModelConfig> teacher_cfg;
  if (!o.teacher.empty()) {
    teacher_file = gguf::File::open(o.teacher);
    teacher_cfg = config_from_gguf(*teacher_file);
  }
  if (!o.init.empty()) init_file = gguf::File::open(o.init);
  StudentSpec spec = o.student;
  spec.seed = o.seed;
  const ModelConfig mc = init_file ? config_from_gguf(*init_file) : student_config(*teacher_cfg, spec);
  if (teacher_cfg && teacher_cfg->vocab != mc.vocab)
    fail("train: the teacher's vocabulary ({}) differs from the student's ({})", teacher_cfg->vocab, mc.vocab);
  std::optional<LoraConfig> lora;
  if (o.lora_rank > 0) {
    LoraConfig lc;
    lc.rank = o.lora_rank;
    lc.alpha = o.lora_alpha;
    lc.targets = LoraConfig::parse_targets(o.lora_targets);
    lc.validate();
    lora = lc;
  }
  const TrainConfig& tc = o.train;
  result.student_plan = plan_memory(mc, tc.batch, tc.seq, lora ? &*lora : nullptr);
  result.teacher_bytes = teacher_cfg ? teacher_memory(*teacher_cfg, tc.batch, tc.seq, o.top_k) : 0;
  MemoryPlan total = result.student_plan;
  total.weights += result.teacher_bytes;
  spdlog::info("train: student {} layers, dim {}, {} parameters{}; memory: {}{}", mc.n_layers, mc.dim,
               ParamLayout::llama(mc).total,
               lora ? fmt::format(", LoRA adapters {}", LoraLayout::make(mc, *lora).total) : "",
               describe(result.student_plan),
               teacher_cfg ? fmt::format("; teacher {:.1f} MiB", result.teacher_bytes / 1048576.0) : "");
  const size_t limit = o.max_memory > 0 ? o.max_memory : available_memory_bytes();
  require_memory(total, limit, "train");

  // Models.
  std::unique_ptr<Model<float>> teacher;
  if (teacher_file) teacher = std::make_unique<Model<float>>(load_model(*teacher_file, /*with_grads=*/false));
  std::unique_ptr<Model<float>> model;
  std::vector<int> kept;
  if (init_file) {
    model = std::make_unique<Model<float>>(load_model(*init_file, /*with_grads=*/!lora));
  } else {
    StudentInit s = student_from_teacher(*teacher_file, spec);
    kept = s.kept_layers;
    result.copied = s.copied;
    model = std::make_unique<Model<float>>(std::move(s.model));
  }
  if (lora) model->enable_lora(*lora, o.seed);

  // Data.
  std::vector<Example> examples;
  std::string data_desc;
  if (!o.data.empty()) {
    examples = read_token_jsonl(o.data, mc.vocab);
    data_desc = std::filesystem::path(o.data).filename().string() + " sha256:" + sha256_file_hex(o.data);
  } else if (o.sample > 0) {
    if (!teacher) fail("train: --sample needs a teacher");
    const int32_t bos = static_cast<int32_t>(teacher_file->get_u64("tokenizer.ggml.bos_token_id", 1));
    examples = sample_sequences(*teacher, o.sample, tc.seq + 1, bos, o.sample_temperature, o.seed ^ 0x5A5A);
    data_desc = fmt::format("{} sequences of {} tokens sampled from the teacher at temperature {}", o.sample,
                            tc.seq + 1, o.sample_temperature);
  } else {
    fail("train: give data (--data FILE.jsonl) or --sample N to sample it from the teacher");
  }
  if (!(o.valid_fraction >= 0 && o.valid_fraction < 1)) fail("train: valid fraction {} must be in [0, 1)", o.valid_fraction);
  std::vector<Example> held_out;
  if (o.valid_fraction > 0) {
    const size_t n_valid = std::max<size_t>(1, static_cast<size_t>(o.valid_fraction * examples.size()));
    if (n_valid >= examples.size()) fail("train: {} examples leave none for training after the held-out share", examples.size());
    Split sp = seeded_split(examples.size(), examples.size() - n_valid, n_valid, 0, o.seed ^ 0xA5A5);
    std::vector<Example> train_part;
    for (int64_t i : sp.train) train_part.push_back(std::move(examples[i]));
    for (int64_t i : sp.valid) held_out.push_back(std::move(examples[i]));
    examples = std::move(train_part);
  }
  DataLoader loader(std::move(examples), tc.batch, tc.seq, o.seed);

  Trainer trainer(*model, loader, tc, teacher ? model_teacher(*teacher, o.top_k) : TeacherFn{});
  if (!o.resume.empty()) {
    trainer.load_checkpoint(o.resume);
    spdlog::info("train: resumed from {} at step {}", o.resume, trainer.steps_done());
  }

  const auto t0 = std::chrono::steady_clock::now();
  StepStats last;
  while (trainer.steps_done() < tc.steps) {
    last = trainer.step();
    result.tokens += last.tokens;
    if (o.on_step) o.on_step(last);
    if (o.log_every > 0 && (last.step % o.log_every == 0 || last.step == tc.steps))
      spdlog::info("step {:>6}/{}: loss {:.4f} (ce {:.4f}, kd {:.4f}), grad norm {:.3f}, lr {:.2e}, {:.0f} tok/s",
                   last.step, tc.steps, last.loss, last.ce, last.kd, last.grad_norm, last.lr,
                   last.tokens / std::max(1e-9, last.seconds));
    if (!o.checkpoint.empty() && o.checkpoint_every > 0 && last.step % o.checkpoint_every == 0)
      trainer.save_checkpoint(o.checkpoint);
    if (!held_out.empty() && ((o.eval_every > 0 && last.step % o.eval_every == 0) || last.step == tc.steps)) {
      result.valid = trainer.evaluate(held_out, o.eval_examples);
      spdlog::info("step {:>6}: held-out loss {:.4f} (ce {:.4f}, kd {:.4f}) over {} positions", last.step,
                   result.valid->loss, result.valid->ce, result.valid->kd, result.valid->positions);
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.steps = trainer.steps_done();
  result.final_loss = last.loss;
  if (!o.checkpoint.empty()) trainer.save_checkpoint(o.checkpoint);

  // Output with lineage.
  ExportOptions ex;
  ex.type = o.out_type;
  ex.name = o.name;
  ex.metadata_source = teacher_file ? &*teacher_file : &*init_file;
  auto add = [&](const std::string& key, gguf::Value v) { ex.lineage.push_back({"lcte.lineage." + key, std::move(v)}); };
  add("method", gguf::Value::string(lora ? "lora" : (teacher ? "distill" : "finetune")));
  if (teacher_file) {
    add("teacher", gguf::Value::string(std::filesystem::path(o.teacher).filename().string()));
    add("teacher_sha256", gguf::Value::string(sha256_file_hex(o.teacher)));
  }
  if (init_file) {
    add("init", gguf::Value::string(std::filesystem::path(o.init).filename().string()));
    add("init_sha256", gguf::Value::string(sha256_file_hex(o.init)));
  }
  if (!kept.empty()) add("teacher_layers", gguf::Value::string(join(kept)));
  add("data", gguf::Value::string(data_desc));
  add("hyperparameters", gguf::Value::string(hyper_parameters(o).dump()));
  add("steps", gguf::Value::u64(static_cast<uint64_t>(result.steps)));
  add("final_loss", gguf::Value::f32(static_cast<float>(result.final_loss)));
  if (result.valid) add("valid_loss", gguf::Value::f32(static_cast<float>(result.valid->loss)));
  if (!o.out.empty()) {
    save_model_gguf(*model, o.out, ex);
    spdlog::info("train: wrote {}", o.out);
  }
  if (!o.adapter_out.empty()) {
    save_lora_adapter_gguf(*model, o.adapter_out, ex);
    spdlog::info("train: wrote adapter {}", o.adapter_out);
  }
  return result;
}

}  // namespace lcte::train
