// `lcte runs export RUN` as a whole program: --csv names the default format and
// gives the same bytes as no flag, --json and --csv together are refused.
#include <gtest/gtest.h>

#include <string>

#include "common/run_command.h"
#include "common/test_data.h"
#include "store/store.h"

namespace lcte::store {
namespace {

const char* kRunId = "eval-2026-12-07T10:00:00.000Z-tiny-0a1b2c3d";

void make_store(const std::string& dir) {
  Store store(dir + "/lcte.sqlite");
  RunRecord r;
  r.id = kRunId;
  r.kind = "eval";
  r.started_at = "2026-12-07T10:00:00.000Z";
  r.model_name = "tiny";
  store.begin_run(r);
  StoredSample s;
  s.suite = "humaneval";
  s.task_id = "HumanEval/0";
  s.model = "tiny";
  s.status = "passed";
  s.passed = true;
  s.prompt_tokens = 12;
  s.completion_tokens = 3;
  s.completion = "return 1, \"a\"";
  store.add_sample(r.id, s);
  store.finish_run(r.id, "finished", {});
}

testing::CommandResult export_run(const std::string& dir, std::vector<std::string> flags) {
  std::vector<std::string> argv = {testing::lcte_binary(), "runs", "--store", dir + "/lcte.sqlite", "export", kRunId};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return testing::run_command(argv, dir);
}

TEST(RunsExportCli, CsvFlagGivesTheDefaultCsv) {
  std::string dir = testing::temp_dir();
  make_store(dir);
  auto plain = export_run(dir, {});
  auto csv = export_run(dir, {"--csv"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out, plain.out);
  // The completion's comma and quotes are quoted the CSV way, so the row keeps its 17 fields.
  EXPECT_NE(csv.out.find(",\"return 1, \"\"a\"\"\"\n"), std::string::npos) << csv.out;
  EXPECT_EQ(csv.out.rfind("run_id,suite,task_id,", 0), 0u) << csv.out;
}

TEST(RunsExportCli, JsonAndCsvTogetherAreRefused) {
  std::string dir = testing::temp_dir();
  make_store(dir);
  auto r = export_run(dir, {"--json", "--csv"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  EXPECT_NE(r.err.find("--csv"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace lcte::store
