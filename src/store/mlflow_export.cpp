#include "store/mlflow_export.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/sha256.h"

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

std::string mlflow_run_id(const std::string& lcte_id) { return sha256_hex(lcte_id).substr(0, 32); }

std::string mlflow_key(const std::string& key) {
  std::string out, segment;
  auto flush = [&] {
    // MLflow rejects keys whose normalised path differs: no empty, "." or ".." segments.
    if (segment == "." || segment == "..") segment = std::string(segment.size(), '_');
    if (!segment.empty()) {
      if (!out.empty()) out += '/';
      out += segment;
    }
    segment.clear();
  };
  for (char c : key) {
    if (c == '/') {
      flush();
      continue;
    }
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ' ';
    segment += ok ? c : '_';
  }
  flush();
  if (out.empty()) out = "_";
  if (out.size() > kMlflowMaxKey) out.resize(kMlflowMaxKey);
  while (out.back() == '/') out.pop_back();  // a cut may end on a separator
  return out;
}

namespace {

// Cuts at a UTF-8 character boundary so MLflow receives valid text.
std::string cut(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

// Two lcte keys may map to one MLflow key ("a:b", "a_b"); MLflow refuses a
// param logged twice with different values, so later ones get a suffix.
std::string unique_key(const std::string& key, std::set<std::string>& used) {
  std::string k = mlflow_key(key);
  for (int i = 2; used.count(k); ++i) k = mlflow_key(key).substr(0, kMlflowMaxKey - 8) + "_" + std::to_string(i);
  used.insert(k);
  return k;
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  if (!out) fail("{}: cannot write", p.string());
  out << text;
  if (!out) fail("{}: write failed", p.string());
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

std::string mlflow_status(const std::string& lcte_status) {
  if (lcte_status == "finished") return "FINISHED";
  if (lcte_status == "failed") return "FAILED";
  if (lcte_status == "killed") return "KILLED";
  return "RUNNING";
}

}  // namespace

MlflowRun collect_mlflow_run(Store& store, const std::string& run_id) {
  auto run = store.find_run(run_id);
  if (!run) fail("no run {} in {}", run_id, store.path());
  MlflowRun m;
  m.lcte_id = run->id;
  m.run_id = mlflow_run_id(run->id);
  m.run_name = cut(run->name.empty() ? run->id : run->name, kMlflowMaxKey);
  m.experiment_name = run->experiment.empty() ? "Default" : run->experiment;
  m.status = mlflow_status(run->status);
  m.start_ms = iso8601_to_epoch_ms(run->started_at);
  m.end_ms = run->finished_at.empty() ? 0 : iso8601_to_epoch_ms(run->finished_at);

  auto params = store.params(run->id);
  params["kind"] = run->kind;
  if (!run->model_name.empty()) params["model"] = run->model_name;
  if (!run->model_sha256.empty()) params["model_sha256"] = run->model_sha256;
  std::set<std::string> used;
  for (const auto& [k, v] : params) m.params.emplace_back(unique_key(k, used), cut(v, kMlflowMaxParamValue));

  auto tag = [&](const std::string& k, const std::string& v) { m.tags.emplace_back(k, cut(v, kMlflowMaxTagValue)); };
  tag("mlflow.runName", m.run_name);
  tag("mlflow.source.name", "lcte");
  tag("mlflow.user", "lcte");
  tag("lcte.run_id", run->id);
  tag("lcte.kind", run->kind);
  if (!run->code_version.empty()) tag("lcte.code_version", run->code_version);

  for (const MetricPoint& p : store.metrics(run->id))
    m.metrics.push_back({mlflow_key(p.name), p.value, m.start_ms + static_cast<int64_t>(p.t * 1000), p.step});
  flatten_numbers(run->summary, "", [&](const std::string& k, double v) {
    m.metrics.push_back({mlflow_key("summary." + k), v, m.end_ms ? m.end_ms : m.start_ms, 0});
  });

  m.artifacts.push_back({"summary.json", "", to_json(*run).dump(2) + "\n"});
  for (const Artifact& a : store.artifacts(run->id)) {
    if (a.kind == "gguf") {
      tag("lcte.artifact." + mlflow_key(a.name), a.path);  // gigabytes: point at it, do not copy
      continue;
    }
    if (a.name == "summary.json") continue;
    m.artifacts.push_back({mlflow_key(a.name), a.path, ""});
  }
  return m;
}

std::string export_mlflow(Store& store, const std::string& run_id, const std::string& root) {
  MlflowRun m = collect_mlflow_run(store, run_id);
  // MLflow's experiment ids are numbers; experiment 0 is its "Default".
  std::string exp_id =
      m.experiment_name == "Default"
          ? "0"
          : std::to_string(std::stoull(sha256_hex(m.experiment_name).substr(0, 12), nullptr, 16) % 1000000000 + 1);
  fs::path exp_dir = fs::path(root) / exp_id;
  fs::path run_dir = exp_dir / m.run_id;
  for (const char* sub : {"params", "metrics", "tags", "artifacts"}) fs::create_directories(run_dir / sub);
  std::string abs_root = fs::absolute(root).string();
  if (!fs::exists(exp_dir / "meta.yaml")) {
    write_file(
        exp_dir / "meta.yaml",
        fmt::format("artifact_location: file://{}/{}\ncreation_time: {}\nexperiment_id: '{}'\nlast_update_time: {}\n"
                    "lifecycle_stage: active\nname: {}\n",
                    abs_root, exp_id, m.start_ms, exp_id, m.start_ms, yaml_quote(m.experiment_name)));
  }
  // The file store keeps status as MLflow's enum number.
  static const std::map<std::string, int> status_number = {
      {"RUNNING", 1}, {"FINISHED", 3}, {"FAILED", 4}, {"KILLED", 5}};
  write_file(
      run_dir / "meta.yaml",
      fmt::format("artifact_uri: file://{}/{}/{}/artifacts\nend_time: {}\nentry_point_name: ''\nexperiment_id: '{}'\n"
                  "lifecycle_stage: active\nrun_id: {}\nrun_name: {}\nrun_uuid: {}\nsource_name: ''\nsource_type: 4\n"
                  "source_version: ''\nstart_time: {}\nstatus: {}\ntags: []\nuser_id: lcte\n",
                  abs_root, exp_id, m.run_id, m.end_ms == 0 ? std::string("null") : std::to_string(m.end_ms), exp_id,
                  m.run_id, yaml_quote(m.run_name), m.run_id, m.start_ms, status_number.at(m.status)));
  for (const auto& [k, v] : m.params) write_file(run_dir / "params" / k, v);
  for (const auto& [k, v] : m.tags) write_file(run_dir / "tags" / k, v);

  // Metric files hold "timestamp value step" lines.
  std::map<std::string, std::string> series;
  for (const MlflowMetric& p : m.metrics) series[p.key] += fmt::format("{} {} {}\n", p.timestamp_ms, p.value, p.step);
  for (const auto& [k, text] : series) write_file(run_dir / "metrics" / k, text);
  for (const MlflowArtifact& a : m.artifacts) {
    fs::path dest = run_dir / "artifacts" / a.name;
    if (a.path.empty()) {
      write_file(dest, a.content);
      continue;
    }
    std::error_code ec;
    if (!fs::is_regular_file(a.path, ec)) continue;  // a run's files may have been cleaned up since
    fs::create_directories(dest.parent_path());
    fs::copy_file(a.path, dest, fs::copy_options::overwrite_existing, ec);
    if (ec) fail("{}: cannot copy to {}: {}", a.path, dest.string(), ec.message());
  }
  return run_dir.string();
}

}  // namespace lcte::store
