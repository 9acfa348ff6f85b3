#include "eval/samples_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/sha256.h"
#include "eval/io.h"

namespace lcte::eval {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read", path.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string string_task_id(const json& record, const std::string& where) {
  auto it = record.find("task_id");
  if (it == record.end()) fail("{}: missing field \"task_id\"", where);
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<long long>());
  fail("{}: field \"task_id\" must be a string or an integer, got {}", where, it->type_name());
}

// EvalPlus's `solution` (a whole program) wins over human-eval's `completion`.
std::string sample_text(const json& record, const std::string& where) {
  for (const char* field : {"solution", "completion"}) {
    auto it = record.find(field);
    if (it == record.end()) continue;
    if (!it->is_string()) fail("{}: field \"{}\" must be a string, got {}", where, field, it->type_name());
    return it->get<std::string>();
  }
  fail("{}: missing field \"completion\" (human-eval) or \"solution\" (EvalPlus)", where);
}

std::vector<SampleRecord> read_jsonl(const std::string& path) {
  std::vector<SampleRecord> out;
  std::string text = read_maybe_gzip(path);
  auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); i++) {
    if (lines[i].find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string where = path + ":" + std::to_string(i + 1);
    SampleRecord s;
    try {
      s.record = json::parse(lines[i]);
    } catch (const json::parse_error& e) {
      fail("{}: invalid JSON: {}", where, e.what());
    }
    if (!s.record.is_object()) fail("{}: expected a JSON object, got {}", where, s.record.type_name());
    s.task_id = string_task_id(s.record, where);
    s.text = sample_text(s.record, where);
    s.where = where;
    out.push_back(std::move(s));
  }
  return out;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// 0.py, 1.py, ..., 10.py in numeric order; other names after them, by name.
bool sample_file_before(const fs::path& a, const fs::path& b) {
  std::string x = a.stem().string(), y = b.stem().string();
  bool nx = all_digits(x), ny = all_digits(y);
  if (nx && ny) return x.size() != y.size() ? x.size() < y.size() : x < y;
  if (nx != ny) return nx;
  return a.filename() < b.filename();
}

std::vector<SampleRecord> read_folder(const std::string& path) {
  std::vector<fs::path> tasks;
  for (const auto& e : fs::directory_iterator(path))
    if (e.is_directory()) tasks.push_back(e.path());
  std::sort(tasks.begin(), tasks.end());
  std::vector<SampleRecord> out;
  for (const fs::path& task : tasks) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(task))
      if (e.is_regular_file() && e.path().extension() == ".py") files.push_back(e.path());
    std::sort(files.begin(), files.end(), sample_file_before);
    for (const fs::path& file : files) {
      SampleRecord s;
      s.folder = task.filename().string();
      s.task_id = s.folder;
      std::replace(s.task_id.begin(), s.task_id.end(), '_', '/');
      s.text = slurp(file);
      s.record = {{"task_id", s.task_id}, {"solution", s.text}};
      s.where = file.string();
      out.push_back(std::move(s));
    }
  }
  if (out.empty()) fail("{}: no samples (expected EvalPlus's layout: <task_id with / as _>/<n>.py)", path);
  return out;
}

std::string with_underscores(std::string id) {
  std::replace(id.begin(), id.end(), '/', '_');
  return id;
}

std::string human_eval_result(const SampleRow& row) {
  if (row.passed) return "passed";
  if (row.status == "timeout") return "timed out";
  std::string what = row.error_type.empty() ? row.status : row.error_type;
  return "failed: " + what + (row.error_message.empty() ? "" : ": " + row.error_message);
}

}  // namespace

std::vector<SampleRecord> read_samples(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_folder(path);
  return read_jsonl(path);
}

long find_sample_task(const Suite& suite, const SampleRecord& sample) {
  long index = find_task(suite, sample.task_id);
  if (index >= 0 || sample.folder.empty()) return index;
  for (size_t i = 0; i < suite.tasks.size(); ++i)
    if (with_underscores(suite.tasks[i].task_id) == sample.folder) return long(i);
  return -1;
}

std::string samples_sha256(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return sha256_file_hex(path);
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(path))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  Sha256 hash;
  for (const fs::path& f : files) {
    std::string name = fs::relative(f, path).string(), body = slurp(f);
    // Lengths first, so that no two different folders hash alike.
    hash.update(std::to_string(name.size()) + ":" + name + std::to_string(body.size()) + ":");
    hash.update(body);
  }
  return hash.finish_hex();
}

std::string human_eval_results_path(const std::string& run_dir, const std::string& samples) {
  std::string name = samples.empty() ? "samples.jsonl" : fs::path(samples).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(samples).lexically_normal().parent_path().filename().string();
  return (fs::path(run_dir) / (name + "_results.jsonl")).string();
}

size_t write_human_eval_results(const std::string& out_path, const std::string& samples,
                                const std::vector<SampleRow>& rows) {
  std::vector<json> lines;
  if (samples.empty()) {
    for (const SampleRow& row : rows)
      lines.push_back({{"task_id", row.task_id},
                       {"completion", row.completion},
                       {"result", human_eval_result(row)},
                       {"passed", row.passed}});
  } else {
    // A row is found by its task id as the run stored it; a sample names its
    // task as written ("11" for "Mbpp/11", a folder name for EvalPlus's layout).
    std::map<std::pair<std::string, int>, const SampleRow*> by_key;
    std::map<std::string, std::string> canonical;  // every spelling of a judged task id -> the stored one
    for (const SampleRow& row : rows) {
      by_key[{row.task_id, row.sample_index}] = &row;
      canonical[row.task_id] = row.task_id;
      canonical[with_underscores(row.task_id)] = row.task_id;
      if (size_t slash = row.task_id.rfind('/'); slash != std::string::npos)
        canonical.emplace(row.task_id.substr(slash + 1), row.task_id);
    }
    std::map<std::string, int> next_index;
    for (const SampleRecord& s : read_samples(samples)) {
      auto id = canonical.find(s.task_id);
      if (id == canonical.end() && !s.folder.empty()) id = canonical.find(s.folder);
      if (id == canonical.end()) continue;
      int index = next_index[id->second]++;
      auto row = by_key.find({id->second, index});
      if (row == by_key.end()) continue;
      json line = s.record;
      line["result"] = human_eval_result(*row->second);
      line["passed"] = row->second->passed;
      lines.push_back(std::move(line));
    }
  }
  std::string text;
  for (const json& line : lines) text += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  write_file_atomic(out_path, text);
  return lines.size();
}

}  // namespace lcte::eval
