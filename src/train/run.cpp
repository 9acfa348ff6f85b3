#include "train/run.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "train/ops.h"

namespace lcte::train {

size_t teacher_memory(const ModelConfig& c, int B, int T, int k) {
  const ParamLayout pl = ParamLayout::llama(c);
  const ActLayout al = ActLayout::llama(c, B, T);
  return (pl.total + al.total) * sizeof(float) + (size_t)B * T * k * (sizeof(int32_t) + sizeof(float));
}

namespace {

// The examples, and how the lineage names them.
struct Data {
  std::vector<Example> train, held_out;
  std::string description;  // for sampled data; empty for a file
};

Data read_data(const RunOptions& o, const gguf::File* teacher_file, Model<float>* teacher, int vocab) {
  const TrainConfig& tc = o.train;
  Data d;
  if (!o.data.empty()) {
    d.train = read_token_jsonl(o.data, vocab);
  } else if (o.sample > 0) {
    if (!teacher) fail("train: --sample needs a teacher");
    const int32_t bos = static_cast<int32_t>(teacher_file->get_u64("tokenizer.ggml.bos_token_id", 1));
    d.train = sample_sequences(*teacher, o.sample, tc.seq + 1, bos, o.sample_temperature, o.seed ^ 0x5A5A);
    d.description = fmt::format("{} sequences of {} tokens sampled from the teacher at temperature {}", o.sample,
                                tc.seq + 1, o.sample_temperature);
  } else {
    fail("train: give data (--data FILE.jsonl) or --sample N to sample it from the teacher");
  }
  if (!(o.valid_fraction >= 0 && o.valid_fraction < 1))
    fail("train: valid fraction {} must be in [0, 1)", o.valid_fraction);
  if (o.valid_fraction > 0) {
    const size_t n = d.train.size();
    const size_t n_valid = std::max<size_t>(1, static_cast<size_t>(o.valid_fraction * n));
    if (n_valid >= n) fail("train: {} examples leave none for training after the held-out share", n);
    Split sp = seeded_split(n, n - n_valid, n_valid, 0, o.seed ^ 0xA5A5);
    std::vector<Example> train_part;
    for (int64_t i : sp.train) train_part.push_back(std::move(d.train[i]));
    for (int64_t i : sp.valid) d.held_out.push_back(std::move(d.train[i]));
    d.train = std::move(train_part);
  }
  return d;
}

std::string interrupt_checkpoint(const RunOptions& o) {
  if (!o.checkpoint.empty()) return o.checkpoint;
  return (o.out.empty() ? o.adapter_out : o.out) + ".ckpt.gguf";
}

}  // namespace

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
  const std::optional<LoraConfig> lora = lora_config(o.lora_rank, o.lora_alpha, o.lora_targets);
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
  Student student =
      make_student(init_file ? &*init_file : nullptr, teacher_file ? &*teacher_file : nullptr, spec, lora, o.seed);
  result.copied = student.copied;
  Model<float>& model = *student.model;

  Data data = read_data(o, teacher_file ? &*teacher_file : nullptr, teacher.get(), mc.vocab);
  const std::vector<Example> held_out = std::move(data.held_out);
  DataLoader loader(std::move(data.train), tc.batch, tc.seq, o.seed);
  Trainer trainer(model, loader, tc, teacher ? model_teacher(*teacher, o.top_k) : TeacherFn{});

  const nlohmann::json hp = hyper_parameters(tc, o.seed, teacher != nullptr, o.top_k, lora, o.lora_targets);
  const std::string method = lora ? "lora" : (teacher ? "distill" : "finetune");
  if (o.observer) {
    RunDescription d{"train", o.name, hp, {}, !o.out.empty() ? o.out : o.adapter_out};
    d.config["method"] = method;
    if (teacher_file) d.config["teacher"] = d.params["teacher"] = o.teacher;
    if (init_file) d.config["init"] = d.params["init"] = o.init;
    d.config["data"] = d.params["data"] = !o.data.empty() ? o.data : data.description;
    d.params["loss"] = teacher ? std::string(divergence_name(tc.loss.divergence)) : "ce";
    o.observer->started(d);
  }

  DriveOptions drv = drive_options(o, "train", o.checkpoint);
  if (o.stop != nullptr && o.checkpoint.empty()) {
    // A stop must leave something to resume from, even without --checkpoint.
    drv.checkpoint = interrupt_checkpoint(o);
    drv.checkpoint_at_end = false;
  }
  if (!held_out.empty())
    drv.evaluate = [&](int64_t) {
      result.valid = trainer.evaluate(held_out, o.eval_examples);
      const LossStats& v = *result.valid;
      return HeldOut{{{"valid_loss", v.loss}, {"valid_ce", v.ce}, {"valid_kd", v.kd}},
                     fmt::format("held-out loss {:.4f} (ce {:.4f}, kd {:.4f}) over {} positions", v.loss, v.ce, v.kd,
                                 v.positions)};
    };
  const DriveResult dr = drive(trainer, drv);
  result.seconds = dr.seconds;
  result.steps = dr.steps;
  result.final_loss = dr.last.loss;
  result.tokens = dr.tokens;
  result.interrupted = dr.interrupted;
  if (dr.interrupted || drv.checkpoint_at_end) result.checkpoint = drv.checkpoint;

  nlohmann::json summary = {{"steps", result.steps},
                            {"total_steps", tc.steps},
                            {"final_loss", result.final_loss},
                            {"tokens_per_s", dr.tokens_per_second()}};
  if (!result.checkpoint.empty()) summary["checkpoint"] = result.checkpoint;
  if (result.valid)
    summary["valid"] = {{"loss", result.valid->loss}, {"ce", result.valid->ce}, {"kd", result.valid->kd}};
  if (dr.interrupted) {
    if (o.observer) o.observer->finished("killed", summary, {});
    return result;
  }

  // Output with lineage.
  Lineage lin;
  lin.add("method", gguf::Value::string(method));
  if (teacher_file) lin.add_file("teacher", o.teacher);
  if (init_file) lin.add_file("init", o.init);
  lin.add_layers(student.kept_layers);
  if (!o.data.empty())
    lin.add_file("data", o.data);
  else
    lin.add("data", gguf::Value::string(data.description));
  if (teacher) lin.add("loss", gguf::Value::string(std::string(divergence_name(tc.loss.divergence))));
  lin.add("hyperparameters", gguf::Value::string(hp.dump()));
  lin.add_result(dr, result.valid ? std::optional<double>(result.valid->loss) : std::nullopt);
  ExportOptions ex;
  ex.type = o.out_type;
  ex.name = o.name;
  ex.metadata_source = teacher_file ? &*teacher_file : &*init_file;
  ex.lineage = lin.keys();
  std::vector<std::pair<std::string, std::string>> outputs;
  if (!o.out.empty()) {
    save_model_gguf(model, o.out, ex);
    spdlog::info("train: wrote {}", o.out);
    outputs.push_back({"model", o.out});
  }
  if (!o.adapter_out.empty()) {
    save_lora_adapter_gguf(model, o.adapter_out, ex);
    spdlog::info("train: wrote adapter {}", o.adapter_out);
    outputs.push_back({"adapter", o.adapter_out});
  }
  if (o.observer) o.observer->finished("finished", summary, outputs);
  return result;
}

}  // namespace lcte::train
