// A study: one TOML file that says which models (local GGUF files or registry
// references) to compress how, which suites to evaluate them on, and which
// routers to evaluate offline over the results. `lcte study run` plans the
// steps, runs what is missing and records each finished step in
// <output>/study-state.json, so a killed study resumes where it stopped and a
// step whose inputs changed (file hash, settings) is redone.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/model_entry.h"
#include "core/progress.h"
#include "eval/executor.h"
#include "route/config.h"

namespace lcte::study {

// A [[model]] entry: the keys, their meaning and their checks are the model
// catalogue's (backend/model_entry.h). After parse_study, style, top_p and
// split hold what the model is evaluated with (its own, else [eval]'s).
using ModelSpec = backend::ModelEntry;

struct CompressSpec {
  std::string model;               // a [[model]] name
  std::vector<std::string> types;  // quant types, e.g. Q4_K_M
  std::string imatrix;             // importance matrix file (absolute), or ""
};

// No tiers yet (the study's models become them) and max_score empty (the
// default for however many there are).
route::RouterConfig default_routing();

struct StudySpec {
  std::string path;  // the study file
  std::string name;
  std::string output;    // absolute
  std::string registry;  // "" : the default registry
  std::string store;     // "" : the default store
  std::vector<ModelSpec> models;
  std::vector<CompressSpec> compress;
  std::vector<std::string> suites;  // names (humaneval, mbpp, ...) or JSONL paths (absolute)
  int n = 1;
  double temperature = 0.0;
  // Defaults for the models that do not set their own.
  std::string style = "completion";  // completion or instruct
  double top_p = 1.0;
  std::string split;  // "": the suite's test split
  std::vector<int> k;
  size_t limit = 0;                            // first N tasks of every suite (0: all)
  std::map<std::string, size_t> suite_limits;  // by suite label: overrides `limit`
  int max_tokens = 512;                        // per completion
  double timeout = 10.0;
  int workers = 0;
  uint64_t seed = 0;
  std::string isolation = "auto";  // the sandbox's, for every eval and cascade (sandbox::Options)
  std::vector<std::string> policies = {"threshold", "random", "cascade", "oracle", "always"};
  std::string routing_cost = "weights";  // weights (the models' cost), latency, tokens, energy, auto
  int folds = 5;
  // The router's settings, offline and online (route::RouterConfig's keys in
  // [routing]: tokenizer, token_bounds, max_score, random_share,
  // learned_target, learned_model). The tiers are the study's models; an
  // empty max_score is the published default spread over them; a tokenizer
  // may name one of the study's models (its GGUF file).
  route::RouterConfig routing = default_routing();
  // Online: each policy here runs the suite through the router over
  // `online_tiers` (default: every model, cheapest first) as one more eval,
  // "router-<policy>", with its own pass@k, latency and energy.
  std::vector<std::string> online;
  std::vector<std::string> online_tiers;
  double sample_rate_hz = 1.0;
};

// Throws lcte::Error naming the file, line or key.
StudySpec parse_study(const std::string& text, const std::string& origin);
StudySpec load_study(const std::string& path);

// One step of the plan.
struct Step {
  std::string id;    // quantize:<model>:<type>, eval:<model>:<suite>, route:<suite>, routed:<policy>:<suite>, report
  std::string kind;  // quantize, eval, route, routed, report
  nlohmann::json inputs;  // what decides its result; a change redoes the step
  bool cached = false;    // finished before with the same inputs
};

struct StudyOptions {
  bool resume = false;                            // continue an eval run a previous invocation left unfinished
  bool dry_run = false;                           // plan and print only
  eval::Executor* executor = nullptr;             // null: the sandbox
  std::function<void(const std::string&)> print;  // progress lines; empty: stdout
  // Progress inside quantize steps (source tensor bytes) and eval steps
  // (samples), the task named by the step id; empty: none.
  ProgressCallback step_progress;
  // Called after each step is recorded (tests make it throw to simulate a kill).
  std::function<void(const Step&)> after_step;
};

struct StudyResult {
  std::vector<Step> plan;
  std::vector<std::string> ran;  // step ids run by this invocation
  nlohmann::json summary;        // study.json
};

StudyResult run_study(const StudySpec& spec, const StudyOptions& options);

}  // namespace lcte::study
