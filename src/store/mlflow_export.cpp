#include "store/mlflow_export.h"

#include <cstdio>
#include <ctime>
#include <map>
#include <filesystem>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "core/error.h"

namespace lcte::store {
namespace fs = std::filesystem;

int64_t iso8601_to_epoch_ms(const std::string& iso) {
  std::tm tm{};
  int ms = 0;
  double seconds = 0;
  if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%lf", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &seconds) != 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_sec = static_cast<int>(seconds);
  ms = static_cast<int>((seconds - tm.tm_sec) * 1000 + 0.5);
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

namespace {

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  if (!out) fail("{}: cannot write", p.string());
  out << text;
  if (!out) fail("{}: write failed", p.string());
}

// MLflow keys allow letters, digits and _ - . / and space.
std::string safe_key(const std::string& k) {
  std::string out;
  for (char c : k) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ' ') ? c : '_';
  return out.empty() ? "_" : out;
}

std::string yaml_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Numbers anywhere in the summary, flattened to dotted names.
void flatten_numbers(const nlohmann::json& j, const std::string& prefix,
                     const std::function<void(const std::string&, double)>& out) {
  if (j.is_number()) {
    out(prefix, j.get<double>());
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten_numbers(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  }
}

}  // namespace

std::string export_mlflow(Store& store, const std::string& run_id, const std::string& root) {
  auto run = store.find_run(run_id);
  if (!run) fail("no run {} in {}", run_id, store.path());
  // MLflow's experiment ids are numbers; experiment 0 is its "Default".
  std::string experiment_name = run->experiment.empty() ? "Default" : run->experiment;
  std::string exp_id = run->experiment.empty() ? "0" : std::to_string(std::hash<std::string>{}(experiment_name) % 1000000000 + 1);
  fs::path exp_dir = fs::path(root) / exp_id;
  fs::path run_dir = exp_dir / run->id;
  fs::create_directories(run_dir / "params");
  fs::create_directories(run_dir / "metrics");
  fs::create_directories(run_dir / "tags");
  fs::create_directories(run_dir / "artifacts");
  int64_t start = iso8601_to_epoch_ms(run->started_at);
  int64_t end = run->finished_at.empty() ? 0 : iso8601_to_epoch_ms(run->finished_at);
  std::string abs_root = fs::absolute(root).string();
  if (!fs::exists(exp_dir / "meta.yaml")) {
    write_file(exp_dir / "meta.yaml",
               fmt::format("artifact_location: file://{}/{}\ncreation_time: {}\nexperiment_id: '{}'\nlast_update_time: {}\n"
                           "lifecycle_stage: active\nname: {}\n",
                           abs_root, exp_id, start, exp_id, start, yaml_quote(experiment_name)));
  }
  // Status 3 is FINISHED, 4 FAILED, 1 RUNNING, 5 KILLED in MLflow's enum.
  int status = run->status == "finished" ? 3 : run->status == "failed" ? 4 : run->status == "killed" ? 5 : 1;
  write_file(run_dir / "meta.yaml",
             fmt::format("artifact_uri: file://{}/{}/{}/artifacts\nend_time: {}\nentry_point_name: ''\nexperiment_id: '{}'\n"
                         "lifecycle_stage: active\nrun_id: {}\nrun_name: {}\nrun_uuid: {}\nsource_name: ''\nsource_type: 4\n"
                         "source_version: {}\nstart_time: {}\nstatus: {}\ntags: []\nuser_id: lcte\n",
                         abs_root, exp_id, run->id, end == 0 ? std::string("null") : std::to_string(end), exp_id, run->id,
                         yaml_quote(run->name.empty() ? run->id : run->name), run->id, yaml_quote(run->code_version),
                         start, status));
  auto params = store.params(run->id);
  params["kind"] = run->kind;
  if (!run->model_name.empty()) params["model"] = run->model_name;
  if (!run->model_sha256.empty()) params["model_sha256"] = run->model_sha256;
  for (const auto& [k, v] : params) write_file(run_dir / "params" / safe_key(k), v);
  write_file(run_dir / "tags" / "mlflow.runName", run->name.empty() ? run->id : run->name);
  write_file(run_dir / "tags" / "mlflow.source.name", "lcte");

  // Metric files hold "timestamp value step" lines.
  std::map<std::string, std::string> series;
  for (const MetricPoint& p : store.metrics(run->id))
    series[safe_key(p.name)] += fmt::format("{} {} {}\n", start + static_cast<int64_t>(p.t * 1000), p.value, p.step);
  flatten_numbers(run->summary, "", [&](const std::string& k, double v) {
    series[safe_key("summary." + k)] += fmt::format("{} {} 0\n", end ? end : start, v);
  });
  for (const auto& [k, text] : series) write_file(run_dir / "metrics" / k, text);
  for (const Artifact& a : store.artifacts(run->id)) {
    std::error_code ec;
    if (fs::is_regular_file(a.path, ec)) fs::copy_file(a.path, run_dir / "artifacts" / safe_key(a.name), fs::copy_options::overwrite_existing, ec);
  }
  return run_dir.string();
}

}  // namespace lcte::store
