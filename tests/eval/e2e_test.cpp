// End-to-end: the `lcte` executable and the real sandbox. Without the
// sandbox library in the build these skip and say so.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <numeric>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/test_data.h"
#include "core/error.h"
#include "eval/evalplus.h"
#include "eval/io.h"
#include "eval/run_database.h"
#include "eval/runner.h"
#include "eval/session.h"

using namespace lcte::eval;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

#define REQUIRE_SANDBOX() \
  if (!have_sandbox()) GTEST_SKIP() << "this build has no sandbox library (src/sandbox): end-to-end test not run"

struct Output {
  int exit_code = -1;
  std::string out, err;
};

// Runs `lcte args...` with LCTE_DATA_DIR set, capturing stdout and stderr.
Output run_lcte(const std::vector<std::string>& args, const std::string& dir) {
  std::string out_path = dir + "/stdout.txt", err_path = dir + "/stderr.txt";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("LCTE_DATA_DIR", lcte::testing::data_dir().c_str(), 1);
    FILE* out = std::freopen(out_path.c_str(), "w", stdout);
    FILE* err = std::freopen(err_path.c_str(), "w", stderr);
    (void)out;
    (void)err;
    std::vector<char*> argv{const_cast<char*>(LCTE_EXE)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(LCTE_EXE, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Output o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = read_file(out_path);
  o.err = read_file(err_path);
  return o;
}

std::map<SampleKey, std::string> rows_of(const std::string& run_dir) {
  std::map<SampleKey, std::string> out;
  for (const auto& row : RunDatabase::open(run_dir).rows())
    out[{row.task_id, row.sample_index}] = row.status + "|" + row.error_type + "|" + row.completion + "|" + row.code;
  return out;
}

}  // namespace

TEST(EvalE2E, CanonicalHumanEvalScoresOne) {
  REQUIRE_SANDBOX();
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = lcte::testing::temp_dir();
  auto o = run_lcte({"eval", "--suite", "humaneval", "--backend", "canonical", "--workers", "2", "--out", dir,
                     "--run-id", "he", "--json"},
                    dir);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  json summary = json::parse(o.out);
  EXPECT_EQ(summary["samples"], 164);
  EXPECT_EQ(summary["status_counts"]["passed"], 164) << summary["per_task"].dump();
  EXPECT_DOUBLE_EQ(summary["pass_at_k"]["pass@1"].get<double>(), 1.0);
  EXPECT_TRUE(fs::exists(dir + "/he/samples.csv"));
  EXPECT_EQ(json::parse(read_file(dir + "/he/summary.json"))["pass_at_k"], summary["pass_at_k"]);
}

// Weaker isolation is the user's choice by name, and every sample records
// what confined it (summary.json, samples.csv).
TEST(EvalE2E, IsolationIsChosenByNameAndRecorded) {
  REQUIRE_SANDBOX();
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = lcte::testing::temp_dir();
  // Each mode this machine supports runs and is what every sample records; a
  // mode it lacks (processes as root with an interpreter uid 65534 cannot
  // read, user namespaces switched off) is refused by name, never replaced.
  int ran = 0;
  for (std::string mode : {"processes", "user-namespaces", "namespaces"}) {
    auto o = run_lcte({"eval", "--suite", "humaneval", "--backend", "canonical", "--limit", "3", "--workers", "1",
                       "--isolation", mode, "--out", dir, "--run-id", mode, "--json", "--no-store"},
                      dir);
    if (o.exit_code != 0) {
      EXPECT_NE(o.err.find("sandbox: " + mode + " isolation does not work on this machine"), std::string::npos)
          << o.err;
      continue;
    }
    ++ran;
    json summary = json::parse(o.out);
    EXPECT_EQ(summary["status_counts"]["passed"], 3);
    EXPECT_EQ(summary["isolation"], json({{mode, 3}})) << summary.dump();
    for (const auto& row : RunDatabase::open(dir + "/" + mode).rows()) EXPECT_EQ(row.isolation, mode);
  }
  if (ran == 0) GTEST_SKIP() << "no isolation mode works on this machine";

  auto o = run_lcte({"eval", "--suite", "humaneval", "--backend", "canonical", "--limit", "1", "--isolation", "none",
                     "--out", dir, "--no-store"},
                    dir);
  EXPECT_NE(o.exit_code, 0);
  EXPECT_NE(o.err.find("--isolation"), std::string::npos) << o.err;
}

TEST(EvalE2E, KilledRunResumesToTheUninterruptedResult) {
  REQUIRE_SANDBOX();
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = lcte::testing::temp_dir();
  std::vector<std::string> args = {"eval", "--suite", "humaneval", "--backend", "canonical", "--limit", "60",
                                   "--n",  "2",       "--workers", "2",         "--out",     dir};
  const size_t total = 60 * 2;

  // Start a run and SIGKILL it once some rows are in.
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("LCTE_DATA_DIR", lcte::testing::data_dir().c_str(), 1);
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    std::vector<char*> argv{const_cast<char*>(LCTE_EXE)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    for (const char* a : {"--run-id", "killed"}) argv.push_back(const_cast<char*>(a));
    argv.push_back(nullptr);
    ::execv(LCTE_EXE, argv.data());
    ::_exit(127);
  }
  std::string killed = dir + "/killed";
  size_t rows_at_kill = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(killed + "/run.sqlite")) {
      try {
        rows_at_kill = RunDatabase::open(killed).count();
      } catch (const lcte::Error&) {
        rows_at_kill = 0;  // being created
      }
      if (rows_at_kill >= 30) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  size_t after_kill = RunDatabase::open(killed).count();
  ASSERT_GE(after_kill, 30u);
  ASSERT_LT(after_kill, total) << "killed too late to test anything";

  auto resumed = run_lcte({"eval", "--resume", killed, "--json"}, dir);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  json summary = json::parse(resumed.out);
  EXPECT_EQ(summary["samples"], total);
  EXPECT_EQ(summary["timings"]["session_samples"], total - after_kill);  // nothing redone

  auto clean_args = args;
  clean_args.insert(clean_args.end(), {"--run-id", "clean", "--json"});
  auto clean = run_lcte(clean_args, dir);
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  auto a = rows_of(killed), b = rows_of(dir + "/clean");
  EXPECT_EQ(a.size(), total);
  EXPECT_EQ(a, b);
  EXPECT_EQ(json::parse(clean.out)["pass_at_k"], summary["pass_at_k"]);

  // Resuming with another configuration is refused.
  auto refused = run_lcte({"eval", "--resume", killed, "--n", "3"}, dir);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("refusing to resume"), std::string::npos) << refused.err;
}

TEST(EvalE2E, MalformedInputsGiveClearErrors) {
  // These fail before any sample runs, so they need no sandbox.
  std::string dir = lcte::testing::temp_dir();
  std::ofstream(dir + "/suite.jsonl")
      << "{\"task_id\": \"a\", \"prompt\": \"p\", \"tests\": \"t\", \"entry_point\": \"f\"}\n"
      << "{\"task_id\": \"b\", \"prompt\": \"p\", \"tests\": \"t\"\n";
  auto o = run_lcte({"eval", "--suite", dir + "/suite.jsonl", "--backend", "canonical", "--out", dir + "/runs"}, dir);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("suite.jsonl:2: invalid JSON"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(dir + "/runs"));  // no run directory for a run that cannot start

  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::ofstream(dir + "/samples.jsonl") << "{\"task_id\": \"HumanEval/0\", \"completion\": \"x\"}\n"
                                        << "{\"task_id\": \"HumanEval/0\"}\n";
  o = run_lcte({"eval", "--suite", "humaneval", "--backend", "file", "--samples", dir + "/samples.jsonl", "--out",
                dir + "/runs"},
               dir);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("samples.jsonl:2: missing field \"completion\""), std::string::npos) << o.err;

  o = run_lcte({"eval", "--suite", "humaneval", "--backend", "canonical", "--bogus"}, dir);
  EXPECT_NE(o.exit_code, 0);
  o = run_lcte({"eval", "--suite", "humaneval", "--backend", "canonical", "--k", "1,x"}, dir);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("--k"), std::string::npos) << o.err;
  o = run_lcte({"eval", "--suite", "humaneval", "--backend", "engine", "--prefill-chunk", "-3"}, dir);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("prefill chunk -3 is out of range"), std::string::npos) << o.err;
}

namespace {

struct Rows final : SampleSink {
  std::mutex mutex;
  std::vector<SampleRow> rows;
  void write(const SampleRow& row) override {
    std::lock_guard lock(mutex);
    rows.push_back(row);
  }
};

// Reference solutions through the real sandbox; returns what did not pass.
std::string canonical_failures(const Suite& suite, const std::vector<size_t>& selection, double seconds = 30) {
  std::vector<PlanItem> plan;
  for (size_t index : selection) plan.push_back({index, 1});
  CanonicalBackend backend(suite);
  lcte::sandbox::Options sandbox_options;
  sandbox_options.python = resolve_python();
  auto executor = make_sandbox_executor(sandbox_options);
  Rows sink;
  RunnerOptions options;
  options.workers = 2;
  // Generous: a loaded 2-core machine stretches wall time (Mbpp/123 needs 5.5 s of CPU).
  options.limits.wall_seconds = options.limits.cpu_seconds = seconds;
  run_plan(suite, plan, {}, backend, *executor, sink, options);
  EXPECT_EQ(sink.rows.size(), selection.size());
  std::string failures;
  for (const auto& row : sink.rows)
    if (!row.passed) failures += row.task_id + " " + row.status + " " + row.error_type + " " + row.error_message + "\n";
  return failures;
}

}  // namespace

TEST(EvalE2E, MbppReferencesPassInTheSandbox) {
  REQUIRE_SANDBOX();
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  Suite suite = load_mbpp(lcte::testing::data_path("mbpp/mbpp.jsonl"));
  // Every task: what crosses between judge and sample (plain data, handles,
  // builtin classes as arguments) must keep every reference's meaning.
  std::vector<size_t> all(suite.tasks.size());
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(suite.tasks.size(), 974u);
  EXPECT_EQ(canonical_failures(suite, all), "");
}

TEST(EvalE2E, MbppPlusReferencesPassUnderEvalPlusRules) {
  REQUIRE_SANDBOX();
  LCTE_REQUIRE_DATA("evalplus/MbppPlus-v0.1.0.json");
  // What is checked is that every reference's outputs survive the crossing
  // and the comparison; the 1 s floor of EvalPlus's per-input limits is for an
  // idle machine (Mbpp/301 has taken over 1 s for one call while other tests
  // ran), so the floor is raised as EvalPlus users do on a busy machine.
  // EvalPlusRulesDecideAsEvalPlusDoes checks the limits themselves.
  Suite suite = load_evalplus(lcte::testing::data_path("evalplus/MbppPlus-v0.1.0.json"), "mbpp+", {10.0, 4.0});
  EXPECT_EQ(suite.tasks.size(), 399u);
  std::vector<size_t> all(suite.tasks.size());
  std::iota(all.begin(), all.end(), 0);
  // Mbpp/255's plus inputs make 2 million tuples (9 s of CPython on an idle
  // core, computed by both the sample and the judge's reference, compared by
  // digest): on a 2-core machine running other tests it has taken over 120 s
  // of wall time. The per-input limits from the reference run decide the
  // verdict; this whole-task limit is only the ceiling against a hang.
  EXPECT_EQ(canonical_failures(suite, all, 600), "");
}

// Wrong answers under EvalPlus's rules: right on the base inputs but wrong
// on a plus input; off by more than atol; too slow for an input; and the
// find_zero oracle, which accepts any root.
TEST(EvalE2E, EvalPlusRulesDecideAsEvalPlusDoes) {
  REQUIRE_SANDBOX();
  std::string dir = lcte::testing::temp_dir();
  std::string path = dir + "/plus.jsonl";
  {
    std::ofstream out(path);
    out << R"({"task_id": "HumanEval/0", "prompt": "def half(x):\n", "entry_point": "half", "canonical_solution": "    return x / 2\n", "base_input": [[2], [4]], "plus_input": [[1e300], [-Infinity], [3]], "atol": 0})"
        << "\n";
    out << R"({"task_id": "HumanEval/32", "prompt": "import math\ndef poly(xs, x):\n    return sum([c * math.pow(x, i) for i, c in enumerate(xs)])\ndef find_zero(xs):\n", "entry_point": "find_zero", "canonical_solution": "    return -xs[0] / xs[1]\n", "base_input": [[[2, 4]]], "plus_input": [[[-6, 11, -6, 1]]], "atol": 1e-4})"
        << "\n";
    out << R"({"task_id": "HumanEval/7", "prompt": "def big(n):\n", "entry_point": "big", "canonical_solution": "    return n ** 30\n", "base_input": [[9999999999999999999999999]], "plus_input": [], "atol": 0})"
        << "\n";
  }
  Suite suite = load_evalplus(path, path);
  ASSERT_EQ(suite.tasks.size(), 3u);
  lcte::sandbox::Options options;
  options.python = resolve_python();
  auto executor = make_sandbox_executor(options);
  lcte::sandbox::Limits limits;
  limits.wall_seconds = limits.cpu_seconds = 30;
  auto run = [&](size_t task, const std::string& body) {
    const Task& t = suite.tasks[task];
    return executor->run({t.setup, t.prompt + body, t.tests, t.check, t.context}, limits);
  };
  using lcte::sandbox::Status;
  EXPECT_EQ(run(0, "    return x / 2\n").status, Status::Passed);
  // Float answers within 1e-6 (EvalPlus's atol for float outputs) pass.
  EXPECT_EQ(run(0, "    return x / 2 + 1e-9 if abs(x) < 1e10 else x / 2\n").status, Status::Passed);
  auto off = run(0, "    return x / 2 + 1e-3\n");
  EXPECT_EQ(off.status, Status::Failed) << off.error_message;
  auto plus_only = run(0, "    return x / 2 if x in (2, 4) else 0\n");
  EXPECT_EQ(plus_only.status, Status::Failed);
  EXPECT_NE(plus_only.error_message.find("plus input 1 of 3"), std::string::npos) << plus_only.error_message;
  auto slow = run(0, "    import time\n    time.sleep(3)\n    return x / 2\n");
  EXPECT_EQ(slow.status, Status::Timeout) << slow.error_message;
  EXPECT_EQ(slow.error_type, "TimeLimit");
  // A raised floor (EvalPlus's --min-time-limit) lets a 1.5 s call through;
  // the default floor of 1 s does not.
  const std::string sleeper = "    import time\n    time.sleep(1.5)\n    return x / 2\n";
  EXPECT_EQ(run(0, sleeper).status, Status::Timeout);
  Suite lenient = load_evalplus(path, path, {3.0, 4.0});
  const Task& t0 = lenient.tasks[0];
  auto slept = executor->run({t0.setup, t0.prompt + sleeper, t0.tests, t0.check, t0.context}, limits);
  EXPECT_EQ(slept.status, Status::Passed) << slept.error_message;
  EXPECT_THROW(load_evalplus(path, path, {0.0, 4.0}), lcte::Error);
  EXPECT_THROW(load_evalplus(path, path, {1.0, -1.0}), lcte::Error);
  // Any root passes find_zero; a non-root does not.
  EXPECT_EQ(run(1,
                "    lo, hi = -100.0, 100.0\n    for _ in range(200):\n        mid = (lo + hi) / 2\n"
                "        if poly(xs, lo) * poly(xs, mid) <= 0:\n            hi = mid\n        else:\n"
                "            lo = mid\n    return lo\n")
                .status,
            Status::Passed);
  EXPECT_EQ(run(1, "    return 0.5\n").status, Status::Failed);
  // Integers past 64 bits keep their value on the way in and out.
  EXPECT_EQ(run(2, "    return n ** 30\n").status, Status::Passed);
  EXPECT_EQ(run(2, "    return n ** 30 + 1\n").status, Status::Failed);
}

TEST(EvalE2E, MbppSanitizedReferencesPassInTheSandbox) {
  REQUIRE_SANDBOX();
  LCTE_REQUIRE_DATA("mbpp/sanitized-mbpp.json");
  Suite suite = load_mbpp_sanitized(lcte::testing::data_path("mbpp/sanitized-mbpp.json"));
  std::vector<size_t> all(suite.tasks.size());
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(suite.tasks.size(), 427u);
  EXPECT_EQ(canonical_failures(suite, all), "");
}

TEST(EvalE2E, FixSuiteThroughTheCli) {
  REQUIRE_SANDBOX();
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = lcte::testing::temp_dir();
  // Bugs are confirmed in the sandbox; the canonical answer (the original
  // reference) then fixes every one of them, in both prompt styles.
  for (const char* style : {"completion", "instruct"}) {
    auto o = run_lcte({"eval", "--suite", "humaneval-fix", "--backend", "canonical", "--limit", "6", "--style", style,
                       "--workers", "2", "--out", dir, "--run-id", std::string("fix-") + style, "--json"},
                      dir);
    ASSERT_EQ(o.exit_code, 0) << o.err;
    json summary = json::parse(o.out);
    EXPECT_GE(summary["tasks"].get<int>(), 5) << summary.dump();
    EXPECT_DOUBLE_EQ(summary["pass_at_k"]["pass@1"].get<double>(), 1.0) << summary["per_task"].dump();
    for (const auto& task : summary["per_task"]) EXPECT_FALSE(task.value("mutation", "").empty());
  }
}

TEST(EvalE2E, ChatRepliesFromASamplesFile) {
  REQUIRE_SANDBOX();
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = lcte::testing::temp_dir();
  std::string good =
      "Sure! Here is the function:\n\n```python\nfrom typing import List\n\n"
      "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
      "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n"
      "```\n\nIt compares every pair.";
  std::string wrong = "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```";
  std::string broken = "```python\ndef has_close_elements(numbers, threshold):\n    return (\n```";
  {
    std::ofstream samples(dir + "/samples.jsonl");
    for (const auto& completion : {good, wrong, broken, good})
      samples << json{{"task_id", "HumanEval/0"}, {"completion", completion}}.dump() << "\n";
  }
  auto o =
      run_lcte({"eval", "--suite", "humaneval", "--backend", "file", "--samples", dir + "/samples.jsonl", "--tasks",
                "HumanEval/0", "--style", "instruct", "--k", "1,2,5", "--out", dir, "--run-id", "chat", "--json"},
               dir);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  json summary = json::parse(o.out);
  EXPECT_EQ(summary["samples"], 4);
  EXPECT_EQ(summary["status_counts"]["passed"], 2);
  EXPECT_EQ(summary["status_counts"]["failed"], 1);
  EXPECT_EQ(summary["status_counts"]["syntax_error"], 1);
  EXPECT_DOUBLE_EQ(summary["pass_at_k"]["pass@1"].get<double>(), 0.5);
  EXPECT_NEAR(summary["pass_at_k"]["pass@2"].get<double>(), 1.0 - 1.0 / 6.0, 1e-12);  // 1 - C(2,2)/C(4,2)
  EXPECT_TRUE(summary["pass_at_k"]["pass@5"].is_null());
}
