// The reference suites through the sandbox: HumanEval's canonical solutions
// are known to pass under CPython 3.11 (shared/data/SOURCES.md), so every one
// must pass here too; the same prompts with a body that returns a constant
// must not. This checks that the driver's rewriting of the tests (strict
// comparisons, guarded results) keeps Python's meaning on real test code.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/test_data.h"
#include "core/error.h"
#include "sandbox/sandbox.h"
#include "sandbox/suites.h"

namespace lcte::sandbox {
namespace {

// Runs `make(task)` for every task on two threads; returns the results in order.
template <class Make>
std::vector<Result> run_all(Sandbox& sandbox, const std::vector<suites::Task>& tasks, Make make) {
  std::vector<Result> results(tasks.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    Limits limits;
    limits.wall_seconds = 20;
    for (size_t i; (i = next++) < tasks.size();) results[i] = sandbox.run(make(tasks[i]), limits);
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  return results;
}

Sandbox& shared_sandbox() {
  static Sandbox sandbox{Options{}};
  return sandbox;
}

TEST(Suites, HumanEvalCanonicalSolutionsPass) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  auto tasks = suites::load_humaneval(testing::data_path("humaneval/HumanEval.jsonl.gz"));
  ASSERT_EQ(tasks.size(), 164u);
  auto results =
      run_all(shared_sandbox(), tasks, [](const suites::Task& t) { return suites::humaneval_program(t, t.solution); });
  for (size_t i = 0; i < tasks.size(); ++i)
    EXPECT_EQ(results[i].status, Status::Passed) << tasks[i].id << ": " << status_name(results[i].status) << " "
                                                 << results[i].error_type << " " << results[i].error_message << "\n"
                                                 << results[i].stderr_text.substr(0, 500);
}

TEST(Suites, HumanEvalConstantAnswersDoNotPass) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  auto tasks = suites::load_humaneval(testing::data_path("humaneval/HumanEval.jsonl.gz"));
  // A body that ignores its input.
  for (const char* body : {"    return None\n"}) {
    auto results =
        run_all(shared_sandbox(), tasks, [&](const suites::Task& t) { return suites::humaneval_program(t, body); });
    int passed = 0;
    for (size_t i = 0; i < tasks.size(); ++i) {
      EXPECT_NE(results[i].status, Status::Passed) << tasks[i].id << " passed with " << body;
      passed += results[i].status == Status::Passed;
      EXPECT_TRUE(results[i].status == Status::Failed || results[i].status == Status::Error)
          << tasks[i].id << ": " << status_name(results[i].status) << " " << results[i].error_message;
    }
  }
}

}  // namespace
}  // namespace lcte::sandbox
