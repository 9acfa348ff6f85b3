// The generate, bench and kld commands, run as the built lcte binary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/run_command.h"
#include "common/test_data.h"

namespace lcte::testing {
namespace {

const char* kStories = "models/stories260K-f32.gguf";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Cli, GenerateGreedyIdsAndTextMatchLlama2c) {
  LCTE_REQUIRE_DATA(kStories);
  LCTE_REQUIRE_DATA("models/stories260K.greedy256.expected.tokens.txt");
  // llama2.c's greedy story from BOS starts "Once upon a time" = 403 407 261 378;
  // prompted with that text, the continuation is the rest of its story.
  std::istringstream want_ids(slurp(data_path("models/stories260K.greedy256.expected.tokens.txt")));
  std::vector<std::string> want;
  for (std::string t; want_ids >> t;) want.push_back(t);
  const std::string dir = temp_dir();
  auto r = run_command({lcte_binary(), "generate", "-m", data_path(kStories), "-p", "Once upon a time", "-n", "40",
                        "--temp", "0", "--print-ids", "--kv-type", "f32"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream got_ids(r.out);
  std::vector<std::string> got;
  for (std::string t; got_ids >> t;) got.push_back(t);
  EXPECT_EQ(got, std::vector<std::string>(want.begin() + 4, want.begin() + 44));

  r = run_command({lcte_binary(), "generate", "-m", data_path(kStories), "-p", "Once upon a time", "-n", "40", "--temp",
                   "0", "-t", "1"},
                  dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string story = slurp(data_path("models/stories260K.greedy256.expected.txt"));
  ASSERT_EQ(r.out.back(), '\n');
  const std::string text = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ("Once upon a time" + text, story.substr(0, 16 + text.size()));
  EXPECT_NE(r.err.find("peak RSS"), std::string::npos) << r.err;
}

TEST(Cli, GenerateStopsAtStopStringAndSamplesReproducibly) {
  LCTE_REQUIRE_DATA(kStories);
  const std::string dir = temp_dir();
  auto r = run_command({lcte_binary(), "generate", "-m", data_path(kStories), "-p", "Once upon a time", "-n", "100",
                        "--temp", "0", "--stop", "Lily"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ", there was a little girl named \n");
  const std::vector<std::string> sample = {
      lcte_binary(), "generate", "-m", data_path(kStories), "-p", "Lily",       "-n",
      "30",          "--seed",   "7",  "--n-seq",           "3",  "--print-ids"};
  const auto a = run_command(sample, dir), b = run_command(sample, dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(std::count(a.out.begin(), a.out.end(), '\n'), 3);
}

TEST(Cli, BenchPrintsTableAndJson) {
  LCTE_REQUIRE_DATA(kStories);
  const std::string dir = temp_dir();
  auto r = run_command(
      {lcte_binary(), "bench", "-m", data_path(kStories), "-p", "16", "-n", "8", "-r", "2", "-t", "1,2", "--json"},
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["test"], "pp16");
  EXPECT_EQ(j[1]["test"], "tg8");
  EXPECT_EQ(j[2]["threads"], 2);
  EXPECT_EQ(j[3]["tps_samples"].size(), 2u);
  // The kernel table that ran is named, and $LCTE_KERNELS caps it.
  r = run_command({"/usr/bin/env", "LCTE_KERNELS=scalar", lcte_binary(), "bench", "-m", data_path(kStories), "-p", "16",
                   "-n", "0", "-r", "1"},
                  dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| llama f32 | 1.12 MiB | 0.29 M | CPU (scalar) | 2 | pp16 |"), std::string::npos) << r.out;
  r = run_command({"/usr/bin/env", "LCTE_KERNELS=scalar", lcte_binary(), "bench", "-m", data_path(kStories), "-p", "8",
                   "-n", "0", "-r", "1", "--json"},
                  dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)[0]["kernels"], "scalar");
}

TEST(Cli, KldOfAModelOnItsOwnStory) {
  LCTE_REQUIRE_DATA(kStories);
  LCTE_REQUIRE_DATA("models/stories260K-q8_0.gguf");
  const std::string dir = temp_dir();
  auto r = run_command(
      {lcte_binary(), "kld", "--base", data_path(kStories), "--model", data_path("models/stories260K-q8_0.gguf"),
       "--text", data_path("models/stories260K.greedy256.expected.txt"), "--ctx", "64", "--json"},
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["n_chunks"].get<int>(), 3);
  EXPECT_LT(j["ppl_base"].get<double>(), 2.0);  // its own greedy text
  EXPECT_GT(j["kld_mean"].get<double>(), 0.0);
  EXPECT_LT(j["kld_mean"].get<double>(), 0.05);
  EXPECT_GT(j["top1_agreement"].get<double>(), 0.8);
  EXPECT_GE(j["top5_agreement"].get<double>(), j["top1_agreement"].get<double>());
}

TEST(Cli, BadInputIsAClearError) {
  LCTE_REQUIRE_DATA(kStories);
  const std::string dir = temp_dir();
  auto r = run_command({lcte_binary(), "generate", "-m", "/nonexistent.gguf", "-p", "x"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent.gguf"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "generate", "-m", data_path(kStories), "-p", "x", "--kv-type", "q8"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'q8' is not f16 or f32"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "generate", "-m", data_path(kStories), "-p", "x", "--top-p", "1.5", "--temp", "1"},
                  dir);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run_command({lcte_binary(), "kld", "--base", data_path(kStories), "--model", data_path(kStories), "--text",
                   data_path("models/stories260K.greedy256.expected.txt"), "--ctx", "100000"},
                  dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("fewer than one context of 100000"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "bench", "-m", data_path(kStories), "-t", "0"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("thread count 0"), std::string::npos) << r.err;
}

TEST(Cli, UnknownKernelIsaIsAClearError) {
  LCTE_REQUIRE_DATA(kStories);
  const std::string dir = temp_dir();
  std::optional<std::string> old;
  if (const char* v = std::getenv("LCTE_KERNELS")) old = v;
  ::setenv("LCTE_KERNELS", "avx1024", 1);  // the child inherits this environment
  auto r = run_command({lcte_binary(), "generate", "-m", data_path(kStories), "-p", "x", "-n", "2"}, dir);
  if (old)
    ::setenv("LCTE_KERNELS", old->c_str(), 1);
  else
    ::unsetenv("LCTE_KERNELS");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.signal, 0);
  EXPECT_NE(r.err.find("LCTE_KERNELS='avx1024' is not one of scalar, avx2, avx512, avx512vnni"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace lcte::testing
