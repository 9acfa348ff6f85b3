// Evaluations started from the dashboard: each runs in a server thread, one
// store run per model, every sample written to the store the moment it is
// executed, with progress, samples and resource readings published on the
// event bus for the live monitor. Also the single-problem "try" of the
// interactive tab.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dashboard/event_bus.h"
#include "dashboard/token_stream.h"
#include "eval/datasets.h"
#include "eval/executor.h"
#include "eval/suite.h"
#include "eval/suite_backends.h"

namespace lcte::dashboard {

// Makes the backend that answers for `model` on `suite`; nullptr when the
// model is unknown. "canonical" (the suite's reference solutions) is always
// available.
using BackendFactory =
    std::function<std::shared_ptr<eval::Backend>(const std::string& model, const eval::Suite& suite)>;

const std::vector<std::string>& known_suites();  // humaneval, mbpp, mbpp-sanitized

struct EvalRequest {
  std::string suite = "humaneval";
  std::vector<std::string> models;
  int n = 1;
  double temperature = 0.0;
  int max_tokens = 512;
  size_t limit = 0;  // first N tasks of the test split; 0: all
  std::vector<std::string> tasks;
  double timeout = 10.0;
  int workers = 0;

  // Checks every field (types, ranges, known suite and models); lcte::Error names the field.
  static EvalRequest from_json(const nlohmann::json& j, const std::vector<std::string>& models);
  nlohmann::json to_json() const;
};

struct TryRequest {
  std::string suite = "humaneval";
  std::string task_id;
  std::string model;  // a model, or "auto": the router picks
  int n = 1;
  double temperature = 0.0;
  int max_tokens = 512;
  double timeout = 10.0;
  // Echoed in the try's events ("try_token" pieces, "try" per finished
  // sample), so a page can tell its own; unique among running tries.
  std::string client_id;
  static TryRequest from_json(const nlohmann::json& j, const std::vector<std::string>& models);
};

struct JobOptions {
  std::string store_path;
  eval::DatasetLocations where = eval::default_dataset_locations();
  BackendFactory backends;
  std::vector<std::string> models;  // what the factory knows
  // null: the sandbox (python3). Tests plug in their own.
  std::function<std::unique_ptr<eval::Executor>()> executor;
  std::string isolation = "auto";  // the sandbox's (sandbox::Options::isolation)
  double resource_rate_hz = 2.0;
  TokenStreamOptions try_stream;  // how the interactive tab's text is batched into events
};

class JobManager {
 public:
  JobManager(JobOptions options, EventBus& bus);
  ~JobManager();  // stops and joins every job
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Starts a job; lcte::Error (HTTP 409) while another is running.
  nlohmann::json start(const EvalRequest& request);
  bool stop(const std::string& job_id);
  // Stops every job and waits for their threads (shutdown).
  void stop_all();
  nlohmann::json list() const;
  nlohmann::json get(const std::string& job_id) const;  // null when unknown
  // Runs one problem now (blocking) and returns what the tab shows; `route`
  // turns "auto" into a model and the routing explanation. While it runs,
  // the text of each sample goes out as "try_token" events as the backend
  // makes it (the whole text at once from backends that do not stream), and
  // each executed sample as a "try" event; all carry the try's id and client
  // id. The result's `events_through` is the bus id of the last event published
  // before it returned: a page that has seen that id has every piece.
  // lcte::Error ("still running", HTTP 409) when a non-empty client_id is in use.
  nlohmann::json try_problem(const TryRequest& request,
                             const std::function<nlohmann::json(const std::string& query)>& route);
  const eval::Suite& suite(const std::string& name);  // loaded once, then cached

 private:
  struct Job;
  void run_job(const std::shared_ptr<Job>& job);
  void run_model(const std::shared_ptr<Job>& job, const std::string& model);
  std::unique_ptr<eval::Executor> make_executor();

  JobOptions options_;
  EventBus& bus_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::vector<std::thread> threads_;
  std::set<std::string> active_clients_;  // client ids of running tries (guarded by mutex_)
  uint64_t tries_ = 0;                    // guarded by mutex_
  std::mutex suites_mutex_;
  std::map<std::string, std::unique_ptr<eval::Suite>> suites_;
};

}  // namespace lcte::dashboard
