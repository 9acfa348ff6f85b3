// Conformance with llama.cpp's files: dequantization of real tensors against
// gguf-py's output (reference/dequant/*.dequant.json), and the reference
// quantizers against the Q8_0/Q4_0 files that gguf-py's quantizer wrote from
// the F32 model.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/isa.h"
#include "common/test_data.h"
#include "gguf/gguf.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"

namespace lcte {
namespace {

using kernels::Isa;

void check_reference_file(const std::filesystem::path& json_path) {
  std::ifstream in(json_path);
  const nlohmann::json ref = nlohmann::json::parse(in);
  const std::string model = ::lcte::testing::data_path("models/" + ref.at("file").get<std::string>());
  ASSERT_TRUE(std::filesystem::exists(model)) << model;
  const gguf::File file = gguf::File::open(model);
  ASSERT_FALSE(ref.at("tensors").empty());
  for (const auto& t : ref.at("tensors")) {
    const std::string name = t.at("name").get<std::string>();
    const gguf::TensorInfo& info = file.tensor(name);
    const auto want_type = type_from_name(t.at("type").get<std::string>());
    ASSERT_TRUE(want_type.has_value()) << t.at("type");
    ASSERT_EQ(info.type, *want_type) << json_path << " " << name;
    ASSERT_EQ(info.ne, t.at("ne").get<std::vector<int64_t>>()) << name;
    const int64_t n = info.ne[0];
    const int64_t rows = t.at("first_rows").get<int64_t>();
    const auto values = t.at("values").get<std::vector<double>>();
    ASSERT_EQ(static_cast<int64_t>(values.size()), rows * n) << name;
    const size_t stride = row_bytes(info.type, n);
    for (Isa isa : ::lcte::testing::isas_under_test()) {
      std::vector<float> got(static_cast<size_t>(n));
      for (int64_t r = 0; r < rows; ++r) {
        kernels::dequantize_row(info.type, info.data + r * stride, got.data(), n, isa);
        for (int64_t i = 0; i < n; ++i) {
          const float want = static_cast<float>(values[r * n + i]);
          ASSERT_EQ(f32_bits(got[i]), f32_bits(want))
              << json_path.filename() << " " << name << " (" << type_name(info.type) << ", " << kernels::isa_name(isa)
              << ") row " << r << " col " << i << ": " << got[i] << " vs " << want;
        }
      }
    }
  }
}

TEST(Conformance, DequantMatchesGgufPyBitExactly) {
  LCTE_REQUIRE_DATA("reference/dequant");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(::lcte::testing::data_path("reference/dequant"))) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().filename().string());
    check_reference_file(entry.path());
    ++files;
  }
  EXPECT_GE(files, 13);
}

// stories260K-{q8_0,q4_0}.gguf were written by gguf-py's reference quantizer
// from the same weights as stories260K-f32.gguf (ffn_down kept in F16), so
// quantizing the F32 tensors must reproduce their bytes exactly.
void check_quantized_file(const std::string& quantized, GgmlType type) {
  const std::string f32_rel = "models/stories260K-f32.gguf", q_rel = "models/" + quantized;
  if (!::lcte::testing::data_exists(f32_rel) || !::lcte::testing::data_exists(q_rel))
    GTEST_SKIP() << "model files absent";
  const gguf::File f32 = gguf::File::open(::lcte::testing::data_path(f32_rel));
  const gguf::File q = gguf::File::open(::lcte::testing::data_path(q_rel));
  int checked = 0;
  for (const gguf::TensorInfo& info : q.tensors()) {
    const gguf::TensorInfo& src = f32.tensor(info.name);
    if (src.type != GgmlType::F32) continue;
    ASSERT_EQ(src.ne, info.ne) << info.name;
    const int64_t n = info.ne[0];
    std::vector<uint8_t> mine(row_bytes(info.type, n));
    for (int64_t r = 0; r < info.rows(); ++r) {
      const float* x = reinterpret_cast<const float*>(src.data) + r * n;
      kernels::quantize_row_ref(info.type, x, mine.data(), n);
      ASSERT_EQ(0, std::memcmp(mine.data(), info.data + r * mine.size(), mine.size()))
          << quantized << " " << info.name << " (" << type_name(info.type) << ") row " << r;
    }
    if (info.type == type) ++checked;
  }
  EXPECT_GE(checked, 5) << "too few " << type_name(type) << " tensors compared";
}

TEST(Conformance, Q8_0QuantizerReproducesGgufPyFile) { check_quantized_file("stories260K-q8_0.gguf", GgmlType::Q8_0); }
TEST(Conformance, Q4_0QuantizerReproducesGgufPyFile) { check_quantized_file("stories260K-q4_0.gguf", GgmlType::Q4_0); }

}  // namespace
}  // namespace lcte
