// Whole-file quantization: lcte's files against llama-quantize's (byte for
// byte), requantization, imatrix use, and every failure leaving no file
// under the output name.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "common/error_of.h"
#include "common/test_data.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "quant/model_quantizer.h"

namespace lcte {
namespace {

using lcte::testing::error_of;

namespace fs = std::filesystem;

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

quant::QuantizeResult run(const std::string& in, const std::string& out, const std::string& type,
                          const quant::Imatrix* im = nullptr, bool pure = false) {
  quant::QuantizeOptions o;
  o.input = in;
  o.output = out;
  o.ftype = *quant::parse_file_type(type);
  o.imatrix = im;
  o.pure = pure;
  o.threads = 2;
  return quant::quantize_model(o);
}

// --- byte identity with llama-quantize ------------------------------------------

struct FileCase {
  std::string model, suffix;
};

class SameFileAsLlamaQuantize : public ::testing::TestWithParam<FileCase> {};

TEST_P(SameFileAsLlamaQuantize, ByteForByte) {
  const auto& c = GetParam();
  const std::string src = "models/" + c.model + "-f32.gguf", ref = "models/" + c.model + "-" + c.suffix + ".gguf";
  LCTE_REQUIRE_DATA(src);
  LCTE_REQUIRE_DATA(ref);
  const std::string out = testing::temp_dir() + "/out.gguf";
  const auto r = run(testing::data_path(src), out, c.suffix);
  EXPECT_FALSE(r.requantized);
  const auto mine = file_bytes(out), theirs = file_bytes(testing::data_path(ref));
  ASSERT_EQ(mine.size(), theirs.size());
  EXPECT_TRUE(mine == theirs) << "same size, different bytes";
  EXPECT_EQ(r.file_bytes_out, mine.size());
  // And it reloads with the types the plan chose.
  const gguf::File f = gguf::File::open(out);
  ASSERT_EQ(f.tensors().size(), r.tensors.size());
  for (const auto& t : r.tensors) EXPECT_EQ(f.tensor(t.plan.name).type, t.plan.to) << t.plan.name;
  EXPECT_EQ(f.get_u64("general.quantization_version"), 2u);
  EXPECT_EQ(f.get_u64("general.file_type"), static_cast<uint64_t>(*quant::parse_file_type(c.suffix)));
}

INSTANTIATE_TEST_SUITE_P(Files, SameFileAsLlamaQuantize,
                         ::testing::Values(FileCase{"rand-llama-d256", "q2_k"}, FileCase{"rand-llama-d256", "q3_k_m"},
                                           FileCase{"rand-llama-d256", "q4_k_m"}, FileCase{"rand-llama-d256", "q5_k_m"},
                                           FileCase{"rand-llama-d256", "q6_k"}, FileCase{"rand-llama-d256", "q8_0"},
                                           FileCase{"rand-llama-d256", "q4_0"}, FileCase{"rand-llama-d256", "q4_1"},
                                           FileCase{"rand-llama-d256", "q5_0"}, FileCase{"rand-llama-d256", "q5_1"},
                                           FileCase{"rand-llama-d256", "f16"}, FileCase{"rand-llama-d256", "bf16"},
                                           FileCase{"rand-llama3-d256", "q4_k_m"},
                                           FileCase{"rand-qwen2-d256", "q4_k_m"}, FileCase{"stories260K", "q4_k_m"}),
                         [](const auto& info) {
                           std::string s = info.param.model + "_" + info.param.suffix;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

// --- other sources ----------------------------------------------------------------

double rmse_vs(const gguf::File& a, const gguf::File& b, const std::string& name) {
  const auto& ta = a.tensor(name);
  const auto& tb = b.tensor(name);
  std::vector<float> x(static_cast<size_t>(ta.n_elements())), y(x.size());
  kernels::dequantize_row(ta.type, ta.data, x.data(), ta.n_elements());
  kernels::dequantize_row(tb.type, tb.data, y.data(), tb.n_elements());
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  return std::sqrt(s / x.size());
}

TEST(ModelQuantizer, RequantizesAQuantizedFile) {
  LCTE_REQUIRE_DATA("models/rand-llama-d256-q8_0.gguf");
  const std::string dir = testing::temp_dir();
  const auto r = run(testing::data_path("models/rand-llama-d256-q8_0.gguf"), dir + "/re.gguf", "Q4_K_M");
  EXPECT_TRUE(r.requantized);
  run(testing::data_path("models/rand-llama-d256-f32.gguf"), dir + "/direct.gguf", "Q4_K_M");
  const gguf::File f32 = gguf::File::open(testing::data_path("models/rand-llama-d256-f32.gguf"));
  const gguf::File re = gguf::File::open(dir + "/re.gguf"), direct = gguf::File::open(dir + "/direct.gguf");
  for (const auto& t : direct.tensors()) EXPECT_EQ(re.tensor(t.name).type, t.type) << t.name;
  // Going through Q8_0 first costs little: Q8_0's error is ~15x below Q4_K's.
  const double e_re = rmse_vs(f32, re, "blk.0.ffn_gate.weight");
  const double e_direct = rmse_vs(f32, direct, "blk.0.ffn_gate.weight");
  EXPECT_GT(e_re, 0.0);
  EXPECT_LT(e_re, e_direct * 1.05);
}

TEST(ModelQuantizer, FromF16) {
  LCTE_REQUIRE_DATA("models/stories260K-f16.gguf");
  const std::string out = testing::temp_dir() + "/s.gguf";
  const auto r = run(testing::data_path("models/stories260K-f16.gguf"), out, "Q8_0");
  EXPECT_FALSE(r.requantized);
  const gguf::File f = gguf::File::open(out);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, GgmlType::Q8_0);
  // ffn_down rows of 172 fit no block: F16 (llama-quantize refuses Q8_0 here).
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type, GgmlType::F16);
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
  EXPECT_EQ(r.n_fallback, 5);
}

TEST(ModelQuantizer, ImatrixChangesTheKQuantTensors) {
  LCTE_REQUIRE_DATA("models/rand-llama-d256-f32.gguf");
  const std::string src = testing::data_path("models/rand-llama-d256-f32.gguf");
  const gguf::File f = gguf::File::open(src);
  // Importance that varies across columns: every quantized matrix's blocks
  // must come out differently from the unweighted ones.
  quant::Imatrix im;
  for (const auto& t : f.tensors()) {
    if (t.ne.size() < 2 || !t.name.starts_with("blk.")) continue;
    std::vector<float> w(static_cast<size_t>(t.ne[0]));
    for (size_t j = 0; j < w.size(); ++j) w[j] = 0.05f + static_cast<float>((j * 7919) % 101);
    im.entries[t.name] = {1, w};
  }
  im.entries["token_embd.weight"] = {1, std::vector<float>(3, 1.0f)};  // wrong size: ignored for token_embd
  const std::string dir = testing::temp_dir();
  const auto plain = run(src, dir + "/plain.gguf", "Q4_K_M");
  const auto weighted = run(src, dir + "/weighted.gguf", "Q4_K_M", &im);
  const gguf::File a = gguf::File::open(dir + "/plain.gguf"), b = gguf::File::open(dir + "/weighted.gguf");
  int used = 0;
  for (const auto& t : weighted.tensors) {
    if (!t.plan.quantize) continue;
    const bool has = t.plan.name.starts_with("blk.");
    EXPECT_EQ(t.used_imatrix, has) << t.plan.name;
    used += t.used_imatrix;
    const auto& ta = a.tensor(t.plan.name);
    const auto& tb = b.tensor(t.plan.name);
    const bool same = std::memcmp(ta.data, tb.data, ta.nbytes) == 0;
    EXPECT_EQ(same, !has) << t.plan.name;
  }
  EXPECT_EQ(used, 28);
  EXPECT_EQ(plain.tensor_bytes_out, weighted.tensor_bytes_out);
}

// --- failures ----------------------------------------------------------------------

TEST(ModelQuantizerErrors, MissingOrCorruptInput) {
  const std::string dir = testing::temp_dir();
  EXPECT_NE(error_of([&] { run(dir + "/absent.gguf", dir + "/o.gguf", "Q4_0"); }).find("absent.gguf"),
            std::string::npos);
  std::ofstream(dir + "/junk.gguf") << "GGUF this is not";
  EXPECT_NE(error_of([&] { run(dir + "/junk.gguf", dir + "/o.gguf", "Q4_0"); }).find("junk.gguf"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
  EXPECT_FALSE(fs::exists(dir + "/o.gguf.tmp"));
}

TEST(ModelQuantizerErrors, UnwritableOutput) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  const std::string dir = testing::temp_dir();
  const std::string msg =
      error_of([&] { run(testing::data_path("models/stories260K-f32.gguf"), dir + "/no/such/dir/o.gguf", "Q8_0"); });
  EXPECT_NE(msg.find("no/such/dir/o.gguf"), std::string::npos) << msg;
}

TEST(ModelQuantizerErrors, ImatrixOfWrongShapeLeavesNoFile) {
  LCTE_REQUIRE_DATA("models/rand-llama-d256-f32.gguf");
  const std::string dir = testing::temp_dir();
  std::ofstream(dir + "/o.gguf") << "previous contents";
  quant::Imatrix im;
  im.path = "bad.imatrix";
  im.entries["blk.2.ffn_down.weight"] = {1, std::vector<float>(256, 1.0f)};  // has 768 columns
  const std::string msg =
      error_of([&] { run(testing::data_path("models/rand-llama-d256-f32.gguf"), dir + "/o.gguf", "Q4_K_M", &im); });
  EXPECT_NE(msg.find("bad.imatrix"), std::string::npos) << msg;
  EXPECT_NE(msg.find("blk.2.ffn_down.weight"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir + "/o.gguf.tmp"));
  std::ifstream in(dir + "/o.gguf");
  std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(old, "previous contents");
}

// A full disk, simulated with a file size limit (no mount needed): the write
// fails part-way, the error says so, and neither the output nor its .tmp is
// left behind.
TEST(ModelQuantizerErrors, DiskFullLeavesNoFile) {
  LCTE_REQUIRE_DATA("models/rand-llama-d256-f32.gguf");
  const std::string dir = testing::temp_dir();
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 200 * 1024;  // the Q8_0 file is 3.6 MB
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  const std::string msg =
      error_of([&] { run(testing::data_path("models/rand-llama-d256-f32.gguf"), dir + "/o.gguf", "Q8_0"); });
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find("write failed"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
  EXPECT_FALSE(fs::exists(dir + "/o.gguf.tmp"));
}

}  // namespace
}  // namespace lcte
