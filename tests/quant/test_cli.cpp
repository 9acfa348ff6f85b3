// The quant commands as a user runs them: lcte imatrix -> lcte quantize
// --imatrix -> lcte quant-report, and the messages and exit codes of bad
// invocations (never a signal, never a file left under the output name).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/run_command.h"
#include "common/test_data.h"
#include "gguf/gguf.h"
#include "quant/imatrix.h"

namespace lcte {
namespace {

namespace fs = std::filesystem;
using testing::lcte_binary;
using testing::run_command;

const char* kStories = "models/stories260K-f32.gguf";

TEST(QuantCli, UnknownTypeListsTheValidOnes) {
  LCTE_REQUIRE_DATA(kStories);
  const std::string dir = testing::temp_dir();
  auto r = run_command({lcte_binary(), "quantize", testing::data_path(kStories), dir + "/o.gguf", "Q4_K_X"}, dir);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.signal, 0);
  EXPECT_NE(r.err.find("unknown type 'Q4_K_X'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Q4_K_M"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
}

TEST(QuantCli, BadInputsFailCleanly) {
  LCTE_REQUIRE_DATA(kStories);
  const std::string dir = testing::temp_dir();
  auto missing = run_command({lcte_binary(), "quantize", dir + "/missing.gguf", dir + "/o.gguf", "q4_0"}, dir);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("missing.gguf"), std::string::npos) << missing.err;
  auto no_text =
      run_command({lcte_binary(), "quantize", testing::data_path(kStories), dir + "/o.gguf", "q8_0", "--report"}, dir);
  EXPECT_EQ(no_text.exit_code, 1);
  EXPECT_NE(no_text.err.find("--report needs --text"), std::string::npos) << no_text.err;
  std::ofstream(dir + "/bad.imatrix") << "not an imatrix";
  auto bad_im = run_command({lcte_binary(), "quantize", testing::data_path(kStories), dir + "/o.gguf", "q4_k_m",
                             "--imatrix", dir + "/bad.imatrix"},
                            dir);
  EXPECT_EQ(bad_im.exit_code, 1);
  EXPECT_NE(bad_im.err.find("bad.imatrix"), std::string::npos) << bad_im.err;
  auto unwritable =
      run_command({lcte_binary(), "quantize", testing::data_path(kStories), "/proc/lcte-no/o.gguf", "q8_0"}, dir);
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.err.find("cannot create"), std::string::npos) << unwritable.err;
  EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
  EXPECT_FALSE(fs::exists(dir + "/o.gguf.tmp"));
}

TEST(QuantCli, ImatrixQuantizeReportPipeline) {
  LCTE_REQUIRE_DATA(kStories);
  LCTE_REQUIRE_DATA("reference/kld-text.txt");
  const std::string dir = testing::temp_dir();
  const std::string model = testing::data_path(kStories), text = testing::data_path("reference/kld-text.txt");
  auto im = run_command({lcte_binary(), "imatrix", "-m", model, "--text", text, "-o", dir + "/s.imatrix", "--ctx", "64",
                         "--chunks", "4", "-t", "2"},
                        dir);
  ASSERT_EQ(im.exit_code, 0) << im.err;
  const quant::Imatrix m = quant::read_imatrix(dir + "/s.imatrix");
  EXPECT_EQ(m.entries.size(), 35u);
  EXPECT_EQ(m.last_call, 4);
  EXPECT_EQ(m.dataset, "kld-text.txt");

  auto q = run_command(
      {lcte_binary(), "quantize", model, dir + "/q.gguf", "q4_k_m", "--imatrix", dir + "/s.imatrix", "-t", "2"}, dir);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.out.find("wrote " + dir + "/q.gguf: Q4_K_M"), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("fallback"), std::string::npos) << q.out;  // rows of 64 and 172
  // A fallback tensor's line (imatrix-weighted) at the default log level; the
  // file's progress ends with its last tensor, as plain lines into a file.
  EXPECT_NE(q.err.find("(imatrix)  (fallback: rows of 64"), std::string::npos) << q.err;
  EXPECT_NE(q.err.find("(100%)"), std::string::npos) << q.err;
  EXPECT_NE(q.err.find("tensor 48/48"), std::string::npos) << q.err;
  EXPECT_EQ(q.err.find('\r'), std::string::npos) << q.err;
  EXPECT_EQ(gguf::File::open(dir + "/q.gguf").get_u64("general.file_type"), 15u);

  auto rep = run_command(
      {lcte_binary(), "quant-report", model,    dir + "/q.gguf", "--text", text,     "--ctx", "64", "--chunks",
       "2",           "--pp",         "8",      "--tg",          "4",      "--reps", "1",     "-t", "2",
       "--csv",       dir + "/r.csv", "--json", dir + "/r.json"},
      dir);
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  EXPECT_NE(rep.out.find("| q.gguf | Q4_K_M |"), std::string::npos) << rep.out;
  EXPECT_TRUE(fs::exists(dir + "/r.csv"));
  EXPECT_TRUE(fs::exists(dir + "/r.json"));
  EXPECT_FALSE(fs::exists(dir + "/r.csv.tmp"));
}

}  // namespace
}  // namespace lcte
