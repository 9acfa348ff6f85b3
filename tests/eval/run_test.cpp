#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/test_data.h"
#include "core/error.h"
#include "eval/io.h"
#include "eval/run_database.h"
#include "eval/run_outputs.h"
#include "eval/runner.h"
#include "eval/session.h"
#include "fake_executor.h"

using namespace lcte::eval;
namespace sandbox = lcte::sandbox;

using lcte::eval::testing::FakeExecutor;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// RFC 4180 reader, written for the test: fields may be quoted and hold
// commas, doubled quotes and newlines.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        i++;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (c == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
    } else {
      field += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

struct MemorySink final : SampleSink {
  std::mutex mutex;
  std::vector<SampleRow> rows;
  void write(const SampleRow& row) override {
    std::lock_guard lock(mutex);
    rows.push_back(row);
  }
};

// A three-task user suite and a samples file with three samples each.
struct Fixture {
  std::string dir = lcte::testing::temp_dir();
  std::string suite_path = dir + "/suite.jsonl";
  std::string samples_path = dir + "/samples.jsonl";
  Fixture() {
    std::ofstream suite(suite_path);
    for (const char* id : {"t/a", "t/b", "t/c"})
      suite << json{{"task_id", id},
                    {"prompt", "def f():\n"},
                    {"tests", "assert f()\n"},
                    {"entry_point", "f"},
                    {"reference", "    return 'PASS'\n"}}
                   .dump()
            << "\n";
    std::ofstream samples(samples_path);
    std::vector<std::pair<std::string, std::string>> lines = {{"t/a", "    return 'PASS', \"quoted\"\n    # line2"},
                                                              {"t/b", "    return 0"},
                                                              {"t/a", "    return 1"},
                                                              {"t/c", "    return 'PASS'"},
                                                              {"t/b", "    return 2"},
                                                              {"t/a", "    return 'PASS'"},
                                                              {"t/c", "    return 'PASS'"},
                                                              {"t/c", "    SYNTAX("},
                                                              {"t/b", "    return 3"}};
    for (auto& [id, completion] : lines)
      samples << json{{"task_id", id}, {"completion", completion}, {"ignored", 1}}.dump() << "\n";
  }
  EvalConfig config() const {
    EvalConfig c;
    c.suite = suite_path;
    c.backend = "file";
    c.samples_file = samples_path;
    c.k = {1, 2, 5};
    return c;
  }
  SessionOptions options(Executor* executor, int workers = 2) const {
    SessionOptions o;
    o.out_dir = dir + "/runs";
    o.executor = executor;
    o.workers = workers;
    o.where = {};
    return o;
  }
};

std::map<SampleKey, std::string> keyed(const std::vector<SampleRow>& rows) {
  std::map<SampleKey, std::string> out;
  for (const auto& row : rows) out[{row.task_id, row.sample_index}] = row.status + "|" + row.completion;
  return out;
}

}  // namespace

TEST(EvalRunStore, PersistsRowsAndConfig) {
  std::string dir = lcte::testing::temp_dir() + "/run";
  json config = {{"suite", "x"}, {"n", 2}};
  {
    RunDatabase store = RunDatabase::create(dir, config);
    SampleRow row;
    row.task_id = "t/1";
    row.sample_index = 1;
    row.status = "passed";
    row.passed = true;
    row.completion = "a,\"b\"\nc";
    row.time_to_first_token_s = kUnknown;
    row.latency_s = 0.25;
    store.write(row);
    row.sample_index = 0;
    store.write(row);
    EXPECT_THROW(store.write(row), lcte::Error);  // (task_id, sample_index) is unique
    EXPECT_THROW(RunDatabase::create(dir, config), lcte::Error);
  }
  RunDatabase store = RunDatabase::open(dir);
  EXPECT_EQ(store.config(), config);
  EXPECT_EQ(store.count(), 2u);
  EXPECT_EQ(store.finished(), (std::set<SampleKey>{{"t/1", 0}, {"t/1", 1}}));
  auto rows = store.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].completion, "a,\"b\"\nc");
  EXPECT_TRUE(std::isnan(rows[0].time_to_first_token_s));
  EXPECT_DOUBLE_EQ(rows[0].latency_s, 0.25);
  EXPECT_EQ(rows[0].prompt_tokens, -1);
  EXPECT_THROW(RunDatabase::open(lcte::testing::temp_dir() + "/nothing"), lcte::Error);
  // WAL mode, so readers do not block the writer.
  EXPECT_TRUE(fs::exists(dir + "/run.sqlite-wal") || store.meta("schema_version") == "2");
}

TEST(EvalRunStore, UpgradesASchemaOneRunAndRecordsIsolation) {
  // A run database as lcte wrote it before samples recorded their isolation.
  std::string dir = lcte::testing::temp_dir();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/run.sqlite").c_str(), &db), SQLITE_OK);
    const char* v1 =
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE samples (task_id TEXT NOT NULL, sample_index INTEGER NOT NULL, status TEXT NOT NULL, "
        "passed INTEGER NOT NULL, error_type TEXT, error_message TEXT, prompt_tokens INTEGER, "
        "completion_tokens INTEGER, ttft_s REAL, tpot_s REAL, latency_s REAL, exec_s REAL, completion TEXT NOT NULL, "
        "code TEXT NOT NULL, finished_at TEXT NOT NULL, PRIMARY KEY (task_id, sample_index));"
        "INSERT INTO meta VALUES ('schema_version', '1'), ('config', '{}');"
        "INSERT INTO samples VALUES ('t/1', 0, 'passed', 1, '', '', NULL, NULL, NULL, NULL, 0, 0.1, 'c', 'x', 'now');";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  RunDatabase store = RunDatabase::open(dir);
  EXPECT_EQ(store.meta("schema_version"), "2");
  SampleRow row;
  row.task_id = "t/1";
  row.sample_index = 1;
  row.status = "failed";
  row.isolation = "namespaces";
  row.notes = "redefined=poly";
  store.write(row);
  auto rows = store.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].isolation, "");  // from before: unknown
  EXPECT_EQ(rows[1].isolation, "namespaces");
  EXPECT_EQ(rows[1].notes, "redefined=poly");
  // Reopening an upgraded database changes nothing.
  EXPECT_EQ(RunDatabase::open(dir).rows().size(), 2u);
}

TEST(EvalRunner, ExecutesEverySampleOnceAndSkipsFinished) {
  Fixture fx;
  Suite suite = load_jsonl_suite(fx.suite_path);
  CanonicalBackend backend(suite);
  FakeExecutor executor;
  MemorySink sink;
  std::vector<PlanItem> plan = {{0, 4}, {1, 4}, {2, 4}};
  RunnerOptions options;
  options.workers = 3;
  size_t last_done = 0;
  std::mutex mutex;
  auto progress = [&](const Progress& p) {
    std::lock_guard lock(mutex);
    EXPECT_EQ(p.total, 12u);
    last_done = std::max(last_done, p.done);
  };
  std::set<SampleKey> finished = {{"t/a", 0}, {"t/c", 3}};
  RunnerStats stats = run_plan(suite, plan, finished, backend, executor, sink, options, progress);
  EXPECT_EQ(stats.executed, 10u);
  EXPECT_EQ(stats.skipped, 2u);
  EXPECT_EQ(last_done, 12u);
  EXPECT_EQ(executor.calls(), 10);
  auto rows = keyed(sink.rows);
  EXPECT_EQ(rows.size(), 10u);
  EXPECT_EQ(rows.count({"t/a", 0}), 0u);
  EXPECT_EQ(rows.count({"t/c", 3}), 0u);
  for (const auto& row : sink.rows) {
    EXPECT_EQ(row.status, "passed");
    EXPECT_EQ(row.code, "def f():\n    return 'PASS'\n");  // prompt + reference
  }
}

TEST(EvalRunner, WorkerErrorStopsTheRunAndPropagates) {
  Fixture fx;
  Suite suite = load_jsonl_suite(fx.suite_path);
  CanonicalBackend backend(suite);
  FakeExecutor executor(/*fail_after=*/5);
  MemorySink sink;
  RunnerOptions options;
  options.workers = 2;
  EXPECT_THROW(run_plan(suite, {{0, 10}, {1, 10}, {2, 10}}, {}, backend, executor, sink, options), std::runtime_error);
  EXPECT_EQ(sink.rows.size(), 5u);  // what finished before the failure was written
}

TEST(EvalSession, FileBackendRunWritesCsvAndSummary) {
  Fixture fx;
  FakeExecutor executor;
  SessionOptions options = fx.options(&executor);
  options.run_id = "first";
  SessionResult result = run_eval(fx.config(), options);
  EXPECT_EQ(result.run_dir, fx.dir + "/runs/first");
  EXPECT_EQ(executor.calls(), 9);
  const json& s = result.summary;
  // t/a: 2 of 3 pass, t/b: 0 of 3, t/c: 2 of 3 (one syntax error).
  EXPECT_NEAR(s["pass_at_k"]["pass@1"].get<double>(), (2.0 / 3 + 0 + 2.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(s["pass_at_k"]["pass@2"].get<double>(), (1.0 + 0 + 1.0) / 3, 1e-12);  // n-c=1 < 2
  EXPECT_TRUE(s["pass_at_k"]["pass@5"].is_null());
  EXPECT_NE(s["pass_at_k_not_computable"]["pass@5"].get<std::string>().find("k=5"), std::string::npos);
  EXPECT_EQ(s["status_counts"]["passed"], 4);
  EXPECT_EQ(s["status_counts"]["failed"], 4);
  EXPECT_EQ(s["status_counts"]["syntax_error"], 1);
  EXPECT_EQ(s["samples"], 9);
  EXPECT_TRUE(s["complete"].get<bool>());
  EXPECT_EQ(s["model"], "samples.jsonl");

  json on_disk = json::parse(read_file(result.run_dir + "/summary.json"));
  EXPECT_EQ(on_disk["pass_at_k"], s["pass_at_k"]);

  auto csv = parse_csv(read_file(result.run_dir + "/samples.csv"));
  ASSERT_EQ(csv.size(), 10u);
  EXPECT_EQ(csv[0][0], "suite");
  EXPECT_EQ(csv[0][14], "completion");
  EXPECT_EQ(csv[0][15], "isolation");
  EXPECT_EQ(csv[0][16], "notes");
  for (const auto& row : csv) EXPECT_EQ(row.size(), csv[0].size());
  // Suite order, then sample index; the awkward completion survives quoting.
  EXPECT_EQ(csv[1][1], "t/a");
  EXPECT_EQ(csv[1][3], "0");
  EXPECT_EQ(csv[1][14], "    return 'PASS', \"quoted\"\n    # line2");
  EXPECT_EQ(csv[3][3], "2");
  EXPECT_EQ(csv[4][1], "t/b");
  EXPECT_EQ(csv[9][5], "syntax_error");
}

TEST(EvalSession, ResumeAfterCrashEqualsUninterruptedRun) {
  Fixture fx;
  FakeExecutor clean_executor;
  SessionOptions clean_options = fx.options(&clean_executor);
  clean_options.run_id = "clean";
  auto clean = run_eval(fx.config(), clean_options);

  FakeExecutor crashing(/*fail_after=*/4);
  SessionOptions options = fx.options(&crashing);
  options.run_id = "crashy";
  EXPECT_THROW(run_eval(fx.config(), options), std::runtime_error);
  size_t before = RunDatabase::open(fx.dir + "/runs/crashy").count();
  EXPECT_EQ(before, 4u);

  FakeExecutor good;
  options.executor = &good;
  SessionResult resumed = resume_eval("crashy", json::object(), options);  // by id under out_dir
  EXPECT_TRUE(resumed.resumed);
  EXPECT_EQ(size_t(good.calls()), 9 - before);  // nothing redone
  EXPECT_EQ(keyed(RunDatabase::open(resumed.run_dir).rows()), keyed(RunDatabase::open(clean.run_dir).rows()));
  EXPECT_EQ(resumed.summary["pass_at_k"], clean.summary["pass_at_k"]);

  // Resuming a complete run executes nothing.
  FakeExecutor idle;
  options.executor = &idle;
  resume_eval(resumed.run_dir, json{{"n", 0}, {"suite", fx.suite_path}}, options);
  EXPECT_EQ(idle.calls(), 0);
}

TEST(EvalSession, ResumeRefusesAnotherConfiguration) {
  Fixture fx;
  FakeExecutor executor;
  SessionOptions options = fx.options(&executor);
  options.run_id = "r";
  run_eval(fx.config(), options);
  std::string message;
  try {
    resume_eval(fx.dir + "/runs/r", json{{"n", 2}, {"temperature", 0.8}}, options);
  } catch (const lcte::Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("refusing to resume"), std::string::npos) << message;
  EXPECT_NE(message.find("n (run: 0, now: 2)"), std::string::npos) << message;
  EXPECT_NE(message.find("temperature"), std::string::npos) << message;

  // A changed samples file is a different configuration too.
  std::ofstream(fx.samples_path, std::ios::app) << json{{"task_id", "t/a"}, {"completion", "x"}}.dump() << "\n";
  message.clear();
  try {
    resume_eval(fx.dir + "/runs/r", json::object(), options);
  } catch (const lcte::Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("has changed"), std::string::npos) << message;
  EXPECT_THROW(resume_eval("no-such-run", json::object(), options), lcte::Error);
}

TEST(EvalSession, MalformedSamplesFileNamesTheLine) {
  Fixture fx;
  FakeExecutor executor;
  auto check = [&](const std::string& text, const std::string& expected) {
    std::ofstream(fx.samples_path, std::ios::trunc) << text;
    std::string message;
    try {
      run_eval(fx.config(), fx.options(&executor));
    } catch (const lcte::Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  };
  std::string good = "{\"task_id\": \"t/a\", \"completion\": \"x\"}\n";
  check(good + "{\"task_id\": \"t/a\", \"completion\": }\n", "samples.jsonl:2: invalid JSON");
  check(good + good + "{\"completion\": \"x\"}\n", "samples.jsonl:3: missing field \"task_id\"");
  check(good + "{\"task_id\": \"t/a\", \"completion\": 5}\n", "samples.jsonl:2: field \"completion\" must be a string");
  check(good + "{\"task_id\": \"t/zzz\", \"completion\": \"x\"}\n",
        "samples.jsonl:2: task_id \"t/zzz\" is not in suite");
  // Selected tasks without samples are named, not silently skipped.
  check(good, "no samples for 2 selected task(s) (t/b, t/c)");
  EXPECT_EQ(executor.calls(), 0);
}

TEST(EvalSession, BadOptionsAreErrors) {
  Fixture fx;
  FakeExecutor executor;
  EvalConfig c = fx.config();
  c.backend = "magic";
  EXPECT_THROW(run_eval(c, fx.options(&executor)), lcte::Error);
  c = fx.config();
  c.samples_file.clear();
  EXPECT_THROW(run_eval(c, fx.options(&executor)), lcte::Error);
  c = fx.config();
  c.timeout = 0;
  EXPECT_THROW(run_eval(c, fx.options(&executor)), lcte::Error);
  c = fx.config();
  c.n = 4;  // the file has 3 per task
  try {
    run_eval(c, fx.options(&executor));
    ADD_FAILURE();
  } catch (const lcte::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--n asks for 4"), std::string::npos) << e.what();
  }
}

TEST(EvalReport, CsvQuoting) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
}

TEST(EvalReport, RunIdFormat) {
  std::string id = make_run_id("humaneval", "canonical");
  // 20261127-083000-humaneval-canonical-ab12
  ASSERT_EQ(id.size(), std::string("20261127-083000-humaneval-canonical-ab12").size()) << id;
  EXPECT_EQ(id.substr(15), std::string("-humaneval-canonical-").append(id.substr(36)));
  EXPECT_NE(make_run_id("/x/my suite.jsonl", "file").find("-my_suite-file-"), std::string::npos);
}
