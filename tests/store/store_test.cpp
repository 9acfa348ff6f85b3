#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "common/test_data.h"
#include "core/error.h"
#include "store/mlflow_export.h"

namespace lcte::store {
namespace {

RunRecord run(const std::string& id, const std::string& kind = "eval", const std::string& experiment = "exp") {
  RunRecord r;
  r.id = id;
  r.kind = kind;
  r.experiment = experiment;
  r.name = "run " + id;
  r.started_at = "2026-11-27T08:30:00.250Z";
  r.config = {{"suite", "humaneval"}, {"n", 1}};
  r.model_name = "tiny-q4_0";
  r.model_sha256 = "abc123";
  r.code_version = "0.1.0";
  r.machine = {{"cores", 2}};
  return r;
}

StoredSample sample(const std::string& task, int index, bool passed) {
  StoredSample s;
  s.suite = "humaneval";
  s.task_id = task;
  s.model = "tiny";
  s.sample_index = index;
  s.status = passed ? "passed" : "failed";
  s.passed = passed;
  s.error_type = passed ? "" : "AssertionError";
  s.prompt_tokens = 10;
  s.completion_tokens = 20;
  s.latency_s = 0.5;
  s.energy_j = 1.25;
  s.completion = "    return 1\n";
  return s;
}

int64_t count(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

TEST(Store, KeepsRunsWithEverythingThatBelongsToThem) {
  std::string path = testing::temp_dir() + "/lcte.sqlite";
  Store store(path);
  EXPECT_EQ(store.schema_version(), Store::latest_version());
  store.begin_run(run("20261127-a"));
  EXPECT_THROW(store.begin_run(run("20261127-a")), Error);
  store.set_params("20261127-a", {{"temperature", "0.2"}, {"n", "5"}});
  store.add_metrics("20261127-a", {{"cpu", 0, 0.0, 0.5}, {"cpu", 1, 1.0, 0.75}, {"rss", 0, 0.0, 1e6}});
  store.add_sample("20261127-a", sample("HumanEval/0", 0, true));
  store.add_sample("20261127-a", sample("HumanEval/0", 1, false));
  store.add_sample("20261127-a", sample("HumanEval/0", 1, true));  // replaces
  StoredDecision d;
  d.run_id = "20261127-a";
  d.time = "2026-11-27T08:30:01.000Z";
  d.query_hash = "ff";
  d.n_tokens = 151;
  d.tokenizer = "cl100k_base";
  d.score = 7;
  d.policy = "threshold";
  d.tier = "large";
  int64_t did = store.add_decision(d);
  store.set_decision_outcome(did, true);
  store.add_artifact("20261127-a", {"samples.csv", "/tmp/x.csv", "csv"});
  store.finish_run("20261127-a", "finished", {{"pass@1", 1.0}});

  auto r = store.find_run("20261127-a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "finished");
  EXPECT_EQ(r->experiment, "exp");
  EXPECT_EQ(r->summary["pass@1"], 1.0);
  EXPECT_EQ(r->config["suite"], "humaneval");
  EXPECT_FALSE(r->finished_at.empty());
  EXPECT_EQ(store.params("20261127-a").at("n"), "5");
  EXPECT_EQ(store.metrics("20261127-a", "cpu").size(), 2u);
  EXPECT_EQ(store.metrics("20261127-a").size(), 3u);
  auto samples = store.samples("20261127-a");
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_TRUE(samples[1].passed);
  EXPECT_EQ(samples[1].energy_j, std::optional<double>(1.25));
  EXPECT_FALSE(samples[1].ttft_s.has_value());
  auto decisions = store.decisions(std::string("20261127-a"));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].outcome, std::optional<bool>(true));
  EXPECT_EQ(decisions[0].tokenizer, "cl100k_base");
  EXPECT_EQ(store.artifacts("20261127-a").size(), 1u);
  EXPECT_THROW(store.finish_run("no-such-run", "finished", {}), Error);
}

TEST(Store, ListsWithFiltersAndFindsByUniquePrefix) {
  std::string path = testing::temp_dir() + "/lcte.sqlite";
  Store store(path);
  store.begin_run(run("aa-1", "eval", "e1"));
  store.begin_run(run("aa-2", "quantize", "e2"));
  store.begin_run(run("bb-1", "eval", ""));
  EXPECT_EQ(store.list_runs().size(), 3u);
  EXPECT_EQ(store.list_runs({"eval", "", "", 0}).size(), 2u);
  EXPECT_EQ(store.list_runs({"", "e2", "", 0}).size(), 1u);
  EXPECT_EQ(store.list_runs({"", "", "q4", 0}).size(), 3u);
  EXPECT_EQ(store.list_runs({"", "", "", 1}).size(), 1u);
  EXPECT_EQ(store.find_run("bb")->id, "bb-1");
  EXPECT_FALSE(store.find_run("zz").has_value());
  EXPECT_THROW(store.find_run("aa"), Error);
}

TEST(Store, DeletingARunRemovesItsRowsAndNothingElse) {
  std::string path = testing::temp_dir() + "/lcte.sqlite";
  Store store(path);
  for (const char* id : {"keep", "drop"}) {
    store.begin_run(run(id));
    store.set_params(id, {{"k", "v"}});
    store.add_metrics(id, {{"m", 0, 0, 1}});
    store.add_sample(id, sample("t", 0, true));
    StoredDecision d;
    d.run_id = id;
    store.add_decision(d);
    store.add_artifact(id, {"a", "/p", "f"});
  }
  StoredDecision free_decision;  // from `lcte serve`, in no run
  store.add_decision(free_decision);
  EXPECT_TRUE(store.delete_run("drop"));
  EXPECT_FALSE(store.delete_run("drop"));
  for (const char* table : {"params", "metrics", "samples", "artifacts"}) {
    EXPECT_EQ(count(path, std::string("SELECT count(*) FROM ") + table + " WHERE run_id = 'drop'"), 0) << table;
    EXPECT_EQ(count(path, std::string("SELECT count(*) FROM ") + table + " WHERE run_id = 'keep'"), 1) << table;
  }
  EXPECT_EQ(count(path, "SELECT count(*) FROM decisions"), 2);  // keep's and the free one
  EXPECT_EQ(count(path, "SELECT count(*) FROM runs"), 1);
  EXPECT_EQ(count(path, "SELECT count(*) FROM experiments"), 1);
}

TEST(Store, MigratesAnOlderSchemaKeepingItsRows) {
  std::string path = testing::temp_dir() + "/old.sqlite";
  Store::create_at_version(path, 1);
  {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    ASSERT_EQ(
        sqlite3_exec(db,
                     "INSERT INTO runs(id, kind, status, started_at) VALUES ('old', 'eval', 'finished', "
                     "'2026-01-01T00:00:00Z');"
                     "INSERT INTO samples(run_id, suite, task_id, model, sample_index, temperature, status, passed, "
                     "error_type, prompt_tokens, completion_tokens, completion) VALUES "
                     "('old','mbpp','Mbpp/11','m',0,0,'passed',1,'',1,2,'x');"
                     "INSERT INTO decisions(run_id, time, query_hash, n_tokens, features, score, policy, "
                     "policy_version, tier, override, decision_us, reason) VALUES "
                     "('old','2026-01-01T00:00:00Z','00ff',12,'{}',1,'threshold','1','small',0,3.5,'r');",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_EQ(count(path, "SELECT version FROM schema_version"), 1);
  Store store(path);
  EXPECT_EQ(store.schema_version(), Store::latest_version());
  auto samples = store.samples("old");
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].task_id, "Mbpp/11");
  EXPECT_FALSE(samples[0].energy_j.has_value());
  EXPECT_EQ(store.find_run("old")->run_dir, "");
  // A decision logged before the tokenizer was recorded reads back without one.
  auto decisions = store.decisions(std::string("old"));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].n_tokens, 12);
  EXPECT_EQ(decisions[0].tokenizer, "");
  EXPECT_FALSE(decisions[0].n_tokens_at_least);
}

TEST(Store, RefusesNewerSchemasAndFilesThatAreNotDatabases) {
  std::string dir = testing::temp_dir();
  { Store s(dir + "/new.sqlite"); }
  {
    sqlite3* db = nullptr;
    sqlite3_open((dir + "/new.sqlite").c_str(), &db);
    sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  try {
    Store s(dir + "/new.sqlite");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("version 99 is newer"), std::string::npos) << e.what();
  }
  std::ofstream(dir + "/junk.sqlite") << "this is not a database, but it is long enough to have a header page....";
  try {
    Store s(dir + "/junk.sqlite");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.sqlite"), std::string::npos) << e.what();
  }
}

// A file that fails after SQLite opened it (not a database) leaves no
// connection and no descriptor behind, however often it is tried.
TEST(Store, AFailedOpenClosesItsFile) {
  std::string dir = testing::temp_dir();
  std::ofstream(dir + "/junk.sqlite") << "this is not a database, but it is long enough to have a header page....";
  auto open_fds = [] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  const size_t before = open_fds();
  for (int i = 0; i < 5; ++i) EXPECT_THROW(Store(dir + "/junk.sqlite"), Error);
  EXPECT_EQ(open_fds(), before);
}

TEST(Store, AReaderNeverBlocksTheWriter) {
  std::string path = testing::temp_dir() + "/lcte.sqlite";
  Store writer(path);
  writer.begin_run(run("w"));
  Store reader(path);
  std::atomic<bool> done{false};
  size_t reads = 0;
  std::thread t([&] {
    while (!done) {
      reader.samples("w");
      ++reads;
    }
  });
  for (int i = 0; i < 300; ++i) writer.add_sample("w", sample("t" + std::to_string(i), 0, i % 2 == 0));
  done = true;
  t.join();
  EXPECT_EQ(reader.samples("w").size(), 300u);
  EXPECT_GT(reads, 0u);
}

TEST(MlflowExport, WritesTheFileStoreLayout) {
  std::string dir = testing::temp_dir();
  Store store(dir + "/lcte.sqlite");
  store.begin_run(run("run-1", "eval", "study"));
  store.set_params("run-1", {{"temperature", "0.2"}});
  store.add_metrics("run-1", {{"cpu util", 0, 0.0, 0.5}, {"cpu util", 1, 1.5, 0.7}});
  std::ofstream(dir + "/samples.csv") << "a,b\n1,2\n";
  store.add_artifact("run-1", {"samples.csv", dir + "/samples.csv", "csv"});
  store.finish_run("run-1", "finished", {{"pass@k", {{"1", 0.5}}}});
  std::string run_dir = export_mlflow(store, "run-1", dir + "/mlruns");
  namespace fs = std::filesystem;
  fs::path exp = fs::path(run_dir).parent_path();
  ASSERT_TRUE(fs::exists(exp / "meta.yaml"));
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  EXPECT_NE(read(exp / "meta.yaml").find("name: 'study'"), std::string::npos);
  std::string meta = read(fs::path(run_dir) / "meta.yaml");
  // MLflow's file store accepts only [A-Za-z0-9_-] run ids; lcte's id travels in a tag.
  EXPECT_EQ(fs::path(run_dir).filename().string(), mlflow_run_id("run-1"));
  EXPECT_NE(meta.find("run_id: " + mlflow_run_id("run-1")), std::string::npos);
  EXPECT_EQ(read(fs::path(run_dir) / "tags" / "lcte.run_id"), "run-1");
  EXPECT_NE(meta.find("status: 3"), std::string::npos);
  EXPECT_NE(meta.find("start_time: " + std::to_string(iso8601_to_epoch_ms("2026-11-27T08:30:00.250Z"))),
            std::string::npos);
  EXPECT_EQ(read(fs::path(run_dir) / "params" / "temperature"), "0.2");
  EXPECT_EQ(read(fs::path(run_dir) / "params" / "model"), "tiny-q4_0");
  int64_t t0 = iso8601_to_epoch_ms("2026-11-27T08:30:00.250Z");
  EXPECT_EQ(read(fs::path(run_dir) / "metrics" / "cpu util"),
            std::to_string(t0) + " 0.5 0\n" + std::to_string(t0 + 1500) + " 0.7 1\n");
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "metrics" / "summary.pass_k.1"));
  EXPECT_EQ(read(fs::path(run_dir) / "artifacts" / "samples.csv"), "a,b\n1,2\n");
  EXPECT_NE(read(fs::path(run_dir) / "artifacts" / "summary.json").find("\"id\": \"run-1\""), std::string::npos);
  EXPECT_EQ(iso8601_to_epoch_ms("1970-01-01T00:00:01.500Z"), 1500);
}

TEST(MlflowExport, RunIdsAreThirtyTwoHexDigitsStableAcrossExports) {
  // lcte's ids hold ':' (ISO time) and may hold '/' (model names like org/model).
  std::string id = mlflow_run_id("eval-2026-11-27T08:30:00Z-Qwen/Qwen2.5-0.5B-1a2b3c4d");
  ASSERT_EQ(id.size(), 32u);
  for (char c : id)
    EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c))) << id;
  EXPECT_EQ(id, mlflow_run_id("eval-2026-11-27T08:30:00Z-Qwen/Qwen2.5-0.5B-1a2b3c4d"));
  EXPECT_NE(id, mlflow_run_id("eval-2026-11-27T08:30:00Z-Qwen/Qwen2.5-0.5B-1a2b3c4e"));
  // SHA-256("abc") starts ba7816bf8f01cfea414140de5dae2223 (FIPS 180-2, appendix B.1).
  EXPECT_EQ(mlflow_run_id("abc"), "ba7816bf8f01cfea414140de5dae2223");
}

TEST(MlflowExport, KeysKeepMlflowsCharacterSetAndLength) {
  EXPECT_EQ(mlflow_key("pass@k.1"), "pass_k.1");
  EXPECT_EQ(mlflow_key("cpu util-%"), "cpu util-_");
  EXPECT_EQ(mlflow_key("model:Qwen/Qwen2.5"), "model_Qwen/Qwen2.5");
  // MLflow rejects keys whose normalised path differs from the key.
  EXPECT_EQ(mlflow_key("/a//b/"), "a/b");
  EXPECT_EQ(mlflow_key("a/../b/./c"), "a/__/b/_/c");
  EXPECT_EQ(mlflow_key(""), "_");
  EXPECT_EQ(mlflow_key(std::string(300, 'x')).size(), kMlflowMaxKey);
  EXPECT_EQ(mlflow_key(std::string(249, 'x') + "/y"), std::string(249, 'x'));
}

TEST(MlflowExport, CollidingKeysAndLongValuesStayValid) {
  std::string dir = testing::temp_dir();
  Store store(dir + "/lcte.sqlite");
  store.begin_run(run("r:1/x"));
  store.set_params("r:1/x", {{"a:b", "1"}, {"a_b", "2"}, {"long", std::string(7000, 'v')}});
  MlflowRun m = collect_mlflow_run(store, "r:1/x");
  std::map<std::string, std::string> params(m.params.begin(), m.params.end());
  EXPECT_EQ(params.size(), m.params.size());
  EXPECT_EQ(params.at("a_b"), "1");  // "a:b" sorts first and takes the plain key
  EXPECT_EQ(params.at("a_b_2"), "2");
  EXPECT_EQ(params.at("long").size(), kMlflowMaxParamValue);
  EXPECT_EQ(m.run_id, mlflow_run_id("r:1/x"));
  EXPECT_EQ(m.status, "RUNNING");
  EXPECT_EQ(m.end_ms, 0);
}

}  // namespace
}  // namespace lcte::store
