#include "train/driver.h"

#include <csignal>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "core/version.h"

namespace lcte::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The one piece of state a signal handler may touch: a lock-free flag the
// loop reads between steps. It has to be static, since a handler gets no
// argument.
std::atomic<bool> g_sigint{false};
static_assert(std::atomic<bool>::is_always_lock_free);
extern "C" void on_sigint(int) { g_sigint.store(true); }

// Train loss and throughput over the steps since the last evaluation.
struct Window {
  Clock::time_point t0 = Clock::now();
  double loss = 0;
  int64_t steps = 0, tokens = 0;
  void add(const StepStats& s) {
    loss += s.loss;
    tokens += s.tokens;
    ++steps;
  }
  std::vector<Metric> metrics() const {
    return {{"train_loss", loss / std::max<int64_t>(1, steps)},
            {"tokens_per_s", tokens / std::max(1e-9, seconds_since(t0))}};
  }
};

void log_step(const StepStats& s, int64_t total, int64_t first_step, int64_t tokens, double elapsed) {
  const double eta = elapsed / std::max<int64_t>(1, s.step - first_step) * (total - s.step);
  spdlog::info(
      "step {}/{} ({:.0f}%): loss {:.4f} (ce {:.4f}, kd {:.4f}), grad norm {:.3f}, lr {:.2e}, {:.0f} tok/s, "
      "elapsed {}, ETA {}",
      s.step, total, 100.0 * s.step / total, s.loss, s.ce, s.kd, s.grad_norm, s.lr, tokens / std::max(1e-9, elapsed),
      format_duration(elapsed), format_duration(eta));
}

void evaluate(const DriveOptions& o, int64_t step, const Window& w) {
  std::vector<Metric> m = w.metrics();
  const HeldOut h = o.evaluate ? o.evaluate(step) : HeldOut{};
  spdlog::info("{}: eval step {}: train loss {:.4f}, {}, {:.0f} tok/s", o.what, step, m[0].second,
               h.text.empty() ? "no held-out examples" : h.text, m[1].second);
  m.insert(m.end(), h.metrics.begin(), h.metrics.end());
  if (o.observer) o.observer->metrics(step, m);
}

}  // namespace

std::optional<LoraConfig> lora_config(int rank, double alpha, const std::string& targets) {
  if (rank <= 0) return std::nullopt;
  LoraConfig lc;
  lc.rank = rank;
  lc.alpha = alpha;
  lc.targets = LoraConfig::parse_targets(targets);
  lc.validate();
  return lc;
}

Student make_student(const gguf::File* init, const gguf::File* teacher, const StudentSpec& spec,
                     const std::optional<LoraConfig>& lora, uint64_t seed) {
  Student s;
  if (init != nullptr) {
    s.model = std::make_unique<Model<float>>(load_model(*init, /*with_grads=*/!lora));
  } else {
    if (teacher == nullptr) fail("train: a student needs a teacher to be built from, or a model to start from");
    StudentInit si = student_from_teacher(*teacher, spec);
    s.kept_layers = std::move(si.kept_layers);
    s.copied = std::move(si.copied);
    s.model = std::make_unique<Model<float>>(std::move(si.model));
  }
  if (lora) s.model->enable_lora(*lora, seed);
  return s;
}

nlohmann::json hyper_parameters(const TrainConfig& t, uint64_t seed, bool teacher, int top_k,
                                const std::optional<LoraConfig>& lora, const std::string& lora_targets) {
  nlohmann::json j = t.to_json();
  j["seed"] = seed;
  if (teacher) {
    j["loss"] = {{"divergence", std::string(divergence_name(t.loss.divergence))},
                 {"beta", t.loss.beta},
                 {"temperature", t.loss.temperature},
                 {"alpha", t.loss.alpha},
                 {"top_k", top_k}};
  } else {
    j["loss"] = "ce";
  }
  if (lora) j["lora"] = {{"rank", lora->rank}, {"alpha", lora->alpha}, {"targets", lora_targets}};
  return j;
}

DriveResult drive(Trainer& trainer, const DriveOptions& o) {
  if (!o.resume.empty()) {
    trainer.load_checkpoint(o.resume);
    spdlog::info("{}: resumed from {} at step {}", o.what, o.resume, trainer.steps_done());
  }
  const int64_t total = trainer.config().steps;
  const int64_t first_step = trainer.steps_done();
  DriveResult r;
  Window window;
  const auto t0 = Clock::now();
  while (trainer.steps_done() < total) {
    if (o.stop && o.stop->load()) {
      r.interrupted = true;
      break;
    }
    r.last = trainer.step();
    r.tokens += r.last.tokens;
    window.add(r.last);
    if (o.on_step) o.on_step(r.last);
    const int64_t step = r.last.step;
    if (o.log_every > 0 && (step % o.log_every == 0 || step == total))
      log_step(r.last, total, first_step, r.tokens, seconds_since(t0));
    if (!o.checkpoint.empty() && o.checkpoint_every > 0 && step % o.checkpoint_every == 0)
      trainer.save_checkpoint(o.checkpoint);
    if ((o.eval_every > 0 && step % o.eval_every == 0) || step == total) {
      evaluate(o, step, window);
      window = Window{};
    }
  }
  r.seconds = seconds_since(t0);
  r.steps = trainer.steps_done();
  if (!o.checkpoint.empty() && (o.checkpoint_at_end || r.interrupted)) trainer.save_checkpoint(o.checkpoint);
  if (r.interrupted)
    spdlog::warn("{}: interrupted at step {}/{}; checkpoint {} (continue with --resume {})", o.what, r.steps, total,
                 o.checkpoint.empty() ? "none" : o.checkpoint, o.checkpoint);
  return r;
}

void Lineage::add(const std::string& key, gguf::Value v) { keys_.push_back({"lcte.lineage." + key, std::move(v)}); }

void Lineage::add_file(const std::string& role, const std::string& path, std::string sha256) {
  add(role, gguf::Value::string(std::filesystem::path(path).filename().string()));
  add(role + "_sha256", gguf::Value::string(sha256.empty() ? sha256_file_hex(path) : std::move(sha256)));
}

void Lineage::add_layers(const std::vector<int>& kept) {
  if (kept.empty()) return;
  std::string s;
  for (int l : kept) s += (s.empty() ? "" : ",") + std::to_string(l);
  add("teacher_layers", gguf::Value::string(s));
}

void Lineage::add_result(const DriveResult& r, std::optional<double> valid_loss) {
  add("steps", gguf::Value::u64(static_cast<uint64_t>(r.steps)));
  add("final_loss", gguf::Value::f32(static_cast<float>(r.last.loss)));
  if (valid_loss) add("valid_loss", gguf::Value::f32(static_cast<float>(*valid_loss)));
  add("lcte_version", gguf::Value::string(lcte::version()));
}

struct SigintStop::Saved {
  struct sigaction old {};
};

SigintStop::SigintStop() : saved_(std::make_unique<Saved>()) {
  g_sigint.store(false);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &saved_->old);
}

SigintStop::~SigintStop() { sigaction(SIGINT, &saved_->old, nullptr); }

const std::atomic<bool>* SigintStop::flag() const { return &g_sigint; }

}  // namespace lcte::train
