// Samples and suites in other tools' formats: human-eval's and EvalPlus's
// samples files, EvalPlus's folder layout, human-eval's results file, and a
// HumanEval-format JSONL given by path. The end-to-end cases run the `lcte`
// executable with the real sandbox and skip without it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/run_command.h"
#include "common/test_data.h"
#include "core/error.h"
#include "eval/executor.h"
#include "eval/samples_file.h"
#include "eval/session.h"
#include "eval/suite.h"
#include "eval/suite_backends.h"

namespace lcte::eval {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

GenerationRequest request(const std::string& task_id, std::vector<int> indices) {
  GenerationRequest r;
  r.task_id = task_id;
  r.sample_indices = std::move(indices);
  return r;
}

// Two tasks in HumanEval's own record shape.
std::string humaneval_format_suite(const std::string& dir) {
  json add = {{"task_id", "Mini/0"},
              {"prompt", "from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    \"\"\"Sum.\"\"\"\n"},
              {"canonical_solution", "    return a + b\n"},
              {"test", "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n"},
              {"entry_point", "add"}};
  json neg = {{"task_id", "Mini/1"},
              {"prompt", "def neg(x):\n    \"\"\"Minus x.\"\"\"\n"},
              {"canonical_solution", "    return -x\n"},
              {"test", "def check(candidate):\n    assert candidate(2) == -2\n"},
              {"entry_point", "neg"}};
  std::string path = dir + "/mini-humaneval.jsonl";
  write(path, add.dump() + "\n" + neg.dump() + "\n");
  return path;
}

Suite mini_suite(const std::string& dir) {
  DatasetLocations where;
  where.allow_download = false;
  return load_suite(humaneval_format_suite(dir), where);
}

TEST(SamplesFormats, HumanEvalFormatFileIsASuite) {
  std::string dir = testing::temp_dir();
  Suite suite = mini_suite(dir);
  EXPECT_EQ(suite.name, dir + "/mini-humaneval.jsonl");
  ASSERT_EQ(suite.tasks.size(), 2u);
  EXPECT_EQ(suite.tasks[0].task_id, "Mini/0");
  EXPECT_EQ(suite.tasks[0].reference, "    return a + b\n");
  EXPECT_EQ(suite.tasks[0].tests.rfind("def check(candidate):", 0), 0u);
  EXPECT_EQ(suite.tasks[0].check, "check(add)");
  EXPECT_EQ(suite.tasks[1].entry_point, "neg");
  // A record missing a field is named with its line.
  write(dir + "/broken.jsonl", R"({"task_id": "X/0", "prompt": "", "canonical_solution": "", "test": ""})"
                               "\n");
  DatasetLocations where;
  try {
    load_suite(dir + "/broken.jsonl", where);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jsonl:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("entry_point"), std::string::npos) << e.what();
  }
}

TEST(SamplesFormats, SolutionAndCompletionFields) {
  std::string dir = testing::temp_dir();
  Suite suite = mini_suite(dir);
  write(dir + "/samples.jsonl",
        R"({"task_id": "Mini/0", "solution": "def add(a, b):\n    return a + b\n"})"
        "\n"
        R"({"task_id": "Mini/0", "completion": "    return a - b\n"})"
        "\n"
        R"({"task_id": "Mini/1", "completion": "ignored", "solution": "def neg(x):\n    return -x\n"})"
        "\n");
  FileBackend backend(dir + "/samples.jsonl", suite);
  EXPECT_EQ(backend.available_samples("Mini/0"), 2);
  EXPECT_EQ(backend.available_samples("Mini/1"), 1);
  auto got = backend.generate(request("Mini/0", {0, 1}));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, "def add(a, b):\n    return a + b\n");
  EXPECT_EQ(got[1].text, "    return a - b\n");
  EXPECT_EQ(backend.generate(request("Mini/1", {0}))[0].text, "def neg(x):\n    return -x\n");  // solution wins

  write(dir + "/neither.jsonl", R"({"task_id": "Mini/0"})"
                                "\n"
                                R"({"task_id": "Mini/1", "text": "x"})"
                                "\n");
  try {
    FileBackend bad(dir + "/neither.jsonl", suite);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("neither.jsonl:1: missing field \"completion\" (human-eval) or \"solution\""),
              std::string::npos)
        << e.what();
  }
}

TEST(SamplesFormats, EvalPlusFolderLayout) {
  std::string dir = testing::temp_dir();
  Suite suite = mini_suite(dir);
  // Files in numeric order (10 after 2); folders named as EvalPlus names them.
  for (int i : {0, 1, 2, 10})
    write(dir + "/samples/Mini_0/" + std::to_string(i) + ".py", "# sample " + std::to_string(i) + "\n");
  write(dir + "/samples/Mini_1/0.py", "def neg(x):\n    return -x\n");
  write(dir + "/samples/Mini_1/notes.txt", "not a sample");
  std::vector<SampleRecord> records = read_samples(dir + "/samples");
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].task_id, "Mini/0");
  EXPECT_EQ(records[0].folder, "Mini_0");
  EXPECT_EQ(records[2].text, "# sample 2\n");
  EXPECT_EQ(records[3].text, "# sample 10\n");
  EXPECT_EQ(records[4].record["solution"], "def neg(x):\n    return -x\n");

  FileBackend backend(dir + "/samples", suite);
  EXPECT_EQ(backend.available_samples("Mini/0"), 4);
  EXPECT_EQ(backend.generate(request("Mini/0", {3}))[0].text, "# sample 10\n");
  EXPECT_EQ(backend.model(), "samples");

  // An id with an underscore of its own still finds its task by the folder name.
  Suite underscored = suite;
  underscored.tasks[1].task_id = "my_set/1";
  write(dir + "/under/my_set_1/0.py", "x = 1\n");
  FileBackend by_folder(dir + "/under", underscored);
  EXPECT_EQ(by_folder.available_samples("my_set/1"), 1);

  write(dir + "/stray/Other_9/0.py", "x = 1\n");
  try {
    FileBackend stray(dir + "/stray", suite);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Other_9/0.py: task_id \"Other/9\" is not in suite"), std::string::npos)
        << e.what();
  }
  // The folder's hash changes with any file's contents.
  std::string before = samples_sha256(dir + "/samples");
  write(dir + "/samples/Mini_0/2.py", "# changed\n");
  EXPECT_NE(samples_sha256(dir + "/samples"), before);
}

SampleRow row(const std::string& task, int index, bool passed, const std::string& status, const std::string& type = "",
              const std::string& message = "") {
  SampleRow r;
  r.task_id = task;
  r.sample_index = index;
  r.passed = passed;
  r.status = status;
  r.error_type = type;
  r.error_message = message;
  return r;
}

TEST(SamplesFormats, HumanEvalResultsFile) {
  std::string dir = testing::temp_dir();
  write(dir + "/samples.jsonl", R"({"task_id": "Mbpp/2", "completion": "a", "extra": 7})"
                                "\n"
                                R"({"task_id": "Mbpp/3", "completion": "b"})"
                                "\n"
                                R"({"task_id": 2, "completion": "c"})"
                                "\n"
                                R"({"task_id": "Mbpp/99", "completion": "not selected"})"
                                "\n"
                                R"({"task_id": "Mbpp/3", "completion": "d"})"
                                "\n");
  // Rows as the run store orders them (by task id as text).
  std::vector<SampleRow> rows = {row("Mbpp/2", 0, true, "passed"), row("Mbpp/2", 1, false, "timeout"),
                                 row("Mbpp/3", 0, false, "failed", "AssertionError"),
                                 row("Mbpp/3", 1, false, "error", "NameError", "name 'x' is not defined")};
  std::string out = human_eval_results_path(dir + "/run", dir + "/samples.jsonl");
  EXPECT_EQ(out, dir + "/run/samples.jsonl_results.jsonl");
  fs::create_directories(dir + "/run");
  EXPECT_EQ(write_human_eval_results(out, dir + "/samples.jsonl", rows), 4u);
  auto lines = read_jsonl(out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            json({{"task_id", "Mbpp/2"}, {"completion", "a"}, {"extra", 7}, {"result", "passed"}, {"passed", true}}));
  EXPECT_EQ(lines[1]["result"], "failed: AssertionError");
  EXPECT_EQ(lines[1]["completion"], "b");
  EXPECT_EQ(lines[2]["task_id"], 2);  // as written; the second sample of Mbpp/2
  EXPECT_EQ(lines[2]["result"], "timed out");
  EXPECT_EQ(lines[2]["passed"], false);
  EXPECT_EQ(lines[3]["result"], "failed: NameError: name 'x' is not defined");

  // Without a samples file (a generating backend): one line per row.
  EXPECT_EQ(human_eval_results_path(dir + "/run", ""), dir + "/run/samples.jsonl_results.jsonl");
  EXPECT_EQ(write_human_eval_results(out, "", rows), 4u);
  EXPECT_EQ(read_jsonl(out)[3]["completion"], "");
}

// --- the executable, with the sandbox ---

std::string lcte_exe() { return testing::lcte_binary(); }

TEST(SamplesFormatsCli, EvalPlusFolderAndHumanEvalResults) {
  if (!have_sandbox()) GTEST_SKIP() << "this build has no sandbox library: end-to-end test not run";
  std::string dir = testing::temp_dir();
  std::string suite = humaneval_format_suite(dir);
  write(dir + "/samples/Mini_0/0.py",
        "from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n");
  write(dir + "/samples/Mini_0/1.py", "def add(a, b):\n    return a * b\n");
  write(dir + "/samples/Mini_1/0.py", "def neg(x):\n    return -x\n");
  write(dir + "/samples/Mini_1/1.py", "def neg(x):\n    return x\n");
  auto r = testing::run_command(
      {lcte_exe(), "eval", "--suite", suite, "--backend", "file", "--samples", dir + "/samples", "--no-store", "--out",
       dir + "/runs", "--run-id", "folder", "--human-eval-results", "--json"},
      dir);
  if (r.exit_code != 0 && r.err.find("sandbox") != std::string::npos) GTEST_SKIP() << "no sandbox here: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json summary = json::parse(r.out);
  EXPECT_NE(r.err.find("samples_results.jsonl (4 samples"), std::string::npos) << r.err;
  EXPECT_DOUBLE_EQ(summary["pass_at_k"]["pass@1"].get<double>(), 0.5) << summary.dump();
  auto results = read_jsonl(dir + "/runs/folder/samples_results.jsonl");
  ASSERT_EQ(results.size(), 4u);
  std::vector<bool> passed;
  for (const auto& l : results) passed.push_back(l["passed"].get<bool>());
  EXPECT_EQ(passed, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(results[1]["result"].get<std::string>().rfind("failed: ", 0), 0u) << results[1].dump();
  EXPECT_EQ(results[0]["task_id"], "Mini/0");
}

TEST(SamplesFormatsCli, HumanEvalSamplesAndEvalPlusSolutions) {
  if (!have_sandbox()) GTEST_SKIP() << "this build has no sandbox library: end-to-end test not run";
  std::string dir = testing::temp_dir();
  std::string suite = humaneval_format_suite(dir);
  write(dir + "/he.jsonl", R"({"task_id": "Mini/0", "completion": "    return a + b\n"})"
                           "\n"
                           R"({"task_id": "Mini/1", "completion": "    return x\n"})"
                           "\n");
  write(dir + "/ep.jsonl", R"({"task_id": "Mini/0", "solution": "def add(a: int, b: int) -> int:\n    return b + a\n"})"
                           "\n"
                           R"({"task_id": "Mini/1", "solution": "def neg(x):\n    return 0 - x\n"})"
                           "\n");
  for (const auto& [file, expected] : std::vector<std::pair<std::string, std::vector<bool>>>{
           {"he.jsonl", {true, false}}, {"ep.jsonl", {true, true}}}) {
    auto r =
        testing::run_command({lcte_exe(), "eval", "--suite", suite, "--backend", "file", "--samples", dir + "/" + file,
                              "--no-store", "--out", dir + "/runs", "--run-id", file, "--human-eval-results"},
                             dir);
    if (r.exit_code != 0 && r.err.find("sandbox") != std::string::npos) GTEST_SKIP() << "no sandbox here: " << r.err;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto results = read_jsonl(dir + "/runs/" + file + "/" + file + "_results.jsonl");
    ASSERT_EQ(results.size(), 2u) << file;
    EXPECT_EQ(results[0]["passed"].get<bool>(), expected[0]) << file << ": " << results[0].dump();
    EXPECT_EQ(results[1]["passed"].get<bool>(), expected[1]) << file << ": " << results[1].dump();
    EXPECT_TRUE(results[0].contains(file == "he.jsonl" ? "completion" : "solution"));
  }
}

}  // namespace
}  // namespace lcte::eval
