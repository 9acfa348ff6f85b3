#include "measure/sampler.h"

#include <chrono>

#include <fmt/format.h>

#include "core/error.h"

namespace lcte::measure {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double integrate_power(const std::vector<double>& t, const std::vector<double>& watts) {
  double j = 0;
  for (size_t i = 1; i < t.size() && i < watts.size(); ++i) j += 0.5 * (watts[i] + watts[i - 1]) * (t[i] - t[i - 1]);
  return j;
}

ResourceSampler::ResourceSampler(Options options) : options_(std::move(options)) {
  if (!(options_.rate_hz >= 0.1 && options_.rate_hz <= 20.0))
    fail("sampling rate {} Hz is outside 0.1 to 20 Hz", options_.rate_hz);
  if (options_.gpus) {
    std::string nvml_why, smi_why;
    gpu_ = open_nvml(options_.nvml_library, &nvml_why);
    if (!gpu_) gpu_ = open_nvidia_smi(&smi_why);
    if (!gpu_) gpu_note_ = nvml_why + "; " + smi_why;
  } else {
    gpu_note_ = "GPU sampling off";
  }
  rapl_ = RaplReader::open(options_.powercap_root, &rapl_note_);
}

ResourceSampler::~ResourceSampler() { stop(); }

void ResourceSampler::set_listener(Listener listener) {
  std::lock_guard<std::mutex> lock(mutex_);
  listener_ = std::move(listener);
}

void ResourceSampler::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) return;
  running_ = true;
  samples_.clear();
  start_wall_ = now_seconds();
  last_t_ = 0;
  start_cpu_ = last_cpu_ = read_process_cpu();
  last_system_ = read_system_cpu_times();
  rapl_start_joules_ = rapl_ ? rapl_->joules_since_open().value_or(0) : 0;
  gpu_energy_.clear();
  gpu_counter_start_.clear();
  last_gpu_power_.clear();
  thread_ = std::thread([this] { loop(); });
}

void ResourceSampler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) return;
    running_ = false;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ResourceSampler::loop() {
  const double period = 1.0 / options_.rate_hz;
  for (int i = 0;; ++i) {
    double cpu0 = thread_cpu_seconds();
    double t = now_seconds() - start_wall_;
    Sample s = take_sample(t);
    Listener listener;
    bool keep_going;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      samples_.push_back(s);
      listener = listener_;
      keep_going = running_;
    }
    if (listener) listener(s);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sampler_cpu_seconds_ += thread_cpu_seconds() - cpu0;
    }
    if (!keep_going) return;  // the last sample was taken after stop()
    std::unique_lock<std::mutex> lock(mutex_);
    double next = start_wall_ + (i + 1) * period;
    auto wait = std::chrono::duration<double>(std::max(0.0, next - now_seconds()));
    wake_.wait_for(lock, wait, [this] { return !running_; });
  }
}

Sample ResourceSampler::take_sample(double t) {
  Sample s;
  s.t_seconds = t;
  ProcessCpu cpu = read_process_cpu();
  double dt = t - last_t_;
  double used = (cpu.self_seconds + cpu.children_seconds) - (last_cpu_.self_seconds + last_cpu_.children_seconds);
  s.process_cpu_cores = dt > 1e-6 ? std::max(0.0, used / dt) : 0;
  if (auto sys = read_system_cpu_times()) {
    if (last_system_ && sys->total > last_system_->total) s.system_cpu = system_cpu_utilisation(*last_system_, *sys);
    last_system_ = sys;
  }
  if (auto mem = read_process_memory()) {
    s.rss_bytes = mem->rss_bytes;
    s.peak_rss_bytes = mem->peak_rss_bytes;
  }
  if (auto sysmem = read_system_memory()) s.system_memory_available_bytes = sysmem->available_bytes;
  double total_cpu =
      (cpu.self_seconds + cpu.children_seconds) - (start_cpu_.self_seconds + start_cpu_.children_seconds);
  s.cpu_energy_estimate_joules = total_cpu * options_.power.watts_per_busy_core;
  if (rapl_) {
    if (auto j = rapl_->joules_since_open()) s.cpu_energy_joules = *j - rapl_start_joules_;
  }
  if (gpu_) {
    s.gpus = gpu_->read();
    gpu_energy_.resize(s.gpus.size(), 0.0);
    gpu_counter_start_.resize(s.gpus.size());
    last_gpu_power_.resize(s.gpus.size());
    for (size_t g = 0; g < s.gpus.size(); ++g) {
      const GpuReading& r = s.gpus[g];
      if (r.energy_joules) {
        // The driver's counter is the measured figure; power integration is
        // only the fallback for GPUs without one.
        if (!gpu_counter_start_[g]) gpu_counter_start_[g] = *r.energy_joules;
        gpu_energy_[g] = *r.energy_joules - *gpu_counter_start_[g];
      } else if (r.power_watts) {
        if (last_gpu_power_[g] && dt > 0) gpu_energy_[g] += 0.5 * (*r.power_watts + *last_gpu_power_[g]) * dt;
        last_gpu_power_[g] = r.power_watts;
      }
    }
    s.gpu_energy_joules = gpu_energy_;
  }
  last_t_ = t;
  last_cpu_ = cpu;
  return s;
}

std::vector<Sample> ResourceSampler::samples() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return samples_;
}

EnergyTotals ResourceSampler::energy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  EnergyTotals e;
  if (samples_.empty()) return e;
  const Sample& last = samples_.back();
  e.cpu_measured_joules = last.cpu_energy_joules;
  e.cpu_estimated_joules = last.cpu_energy_estimate_joules;
  if (!last.gpus.empty()) {
    double sum = 0;
    for (double j : last.gpu_energy_joules) sum += j;
    e.gpu_joules = sum;
    bool counters = true;
    for (const GpuReading& r : last.gpus) counters = counters && r.energy_joules.has_value();
    e.gpu_source = counters ? "energy counter" : "integrated power";
  }
  e.estimated = !e.cpu_measured_joules.has_value();
  e.total_joules = e.cpu_measured_joules.value_or(e.cpu_estimated_joules) + e.gpu_joules.value_or(0);
  return e;
}

SamplerOverhead ResourceSampler::overhead() const {
  std::lock_guard<std::mutex> lock(mutex_);
  SamplerOverhead o;
  o.sampler_cpu_seconds = sampler_cpu_seconds_;
  o.wall_seconds = samples_.empty() ? 0 : samples_.back().t_seconds;
  o.per_sample_ms = samples_.empty() ? 0 : 1000.0 * sampler_cpu_seconds_ / static_cast<double>(samples_.size());
  o.fraction_of_one_core = o.wall_seconds > 0 ? sampler_cpu_seconds_ / o.wall_seconds : 0;
  return o;
}

std::string ResourceSampler::describe() const {
  std::string cpu = rapl_ ? "CPU energy: measured (" + rapl_->describe() + ")"
                          : fmt::format("CPU energy: estimate ({} W per busy core; {})",
                                        options_.power.watts_per_busy_core, rapl_note_);
  std::string gpu = gpu_ ? "GPUs: " + gpu_->describe() : "GPUs: none (" + gpu_note_ + ")";
  return fmt::format("{} samples/s; {}; {}", options_.rate_hz, cpu, gpu);
}

}  // namespace lcte::measure
