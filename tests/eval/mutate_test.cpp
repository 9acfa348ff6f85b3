#include <gtest/gtest.h>

#include <set>

#include "common/test_data.h"
#include "eval/mutate.h"
#include "eval/prompts.h"
#include "eval/pylex.h"
#include "python_executor.h"

using namespace lcte::eval;
namespace sandbox = lcte::sandbox;
using PythonExecutor = lcte::eval::testing::PythonExecutor;

namespace {

std::set<std::string> descriptions(const std::vector<Mutation>& sites) {
  std::set<std::string> out;
  for (const auto& m : sites) out.insert(m.kind + " " + m.description);
  return out;
}

}  // namespace

TEST(EvalPyLex, StringsCommentsAndContinuations) {
  std::string code = "x = f'a{b}' + r\"c\\\"d\" # c < d\ns = '''\nline < 2\n'''\ny = [1,\n  2]\n";
  auto tokens = python_tokens(code);
  std::vector<std::string> strings;
  for (const auto& t : tokens)
    if (t.kind == TokenKind::String) strings.emplace_back(t.text(code));
  EXPECT_EQ(strings, (std::vector<std::string>{"f'a{b}'", "r\"c\\\"d\"", "'''\nline < 2\n'''"}));
  auto continued = continuation_lines(code);
  // Lines: 0 x=..., 1 s=''', 2 line < 2, 3 ''', 4 y=[1, 5 2], 6 (empty tail)
  ASSERT_GE(continued.size(), 6u);
  EXPECT_FALSE(continued[0]);
  EXPECT_FALSE(continued[1]);
  EXPECT_TRUE(continued[2]);
  EXPECT_TRUE(continued[3]);
  EXPECT_FALSE(continued[4]);
  EXPECT_TRUE(continued[5]);
}

TEST(EvalMutate, SitesSkipStringsCommentsAndUnaryOperators) {
  std::string code =
      "def f(a, b, *args):\n"
      "    # a < b in a comment\n"
      "    s = 'x < y + 1'\n"
      "    if a < b and -a:\n"
      "        return a + 1\n"
      "    return max(a, b)\n";
  auto found = descriptions(mutation_sites(code));
  std::set<std::string> expected = {
      "comparison line 4: `<` -> `<=`",        "operator line 4: `and` -> `or`",
      "operator line 5: `+` -> `-`",           "off_by_one line 5: `1` -> `2`",
      "off_by_one line 5: `1` -> `0`",         "swapped_arguments line 6: max(a, b) -> max(b, a)",
      "wrong_function line 6: `max` -> `min`",
  };
  EXPECT_EQ(found, expected);
  // `-a` (unary) and `*args` are not binary operators; nothing in the comment or string.
  Mutation swap;
  for (const auto& m : mutation_sites(code))
    if (m.kind == "swapped_arguments") swap = m;
  EXPECT_EQ(apply_mutation(code, swap).substr(code.size() - 17), "return max(b, a)\n");
}

TEST(EvalMutate, KeywordAndCallSites) {
  std::string code =
      "def h(xs, s):\n"
      "    ys = [x for x in xs if x not in s and x is not None]\n"
      "    if not ys or s in xs:\n"
      "        return len(ys[1:])\n"
      "    return s.lower()\n";
  auto found = descriptions(mutation_sites(code));
  for (const char* expected :
       {"comparison line 2: `not in` -> `in`", "comparison line 2: `is not` -> `is`", "negation line 3: `not` removed",
        "comparison line 3: `in` -> `not in`", "off_by_one line 4: `len(ys[1:])` -> `len(ys[1:]) - 1`",
        "wrong_function line 5: `lower` -> `upper`"})
    EXPECT_TRUE(found.count(expected)) << expected;
  // The for loop's `in` is not a membership test.
  for (const auto& d : found) EXPECT_EQ(d.find("line 2: `in` -> `not in`"), std::string::npos) << d;
  Mutation len_site;
  for (const auto& m : mutation_sites(code))
    if (m.description.find("len(") != std::string::npos) len_site = m;
  EXPECT_NE(apply_mutation(code, len_site).find("return (len(ys[1:]) - 1)\n"), std::string::npos);
}

TEST(EvalMutate, WrongReturn) {
  auto found = descriptions(mutation_sites("def g(x):\n    if x:\n        return True\n    return x\n"));
  EXPECT_TRUE(found.count("wrong_return line 3: `True` -> `False`"));
  EXPECT_TRUE(found.count("wrong_return line 4: `x` -> `None`"));
}

namespace {

// Passes exactly the unmutated reference programs, so every candidate bug
// "fails": what is then chosen depends only on the seeded order.
class ReferenceOnlyExecutor final : public Executor {
 public:
  explicit ReferenceOnlyExecutor(const Suite& suite) {
    for (const Task& task : suite.tasks) references_.insert(task.prompt + task.reference);
  }
  sandbox::Result run(const sandbox::Program& program, const sandbox::Limits&) override {
    sandbox::Result result;
    result.status = references_.count(program.code) ? sandbox::Status::Passed : sandbox::Status::Failed;
    return result;
  }
  std::string describe() const override { return "reference-only"; }

 private:
  std::set<std::string> references_;
};

}  // namespace

TEST(EvalMutate, SeededChoiceIsDeterministicPerTask) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite base = load_humaneval(lcte::testing::data_path("humaneval/HumanEval.jsonl.gz"));
  ReferenceOnlyExecutor executor(base);
  FixOptions options;
  options.seed = 3;
  std::vector<size_t> all;
  for (size_t i = 0; i < base.tasks.size(); i++) all.push_back(i);
  FixSuite fix = make_fix_suite(base, all, executor, options);
  // A few one-line references offer no site (e.g. `return string.swapcase()`);
  // they are left out, with the reason.
  EXPECT_GE(fix.suite.tasks.size(), 158u);
  for (const auto& why : fix.dropped) EXPECT_NE(why.find("no place to inject a bug"), std::string::npos) << why;
  std::set<std::string> kinds;
  for (const Task& task : fix.suite.tasks) kinds.insert(task.mutation.substr(0, task.mutation.find(',')));
  for (const char* kind : {"comparison", "off_by_one", "operator", "swapped_arguments", "wrong_return"})
    EXPECT_TRUE(kinds.count(kind)) << kind << " never chosen";
  auto buggy_of = [](const FixSuite& suite, const std::string& id) {
    for (const Task& task : suite.suite.tasks)
      if (task.task_id == id) return task.buggy;
    return std::string();
  };
  // A task gets the same bug whatever else is selected, and another seed moves it.
  FixSuite one = make_fix_suite(base, {37}, executor, options);
  ASSERT_EQ(one.suite.tasks.size(), 1u);
  EXPECT_EQ(one.suite.tasks[0].buggy, buggy_of(fix, "HumanEval/37"));
  options.seed = 4;
  FixSuite other = make_fix_suite(base, all, executor, options);
  size_t differ = 0;
  for (const Task& task : other.suite.tasks) differ += task.buggy != buggy_of(fix, task.task_id);
  EXPECT_GT(differ, base.tasks.size() / 2);
}

TEST(EvalMutate, HumanEvalBugsFailUnderPython) {
  // Confirms with real Python (plain python3, trusted reference code only)
  // that every injected bug makes its tests fail and the fix passes.
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite base = load_humaneval(lcte::testing::data_path("humaneval/HumanEval.jsonl.gz"));
  std::vector<size_t> selection = {0, 2, 5, 11, 24, 38};
  PythonExecutor python;
  FixOptions options;
  options.seed = 3;
  options.workers = 2;
  FixSuite fix = make_fix_suite(base, selection, python, options);
  EXPECT_TRUE(fix.suite.is_fix);
  EXPECT_EQ(fix.suite.name, "humaneval-fix");
  EXPECT_EQ(fix.suite.tasks.size() + fix.dropped.size(), selection.size());
  EXPECT_GE(fix.suite.tasks.size(), 5u) << (fix.dropped.empty() ? "" : fix.dropped[0]);
  sandbox::Limits limits;
  for (const Task& task : fix.suite.tasks) {
    ASSERT_FALSE(task.mutation.empty());
    ASSERT_NE(task.buggy, task.prompt + task.reference);
    EXPECT_TRUE(task.buggy.starts_with(base.tasks[size_t(task.number)].prompt));
    sandbox::Program buggy{task.setup, task.buggy, task.tests, task.check, ""};
    auto status = python.run(buggy, limits).status;
    EXPECT_TRUE(status == sandbox::Status::Failed || status == sandbox::Status::Error) << task.task_id;
    // The canonical answer to a fix task is the original reference: it passes.
    sandbox::Program fixed{task.setup, task.prompt + task.reference, task.tests, task.check, ""};
    EXPECT_EQ(python.run(fixed, limits).status, sandbox::Status::Passed) << task.task_id;
    // The instruct request shows the buggy code and asks for the fix.
    Prompt prompt = build_prompt(fix.suite, task, {Style::Instruct, 0});
    EXPECT_NE(prompt.messages.back().content.find(task.buggy), std::string::npos);
  }
}

TEST(EvalMutate, MbppFixTask) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  Suite base = load_mbpp(lcte::testing::data_path("mbpp/mbpp.jsonl"));
  PythonExecutor python;
  FixOptions options;
  FixSuite fix = make_fix_suite(base, {10, 11, 12}, python, options);
  ASSERT_FALSE(fix.suite.tasks.empty());
  for (const Task& task : fix.suite.tasks) {
    EXPECT_NE(task.buggy, task.reference);
    EXPECT_TRUE(task.buggy.starts_with("def") || task.buggy.starts_with("import") || task.buggy.starts_with("from"))
        << task.buggy;
    sandbox::Program buggy{task.setup, task.buggy, task.tests, task.check, ""};
    EXPECT_NE(python.run(buggy, {}).status, sandbox::Status::Passed);
  }
  Prompt prompt = build_prompt(fix.suite, fix.suite.tasks[0], {Style::Instruct, 0});
  EXPECT_NE(prompt.messages.back().content.find("It must pass these tests"), std::string::npos);
}
