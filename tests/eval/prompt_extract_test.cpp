#include <gtest/gtest.h>

#include "common/test_data.h"
#include "core/error.h"
#include "eval/extract.h"
#include "eval/prompts.h"
#include "python_executor.h"

using namespace lcte::eval;
namespace sandbox = lcte::sandbox;
using PythonExecutor = lcte::eval::testing::PythonExecutor;

namespace {

Suite humaneval() { return load_humaneval(lcte::testing::data_path("humaneval/HumanEval.jsonl.gz")); }
Suite mbpp() { return load_mbpp(lcte::testing::data_path("mbpp/mbpp.jsonl")); }

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) n++;
  return n;
}

}  // namespace

TEST(EvalPrompt, MbppPaperStatement) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  Suite suite = mbpp();
  // Task 2 as the MBPP paper formats it (text and asserts copied from mbpp.jsonl).
  EXPECT_EQ(mbpp_task_statement(suite.tasks[1]),
            "You are an expert Python programmer, and here is your task: Write a function to find the similar "
            "elements from the given two tuple lists. Your code should pass these tests:\n\n"
            "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"
            "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)\n"
            "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)");
}

TEST(EvalPrompt, StylesAndFewShot) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite he = humaneval();
  Prompt completion = build_prompt(he, he.tasks[0], {Style::Completion, 0});
  EXPECT_EQ(completion.text, he.tasks[0].prompt);
  EXPECT_EQ(completion.code_prefix, he.tasks[0].prompt);
  EXPECT_EQ(completion.stops, (std::vector<std::string>{"\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"}));

  Prompt chat = build_prompt(he, he.tasks[0], {Style::Instruct, 0});
  ASSERT_EQ(chat.messages.size(), 2u);
  EXPECT_EQ(chat.messages[0].role, "system");
  EXPECT_NE(chat.messages[1].content.find(he.tasks[0].prompt), std::string::npos);
  EXPECT_THROW(build_prompt(he, he.tasks[0], {Style::Instruct, 3}), lcte::Error);  // HumanEval has no shots

  Suite mb = mbpp();
  const Task& task = mb.tasks[10];  // Mbpp/11, first of the test split
  Prompt shots = build_prompt(mb, task, {Style::Instruct, 3});
  ASSERT_EQ(shots.messages.size(), 8u);                                    // system, 3 x (user, assistant), user
  EXPECT_EQ(shots.messages[1].content, mbpp_task_statement(mb.tasks[1]));  // task 2
  EXPECT_NE(shots.messages[6].content.find(mb.tasks[3].reference), std::string::npos);  // task 4's code
  EXPECT_EQ(shots.messages[7].content, mbpp_task_statement(task));

  Prompt paper = build_prompt(mb, task, {Style::Completion, 3});
  EXPECT_EQ(count(paper.text, "[BEGIN]"), 4u);
  EXPECT_EQ(count(paper.text, "[DONE]"), 3u);
  EXPECT_TRUE(paper.text.ends_with("[BEGIN]\n"));
  EXPECT_EQ(paper.stops, std::vector<std::string>{"[DONE]"});
  EXPECT_EQ(paper.code_prefix, "");
  EXPECT_THROW(build_prompt(mb, task, {Style::Instruct, 4}), lcte::Error);
}

TEST(EvalPrompt, TruncateAtStops) {
  const auto& stops = humaneval_stops();
  EXPECT_EQ(truncate_at_stops("    return 1\n\ndef other():\n    pass\n", stops), "    return 1\n");
  EXPECT_EQ(truncate_at_stops("    x = 1  # note\n    return x\n# done\nprint(x)", stops),
            "    x = 1  # note\n    return x");
  EXPECT_EQ(truncate_at_stops("    return 2\n", stops), "    return 2\n");
  EXPECT_EQ(truncate_at_stops("abc", {}), "abc");
}

TEST(EvalExtract, FencedBlocks) {
  auto blocks =
      fenced_blocks("Sure!\n```python\ndef f():\n    return 1\n```\nand\n```text\nnot code\n```\n```\nx = 2\n```\n");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0], "def f():\n    return 1\n");
  EXPECT_EQ(blocks[1], "x = 2\n");
  // A reply cut off inside the block still yields its code.
  auto open = fenced_blocks("```py\ndef g():\n    return 2\n");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0], "def g():\n    return 2\n");
}

TEST(EvalExtract, ChatReplyToCode) {
  std::string reply =
      "Here is the implementation:\n\n"
      "```python\nprint(add(1, 2))\n```\n"
      "```python\nimport math\n\ndef add(a, b):\n    \"\"\"Adds.\n\nExample: add(1, 2)\n    \"\"\"\n    return a + "
      "b\n\n"
      "assert add(1, 2) == 3\nprint(add(2, 2))\nif __name__ == \"__main__\":\n    main()\n```\n"
      "This function works by adding the numbers.";
  // The block that defines the entry point wins; examples after it are dropped;
  // the docstring line at column 0 stays (it is inside a string).
  EXPECT_EQ(extract_code(reply, "add"),
            "import math\n\ndef add(a, b):\n    \"\"\"Adds.\n\nExample: add(1, 2)\n    \"\"\"\n    return a + b\n");
}

TEST(EvalExtract, UnfencedReplyWithProse) {
  std::string reply =
      "Sure, here's a function that does it:\n"
      "def add(a, b):\n"
      "    return a + b\n"
      "\n"
      "Explanation:\n"
      "1. It adds a and b.\n"
      "This is O(1).\n";
  EXPECT_EQ(extract_code(reply, "add"), "def add(a, b):\n    return a + b\n");
  EXPECT_EQ(sanitize_code("@cache\ndef f(n):\n    return n\nMOD = 7\nclass A:\n    pass\n"),
            "@cache\ndef f(n):\n    return n\nMOD = 7\nclass A:\n    pass\n");
  EXPECT_EQ(sanitize_code("x = [1,\n2]\n"), "x = [1,\n2]\n");  // a bracket continues the line
  std::string match =
      "def f(c):\n    match c:\n        case 1:\n            return 2\nmatch x:\n    case _:\n        pass\n";
  EXPECT_EQ(sanitize_code(match), match);  // soft keywords are Python
  EXPECT_EQ(sanitize_code("Sure, this works.\nx, y = 1, 2\n"), "x, y = 1, 2\n");
}

TEST(EvalExtract, DefinesFunction) {
  EXPECT_TRUE(defines_function("import x\ndef f(a):\n  pass\n", "f"));
  EXPECT_TRUE(defines_function("async def f (a):\n  pass\n", "f"));
  EXPECT_FALSE(defines_function("def ff(a):\n  pass\n", "f"));
  EXPECT_FALSE(defines_function("class A:\n    def f(self):\n        pass\n", "f"));
}

TEST(EvalExtract, AssembleProgram) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite suite = humaneval();
  const Task& task = suite.tasks[0];
  Prompt completion = build_prompt(suite, task, {Style::Completion, 0});
  Prompt chat = build_prompt(suite, task, {Style::Instruct, 0});
  std::string full = task.prompt + task.reference;
  auto defs = [&](const std::string& code) { return count(code, "def has_close_elements("); };

  // Plain completion: prompt + completion.
  auto p = assemble_program(task, completion, task.reference);
  EXPECT_EQ(p.code, full);
  EXPECT_EQ(p.tests, task.tests);
  EXPECT_EQ(p.check, "check(has_close_elements)");
  // An echo of the prompt is not doubled.
  EXPECT_EQ(assemble_program(task, completion, full).code, full);
  // A re-stated signature replaces the prompt's function; imports stay.
  std::string restated = "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n" + task.reference;
  p = assemble_program(task, completion, restated);
  EXPECT_EQ(defs(p.code), 1u);
  EXPECT_TRUE(p.code.starts_with("from typing import List"));
  // Instruct: a fenced full function, a bare body, and an echo of the whole prompt.
  p = assemble_program(task, chat, "Here you go:\n```python\n" + restated + "```\nHope it helps!");
  EXPECT_EQ(defs(p.code), 1u);
  EXPECT_EQ(assemble_program(task, chat, task.reference).code, full);
  EXPECT_EQ(defs(assemble_program(task, chat, "```python\n" + full + "```").code), 1u);
}

TEST(EvalExtract, ExtractedProgramsRunUnderPython) {
  // The assembled programs must be the ones Python accepts and passes; this
  // runs them with plain python3 (not the sandbox; trusted code only).
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite suite = humaneval();
  const Task& task = suite.tasks[0];
  Prompt completion = build_prompt(suite, task, {Style::Completion, 0});
  Prompt chat = build_prompt(suite, task, {Style::Instruct, 0});
  PythonExecutor python;
  sandbox::Limits limits;
  std::string restated = "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n" + task.reference;
  std::vector<std::pair<Prompt*, std::string>> passing = {
      {&completion, task.reference},
      {&completion, restated},
      {&chat, "Sure! Here's the code:\n```python\n" + restated + "\nprint(has_close_elements([1.0], 0.5))\n```\nDone."},
      {&chat, "```python\n" + task.prompt + task.reference + "```"},
      {&chat, task.reference}};
  for (auto& [prompt, reply] : passing)
    EXPECT_EQ(python.run(assemble_program(task, *prompt, reply), limits).status, sandbox::Status::Passed) << reply;
  auto wrong =
      assemble_program(task, chat, "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```");
  EXPECT_EQ(python.run(wrong, limits).status, sandbox::Status::Failed);
  auto broken = assemble_program(task, completion, "    return (\n");
  EXPECT_EQ(python.run(broken, limits).status, sandbox::Status::SyntaxError);
}
