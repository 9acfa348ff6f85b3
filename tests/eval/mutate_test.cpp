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
      "comparison line 4: `<` -> `<=`",
      "operator line 4: `and` -> `or`",
      "operator line 5: `+` -> `-`",
      "off_by_one line 5: `1` -> `2`",
      "off_by_one line 5: `1` -> `0`",
      "swapped_arguments line 6: max(a, b) -> max(b, a)",
  };
  EXPECT_EQ(found, expected);
  // `-a` (unary) and `*args` are not binary operators; nothing in the comment or string.
  Mutation swap;
  for (const auto& m : mutation_sites(code))
    if (m.kind == "swapped_arguments") swap = m;
  EXPECT_EQ(apply_mutation(code, swap).substr(code.size() - 17), "return max(b, a)\n");
}

TEST(EvalMutate, WrongReturn) {
  auto found = descriptions(mutation_sites("def g(x):\n    if x:\n        return True\n    return x\n"));
  EXPECT_TRUE(found.count("wrong_return line 3: `True` -> `False`"));
  EXPECT_TRUE(found.count("wrong_return line 4: `x` -> `None`"));
}

TEST(EvalMutate, HumanEvalFixTasksFailAndAreDeterministic) {
  // Confirms with real Python (plain python3, trusted reference code only)
  // that every injected bug makes its tests fail and the fix passes.
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite base = load_humaneval(lcte::testing::data_path("humaneval/HumanEval.jsonl.gz"));
  std::vector<size_t> selection;
  for (size_t i = 0; i < 12; i++) selection.push_back(i);
  PythonExecutor python;
  FixOptions options;
  options.seed = 3;
  options.workers = 2;
  FixSuite fix = make_fix_suite(base, selection, python, options);
  EXPECT_TRUE(fix.suite.is_fix);
  EXPECT_EQ(fix.suite.name, "humaneval-fix");
  EXPECT_EQ(fix.suite.tasks.size() + fix.dropped.size(), selection.size());
  EXPECT_GE(fix.suite.tasks.size(), 10u) << (fix.dropped.empty() ? "" : fix.dropped[0]);
  sandbox::Limits limits;
  for (const Task& task : fix.suite.tasks) {
    ASSERT_FALSE(task.mutation.empty());
    ASSERT_NE(task.buggy, task.prompt + task.reference);
    EXPECT_TRUE(task.buggy.starts_with(base.tasks[size_t(task.number)].prompt));
    sandbox::Program buggy{task.setup, task.buggy, task.tests, task.check};
    auto status = python.run(buggy, limits).status;
    EXPECT_TRUE(status == sandbox::Status::Failed || status == sandbox::Status::Error) << task.task_id;
    sandbox::Program fixed{task.setup, task.prompt + task.reference, task.tests, task.check};
    EXPECT_EQ(python.run(fixed, limits).status, sandbox::Status::Passed) << task.task_id;
    // The instruct request shows the buggy code and asks for the fix.
    Prompt prompt = build_prompt(fix.suite, task, {Style::Instruct, 0});
    EXPECT_NE(prompt.messages.back().content.find(task.buggy), std::string::npos);
  }
  FixSuite again = make_fix_suite(base, selection, python, options);
  ASSERT_EQ(again.suite.tasks.size(), fix.suite.tasks.size());
  for (size_t i = 0; i < fix.suite.tasks.size(); i++) EXPECT_EQ(again.suite.tasks[i].buggy, fix.suite.tasks[i].buggy);
  options.seed = 4;
  FixSuite other = make_fix_suite(base, selection, python, options);
  size_t differ = 0;
  for (size_t i = 0; i < std::min(other.suite.tasks.size(), fix.suite.tasks.size()); i++)
    differ += other.suite.tasks[i].mutation != fix.suite.tasks[i].mutation;
  EXPECT_GT(differ, 0u);  // the seed matters
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
    sandbox::Program buggy{task.setup, task.buggy, task.tests, task.check};
    EXPECT_NE(python.run(buggy, {}).status, sandbox::Status::Passed);
  }
  Prompt prompt = build_prompt(fix.suite, fix.suite.tasks[0], {Style::Instruct, 0});
  EXPECT_NE(prompt.messages.back().content.find("It must pass these tests"), std::string::npos);
}
