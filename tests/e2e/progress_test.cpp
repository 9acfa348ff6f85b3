// Long commands with stderr in a file (not a terminal) write plain progress
// lines: the label, units done of the total, the rate and an ETA, no '\r' and
// no escape codes. LCTE_PROGRESS_INTERVAL=0 makes every update a line, so
// tiny models give several.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/run_command.h"
#include "common/test_data.h"

namespace lcte {
namespace {

using testing::lcte_binary;
using testing::run_command;

const char* kBase = "models/stories260K-f32.gguf";
const char* kQ8 = "models/stories260K-q8_0.gguf";
const char* kText = "reference/kld-text.txt";

// Every interval a line, for the length of one test.
class EveryUpdate : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("LCTE_PROGRESS_INTERVAL", "0", 1); }
  void TearDown() override { ::unsetenv("LCTE_PROGRESS_INTERVAL"); }
};

// Progress lines: the label, then a count of a known total ("(NN%)").
std::vector<std::string> progress_lines(const std::string& text, const std::string& label) {
  const std::string prefix = label + ": ";
  std::vector<std::string> out;
  size_t a = 0;
  while (a < text.size()) {
    size_t b = text.find('\n', a);
    if (b == std::string::npos) b = text.size();
    std::string line = text.substr(a, b - a);
    if (line.rfind(prefix, 0) == 0 && line.find("%)") != std::string::npos) out.push_back(line);
    a = b + 1;
  }
  return out;
}

// Plain progress: no carriage return or escape anywhere, at least `min_lines`
// lines of the label, one with an ETA before the end (unless the work is a
// single block), the last at 100%.
void expect_plain_progress(const std::string& err, const std::string& label, size_t min_lines, bool with_eta = true) {
  EXPECT_EQ(err.find('\r'), std::string::npos) << err;
  EXPECT_EQ(err.find('\x1b'), std::string::npos) << err;
  const std::vector<std::string> lines = progress_lines(err, label);
  ASSERT_GE(lines.size(), min_lines) << err;
  bool eta = false;
  for (const std::string& l : lines) {
    EXPECT_NE(l.find("/s, elapsed "), std::string::npos) << l;  // the rate, then the time so far
    if (l.find(", ETA ") != std::string::npos && l.find(", ETA ?") == std::string::npos) eta = true;
  }
  if (with_eta) {
    EXPECT_TRUE(eta) << err;
  }
  EXPECT_NE(lines.back().find("(100%)"), std::string::npos) << lines.back();
}

TEST_F(EveryUpdate, QuantizeWritesPlainLinesWithAnEta) {
  LCTE_REQUIRE_DATA(kBase);
  const std::string dir = testing::temp_dir();
  auto r = run_command({lcte_binary(), "quantize", testing::data_path(kBase), dir + "/q.gguf", "q4_0", "-t", "2"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_plain_progress(r.err, "quantize", 10);  // 48 tensors
  EXPECT_NE(r.err.find("MiB/s"), std::string::npos) << r.err;
}

TEST_F(EveryUpdate, KldAndImatrixWritePlainLinesPerChunk) {
  LCTE_REQUIRE_DATA(kBase);
  LCTE_REQUIRE_DATA(kQ8);
  LCTE_REQUIRE_DATA(kText);
  const std::string dir = testing::temp_dir();
  // The first 3000 bytes of the text: a dozen chunks of 64 tokens.
  std::ifstream in(testing::data_path(kText), std::ios::binary);
  std::string text(3000, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  std::ofstream(dir + "/short.txt", std::ios::binary) << text;
  auto k = run_command({lcte_binary(), "kld", "--base", testing::data_path(kBase), "--model", testing::data_path(kQ8),
                        "--text", dir + "/short.txt", "--ctx", "64", "-t", "2"},
                       dir);
  ASSERT_EQ(k.exit_code, 0) << k.err;
  expect_plain_progress(k.err, "kld", 3);
  EXPECT_NE(k.err.find(" chunks/s"), std::string::npos) << k.err;
  EXPECT_EQ(k.out.find("kld:"), std::string::npos) << k.out;  // progress stays off stdout

  auto im = run_command({lcte_binary(), "imatrix", "-m", testing::data_path(kBase), "--text", testing::data_path(kText),
                         "-o", dir + "/s.imatrix", "--ctx", "64", "--chunks", "5", "-t", "2"},
                        dir);
  ASSERT_EQ(im.exit_code, 0) << im.err;
  expect_plain_progress(im.err, "imatrix", 5);
  EXPECT_NE(im.err.find("imatrix: 5/5 chunks (100%)"), std::string::npos) << im.err;
}

TEST_F(EveryUpdate, QuantReportCountsTheBaseOnceAndEachFile) {
  LCTE_REQUIRE_DATA(kBase);
  LCTE_REQUIRE_DATA(kQ8);
  LCTE_REQUIRE_DATA(kText);
  const std::string dir = testing::temp_dir();
  auto r = run_command({lcte_binary(), "quant-report", testing::data_path(kBase), testing::data_path(kQ8),
                        testing::data_path("models/stories260K-q4_0.gguf"), "--text", testing::data_path(kText),
                        "--ctx", "64", "--chunks", "3", "--pp", "8", "--tg", "4", "--reps", "1", "-t", "2"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_plain_progress(r.err, "quant-report", 4);
  // 3 chunks of the base, then 3 of each of the 2 files.
  EXPECT_NE(r.err.find("quant-report: 9/9 chunks (100%)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("base logits "), std::string::npos) << r.err;
}

TEST_F(EveryUpdate, ModelsAddReportsHashingAndCopying) {
  LCTE_REQUIRE_DATA(kBase);
  const std::string dir = testing::temp_dir();
  auto r = run_command(
      {lcte_binary(), "models", "--registry", dir + "/reg", "add", testing::data_path(kBase), "--name", "stories"},
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A 1.2 MB file is one block: a line at the start and one at the end of each.
  expect_plain_progress(r.err, "models add: hash", 2, false);
  expect_plain_progress(r.err, "models add: copy", 2, false);
}

}  // namespace
}  // namespace lcte
