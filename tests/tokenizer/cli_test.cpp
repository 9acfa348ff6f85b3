// `lcte tokenize` as a program: output formats, flags and errors, checked
// against llama-tokenize's ids for stories260K.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "common/run_command.h"
#include "common/test_data.h"

namespace lcte {
namespace {

using testing::lcte_binary;
using testing::run_command;

const char* kModel = "models/stories260K-f32.gguf";

TEST(TokenizeCommand, IdsOnlyMatchesLlamaTokenize) {
  LCTE_REQUIRE_DATA(kModel);
  std::string dir = testing::temp_dir();
  auto r = run_command(
      {lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--text", "Hello world", "--ids-only"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 346 306 414 263 304 341\n");
  r = run_command(
      {lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--text", "Hello world", "--ids-only", "--no-bos"},
      dir);
  EXPECT_EQ(r.out, "346 306 414 263 304 341\n");
  // The llama2.c tokenizer.bin gives the same.
  LCTE_REQUIRE_DATA("models/tok512.bin");
  r = run_command(
      {lcte_binary(), "tokenize", "-m", testing::data_path("models/tok512.bin"), "--text", "Hello world", "--ids-only"},
      dir);
  EXPECT_EQ(r.out, "1 346 306 414 263 304 341\n");
}

TEST(TokenizeCommand, ParseSpecial) {
  LCTE_REQUIRE_DATA(kModel);
  std::string dir = testing::temp_dir();
  const std::string text = "<s> </s> <unk> are special-looking text";
  auto r = run_command(
      {lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--text", text, "--ids-only", "--parse-special"},
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("1 1 410 410 2 410 410 0 410 261 276 262", 0), 0u) << r.out;  // llama-tokenize's
  r = run_command({lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--text", text, "--ids-only"}, dir);
  EXPECT_EQ(r.out.rfind("1 410 504 419 505 410 504 492 419 505 410 504", 0), 0u) << r.out;
}

TEST(TokenizeCommand, TableAndJson) {
  LCTE_REQUIRE_DATA(kModel);
  std::string dir = testing::temp_dir();
  auto r = run_command({lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--text", "a\nb"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // <s>, " a", the byte token for "\n" (id 13, printed escaped), "b".
  std::istringstream lines(r.out);
  std::vector<std::string> got;
  for (std::string l; std::getline(lines, l);) got.push_back(l);
  ASSERT_EQ(got.size(), 4u) << r.out;
  EXPECT_EQ(got[0], "1\t'<s>'");
  EXPECT_EQ(got[2], "13\t'\\n'");

  r = run_command({lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--text", "Hello world", "--json"},
                  dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], nlohmann::json({1, 346, 306, 414, 263, 304, 341}));
  EXPECT_EQ(j["pieces"], nlohmann::json({"<s>", " He", "ll", "o", " w", "or", "ld"}));
}

TEST(TokenizeCommand, FileInput) {
  LCTE_REQUIRE_DATA(kModel);
  std::string dir = testing::temp_dir();
  std::ofstream(dir + "/in.txt", std::ios::binary) << "def add(a, b):\n    return a + b\n";
  auto r = run_command({lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--file", dir + "/in.txt",
                        "--ids-only", "--no-bos"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "279 411 431 261 418 418 489 412 432 268 488 467 13 410 410 410 410 276 413 425 420 416 261 410 496 268 13\n");
}

TEST(TokenizeCommand, BadInputFailsWithAMessage) {
  LCTE_REQUIRE_DATA(kModel);
  std::string dir = testing::temp_dir();
  auto r = run_command({lcte_binary(), "tokenize", "-m", dir + "/missing.gguf", "--text", "x"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.gguf"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "tokenize", "-m", testing::data_path(kModel)}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--text or --file"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--text", "x", "--file", "y"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  r = run_command({lcte_binary(), "tokenize", "-m", testing::data_path(kModel), "--file", dir + "/nope.txt"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope.txt"), std::string::npos) << r.err;
  // A GGUF without a tokenizer: a file made of the first bytes of a vocab is
  // truncated, which the reader reports.
  std::ifstream in(testing::data_path(kModel), std::ios::binary);
  std::string head(200, '\0');
  in.read(head.data(), head.size());
  std::ofstream(dir + "/cut.gguf", std::ios::binary) << head;
  r = run_command({lcte_binary(), "tokenize", "-m", dir + "/cut.gguf", "--text", "x"}, dir);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.signal, 0);
}

// tiktoken encodings by name (found through LCTE_DATA_DIR) and by file.
TEST(TokenizeCommand, TiktokenEncodings) {
  const std::string cl = "tokenizer/tiktoken/cl100k_base.tiktoken";
  LCTE_REQUIRE_DATA(cl);
  LCTE_REQUIRE_DATA("tokenizer/tiktoken/o200k_base.tiktoken");
  std::string dir = testing::temp_dir();
  const std::string env = "LCTE_DATA_DIR=" + testing::data_dir();
  // tiktoken's encode_ordinary ids (npm tiktoken 1.0.22).
  auto r = run_command({"/usr/bin/env", env, lcte_binary(), "tokenize", "-m", "cl100k_base", "--text",
                        "<|endoftext|> Hello, world!", "--ids-only", "--no-bos"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "27 91 8862 728 428 91 29 22691 11 1917 0\n");
  r = run_command({"/usr/bin/env", env, lcte_binary(), "tokenize", "-m", "o200k_base", "--text",
                   "<|endoftext|> Hello, world!", "--ids-only", "--parse-special"},
                  dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "199999 32949 11 2375 0\n");
  r = run_command({lcte_binary(), "tokenize", "-m", testing::data_path(cl), "--text", "a\tb", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(R"({"ids":[64,2282],"pieces":["a","\tb"]})"));
  r = run_command({"/usr/bin/env", "LCTE_DATA_DIR=" + dir, "XDG_CACHE_HOME=" + dir, lcte_binary(), "tokenize", "-m",
                   "o200k_base", "--text", "x"},
                  dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("run `lcte data fetch o200k_base`"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lcte
