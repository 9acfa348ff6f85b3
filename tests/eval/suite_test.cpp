#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "common/error_of.h"
#include "common/test_data.h"
#include "core/error.h"
#include "eval/suite.h"

using namespace lcte::eval;

namespace {

using lcte::testing::error_of;

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = lcte::testing::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST(EvalSuite, HumanEvalLoads) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite suite = load_humaneval(lcte::testing::data_path("humaneval/HumanEval.jsonl.gz"));
  ASSERT_EQ(suite.tasks.size(), 164u);
  for (size_t i = 0; i < suite.tasks.size(); i++) {
    const Task& task = suite.tasks[i];
    EXPECT_EQ(task.task_id, "HumanEval/" + std::to_string(i));
    EXPECT_EQ(task.number, int(i));
    EXPECT_EQ(task.check, "check(" + task.entry_point + ")");
    EXPECT_NE(task.prompt.find("def " + task.entry_point + "("), std::string::npos) << task.task_id;
    EXPECT_FALSE(task.reference.empty());
  }
  // The context keeps what the target function needs from the prompt: its
  // helper (encode_cyclic) and imports, but not the target itself.
  const Task& cyclic = suite.tasks[38];
  EXPECT_EQ(cyclic.entry_point, "decode_cyclic");
  EXPECT_NE(cyclic.context.find("def encode_cyclic("), std::string::npos);
  EXPECT_EQ(cyclic.context.find("def decode_cyclic("), std::string::npos);
  EXPECT_EQ(suite.tasks[0].context, "from typing import List\n\n\n");
}

TEST(EvalSuite, MbppLoadsWithQuirksHandled) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  Suite suite = load_mbpp(lcte::testing::data_path("mbpp/mbpp.jsonl"));
  ASSERT_EQ(suite.tasks.size(), 974u);
  int with_challenge = 0;
  for (size_t i = 0; i < suite.tasks.size(); i++) {
    const Task& task = suite.tasks[i];
    EXPECT_EQ(task.number, int(i + 1));
    EXPECT_EQ(task.task_id, "Mbpp/" + std::to_string(i + 1));
    EXPECT_EQ(task.reference.find('\r'), std::string::npos) << task.task_id << ": CRLF left in the code";
    EXPECT_EQ(task.test_list.size(), 3u);
    // The entry point is a function the reference defines and the tests call.
    EXPECT_NE(task.reference.find("def " + task.entry_point), std::string::npos) << task.task_id;
    EXPECT_NE(task.tests.find(task.entry_point + "("), std::string::npos) << task.task_id;
    EXPECT_TRUE(task.prompt.starts_with("\"\"\"\n" + task.description + "\n")) << task.task_id;
    with_challenge += task.challenge_tests.empty() ? 0 : 1;
  }
  EXPECT_EQ(with_challenge, 11);  // SOURCES.md: 11, 16, 20, 23, 25, 26, 28, 42, 43, 44, 47
  EXPECT_EQ(suite.tasks[1].entry_point, "similar_elements");
  // test_setup_code builds objects from the solution's classes, so it runs
  // after the code: in front of the asserts, not in setup.
  for (int number : {367, 927}) {
    const Task& task = suite.tasks[size_t(number - 1)];
    EXPECT_TRUE(task.setup.empty());
    EXPECT_TRUE(task.tests.starts_with("root = Node(1)")) << task.tests.substr(0, 40);
    EXPECT_EQ(task.tests.find('\r'), std::string::npos);
  }
}

TEST(EvalSuite, MbppSanitizedLoads) {
  LCTE_REQUIRE_DATA("mbpp/sanitized-mbpp.json");
  Suite suite = load_mbpp_sanitized(lcte::testing::data_path("mbpp/sanitized-mbpp.json"));
  ASSERT_EQ(suite.tasks.size(), 427u);
  int with_imports = 0;
  for (const Task& task : suite.tasks) {
    if (!task.setup.empty()) with_imports++;
    EXPECT_NE(task.tests.find(task.entry_point + "("), std::string::npos) << task.task_id;
  }
  EXPECT_EQ(with_imports, 13);  // SOURCES.md: 13 tasks have test_imports
  long index = find_task(suite, "Mbpp/82");
  ASSERT_GE(index, 0);
  EXPECT_EQ(suite.tasks[size_t(index)].setup, "import math\n");
  EXPECT_EQ(find_task(suite, "82"), index);
  EXPECT_EQ(find_task(suite, "Mbpp/1"), -1);  // not in the sanitized subset
}

TEST(EvalSuite, StandardMbppSplits) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  Suite suite = load_mbpp(lcte::testing::data_path("mbpp/mbpp.jsonl"));
  EXPECT_EQ(select_split(suite, Split::Prompt).size(), 10u);
  EXPECT_EQ(select_split(suite, Split::Test).size(), 500u);
  EXPECT_EQ(select_split(suite, Split::Validation).size(), 90u);
  EXPECT_EQ(select_split(suite, Split::Train).size(), 374u);
  EXPECT_EQ(select_split(suite, Split::All).size(), 974u);
  auto test = select_split(suite, Split::Test);
  EXPECT_EQ(suite.tasks[test.front()].task_id, "Mbpp/11");
  EXPECT_EQ(suite.tasks[test.back()].task_id, "Mbpp/510");
}

TEST(EvalSuite, SeededCustomSplitPartitions) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  Suite suite = load_mbpp(lcte::testing::data_path("mbpp/mbpp.jsonl"));
  CustomSplit custom = parse_custom_split("800/100/74", 7);
  auto train = select_split(suite, Split::Train, custom);
  auto validation = select_split(suite, Split::Validation, custom);
  auto test = select_split(suite, Split::Test, custom);
  EXPECT_EQ(train.size(), 800u);
  EXPECT_EQ(validation.size(), 100u);
  EXPECT_EQ(test.size(), 74u);
  std::set<size_t> all(train.begin(), train.end());
  all.insert(validation.begin(), validation.end());
  all.insert(test.begin(), test.end());
  EXPECT_EQ(all.size(), 974u);                                // disjoint and covering
  EXPECT_EQ(select_split(suite, Split::Test, custom), test);  // same seed, same split
  auto other = select_split(suite, Split::Test, parse_custom_split("800/100/74", 8));
  EXPECT_NE(other, test);
  EXPECT_TRUE(std::is_sorted(test.begin(), test.end()));
  EXPECT_NE(error_of([&] { select_split(suite, Split::Test, parse_custom_split("900/100/74", 1)); }).find("974"),
            std::string::npos);
  EXPECT_THROW(parse_custom_split("800/100", 1), lcte::Error);
  EXPECT_THROW(parse_custom_split("800/-1/74", 1), lcte::Error);
}

TEST(EvalSuite, TaskSelection) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Suite suite = load_humaneval(lcte::testing::data_path("humaneval/HumanEval.jsonl.gz"));
  auto all = select_split(suite, Split::Test);
  EXPECT_EQ(all.size(), 164u);
  EXPECT_EQ(select_tasks(suite, all, {}, 5).size(), 5u);
  auto picked = select_tasks(suite, all, {"HumanEval/7", "HumanEval/3"}, 0);
  ASSERT_EQ(picked.size(), 2u);
  EXPECT_EQ(picked[0], 3u);  // suite order
  EXPECT_EQ(picked[1], 7u);
  EXPECT_NE(error_of([&] { select_tasks(suite, all, {"HumanEval/999"}, 0); }).find("HumanEval/999"), std::string::npos);
  EXPECT_THROW(select_split(suite, Split::Train), lcte::Error);  // HumanEval has no train split
  EXPECT_THROW(parse_split("bogus"), lcte::Error);
}

TEST(EvalSuite, UserJsonlSuite) {
  std::string path = write_temp("mine.jsonl",
                                "{\"task_id\": \"t/1\", \"prompt\": \"def add(a, b):\\n\", \"tests\": "
                                "\"def check(f):\\n    assert f(1, 2) == 3\\n\", \"entry_point\": \"add\", "
                                "\"reference\": \"    return a + b\\n\", \"extra\": 1}\n"
                                "\n"
                                "{\"task_id\": \"t/2\", \"prompt\": \"import math\\ndef r(x):\\n\", \"tests\": "
                                "\"assert r(4) == 2\\n\", \"entry_point\": \"r\"}\n");
  Suite suite = load_jsonl_suite(path);
  ASSERT_EQ(suite.tasks.size(), 2u);
  EXPECT_EQ(suite.tasks[0].check, "check(add)");  // tests define check()
  EXPECT_EQ(suite.tasks[1].check, "");            // plain asserts
  EXPECT_EQ(suite.tasks[1].context, "import math\n");
  EXPECT_EQ(suite.tasks[0].reference, "    return a + b\n");
  Suite by_name = load_suite(path, {});
  EXPECT_EQ(by_name.tasks.size(), 2u);
}

TEST(EvalSuite, MalformedFilesNameTheLine) {
  std::string good = "{\"task_id\": \"a\", \"prompt\": \"p\", \"tests\": \"t\", \"entry_point\": \"f\"}\n";
  std::string bad_json = write_temp("bad.jsonl", good + "\n{\"task_id\": \"b\", \"prompt\": \n");
  std::string message = error_of([&] { load_jsonl_suite(bad_json); });
  EXPECT_NE(message.find("bad.jsonl:3"), std::string::npos) << message;
  EXPECT_NE(message.find("invalid JSON"), std::string::npos) << message;

  std::string missing =
      write_temp("missing.jsonl", good + "{\"task_id\": \"b\", \"prompt\": \"p\", \"tests\": \"t\"}\n");
  message = error_of([&] { load_jsonl_suite(missing); });
  EXPECT_NE(message.find("missing.jsonl:2"), std::string::npos) << message;
  EXPECT_NE(message.find("entry_point"), std::string::npos) << message;

  std::string wrong_type =
      write_temp("type.jsonl", "{\"task_id\": 5, \"prompt\": \"p\", \"tests\": \"t\", \"entry_point\": \"f\"}\n");
  message = error_of([&] { load_jsonl_suite(wrong_type); });
  EXPECT_NE(message.find("type.jsonl:1"), std::string::npos) << message;
  EXPECT_NE(message.find("task_id"), std::string::npos) << message;

  std::string not_object = write_temp("array.jsonl", "[1, 2]\n");
  EXPECT_NE(error_of([&] { load_jsonl_suite(not_object); }).find("array.jsonl:1"), std::string::npos);

  std::string duplicate = write_temp("dup.jsonl", good + good);
  EXPECT_NE(error_of([&] { load_jsonl_suite(duplicate); }).find("duplicate task_id \"a\""), std::string::npos);

  EXPECT_NE(error_of([&] { load_jsonl_suite(write_temp("empty.jsonl", "\n\n")); }).find("no tasks"), std::string::npos);

  std::string mbpp = write_temp("mbpp.jsonl",
                                "{\"task_id\": 1, \"text\": \"x\", \"code\": \"def f(): pass\", \"test_list\": "
                                "[\"assert f() is None\"]}\n{\"task_id\": 2, \"text\": \"x\", \"code\": \"def g(): "
                                "pass\", \"test_list\": [3]}\n");
  message = error_of([&] { load_mbpp(mbpp); });
  EXPECT_NE(message.find("mbpp.jsonl:2"), std::string::npos) << message;
  EXPECT_NE(message.find("test_list"), std::string::npos) << message;

  std::string sanitized = write_temp("san.json", "[{\"task_id\": 2, \"prompt\": \"x\", \"code\": \"def f(): pass\"}]");
  message = error_of([&] { load_mbpp_sanitized(sanitized); });
  EXPECT_NE(message.find("record 0"), std::string::npos) << message;
  EXPECT_NE(message.find("test_list"), std::string::npos) << message;

  EXPECT_NE(error_of([&] { load_suite("nonsense", {}); }).find("unknown suite"), std::string::npos);
}

TEST(EvalSuite, EntryPointInference) {
  EXPECT_EQ(infer_entry_point("def helper(x):\n  return x\ndef main_fn(y):\n  return helper(y)\n",
                              "assert main_fn(3) == 3\n"),
            "main_fn");
  EXPECT_EQ(infer_entry_point("import math\ndef area(r):\n  return r\n", "assert math.isclose(area(1), 1)\n"), "area");
  EXPECT_EQ(prompt_context("import x\n\ndef f(a):\n    \"\"\"doc\"\"\"\n", "f"), "import x\n\n");
  EXPECT_EQ(prompt_context("def ff(a):\n", "f"), "");
}
