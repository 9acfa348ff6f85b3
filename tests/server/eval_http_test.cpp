// An evaluation through the HTTP backend against lcte serve on loopback gives
// exactly the samples of the engine backend with the same settings.
#include <gtest/gtest.h>

#include <map>

#include "eval/fake_executor.h"
#include "eval/run_database.h"
#include "eval/session.h"
#include "server_fixture.h"

namespace lcte::server {
namespace {

using eval::testing::FakeExecutor;

eval::EvalConfig humaneval_config(const std::string& backend, const std::string& model) {
  eval::EvalConfig c;
  c.suite = "humaneval";
  c.tasks = {"HumanEval/0", "HumanEval/2", "HumanEval/4", "HumanEval/7"};
  c.backend = backend;
  c.model = model;
  c.max_tokens = 24;
  c.ctx = 1024;
  return c;
}

eval::SessionOptions session(const std::string& out, eval::Executor* executor, const std::string& run_id) {
  eval::SessionOptions o;
  o.out_dir = out;
  o.run_id = run_id;
  o.workers = 3;
  o.executor = executor;
  o.engine_threads = 1;
  o.where.data_dirs = {lcte::testing::data_dir()};
  o.where.allow_download = false;
  o.http.initial_backoff_s = 0.01;
  return o;
}

std::map<std::pair<std::string, int>, eval::SampleRow> rows_of(const std::string& dir) {
  std::map<std::pair<std::string, int>, eval::SampleRow> out;
  for (const auto& row : eval::RunDatabase::open(dir).rows()) out[{row.task_id, row.sample_index}] = row;
  return out;
}

void expect_same_samples(const std::string& engine_dir, const std::string& http_dir, size_t expected) {
  auto engine = rows_of(engine_dir);
  auto http = rows_of(http_dir);
  ASSERT_EQ(engine.size(), expected);
  ASSERT_EQ(http.size(), expected);
  size_t nonempty = 0;
  for (const auto& [key, row] : engine) {
    const eval::SampleRow& other = http.at(key);
    EXPECT_EQ(other.completion, row.completion) << key.first << " sample " << key.second;
    EXPECT_EQ(other.code, row.code) << key.first;
    EXPECT_EQ(other.prompt_tokens, row.prompt_tokens) << key.first;
    EXPECT_EQ(other.completion_tokens, row.completion_tokens) << key.first;
    EXPECT_GT(row.prompt_tokens, 50) << key.first;  // a HumanEval prompt, tokenized
    if (!row.completion.empty()) nonempty++;
  }
  EXPECT_GT(nonempty, 0u);  // the comparison is not of empty strings only
}

TEST(EvalOverHttp, GreedySamplesEqualTheEngineBackend) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  const std::string out = lcte::testing::temp_dir();
  const std::string model_path = lcte::testing::data_path(testing::kModelFile);
  FakeExecutor executor;

  eval::SessionResult local = eval::run_eval(humaneval_config("engine", model_path), session(out, &executor, "engine"));
  EXPECT_TRUE(local.failures.empty());
  EXPECT_EQ(local.summary["model"], "stories260K-f32");

  testing::LiveServer s({{"stories", testing::load_engine("stories")}}, {});
  eval::EvalConfig remote = humaneval_config("http", "stories");
  remote.base_url = s.url() + "/v1";
  eval::SessionResult over_http = eval::run_eval(remote, session(out, &executor, "http"));
  EXPECT_TRUE(over_http.failures.empty());
  EXPECT_EQ(over_http.summary["model"], "stories");
  expect_same_samples(local.run_dir, over_http.run_dir, 4);
  EXPECT_EQ(s.server->metrics().requests("stories"), 4u);
}

TEST(EvalOverHttp, SeededSamplesEqualTheEngineBackendSampleBySample) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  const std::string out = lcte::testing::temp_dir();
  FakeExecutor executor;
  eval::EvalConfig c = humaneval_config("engine", lcte::testing::data_path(testing::kModelFile));
  c.tasks = {"HumanEval/0", "HumanEval/2"};
  c.n = 3;
  c.temperature = 0.9;
  c.seed = 7;
  eval::SessionResult local = eval::run_eval(c, session(out, &executor, "engine"));

  testing::LiveServer s({{"stories", testing::load_engine("stories")}}, {});
  c.backend = "http";
  c.model = "stories";
  c.base_url = s.url();
  eval::SessionOptions o = session(out, &executor, "http");
  o.http.stream = false;  // the non-streamed path too
  eval::SessionResult over_http = eval::run_eval(c, o);
  expect_same_samples(local.run_dir, over_http.run_dir, 6);
  // Samples of one task differ from each other (the seeds do their work).
  auto rows = rows_of(local.run_dir);
  EXPECT_FALSE(rows.at({"HumanEval/0", 0}).completion == rows.at({"HumanEval/0", 1}).completion &&
               rows.at({"HumanEval/0", 1}).completion == rows.at({"HumanEval/0", 2}).completion);
}

}  // namespace
}  // namespace lcte::server
