#include "experiment/recorder.h"

#include <algorithm>
#include <filesystem>
#include <random>
#include <utility>

#include <spdlog/spdlog.h>
#include "core/clock.h"
#include "core/error.h"
#include "eval/session.h"
#include "kernels/kernels.h"
#include "measure/machine.h"

namespace lcte::experiment {

using nlohmann::json;

std::vector<store::MetricPoint> metric_points(const measure::Sample& s, double t_offset) {
  std::vector<store::MetricPoint> points;
  double t = t_offset + s.t_seconds;
  auto add = [&](std::string name, double value) { points.push_back({std::move(name), 0, t, value}); };
  add("process_cpu_cores", s.process_cpu_cores);
  if (s.system_cpu) add("system_cpu", *s.system_cpu);
  if (s.rss_bytes > 0) add("rss_bytes", static_cast<double>(s.rss_bytes));
  if (s.peak_rss_bytes > 0) add("peak_rss_bytes", static_cast<double>(s.peak_rss_bytes));
  if (s.system_memory_available_bytes)
    add("system_memory_available_bytes", static_cast<double>(*s.system_memory_available_bytes));
  if (s.cpu_energy_joules) add("cpu_energy_j", *s.cpu_energy_joules);
  add("cpu_energy_estimate_j", s.cpu_energy_estimate_joules);
  for (size_t g = 0; g < s.gpus.size(); ++g) {
    const measure::GpuReading& r = s.gpus[g];
    std::string p = "gpu" + std::to_string(r.index) + "_";
    if (r.utilisation) add(p + "utilisation", *r.utilisation);
    if (r.memory_used_bytes) add(p + "memory_used_bytes", static_cast<double>(*r.memory_used_bytes));
    if (r.power_watts) add(p + "power_w", *r.power_watts);
    if (r.temperature_c) add(p + "temperature_c", *r.temperature_c);
    if (g < s.gpu_energy_joules.size()) add(p + "energy_j", s.gpu_energy_joules[g]);
  }
  for (auto& p : points) p.step = static_cast<int64_t>(s.t_seconds * 1000.0);  // milliseconds: unique per reading
  return points;
}

json resource_summary(const measure::ResourceSampler& sampler, int64_t completion_tokens, int64_t passed,
                      int64_t tasks) {
  measure::EnergyTotals e = sampler.energy();
  json energy = {{"total_joules", e.total_joules},
                 {"watt_hours", e.total_joules / 3600.0},
                 {"estimated", e.estimated},
                 {"cpu_estimated_joules", e.cpu_estimated_joules},
                 {"source", sampler.describe()}};
  if (e.cpu_measured_joules) energy["cpu_measured_joules"] = *e.cpu_measured_joules;
  if (e.gpu_joules) {
    energy["gpu_joules"] = *e.gpu_joules;
    energy["gpu_source"] = e.gpu_source;
  }
  if (tasks > 0) energy["joules_per_problem"] = e.total_joules / static_cast<double>(tasks);
  if (completion_tokens > 0)
    energy["joules_per_1k_tokens"] = e.total_joules * 1000.0 / static_cast<double>(completion_tokens);
  if (passed > 0) energy["joules_per_pass"] = e.total_joules / static_cast<double>(passed);

  json resources = json::object();
  uint64_t peak = 0;
  double cpu_sum = 0;
  std::vector<measure::Sample> samples = sampler.samples();
  bool any_gpu = false;
  for (const measure::Sample& s : samples) {
    peak = std::max(peak, s.peak_rss_bytes);
    cpu_sum += s.process_cpu_cores;
    any_gpu = any_gpu || !s.gpus.empty();
  }
  if (peak > 0) resources["peak_rss_bytes"] = peak;
  if (!samples.empty()) resources["mean_process_cpu_cores"] = cpu_sum / static_cast<double>(samples.size());
  resources["readings"] = samples.size();
  if (!any_gpu) resources["gpu_note"] = "no GPU readings: " + sampler.describe();
  measure::SamplerOverhead o = sampler.overhead();
  resources["sampler_overhead"] = {{"cpu_seconds", o.sampler_cpu_seconds},
                                   {"per_reading_ms", o.per_sample_ms},
                                   {"fraction_of_one_core", o.fraction_of_one_core}};
  return {{"energy", energy}, {"resources", resources}};
}

store::RunRecord new_run_record(const std::string& kind, const std::string& name, json config) {
  store::RunRecord r;
  r.started_at = utc_now_iso8601();
  std::random_device rd;
  r.id = fmt::format("{}-{}-{:08x}", kind, r.started_at, rd());
  r.kind = kind;
  r.name = name;
  r.config = std::move(config);
  r.code_version = eval::lcte_version();
  r.machine = measure::describe_machine();
  // The kernel table the engine runs here: local speed and energy figures
  // are comparable only between runs of the same one. Left out when
  // $LCTE_KERNELS is wrong (a run that computes nothing locally may go on).
  try {
    r.machine["lcte_kernels"] = std::string(kernels::isa_name(kernels::best_isa()));
  } catch (const Error&) {}
  return r;
}

RunRecorder::RunRecorder(store::Store& store, store::RunRecord run, RecorderOptions options, bool resume)
    : store_(store), run_(std::move(run)), on_reading_(std::move(options.on_reading)) {
  if (resume && store_.find_run(run_.id)) {
    store_.reopen_run(run_.id);
    for (const store::MetricPoint& p : store_.metrics(run_.id)) t_offset_ = std::max(t_offset_, p.t);
  } else {
    store_.begin_run(run_);
  }
  if (options.sample_rate_hz > 0) {
    measure::ResourceSampler::Options so;
    so.rate_hz = options.sample_rate_hz;
    so.power = options.power;
    so.gpus = options.gpus;
    so.nvml_library = options.nvml_library;
    sampler_ = std::make_unique<measure::ResourceSampler>(so);
    sampler_->set_listener([this](const measure::Sample& s) { on_reading(s); });
    sampler_->start();
  }
}

RunRecorder::~RunRecorder() {
  if (sampler_) sampler_->stop();
}

void RunRecorder::on_reading(const measure::Sample& s) {
  // The sampler thread must never die on a store error (a full disk, say):
  // the run goes on, and the lost reading is logged.
  try {
    add_metrics(metric_points(s, t_offset_));
  } catch (const std::exception& e) {
    spdlog::warn("{}: reading at {:.1f} s not stored: {}", store_.path(), s.t_seconds, e.what());
  }
  try {
    if (on_reading_) on_reading_(s);
  } catch (const std::exception& e) {
    spdlog::warn("{}: reading at {:.1f} s: {}", store_.path(), s.t_seconds, e.what());
  }
}

void RunRecorder::add_sample(const store::StoredSample& sample) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  store_.add_sample(run_.id, sample);
}

void RunRecorder::add_metrics(const std::vector<store::MetricPoint>& points) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  store_.add_metrics(run_.id, points);
}

void RunRecorder::add_values(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  const double t = t_offset_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::vector<store::MetricPoint> points;
  for (const auto& [name, v] : values) points.push_back({name, step, t, v});
  add_metrics(points);
}

void RunRecorder::add_artifact(const store::Artifact& artifact) {
  if (!std::filesystem::exists(artifact.path)) return;
  std::lock_guard<std::mutex> lock(write_mutex_);
  store_.add_artifact(run_.id, artifact);
}

json RunRecorder::finish(json summary, int64_t completion_tokens, int64_t passed, int64_t tasks,
                         const std::string& status) {
  if (sampler_) {
    sampler_->stop();
    json r = resource_summary(*sampler_, completion_tokens, passed, tasks);
    summary["energy"] = r["energy"];
    summary["resources"] = r["resources"];
  }
  store_.finish_run(run_.id, status, summary);
  ended_ = true;
  return summary;
}

void RunRecorder::fail(const std::string& message) {
  if (sampler_) sampler_->stop();
  json summary = {{"error", message}};
  store_.finish_run(run_.id, "failed", summary);
  ended_ = true;
}

}  // namespace lcte::experiment
