// lcte's quantizers against llama-quantize's output: the rand-llama-d256-*
// files were quantized by llama.cpp (commit c392e50) from
// rand-llama-d256-f32.gguf without an imatrix, so for every quantized tensor
// lcte, fed the same F32 rows, must write the same blocks. The test counts
// identical blocks per type and compares the RMSE of both against the F32
// source (a block that differs must not be a worse block by much).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/test_data.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "quant/quantize.h"

namespace lcte {
namespace {

struct MatchCount {
  int64_t blocks = 0;
  int64_t identical = 0;
  double sq_err_lcte = 0, sq_err_ref = 0;
  int64_t values = 0;
};

std::vector<float> to_f32(const gguf::TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  kernels::dequantize_row(t.type, t.data, out.data(), t.n_elements());
  return out;
}

double sq_error(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s;
}

// Quantizes every tensor that `ref` stores in a block type from the F32
// source and compares; returns the counts per type.
std::map<GgmlType, MatchCount> compare_file(const gguf::File& src, const gguf::File& ref) {
  std::map<GgmlType, MatchCount> counts;
  for (const gguf::TensorInfo& rt : ref.tensors()) {
    if (!type_traits(rt.type).quantized) continue;
    const gguf::TensorInfo& st = src.tensor(rt.name);
    EXPECT_EQ(st.type, GgmlType::F32) << rt.name;
    const int64_t n = st.ne[0], rows = st.rows();
    std::vector<uint8_t> mine(row_bytes(rt.type, n) * rows);
    quant::quantize_rows(rt.type, reinterpret_cast<const float*>(st.data), mine.data(), rows, n, nullptr, 2);
    EXPECT_EQ(mine.size(), rt.nbytes) << rt.name;
    MatchCount& c = counts[rt.type];
    const size_t bb = type_traits(rt.type).block_bytes;
    for (size_t off = 0; off + bb <= mine.size(); off += bb) {
      ++c.blocks;
      c.identical += std::memcmp(mine.data() + off, rt.data + off, bb) == 0;
    }
    const std::vector<float> x(reinterpret_cast<const float*>(st.data),
                               reinterpret_cast<const float*>(st.data) + st.n_elements());
    std::vector<float> dq(x.size());
    kernels::dequantize_row(rt.type, mine.data(), dq.data(), st.n_elements());
    c.sq_err_lcte += sq_error(x, dq);
    c.sq_err_ref += sq_error(x, to_f32(rt));
    c.values += st.n_elements();
  }
  return counts;
}

class LlamaCppMatch : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaCppMatch, SameBlocksAsLlamaQuantize) {
  const std::string src_rel = "models/rand-llama-d256-f32.gguf";
  const std::string ref_rel = "models/rand-llama-d256-" + GetParam() + ".gguf";
  LCTE_REQUIRE_DATA(src_rel);
  LCTE_REQUIRE_DATA(ref_rel);
  const gguf::File src = gguf::File::open(testing::data_path(src_rel));
  const gguf::File ref = gguf::File::open(testing::data_path(ref_rel));
  const auto counts = compare_file(src, ref);
  ASSERT_FALSE(counts.empty());
  for (const auto& [type, c] : counts) {
    const double rmse_lcte = std::sqrt(c.sq_err_lcte / c.values);
    const double rmse_ref = std::sqrt(c.sq_err_ref / c.values);
    std::printf("%-8s %-5s blocks %7lld identical %7lld (%.4f%%)  rmse lcte %.6g llama.cpp %.6g\n", GetParam().c_str(),
                std::string(type_name(type)).c_str(), static_cast<long long>(c.blocks),
                static_cast<long long>(c.identical), 100.0 * c.identical / c.blocks, rmse_lcte, rmse_ref);
    // Same algorithm, same bytes: every block must match, and so the error.
    EXPECT_EQ(c.identical, c.blocks) << type_name(type);
    EXPECT_LE(rmse_lcte, rmse_ref * 1.001) << type_name(type);
  }
}

INSTANTIATE_TEST_SUITE_P(Types, LlamaCppMatch,
                         ::testing::Values("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k_m", "q4_k_m", "q5_k_m",
                                           "q6_k"));

}  // namespace
}  // namespace lcte
