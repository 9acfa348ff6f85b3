// `lcte data fetch` as a program, against a local mirror (--base-url).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/run_command.h"
#include "common/test_data.h"
#include "data/local_mirror.h"

namespace lcte {
namespace {

namespace fs = std::filesystem;
using testing::lcte_binary;
using testing::run_command;

const char* kHumanEval = "humaneval/HumanEval.jsonl.gz";
const char* kCl100k = "tokenizer/tiktoken/cl100k_base.tiktoken";

void stock(const std::string& mirror, const std::string& rel) {
  fs::create_directories(fs::path(mirror + "/" + rel).parent_path());
  fs::copy_file(testing::data_path(rel), mirror + "/" + rel);
}

TEST(DataFetchCommand, FetchesListsAndRefetchesNothing) {
  LCTE_REQUIRE_DATA(kHumanEval);
  LCTE_REQUIRE_DATA(kCl100k);
  const std::string dir = testing::temp_dir();
  stock(dir + "/mirror", kHumanEval);
  stock(dir + "/mirror", kCl100k);
  testing::LocalMirror mirror(dir + "/mirror");
  const std::string dest = dir + "/data";

  auto r = run_command(
      {lcte_binary(), "data", "fetch", "humaneval", "cl100k_base", "--dir", dest, "--base-url", mirror.url()}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("humaneval       downloaded to " + dest + "/" + kHumanEval), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cl100k_base     downloaded to " + dest + "/" + kCl100k), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_regular_file(dest + "/" + kCl100k));

  r = run_command({lcte_binary(), "data", "fetch", "humaneval", "--dir", dest, "--base-url", mirror.url()}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("humaneval       already at"), std::string::npos) << r.out;
  EXPECT_EQ(mirror.hits(), 2);

  r = run_command({lcte_binary(), "data", "fetch", "--list", "--dir", dest}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cl100k_base     tokenizer/tiktoken/cl100k_base.tiktoken    present, verified"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("o200k_base      tokenizer/tiktoken/o200k_base.tiktoken     missing                  "
                       "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"),
            std::string::npos)
      << r.out;

  // The fetched rank file is what `lcte tokenize -m cl100k_base` then finds in the cache.
  auto env_run = run_command({"/usr/bin/env", "XDG_CACHE_HOME=" + dir + "/xdg", "LCTE_DATA_DIR=" + dir + "/none",
                              lcte_binary(), "data", "fetch", "cl100k_base", "--base-url", mirror.url()},
                             dir);
  ASSERT_EQ(env_run.exit_code, 0) << env_run.err;
  EXPECT_TRUE(fs::is_regular_file(dir + "/xdg/lcte/datasets/" + kCl100k));
  env_run = run_command({"/usr/bin/env", "XDG_CACHE_HOME=" + dir + "/xdg", "LCTE_DATA_DIR=" + dir + "/none",
                         lcte_binary(), "tokenize", "-m", "cl100k_base", "--text", "hello world", "--ids-only"},
                        dir);
  ASSERT_EQ(env_run.exit_code, 0) << env_run.err;
  EXPECT_EQ(env_run.out, "15339 1917\n");
}

TEST(DataFetchCommand, FailuresExitNonZeroAndLeaveNothing) {
  LCTE_REQUIRE_DATA(kHumanEval);
  const std::string dir = testing::temp_dir();
  stock(dir + "/mirror", kHumanEval);
  testing::LocalMirror mirror(dir + "/mirror");
  const std::string dest = dir + "/data";

  // mbpp is not on the mirror (404); humaneval still arrives.
  auto r = run_command({lcte_binary(), "data", "fetch", "mbpp", "humaneval", "--dir", dest, "--base-url", mirror.url()},
                       dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(
      r.err.find("mbpp            failed: " + mirror.url() + "/mbpp/mbpp.jsonl: download failed: HTTP status 404"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("1 of 2 files failed"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dest + "/mbpp"));
  EXPECT_TRUE(fs::is_regular_file(dest + "/" + std::string(kHumanEval)));

  r = run_command({lcte_binary(), "data", "fetch", "humaneval-plus", "--dir", dest}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(
      r.err.find(
          "unknown file 'humaneval-plus' (known: humaneval, mbpp, mbpp-sanitized, humaneval+, mbpp+, cl100k_base"),
      std::string::npos)
      << r.err;

  // Nothing listens on port 1.
  r = run_command({lcte_binary(), "data", "fetch", "mbpp-sanitized", "--dir", dest, "--base-url", "http://127.0.0.1:1"},
                  dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("mbpp-sanitized  failed: http://127.0.0.1:1/mbpp/sanitized-mbpp.json: download failed"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dest + "/mbpp"));
}

}  // namespace
}  // namespace lcte
