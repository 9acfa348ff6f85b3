// lcte's experiment store: one SQLite file holding experiments, runs (with
// their configuration, model identity, code version and machine), parameters,
// metric time series, samples, routing decisions and artifacts. WAL mode, so
// the dashboard reads while runs write. The schema is versioned; opening an
// older file migrates it in place.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite.h"

namespace lcte::store {

struct RunRecord {
  std::string id;
  std::string experiment;  // name; "" for none
  std::string kind;        // eval, quantize, distill, bench, study, ...
  std::string name;
  std::string status = "running";  // running, finished, failed, killed
  std::string started_at;          // ISO 8601 UTC
  std::string finished_at;
  nlohmann::json config = nlohmann::json::object();
  std::string model_name;
  std::string model_path;
  std::string model_sha256;
  std::string code_version;
  nlohmann::json machine = nlohmann::json::object();
  nlohmann::json summary = nlohmann::json::object();
  std::string run_dir;
};

// The record as JSON: what `lcte runs show`, the dashboard's API and the
// MLflow export's summary.json all give, so the three name the same fields.
nlohmann::json to_json(const RunRecord& r);

struct MetricPoint {
  std::string name;
  int64_t step = 0;
  double t = 0;  // seconds since the run started
  double value = 0;
};

struct StoredSample {
  std::string suite;
  std::string task_id;
  std::string model;
  int64_t sample_index = 0;
  double temperature = 0;
  std::string status;
  bool passed = false;
  std::string error_type;
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
  std::optional<double> ttft_s, tpot_s, latency_s, exec_s, energy_j;
  std::string completion;
};

struct StoredDecision {
  std::optional<std::string> run_id;
  std::string time;
  std::string query_hash;
  int64_t n_tokens = 0;
  bool n_tokens_at_least = false;  // counting stopped early: the query has at least n_tokens
  std::string tokenizer;           // which tokenizer counted
  nlohmann::json features = nlohmann::json::object();
  int64_t score = 0;
  std::string policy;
  std::string policy_version;
  std::string tier;
  bool override_applied = false;
  double decision_us = 0;
  std::string reason;
  std::optional<bool> outcome;
};

// A stored decision as JSON, with the keys of the decision log's lines
// (route::DecisionRecord::to_json): `lcte route log` and the dashboard's API.
nlohmann::json to_json(const StoredDecision& d);

struct Artifact {
  std::string name, path, kind;
};

struct RunFilter {
  std::string kind;        // "" for any
  std::string experiment;  // "" for any
  std::string model;       // substring of model_name
  size_t limit = 0;        // 0: all
};

class Store {
 public:
  // $LCTE_STORE, else $XDG_DATA_HOME/lcte/lcte.sqlite, else ~/.local/share/lcte/lcte.sqlite.
  static std::string default_path();
  static int latest_version();

  // Opens or creates the store and migrates it to the latest schema.
  explicit Store(const std::string& path);
  // For tests of migrations: bring a fresh file only up to `version`.
  static void create_at_version(const std::string& path, int version);

  int schema_version();
  const std::string& path() const { return db_.path(); }

  void begin_run(const RunRecord& run);  // fails if the id exists
  void finish_run(const std::string& id, const std::string& status, const nlohmann::json& summary);
  // A resumed run: status back to "running", finished_at cleared; fails if no such run.
  void reopen_run(const std::string& id);
  void set_params(const std::string& id, const std::map<std::string, std::string>& params);
  void add_metrics(const std::string& id, const std::vector<MetricPoint>& points);
  void add_sample(const std::string& run_id, const StoredSample& s);  // replaces the same (task, index)
  int64_t add_decision(const StoredDecision& d);
  void set_decision_outcome(int64_t decision_id, bool passed);
  void add_artifact(const std::string& id, const Artifact& a);

  std::vector<RunRecord> list_runs(const RunFilter& filter = {});
  // By full id or a unique prefix; nullopt when none; lcte::Error when ambiguous.
  std::optional<RunRecord> find_run(const std::string& id_or_prefix);
  std::map<std::string, std::string> params(const std::string& id);
  std::vector<MetricPoint> metrics(const std::string& id, const std::string& name = "");
  std::vector<StoredSample> samples(const std::string& id);
  std::vector<StoredDecision> decisions(const std::optional<std::string>& run_id, size_t limit = 0);
  std::vector<Artifact> artifacts(const std::string& id);
  // Removes the run and everything that belongs to it; nothing else.
  bool delete_run(const std::string& id);

 private:
  void migrate();
  Database db_;
  std::mutex mutex_;  // one writer per Store object; SQLite serialises processes
};

}  // namespace lcte::store
