// One `lcte eval` invocation as a library call: load and select the suite,
// make the backend, create or reopen the run directory, execute what is
// missing, and write samples.csv and summary.json. The CLI only maps flags
// onto EvalConfig and prints.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "backend/openai_client.h"
#include "eval/datasets.h"
#include "eval/executor.h"
#include "eval/run_database.h"
#include "eval/runner.h"
#include "route/router.h"

namespace lcte::eval {

// Everything that decides a run's results; stored in the run and compared
// on resume. (Workers and output paths are not part of it.)
struct EvalConfig {
  std::string suite = "humaneval";
  std::string split;        // empty: "test" (MBPP: task ids 11-510; others: every task)
  std::string split_sizes;  // "800/100/74": a seeded custom split instead of the standard one
  std::vector<std::string> tasks;
  size_t limit = 0;
  std::string backend = "canonical";
  // canonical/file: a label (the file backend defaults to the samples file's
  // name); engine: the GGUF file; http: the server's model name.
  std::string model;
  std::string samples_file;  // file backend
  std::string base_url;      // http backend
  std::string api_key_env;   // http backend: the variable holding the key ("" for none)
  int64_t ctx = 4096;        // engine backend: context size
  std::string catalogue;     // router backend: the model catalogue (tiers and [routing])
  std::string policy;        // router backend: overrides [routing] policy ("" keeps it)
  int n = 0;                 // samples per task; 0: 1, or every sample the file has
  std::vector<int> k;        // empty: 1, 10 and 100 where n allows
  double temperature = 0.0;
  double top_p = 1.0;
  int max_tokens = 512;
  double timeout = 10.0;  // seconds per sample (wall and CPU)
  uint64_t seed = 0;      // custom split, injected bugs, sampling
  std::string style = "completion";
  int few_shot = 0;
  // EvalPlus suites: each input's limit is max(min_time_limit, factor x the
  // reference's time); part of the configuration because it decides verdicts.
  double min_time_limit = kEvalPlusMinTimeLimit;
  double time_limit_factor = kEvalPlusTimeLimitFactor;

  nlohmann::json to_json() const;
  static EvalConfig from_json(const nlohmann::json& json);  // throws lcte::Error on a bad stored config
};

struct SessionOptions {
  std::string out_dir = "runs";
  std::string run_id;  // empty: generated
  int workers = 0;     // 0: one per hardware thread
  DatasetLocations where = default_dataset_locations();
  Executor* executor = nullptr;   // null: the sandbox, running `python`
  int engine_threads = 0;         // engine backend: 0 for the default
  int engine_max_sequences = 32;  // engine backend: most sequences decoded together (1: no batching)
  // engine backend: most prompt tokens prefilled between two decode steps (0: a prompt at once)
  int64_t engine_prefill_chunk = 256;
  // http backend: retries, timeouts, the in-flight cap, streaming (base URL,
  // model and key variable come from the configuration).
  backend::HttpOptions http;
  std::string python = "python3";
  // The sandbox's isolation ("auto", "namespaces", "user-namespaces",
  // "processes"): "auto" refuses to run samples where no namespace isolation
  // works, so weaker confinement is always the user's explicit choice.
  std::string isolation = "auto";
  ProgressFn progress;
  // Sees every sample row as it is committed to the run (from worker threads):
  // how an experiment publishes rows to the central store as they are made.
  std::function<void(const SampleRow&)> on_sample;
  // Router backend: sees every routing decision (from worker threads).
  std::function<void(const route::RouteResult&, const std::string& text)> on_decision;
};

struct SessionResult {
  std::string run_id;
  std::string run_dir;
  bool resumed = false;
  nlohmann::json summary;
  std::vector<std::string> dropped;     // fix suites: tasks without a confirmed bug
  std::vector<SampleFailure> failures;  // samples the backend could not generate (not stored)
};

SessionResult run_eval(const EvalConfig& config, const SessionOptions& options);

// Continues the run at `run` (a run directory, or a run id under
// options.out_dir). `given` holds the configuration fields the user passed
// again (EvalConfig::to_json keys); any that differ from the stored ones make
// it refuse, naming them.
SessionResult resume_eval(const std::string& run, const nlohmann::json& given, const SessionOptions& options);

// "20261127-083000-humaneval-canonical-ab12" (local time, 4 random hex digits).
std::string make_run_id(const std::string& suite, const std::string& backend);

std::string lcte_version();

}  // namespace lcte::eval
