#include "eval/suite_backends.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/error.h"
#include "eval/io.h"
#include "eval/samples_file.h"

namespace lcte::eval {
using json = nlohmann::json;

CanonicalBackend::CanonicalBackend(const Suite& suite) {
  for (const auto& task : suite.tasks) references_[task.task_id] = task.reference;
}

std::vector<Generation> CanonicalBackend::generate(const GenerationRequest& request, const StreamFn&) {
  auto it = references_.find(request.task_id);
  if (it == references_.end()) fail("canonical backend: unknown task \"{}\"", request.task_id);
  if (it->second.empty()) fail("canonical backend: task \"{}\" has no reference solution", request.task_id);
  std::vector<Generation> out;
  for (int index : request.sample_indices) {
    Generation generation;
    generation.sample_index = index;
    generation.text = it->second;
    generation.latency_s = 0.0;
    generation.finish_reason = "stop";
    out.push_back(std::move(generation));
  }
  return out;
}

FileBackend::FileBackend(const std::string& path, const Suite& suite, std::string model_name)
    : path_(path), model_(std::move(model_name)) {
  if (model_.empty()) model_ = std::filesystem::path(path).lexically_normal().filename().string();
  for (SampleRecord& sample : read_samples(path)) {
    long index = find_sample_task(suite, sample);
    if (index < 0) fail("{}: task_id \"{}\" is not in suite {}", sample.where, sample.task_id, suite.name);
    samples_[suite.tasks[size_t(index)].task_id].push_back(std::move(sample.text));
  }
  if (samples_.empty()) fail("{}: no samples", path);
}

int FileBackend::available_samples(const std::string& task_id) const {
  auto it = samples_.find(task_id);
  return it == samples_.end() ? 0 : int(it->second.size());
}

std::vector<Generation> FileBackend::generate(const GenerationRequest& request, const StreamFn&) {
  auto it = samples_.find(request.task_id);
  std::vector<Generation> out;
  for (int index : request.sample_indices) {
    if (it == samples_.end() || index < 0 || size_t(index) >= it->second.size())
      fail("{}: no sample {} for task \"{}\"", path_, index, request.task_id);
    Generation generation;
    generation.sample_index = index;
    generation.text = it->second[size_t(index)];
    out.push_back(std::move(generation));
  }
  return out;
}

}  // namespace lcte::eval
