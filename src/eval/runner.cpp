#include "eval/runner.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <tuple>

#include "core/error.h"
#include "core/log.h"
#include "eval/extract.h"

namespace lcte::eval {

int default_workers() {
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : int(cores);
}

SampleRow make_row(const std::string& task_id, const Generation& generation, const sandbox::Program& program,
                   const sandbox::Result& result) {
  SampleRow row;
  row.task_id = task_id;
  row.sample_index = generation.sample_index;
  row.status = std::string(status_string(result.status));
  row.passed = result.status == sandbox::Status::Passed;
  row.error_type = result.error_type;
  row.error_message = result.error_message;
  row.prompt_tokens = generation.prompt_tokens;
  row.completion_tokens = generation.completion_tokens;
  row.time_to_first_token_s = generation.time_to_first_token_s;
  row.time_per_output_token_s = generation.time_per_output_token_s;
  row.latency_s = generation.latency_s;
  row.exec_seconds = result.wall_seconds;
  row.completion = generation.text;
  row.code = program.code;
  row.finished_at = utc_now_iso8601();
  row.isolation = result.isolation;
  if (!result.redefined_helpers.empty())
    row.notes = "redefined=" + fmt::format("{}", fmt::join(result.redefined_helpers, ","));
  return row;
}

namespace {

// One task's samples still to do.
struct WorkUnit {
  size_t task_index;
  std::vector<int> sample_indices;
};

using Clock = std::chrono::steady_clock;

class Pool {
 public:
  Pool(const Suite& suite, std::vector<WorkUnit> units, Backend& backend, Executor& executor, SampleSink& sink,
       const RunnerOptions& options, const ProgressFn& progress, Progress start)
      : suite_(suite),
        units_(std::move(units)),
        backend_(backend),
        executor_(executor),
        sink_(sink),
        options_(options),
        progress_fn_(progress),
        progress_(start) {}

  void run(int workers) {
    started_ = Clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < workers; i++) threads.emplace_back([this] { work(); });
    for (auto& thread : threads) thread.join();
    if (error_) std::rethrow_exception(error_);
  }

  size_t executed() const { return executed_; }
  std::vector<SampleFailure> failures() const {
    std::vector<SampleFailure> out = failures_;
    std::sort(out.begin(), out.end(), [](const SampleFailure& a, const SampleFailure& b) {
      return std::tie(a.task_id, a.sample_index) < std::tie(b.task_id, b.sample_index);
    });
    return out;
  }

 private:
  void work() {
    while (!stop_.load()) {
      size_t next = next_unit_.fetch_add(1);
      if (next >= units_.size()) return;
      try {
        run_unit(units_[next]);
      } catch (...) {
        std::lock_guard lock(progress_mutex_);
        if (!error_) error_ = std::current_exception();
        stop_ = true;
      }
    }
  }

  void run_unit(const WorkUnit& unit) {
    const Task& task = suite_.tasks[unit.task_index];
    const Prompt prompt = build_prompt(suite_, task, options_.prompt);
    GenerationRequest request;
    request.task_id = task.task_id;
    request.chat = prompt.style == Style::Instruct;
    request.prompt = prompt.text;
    request.messages = prompt.messages;
    request.stops = prompt.stops;
    request.sampling = options_.sampling;
    request.sample_indices = unit.sample_indices;
    std::vector<Generation> generations;
    try {
      generations = backend_.generate(request);
    } catch (const Error& e) {
      for (int index : unit.sample_indices) fail_sample(task.task_id, index, e.what());
      return;
    }
    if (generations.size() != unit.sample_indices.size())
      fail("backend {} returned {} samples for task {}, asked for {}", backend_.name(), generations.size(),
           task.task_id, unit.sample_indices.size());
    for (const Generation& generation : generations) {
      if (stop_.load()) return;
      if (!generation.error.empty()) {
        fail_sample(task.task_id, generation.sample_index, generation.error);
        continue;
      }
      sandbox::Program program = assemble_program(task, prompt, generation.text);
      sandbox::Result result = executor_.run(program, options_.limits);
      SampleRow row = make_row(task.task_id, generation, program, result);
      sink_.write(row);
      report(row.passed);
    }
  }

  void fail_sample(const std::string& task_id, int index, const std::string& message) {
    spdlog::error("{} sample {}: {}", task_id, index, message);
    std::lock_guard lock(progress_mutex_);
    failures_.push_back({task_id, index, message});
    progress_.done++;
    progress_.failed++;
    progress_.elapsed_s = std::chrono::duration<double>(Clock::now() - started_).count();
    if (progress_fn_) progress_fn_(progress_);
  }

  void report(bool passed) {
    std::lock_guard lock(progress_mutex_);
    executed_++;
    progress_.done++;
    if (passed) progress_.passed++;
    progress_.elapsed_s = std::chrono::duration<double>(Clock::now() - started_).count();
    if (progress_fn_) progress_fn_(progress_);
  }

  const Suite& suite_;
  std::vector<WorkUnit> units_;
  Backend& backend_;
  Executor& executor_;
  SampleSink& sink_;
  const RunnerOptions& options_;
  const ProgressFn& progress_fn_;
  std::atomic<size_t> next_unit_{0};
  std::atomic<bool> stop_{false};
  std::mutex progress_mutex_;
  Progress progress_;
  size_t executed_ = 0;
  std::vector<SampleFailure> failures_;
  std::exception_ptr error_;
  Clock::time_point started_;
};

// A backend generates a unit's samples in one request (an engine batches
// them), but with few tasks and many samples whole-task units would leave
// workers idle; cut units so that there are about four per worker.
std::vector<WorkUnit> split_units(std::vector<WorkUnit> units, size_t samples, int workers) {
  size_t chunk = std::max<size_t>(1, (samples + size_t(workers) * 4 - 1) / (size_t(workers) * 4));
  std::vector<WorkUnit> out;
  for (auto& unit : units) {
    for (size_t begin = 0; begin < unit.sample_indices.size(); begin += chunk) {
      size_t end = std::min(unit.sample_indices.size(), begin + chunk);
      out.push_back(
          {unit.task_index, {unit.sample_indices.begin() + long(begin), unit.sample_indices.begin() + long(end)}});
    }
  }
  return out;
}

}  // namespace

RunnerStats run_plan(const Suite& suite, const std::vector<PlanItem>& plan, const std::set<SampleKey>& finished,
                     Backend& backend, Executor& executor, SampleSink& sink, const RunnerOptions& options,
                     const ProgressFn& progress) {
  std::vector<WorkUnit> units;
  Progress start;
  for (const PlanItem& item : plan) {
    const Task& task = suite.tasks.at(item.task_index);
    WorkUnit unit{item.task_index, {}};
    for (int index = 0; index < item.n; index++) {
      start.total++;
      if (finished.count({task.task_id, index})) {
        start.skipped++;
        start.done++;
      } else {
        unit.sample_indices.push_back(index);
      }
    }
    if (!unit.sample_indices.empty()) units.push_back(std::move(unit));
  }
  int workers = options.workers > 0 ? options.workers : default_workers();
  units = split_units(std::move(units), start.total - start.skipped, workers);
  workers = std::max(1, std::min<int>(workers, int(std::max<size_t>(units.size(), 1))));
  auto t0 = Clock::now();
  Pool pool(suite, std::move(units), backend, executor, sink, options, progress, start);
  if (progress) progress(start);  // before any sample, so a rate is measured from the start
  pool.run(workers);
  RunnerStats stats;
  stats.executed = pool.executed();
  stats.failures = pool.failures();
  stats.skipped = start.skipped;
  stats.wall_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return stats;
}

}  // namespace lcte::eval
