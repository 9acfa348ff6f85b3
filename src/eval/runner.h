// Runs a plan of (task, number of samples) through a backend and an executor
// on a pool of worker threads, writing each finished sample to a sink the
// moment it is done. Samples already in `finished` are skipped, which is all
// that resuming a run needs.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "eval/executor.h"
#include "eval/prompts.h"
#include "eval/run_database.h"
#include "eval/suite.h"
#include "eval/suite_backends.h"

namespace lcte::eval {

struct PlanItem {
  size_t task_index = 0;  // into suite.tasks
  int n = 1;              // samples 0..n-1
};

struct RunnerOptions {
  int workers = 0;  // 0: one per hardware thread
  sandbox::Limits limits;
  SamplingParams sampling;
  PromptOptions prompt;
};

struct Progress {
  size_t done = 0;     // samples finished in this session (including skipped ones from before, and failed ones)
  size_t total = 0;    // samples in the plan
  size_t passed = 0;   // of those finished in this session
  size_t skipped = 0;  // already in the run when it started
  size_t failed = 0;   // samples the backend could not generate
  double elapsed_s = 0;
};
// Called once before the first sample, then after each (under a lock: one call at a time).
using ProgressFn = std::function<void(const Progress&)>;

// A sample the backend could not generate (the server kept failing, the
// prompt did not fit, ...). It is not written to the sink, so resuming the
// run asks for it again.
struct SampleFailure {
  std::string task_id;
  int sample_index = 0;
  std::string message;
};

struct RunnerStats {
  size_t executed = 0;  // samples run in this session
  size_t skipped = 0;   // samples found finished
  double wall_seconds = 0;
  std::vector<SampleFailure> failures;  // ordered by task, then sample
};

// A backend's failure to generate a sample (lcte::Error from generate(), or
// Generation::error) is recorded in RunnerStats::failures and the run goes on.
// Throws the first other error a worker hit (an executor failure, a backend
// returning the wrong samples); the samples written before it stay in the sink.
RunnerStats run_plan(const Suite& suite, const std::vector<PlanItem>& plan, const std::set<SampleKey>& finished,
                     Backend& backend, Executor& executor, SampleSink& sink, const RunnerOptions& options,
                     const ProgressFn& progress = {});

// The row for one executed sample.
SampleRow make_row(const std::string& task_id, const Generation& generation, const sandbox::Program& program,
                   const sandbox::Result& result);

int default_workers();

}  // namespace lcte::eval
