// A background thread that records what a run costs in resources: CPU,
// memory, GPUs and energy, at a configurable rate (default 1 Hz, up to 20 Hz).
// Measured energy (RAPL, GPU counters) and estimated energy (CPU time times a
// power model) are kept apart and always labelled.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "measure/gpu.h"
#include "measure/proc_stats.h"
#include "measure/rapl.h"

namespace lcte::measure {

// Estimated power of the CPU work a run does: energy = CPU seconds x watts per
// busy core. A rough figure by design; reports label it "estimate".
struct PowerModel {
  double watts_per_busy_core = 10.0;
};

struct Sample {
  double t_seconds = 0;              // since start()
  double process_cpu_cores = 0;      // CPU seconds per second of this process and its children
  std::optional<double> system_cpu;  // [0, 1] of all cores
  uint64_t rss_bytes = 0;
  uint64_t peak_rss_bytes = 0;
  std::optional<uint64_t> system_memory_available_bytes;
  std::optional<double> cpu_energy_joules;  // measured (RAPL), cumulative since start()
  double cpu_energy_estimate_joules = 0;    // estimated, cumulative since start()
  std::vector<GpuReading> gpus;
  std::vector<double> gpu_energy_joules;  // per GPU since start(): counter, or integrated power
};

struct EnergyTotals {
  std::optional<double> cpu_measured_joules;  // RAPL
  double cpu_estimated_joules = 0;            // power model
  std::optional<double> gpu_joules;           // all GPUs
  std::string gpu_source;                     // "energy counter" or "integrated power"
  // Best figure: measured where a counter exists, with `estimated` saying whether
  // any part of it is an estimate.
  double total_joules = 0;
  bool estimated = true;
};

struct SamplerOverhead {
  double sampler_cpu_seconds = 0;
  double wall_seconds = 0;
  double per_sample_ms = 0;
  double fraction_of_one_core = 0;
};

class ResourceSampler {
 public:
  struct Options {
    double rate_hz = 1.0;
    PowerModel power;
    bool gpus = true;
    std::string nvml_library = "libnvidia-ml.so.1";
    std::string powercap_root = "/sys/class/powercap";
  };
  using Listener = std::function<void(const Sample&)>;

  explicit ResourceSampler(Options options);  // throws lcte::Error on a bad rate
  ~ResourceSampler();
  ResourceSampler(const ResourceSampler&) = delete;
  ResourceSampler& operator=(const ResourceSampler&) = delete;

  // Called from the sampler thread after every sample (live charts, the store).
  void set_listener(Listener listener);
  void start();
  void stop();  // takes a last sample, joins the thread

  std::vector<Sample> samples() const;
  EnergyTotals energy() const;
  SamplerOverhead overhead() const;
  // What is measured and how, e.g. "CPU energy: estimate (10 W per busy core); GPUs: none (NVML not loaded ...)".
  std::string describe() const;

 private:
  void loop();
  Sample take_sample(double t);

  Options options_;
  std::unique_ptr<GpuSource> gpu_;
  std::string gpu_note_;
  std::unique_ptr<RaplReader> rapl_;
  std::string rapl_note_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false;
  std::thread thread_;
  Listener listener_;
  std::vector<Sample> samples_;
  double sampler_cpu_seconds_ = 0;

  // Sampler-thread state.
  double start_wall_ = 0;
  double last_t_ = 0;
  ProcessCpu start_cpu_{};
  ProcessCpu last_cpu_{};
  std::optional<SystemCpuTimes> last_system_;
  double rapl_start_joules_ = 0;
  std::vector<double> gpu_energy_;
  std::vector<std::optional<double>> gpu_counter_start_;
  std::vector<std::optional<double>> last_gpu_power_;
};

// Trapezoid integral of power samples (watts at times in seconds) in joules.
double integrate_power(const std::vector<double>& t, const std::vector<double>& watts);

}  // namespace lcte::measure
