#include "eval/backend.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/error.h"
#include "eval/io.h"

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
  if (model_.empty()) model_ = std::filesystem::path(path).filename().string();
  std::string text = read_maybe_gzip(path);
  auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); i++) {
    std::string_view line = lines[i];
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    json record;
    try {
      record = json::parse(line);
    } catch (const json::parse_error& e) {
      fail("{}:{}: invalid JSON: {}", path, i + 1, e.what());
    }
    if (!record.is_object()) fail("{}:{}: expected a JSON object, got {}", path, i + 1, record.type_name());
    auto id_it = record.find("task_id");
    if (id_it == record.end()) fail("{}:{}: missing field \"task_id\"", path, i + 1);
    std::string task_id;
    if (id_it->is_string())
      task_id = id_it->get<std::string>();
    else if (id_it->is_number_integer())
      task_id = std::to_string(id_it->get<long long>());
    else
      fail("{}:{}: field \"task_id\" must be a string or an integer, got {}", path, i + 1, id_it->type_name());
    auto completion = record.find("completion");
    if (completion == record.end()) fail("{}:{}: missing field \"completion\"", path, i + 1);
    if (!completion->is_string())
      fail("{}:{}: field \"completion\" must be a string, got {}", path, i + 1, completion->type_name());
    long index = find_task(suite, task_id);
    if (index < 0) fail("{}:{}: task_id \"{}\" is not in suite {}", path, i + 1, task_id, suite.name);
    samples_[suite.tasks[size_t(index)].task_id].push_back(completion->get<std::string>());
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
