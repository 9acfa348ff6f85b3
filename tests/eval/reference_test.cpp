// The suites' reference solutions, assembled by the harness exactly as a
// model's completion would be, must pass under real Python. These use plain
// python3 (PythonExecutor: trusted reference code only) so a failure here is
// the harness's, not the sandbox's; eval_e2e_test repeats the check through
// the sandbox and the CLI.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/test_data.h"
#include "core/random.h"
#include "eval/runner.h"
#include "python_executor.h"

using namespace lcte::eval;
namespace sandbox = lcte::sandbox;
using PythonExecutor = lcte::eval::testing::PythonExecutor;

namespace {

struct Rows final : SampleSink {
  std::mutex mutex;
  std::vector<SampleRow> rows;
  void write(const SampleRow& row) override {
    std::lock_guard lock(mutex);
    rows.push_back(row);
  }
};

// Failing task ids with their status and error type (empty: all passed).
std::vector<std::string> run_canonical(const Suite& suite, const std::vector<size_t>& selection, Style style) {
  std::vector<PlanItem> plan;
  for (size_t index : selection) plan.push_back({index, 1});
  CanonicalBackend backend(suite);
  PythonExecutor python;
  Rows sink;
  RunnerOptions options;
  options.workers = 2;
  options.prompt.style = style;
  run_plan(suite, plan, {}, backend, python, sink, options);
  EXPECT_EQ(sink.rows.size(), selection.size());
  std::vector<std::string> failures;
  for (const auto& row : sink.rows)
    if (!row.passed) failures.push_back(row.task_id + " " + row.status + " " + row.error_type);
  return failures;
}

std::vector<size_t> seeded_subset(size_t size, size_t count, uint64_t seed) {
  std::vector<size_t> all(size);
  for (size_t i = 0; i < size; i++) all[i] = i;
  lcte::SplitMix64 rng(seed);
  lcte::shuffle(all, rng);
  all.resize(std::min(count, size));
  std::sort(all.begin(), all.end());
  return all;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += item + "\n";
  return out;
}

}  // namespace

TEST(EvalReference, HumanEvalSubsetPassesUnderPython) {
  // All 164 run through the sandbox in EvalE2E.CanonicalHumanEvalScoresOne.
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite suite = load_humaneval(lcte::testing::data_path("humaneval/HumanEval.jsonl.gz"));
  auto failures = run_canonical(suite, seeded_subset(suite.tasks.size(), 40, 5), Style::Completion);
  EXPECT_TRUE(failures.empty()) << joined(failures);
}

TEST(EvalReference, HumanEvalInstructStyleAssemblesTheSame) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite suite = load_humaneval(lcte::testing::data_path("humaneval/HumanEval.jsonl.gz"));
  // A bare reference body through the instruct path (extraction, then prompt + body).
  auto failures = run_canonical(suite, seeded_subset(suite.tasks.size(), 30, 11), Style::Instruct);
  EXPECT_TRUE(failures.empty()) << joined(failures);
}

TEST(EvalReference, MbppSubsetAndQuirkyTasksPassUnderPython) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  Suite suite = load_mbpp(lcte::testing::data_path("mbpp/mbpp.jsonl"));
  // A seeded sample (the full 974 run is bench/eval/canonical_full.sh, a subset through the sandbox is in EvalE2E),
  // plus the tasks with test_setup_code.
  auto selection = seeded_subset(suite.tasks.size(), 40, 2024);
  for (size_t quirky : {366u, 926u})
    if (!std::binary_search(selection.begin(), selection.end(), quirky)) selection.push_back(quirky);
  auto failures = run_canonical(suite, selection, Style::Completion);
  EXPECT_TRUE(failures.empty()) << joined(failures);
  failures = run_canonical(suite, {366, 926, 1, 10}, Style::Instruct);
  EXPECT_TRUE(failures.empty()) << joined(failures);
}

TEST(EvalReference, MbppChallengeTestsPassUnderPython) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  Suite suite = load_mbpp(lcte::testing::data_path("mbpp/mbpp.jsonl"));
  // The 11 tasks with challenge tests: the references pass those too.
  Suite challenge = suite;
  challenge.tasks.clear();
  for (const Task& task : suite.tasks) {
    if (task.challenge_tests.empty()) continue;
    Task copy = task;
    copy.tests.clear();
    for (const auto& test : task.challenge_tests) copy.tests += test + "\n";
    challenge.tasks.push_back(copy);
  }
  ASSERT_EQ(challenge.tasks.size(), 11u);
  auto failures = run_canonical(challenge, select_split(challenge, Split::All), Style::Completion);
  EXPECT_TRUE(failures.empty()) << joined(failures);
}

TEST(EvalReference, MbppSanitizedSubsetPassesUnderPython) {
  LCTE_REQUIRE_DATA("mbpp/sanitized-mbpp.json");
  Suite suite = load_mbpp_sanitized(lcte::testing::data_path("mbpp/sanitized-mbpp.json"));
  auto selection = seeded_subset(suite.tasks.size(), 25, 7);
  for (size_t i = 0; i < suite.tasks.size(); i++)  // every task with test_imports
    if (!suite.tasks[i].setup.empty() && !std::binary_search(selection.begin(), selection.end(), i))
      selection.push_back(i);
  auto failures = run_canonical(suite, selection, Style::Completion);
  EXPECT_TRUE(failures.empty()) << joined(failures);
}
