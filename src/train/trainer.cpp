#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/random.h"
#include "gguf/gguf.h"

namespace lcte::train {

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j;
  j["batch"] = batch;
  j["seq"] = seq;
  j["accum"] = accum;
  j["steps"] = steps;
  j["lr"] = {{"max", lr.max_lr}, {"min", lr.min_lr}, {"warmup", lr.warmup}, {"total", lr.total}};
  j["adamw"] = {
      {"beta1", adamw.beta1}, {"beta2", adamw.beta2}, {"eps", adamw.eps}, {"weight_decay", adamw.weight_decay}};
  j["clip"] = clip;
  return j;
}

void TrainConfig::validate() const {
  if (batch < 1 || seq < 1 || accum < 1) fail("train: batch {}, seq {} and accum {} must be >= 1", batch, seq, accum);
  if (steps < 1) fail("train: steps {} must be >= 1", steps);
  lr.validate();
  adamw.validate();
  loss.validate();
}

TeacherFn model_teacher(Model<float>& teacher, int k) {
  return [&teacher, k](const Batch& b, TeacherSignal& out) {
    const float* logits = teacher.forward(b.tokens.data(), b.B, b.T);
    const int V = teacher.config().vocab;
    const size_t N = (size_t)b.B * b.T;
    out.resize(N, k);
#pragma omp parallel for if (N * (size_t)V > (1u << 15))
    for (int64_t n = 0; n < (int64_t)N; ++n) teacher_topk_from_logits(logits + n * V, V, k, out, n);
  };
}

std::vector<Example> sample_sequences(Model<float>& m, int n, int len, int32_t first, double temperature, uint64_t seed,
                                      int batch) {
  const int V = m.config().vocab;
  if (n < 1 || len < 2 || len > m.config().context)
    fail("sample: {} sequences of {} tokens (need n >= 1 and 2 <= len <= context {})", n, len, m.config().context);
  if (first < 0 || first >= V) fail("sample: first token {} outside the vocabulary", first);
  if (!(temperature > 0)) fail("sample: temperature {} must be > 0", temperature);
  SplitMix64 rng(seed);
  std::vector<Example> out;
  std::vector<double> p(V);
  for (int start = 0; start < n; start += batch) {
    const int B = std::min(batch, n - start);
    std::vector<std::vector<int32_t>> seqs(B, std::vector<int32_t>{first});
    for (int t = 1; t < len; ++t) {
      std::vector<int32_t> prefix;
      for (const auto& s : seqs) prefix.insert(prefix.end(), s.begin(), s.end());
      const float* logits = m.forward(prefix.data(), B, t);
      for (int b = 0; b < B; ++b) {
        const float* z = logits + ((size_t)b * t + t - 1) * V;
        double maxv = z[0];
        for (int j = 1; j < V; ++j) maxv = std::max(maxv, (double)z[j]);
        double sum = 0;
        for (int j = 0; j < V; ++j) sum += p[j] = std::exp((z[j] - maxv) / temperature);
        double u = rng.uniform() * sum;
        int pick = V - 1;
        for (int j = 0; j < V; ++j) {
          u -= p[j];
          if (u < 0) {
            pick = j;
            break;
          }
        }
        seqs[b].push_back(pick);
      }
    }
    for (auto& s : seqs) out.push_back({std::move(s), {}});
  }
  return out;
}

size_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

std::string describe(const MemoryPlan& p) {
  auto mib = [](size_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); };
  return fmt::format(
      "weights {:.1f} MiB, gradients {:.1f} MiB, optimiser state {:.1f} MiB, activations {:.1f} MiB, logit "
      "gradients {:.1f} MiB; total {:.1f} MiB",
      mib(p.weights), mib(p.gradients), mib(p.optimizer), mib(p.activations), mib(p.logits_grad), mib(p.total()));
}

void require_memory(const MemoryPlan& plan, size_t limit, const std::string& what) {
  if (limit > 0 && plan.total() > limit)
    fail("{}: needs {} but only {:.1f} MiB is available (lower --batch or --seq, or raise --max-memory)", what,
         describe(plan), static_cast<double>(limit) / (1024.0 * 1024.0));
}

Trainer::Trainer(Model<float>& model, DataLoader& data, const TrainConfig& cfg, TeacherFn teacher)
    : model_(model), data_(data), cfg_(cfg), teacher_(std::move(teacher)), opt_(model.trainable_size(), cfg.adamw) {
  cfg_.validate();
  if (data.batch() != cfg.batch || data.seq() != cfg.seq)
    fail("train: the data loader makes {} x {} batches, the configuration asks for {} x {}", data.batch(), data.seq(),
         cfg.batch, cfg.seq);
  if (cfg.seq > model.config().context)
    fail("train: sequence length {} exceeds the model's context {}", cfg.seq, model.config().context);
}

StepStats Trainer::step() {
  const auto t0 = std::chrono::steady_clock::now();
  const int V = model_.config().vocab;
  const size_t N = (size_t)cfg_.batch * cfg_.seq;
  dlogits_.resize(N * V);
  StepStats st;
  model_.zero_grad();
  for (int a = 0; a < cfg_.accum; ++a) {
    Batch b = data_.next();
    for (int32_t tok : b.tokens)
      if (tok < 0 || tok >= V) fail("train: data token {} outside the model's vocabulary of {}", tok, V);
    const TeacherSignal* teacher = nullptr;
    if (teacher_) {
      teacher_(b, signal_);
      validate_teacher(signal_, V, "teacher");
      teacher = &signal_;
    }
    const float* logits = model_.forward(b.tokens.data(), b.B, b.T);
    LossStats s =
        loss_forward_backward(logits, N, V, b.targets.data(), teacher, cfg_.loss, dlogits_.data(), 1.0 / cfg_.accum);
    model_.backward(dlogits_.data());
    st.loss += s.loss / cfg_.accum;
    st.ce += s.ce / cfg_.accum;
    st.kd += s.kd / cfg_.accum;
    st.tokens += s.positions;
  }
  st.grad_norm = clip_grad_norm(model_.trainable_grads(), model_.trainable_size(), cfg_.clip);
  st.lr = cfg_.lr.at(step_);
  opt_.step(model_.trainable(), model_.trainable_grads(), model_.segments(), st.lr);
  st.step = ++step_;
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

LossStats Trainer::evaluate(const std::vector<Example>& examples, size_t max_examples) {
  const int V = model_.config().vocab;
  const size_t n = max_examples > 0 ? std::min(max_examples, examples.size()) : examples.size();
  LossStats total;
  double sum_loss = 0, sum_ce = 0, sum_kd = 0;
  for (size_t first = 0; first < n; first += cfg_.batch) {
    Batch b;
    b.B = cfg_.batch;
    b.T = cfg_.seq;
    b.tokens.assign((size_t)b.B * b.T, 0);
    b.targets.assign((size_t)b.B * b.T, -1);
    for (int r = 0; r < b.B && first + r < n; ++r) fill_row(b, r, examples[first + r]);
    const TeacherSignal* teacher = nullptr;
    if (teacher_) {
      teacher_(b, signal_);
      validate_teacher(signal_, V, "teacher");
      teacher = &signal_;
    }
    const float* logits = model_.forward(b.tokens.data(), b.B, b.T);
    LossStats s = loss_forward_backward(logits, (size_t)b.B * b.T, V, b.targets.data(), teacher, cfg_.loss,
                                        static_cast<float*>(nullptr));
    sum_loss += s.loss * s.positions;
    sum_ce += s.ce * s.positions;
    sum_kd += s.kd * s.positions;
    total.positions += s.positions;
  }
  if (total.positions > 0) {
    total.loss = sum_loss / total.positions;
    total.ce = sum_ce / total.positions;
    total.kd = sum_kd / total.positions;
  }
  return total;
}

namespace {

constexpr uint32_t kCheckpointVersion = 1;

std::string targets_string(const LoraConfig& lc) {
  std::string s;
  for (int p = 0; p < kNumProj; ++p) {
    if (!lc.targets[p]) continue;
    if (!s.empty()) s += ',';
    s += proj_short_name(p);
  }
  return s;
}

void write_config(gguf::Writer& w, const ModelConfig& c) {
  w.set("lcte.ckpt.model.vocab", gguf::Value::u32(c.vocab));
  w.set("lcte.ckpt.model.dim", gguf::Value::u32(c.dim));
  w.set("lcte.ckpt.model.n_layers", gguf::Value::u32(c.n_layers));
  w.set("lcte.ckpt.model.n_heads", gguf::Value::u32(c.n_heads));
  w.set("lcte.ckpt.model.n_kv_heads", gguf::Value::u32(c.n_kv_heads));
  w.set("lcte.ckpt.model.ffn_dim", gguf::Value::u32(c.ffn_dim));
  w.set("lcte.ckpt.model.context", gguf::Value::u32(c.context));
  w.set("lcte.ckpt.model.rope_base", gguf::Value::f64(c.rope_base));
  w.set("lcte.ckpt.model.norm_eps", gguf::Value::f64(c.norm_eps));
  w.set("lcte.ckpt.model.tied_output", gguf::Value::boolean(c.tied_output));
}

ModelConfig read_config(const gguf::File& f) {
  ModelConfig c;
  c.vocab = static_cast<int>(f.get_u64("lcte.ckpt.model.vocab"));
  c.dim = static_cast<int>(f.get_u64("lcte.ckpt.model.dim"));
  c.n_layers = static_cast<int>(f.get_u64("lcte.ckpt.model.n_layers"));
  c.n_heads = static_cast<int>(f.get_u64("lcte.ckpt.model.n_heads"));
  c.n_kv_heads = static_cast<int>(f.get_u64("lcte.ckpt.model.n_kv_heads"));
  c.ffn_dim = static_cast<int>(f.get_u64("lcte.ckpt.model.ffn_dim"));
  c.context = static_cast<int>(f.get_u64("lcte.ckpt.model.context"));
  c.rope_base = f.get_f64("lcte.ckpt.model.rope_base");
  c.norm_eps = f.get_f64("lcte.ckpt.model.norm_eps");
  c.tied_output = f.get_bool("lcte.ckpt.model.tied_output", false);
  return c;
}

void read_tensor(const gguf::File& f, const char* name, float* dst, size_t n) {
  const gguf::TensorInfo& t = f.tensor(name);
  if (t.type != GgmlType::F32 || t.ne.size() != 1 || (size_t)t.ne[0] != n)
    fail("{}: checkpoint tensor {} should be F32 of {} elements", f.path(), name, n);
  std::memcpy(dst, t.data, n * sizeof(float));
}

}  // namespace

void Trainer::save_checkpoint(const std::string& path) const {
  gguf::Writer w;
  const DataLoader::State ds = data_.state();
  w.set("general.architecture", gguf::Value::string("lcte-checkpoint"));
  w.set("lcte.ckpt.version", gguf::Value::u32(kCheckpointVersion));
  w.set("lcte.ckpt.step", gguf::Value::i64(step_));
  w.set("lcte.ckpt.adam_t", gguf::Value::i64(opt_.t));
  w.set("lcte.ckpt.data.seed", gguf::Value::u64(ds.seed));
  w.set("lcte.ckpt.data.epoch", gguf::Value::i64(ds.epoch));
  w.set("lcte.ckpt.data.cursor", gguf::Value::i64(ds.cursor));
  write_config(w, model_.config());
  const bool lora = model_.lora_enabled();
  w.set("lcte.ckpt.lora.rank", gguf::Value::u32(lora ? model_.lora_config().rank : 0));
  if (lora) {
    w.set("lcte.ckpt.lora.alpha", gguf::Value::f64(model_.lora_config().alpha));
    w.set("lcte.ckpt.lora.targets", gguf::Value::string(targets_string(model_.lora_config())));
  }
  const std::vector<float>& params = model_.params();
  w.add_tensor("ckpt.params", GgmlType::F32, {(int64_t)params.size()}, params.data());
  if (lora) {
    const std::vector<float>& ad = model_.lora_params();
    w.add_tensor("ckpt.lora", GgmlType::F32, {(int64_t)ad.size()}, ad.data());
  }
  w.add_tensor("ckpt.adam_m", GgmlType::F32, {(int64_t)opt_.m.size()}, opt_.m.data());
  w.add_tensor("ckpt.adam_v", GgmlType::F32, {(int64_t)opt_.v.size()}, opt_.v.data());
  w.write(path);
}

void Trainer::load_checkpoint(const std::string& path) {
  gguf::File f = gguf::File::open(path);
  if (f.get_string("general.architecture", "") != "lcte-checkpoint") fail("{}: not an lcte training checkpoint", path);
  if (f.get_u64("lcte.ckpt.version") != kCheckpointVersion)
    fail("{}: checkpoint version {} (this build reads {})", path, f.get_u64("lcte.ckpt.version"), kCheckpointVersion);
  if (read_config(f) != model_.config()) fail("{}: the checkpoint's model shape differs from this model's", path);
  const uint64_t rank = f.get_u64("lcte.ckpt.lora.rank");
  const bool lora = model_.lora_enabled();
  if ((rank != 0) != lora || (lora && rank != (uint64_t)model_.lora_config().rank))
    fail("{}: the checkpoint has LoRA rank {}, this run {}", path, rank, lora ? model_.lora_config().rank : 0);
  if (lora && (f.get_string("lcte.ckpt.lora.targets") != targets_string(model_.lora_config()) ||
               f.get_f64("lcte.ckpt.lora.alpha") != model_.lora_config().alpha))
    fail("{}: the checkpoint's LoRA targets or alpha differ from this run's", path);
  const int64_t step = f.get(std::string_view("lcte.ckpt.step")).as_i64();
  const int64_t t = f.get(std::string_view("lcte.ckpt.adam_t")).as_i64();
  DataLoader::State ds;
  ds.seed = f.get_u64("lcte.ckpt.data.seed");
  ds.epoch = f.get(std::string_view("lcte.ckpt.data.epoch")).as_i64();
  ds.cursor = f.get(std::string_view("lcte.ckpt.data.cursor")).as_i64();
  if (step < 0 || t < 0) fail("{}: negative step {} or AdamW t {}", path, step, t);
  read_tensor(f, "ckpt.params", model_.params().data(), model_.params().size());
  if (lora) read_tensor(f, "ckpt.lora", model_.lora_params().data(), model_.lora_params().size());
  read_tensor(f, "ckpt.adam_m", opt_.m.data(), opt_.m.size());
  read_tensor(f, "ckpt.adam_v", opt_.v.data(), opt_.v.size());
  data_.restore(ds);
  opt_.t = t;
  step_ = step;
}

}  // namespace lcte::train
