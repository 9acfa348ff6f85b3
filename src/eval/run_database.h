// A run's persistent state: <run dir>/run.sqlite (WAL). Every sample row is
// committed in its own transaction the moment it finishes, so a killed run
// loses at most the samples that were executing; resuming skips the rows
// present (unique key: task_id, sample_index). The run's configuration is
// stored once, and a resume with a different one is refused. Databases of
// schema 1 are upgraded in place on open (two columns added).
#pragma once

#include <nlohmann/json.hpp>

#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"

struct sqlite3;

namespace lcte::eval {

struct SampleRow {
  std::string task_id;
  int sample_index = 0;
  std::string status;  // executor.h status names
  bool passed = false;
  std::string error_type;
  std::string error_message;
  int prompt_tokens = -1;
  int completion_tokens = -1;
  double time_to_first_token_s = 0;  // NaN when unknown (stored as NULL)
  double time_per_output_token_s = 0;
  double latency_s = 0;
  double exec_seconds = 0;  // wall time in the sandbox
  std::string completion;   // what the backend returned
  std::string code;         // the program's code part as executed
  std::string finished_at;  // UTC, ISO 8601
  // What confined the sample ("namespaces", "user-namespaces", "processes";
  // empty for rows of runs made before this was recorded).
  std::string isolation;
  // What the judge noticed besides the verdict: "redefined=poly" when the
  // completion redefined prompt helpers that the tests used in the prompt's version.
  std::string notes;
};

// Where rows go; the runner writes through this so that tests can collect
// rows in memory. write() is called from several threads.
class SampleSink {
 public:
  virtual ~SampleSink() = default;
  virtual void write(const SampleRow& row) = 0;
};

using SampleKey = std::pair<std::string, int>;

class RunDatabase final : public SampleSink {
 public:
  // Creates <dir>/run.sqlite (dir is created); fails if a run is already there.
  static RunDatabase create(const std::string& dir, const nlohmann::json& config);
  // Opens an existing run; errors name the path when it is not one.
  static RunDatabase open(const std::string& dir);
  RunDatabase(RunDatabase&& other) noexcept;
  RunDatabase& operator=(RunDatabase&&) = delete;
  ~RunDatabase() override;

  const std::string& dir() const { return dir_; }
  nlohmann::json config() const;
  std::set<SampleKey> finished() const;
  size_t count() const;
  // One transaction per row; thread-safe (a mutex serialises writers).
  void write(const SampleRow& row) override;
  std::vector<SampleRow> rows() const;  // ordered by task_id, sample_index
  void set_meta(const std::string& key, const std::string& value);
  std::string meta(const std::string& key) const;  // empty when unset

 private:
  RunDatabase(std::string dir, sqlite3* db);
  std::string dir_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;
};

}  // namespace lcte::eval
