// The synthetic suite: deterministic, held-out tasks never seen in training,
// harder levels longer, and every reference solution passing its own tests
// and failing another task's, in the real sandbox (expected values come from
// C++, the verdict from Python: the two sides check each other).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/error.h"
#include "demo/synthetic_suite.h"
#include "eval/executor.h"
#include "sandbox/sandbox.h"

using namespace lcte;
using namespace lcte::demo;

namespace {

SuiteSpec small_spec(uint64_t seed) {
  SuiteSpec s;
  s.seed = seed;
  s.train_per_level = 40;
  s.test_per_level = 10;
  return s;
}

// The task's template and parameters: its id without the "synth/<level>/" prefix.
std::string key_of(const SyntheticTask& t) { return t.task_id.substr(t.task_id.find('/', 6) + 1); }

// What the task computes: its template and constants, without the argument's
// name ("synth/1/add/x/7" -> "add/7").
std::string meaning_of(const SyntheticTask& t) {
  std::string key = key_of(t);
  size_t a = key.find('/'), b = key.find('/', a + 1);
  return key.substr(0, a) + key.substr(b);
}

sandbox::Result run(eval::Executor& ex, const SyntheticTask& code_from, const SyntheticTask& tests_from) {
  sandbox::Program p;
  p.code = code_from.prompt + code_from.reference;
  p.tests = tests_from.tests;
  p.check = "check(" + code_from.entry_point + ")";
  sandbox::Limits limits;
  limits.wall_seconds = limits.cpu_seconds = 20;
  return ex.run(p, limits);
}

}  // namespace

TEST(SyntheticSuite, SameSeedSameSuiteAndOtherSeedAnother) {
  SyntheticSuite a = make_synthetic_suite(small_spec(7)), b = make_synthetic_suite(small_spec(7));
  SyntheticSuite c = make_synthetic_suite(small_spec(8));
  ASSERT_EQ(a.test.size(), 30u);
  ASSERT_EQ(a.train.size(), 120u);
  for (size_t i = 0; i < a.test.size(); ++i) {
    EXPECT_EQ(a.test[i].task_id, b.test[i].task_id);
    EXPECT_EQ(a.test[i].tests, b.test[i].tests);
  }
  size_t same = 0;
  for (size_t i = 0; i < a.test.size(); ++i) same += a.test[i].task_id == c.test[i].task_id;
  EXPECT_LT(same, a.test.size() / 2);
}

TEST(SyntheticSuite, HeldOutTasksAreNeverTrainedOnAndLevelsAreBalanced) {
  SuiteSpec spec = small_spec(1);
  spec.train_per_level = 100000;  // all that is left
  SyntheticSuite s = make_synthetic_suite(spec);
  std::set<std::string> train;
  for (const auto& t : s.train) train.insert(key_of(t));
  EXPECT_EQ(train.size(), s.train.size()) << "training tasks are distinct";
  std::map<int, int> per_level;
  for (const auto& t : s.test) {
    EXPECT_EQ(train.count(key_of(t)), 0u) << t.task_id;
    ++per_level[t.level];
  }
  EXPECT_EQ(per_level, (std::map<int, int>{{1, 10}, {2, 10}, {3, 10}}));
  // Level 1: 6 templates x 4 argument names x their constants (add, sub,
  // above, below 1-20; mul, mod 2-20) = 4 x (4 x 20 + 2 x 19) = 472.
  size_t level1 = 0;
  for (const auto& t : s.train) level1 += t.level == 1;
  EXPECT_EQ(level1 + 10, 472u);
  EXPECT_THROW(
      {
        SuiteSpec big = small_spec(1);
        big.test_per_level = 472;
        make_synthetic_suite(big);
      },
      Error);
}

TEST(SyntheticSuite, HarderLevelsHaveLongerPromptsAndAnswers) {
  SyntheticSuite s = make_synthetic_suite(small_spec(3));
  std::map<int, double> prompt, answer, n;
  for (const auto& t : s.test) {
    prompt[t.level] += static_cast<double>(t.prompt.size());
    answer[t.level] += static_cast<double>(t.reference.size());
    n[t.level] += 1;
  }
  for (int level : {1, 2}) {
    EXPECT_LT(prompt[level] / n[level], prompt[level + 1] / n[level + 1]) << "level " << level;
    EXPECT_LT(answer[level] / n[level], answer[level + 1] / n[level + 1]) << "level " << level;
  }
}

TEST(SyntheticSuite, ReferencesPassTheirTestsAndFailAnotherTasksInTheSandbox) {
  if (!eval::have_sandbox()) GTEST_SKIP() << "this build has no sandbox library";
  sandbox::Options so;
  so.python = eval::resolve_python();
  auto ex = eval::make_sandbox_executor(so);
  SyntheticSuite s = make_synthetic_suite(small_spec(5));
  std::vector<SyntheticTask> tasks = s.test;
  tasks.insert(tasks.end(), s.train.begin(), s.train.begin() + 30);
  for (size_t i = 0; i < tasks.size(); ++i) {
    sandbox::Result own = run(*ex, tasks[i], tasks[i]);
    EXPECT_EQ(own.status, sandbox::Status::Passed)
        << tasks[i].task_id << ": " << own.error_type << " " << own.error_message << "\n"
        << tasks[i].prompt << tasks[i].reference << tasks[i].tests;
  }
  // A solution with other constants must fail: the tests pin the parameters.
  for (size_t i = 0; i + 1 < s.test.size(); i += 3) {
    const SyntheticTask& a = s.test[i];
    size_t j = i + 1;
    while (j < s.test.size() && meaning_of(s.test[j]) == meaning_of(a)) ++j;
    if (j == s.test.size()) continue;
    const SyntheticTask& b = s.test[j];
    sandbox::Result cross = run(*ex, b, a);
    EXPECT_NE(cross.status, sandbox::Status::Passed) << b.task_id << " passed the tests of " << a.task_id;
  }
}
