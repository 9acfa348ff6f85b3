// The per-tensor type rules: against the types llama-quantize chose in the
// shared reference files, and against hand-computed layer sets on a
// synthetic 32-layer model.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/test_data.h"
#include "gguf/gguf.h"
#include "gguf/model_info.h"
#include "quant/mix.h"

namespace lcte {
namespace {

using quant::FileType;

TEST(FileTypes, NamesRoundTripAndMatchLlamaCppNumbers) {
  for (FileType t : quant::all_file_types()) {
    const std::string name(quant::file_type_name(t));
    EXPECT_EQ(quant::parse_file_type(name), t) << name;
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(quant::parse_file_type(lower), t) << lower;
    // The GGUF reader's table of llama_ftype numbers is independent of ours.
    EXPECT_EQ(gguf::file_type_name(static_cast<uint32_t>(t)), name);
  }
  EXPECT_EQ(quant::parse_file_type("q4_k"), FileType::Q4_K_M);
  EXPECT_EQ(quant::parse_file_type("Q3_K"), FileType::Q3_K_M);
  EXPECT_FALSE(quant::parse_file_type("Q4_K_X").has_value());
  EXPECT_FALSE(quant::parse_file_type("IQ2_XXS").has_value());
  EXPECT_FALSE(quant::parse_file_type("").has_value());
}

TEST(Quantizable, OnlyMatrixWeights) {
  EXPECT_TRUE(quant::is_quantizable("blk.0.attn_q.weight", 2, false));
  EXPECT_TRUE(quant::is_quantizable("output.weight", 2, false));
  EXPECT_FALSE(quant::is_quantizable("output.weight", 2, true));
  EXPECT_FALSE(quant::is_quantizable("blk.0.attn_norm.weight", 1, false));
  EXPECT_FALSE(quant::is_quantizable("blk.0.attn_norm.weight", 2, false));  // norms never
  EXPECT_FALSE(quant::is_quantizable("blk.0.attn_q.bias", 1, false));
  EXPECT_FALSE(quant::is_quantizable("rope_freqs.weight", 1, false));
  EXPECT_FALSE(quant::is_quantizable("blk.0.ffn_gate_inp.weight", 2, false));
  EXPECT_FALSE(quant::is_quantizable("position_embd.weight", 2, false));
}

// --- the reference files -------------------------------------------------------

struct RefCase {
  std::string model, suffix, ftype;
};

class PlanMatchesReference : public ::testing::TestWithParam<RefCase> {};

TEST_P(PlanMatchesReference, SameTypesAndOrder) {
  const RefCase& c = GetParam();
  const std::string src_rel = "models/" + c.model + "-f32.gguf",
                    ref_rel = "models/" + c.model + "-" + c.suffix + ".gguf";
  LCTE_REQUIRE_DATA(src_rel);
  LCTE_REQUIRE_DATA(ref_rel);
  const gguf::File src = gguf::File::open(testing::data_path(src_rel));
  const gguf::File ref = gguf::File::open(testing::data_path(ref_rel));
  quant::MixOptions o;
  o.ftype = *quant::parse_file_type(c.ftype);
  const auto plans = quant::plan_mix(src, o);
  ASSERT_EQ(plans.size(), ref.tensors().size());
  for (size_t i = 0; i < plans.size(); ++i) {
    const gguf::TensorInfo& rt = ref.tensors()[i];
    EXPECT_EQ(plans[i].name, rt.name) << "position " << i;
    EXPECT_EQ(type_name(plans[i].to), type_name(rt.type)) << rt.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Files, PlanMatchesReference,
    ::testing::Values(RefCase{"rand-llama-d256", "q2_k", "Q2_K"}, RefCase{"rand-llama-d256", "q3_k_m", "Q3_K_M"},
                      RefCase{"rand-llama-d256", "q4_k_m", "Q4_K_M"}, RefCase{"rand-llama-d256", "q5_k_m", "Q5_K_M"},
                      RefCase{"rand-llama-d256", "q6_k", "Q6_K"}, RefCase{"rand-llama-d256", "q4_0", "Q4_0"},
                      RefCase{"rand-llama-d256", "q8_0", "Q8_0"}, RefCase{"rand-llama-d256", "bf16", "BF16"},
                      RefCase{"rand-llama3-d256", "q4_k_m", "Q4_K_M"}, RefCase{"rand-qwen2-d256", "q4_k_m", "Q4_K_M"},
                      RefCase{"stories260K", "q4_k_m", "Q4_K_M"}),
    [](const auto& info) {
      std::string s = info.param.model + "_" + info.param.suffix;
      for (char& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

// --- a synthetic 32-layer model -------------------------------------------------

// A model file with n_layer blocks of small tensors (contents zero: the rules
// look only at names and shapes). head_count/head_count_kv set n_gqa.
gguf::File synthetic_model(const std::string& dir, int n_layer, int n_head, int n_head_kv, int ffn_row = 256) {
  static std::vector<float> zeros(256 * 256, 0.0f);
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("llama.block_count", gguf::Value::u32(static_cast<uint32_t>(n_layer)));
  w.set("llama.embedding_length", gguf::Value::u32(256));
  w.set("llama.attention.head_count", gguf::Value::u32(static_cast<uint32_t>(n_head)));
  w.set("llama.attention.head_count_kv", gguf::Value::u32(static_cast<uint32_t>(n_head_kv)));
  w.add_tensor("token_embd.weight", GgmlType::F32, {256, 4}, zeros.data());
  w.add_tensor("output.weight", GgmlType::F32, {256, 4}, zeros.data());
  w.add_tensor("output_norm.weight", GgmlType::F32, {256}, zeros.data());
  for (int i = 0; i < n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"})
      w.add_tensor(b + m + ".weight", GgmlType::F32, {256, 2}, zeros.data());
    w.add_tensor(b + "ffn_down.weight", GgmlType::F32, {ffn_row, 2}, zeros.data());
    w.add_tensor(b + "attn_norm.weight", GgmlType::F32, {256}, zeros.data());
  }
  const std::string path = dir + "/synthetic.gguf";
  w.write(path);
  return gguf::File::open(path);
}

// Layers whose tensor `suffix` gets type `t` under the plan.
std::set<int> layers_with(const std::vector<quant::TensorPlan>& plans, const std::string& suffix, GgmlType t) {
  std::set<int> out;
  for (const auto& p : plans)
    if (p.name.ends_with(suffix) && p.to == t) out.insert(std::stoi(p.name.substr(4)));
  return out;
}

std::vector<quant::TensorPlan> plan(const gguf::File& f, FileType ft, bool pure = false, bool imatrix = false) {
  quant::MixOptions o;
  o.ftype = ft;
  o.pure = pure;
  o.has_imatrix = imatrix;
  return quant::plan_mix(f, o);
}

TEST(Mix, Q4_K_M_MoreBitsLayersOf32) {
  const gguf::File f = synthetic_model(testing::temp_dir(), 32, 32, 8);
  const auto p = plan(f, FileType::Q4_K_M);
  // use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2, by hand:
  const std::set<int> more = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
  EXPECT_EQ(layers_with(p, ".attn_v.weight", GgmlType::Q6_K), more);
  EXPECT_EQ(layers_with(p, ".ffn_down.weight", GgmlType::Q6_K), more);
  EXPECT_EQ(layers_with(p, ".attn_q.weight", GgmlType::Q4_K).size(), 32u);
  for (const auto& t : p) {
    if (t.name == "output.weight") {
      EXPECT_EQ(t.to, GgmlType::Q6_K);
    }
    if (t.name == "token_embd.weight") {
      EXPECT_EQ(t.to, GgmlType::Q4_K);
    }
    if (t.name.ends_with("norm.weight")) {
      EXPECT_FALSE(t.quantize) << t.name;
    }
  }
}

TEST(Mix, Q3_K_FamilyAndQ4_K_S) {
  const gguf::File f = synthetic_model(testing::temp_dir(), 32, 32, 8);
  auto m = plan(f, FileType::Q3_K_M);
  EXPECT_EQ(layers_with(m, ".attn_v.weight", GgmlType::Q5_K), (std::set<int>{0, 1}));
  EXPECT_EQ(layers_with(m, ".attn_v.weight", GgmlType::Q4_K).size(), 30u);
  EXPECT_EQ(layers_with(m, ".ffn_down.weight", GgmlType::Q5_K), (std::set<int>{0, 1}));  // i < 32/16
  EXPECT_EQ(layers_with(m, ".ffn_down.weight", GgmlType::Q4_K).size(), 30u);
  EXPECT_EQ(layers_with(m, ".attn_output.weight", GgmlType::Q4_K).size(), 32u);
  auto l = plan(f, FileType::Q3_K_L);
  EXPECT_EQ(layers_with(l, ".attn_v.weight", GgmlType::Q5_K).size(), 32u);
  EXPECT_EQ(layers_with(l, ".ffn_down.weight", GgmlType::Q5_K).size(), 32u);
  EXPECT_EQ(layers_with(l, ".attn_output.weight", GgmlType::Q5_K).size(), 32u);
  auto s = plan(f, FileType::Q3_K_S);
  EXPECT_EQ(layers_with(s, ".attn_v.weight", GgmlType::Q3_K).size(), 32u);
  auto k = plan(f, FileType::Q4_K_S);
  EXPECT_EQ(layers_with(k, ".attn_v.weight", GgmlType::Q5_K), (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(layers_with(k, ".ffn_down.weight", GgmlType::Q5_K), (std::set<int>{0, 1, 2, 3}));  // i < 32/8
}

TEST(Mix, Q2_K_DependsOnGroupedQueryRatio) {
  const std::string dir = testing::temp_dir();
  EXPECT_EQ(layers_with(plan(synthetic_model(dir, 8, 32, 8), FileType::Q2_K), ".attn_v.weight", GgmlType::Q4_K).size(),
            8u);  // n_gqa 4
  EXPECT_EQ(layers_with(plan(synthetic_model(dir, 8, 32, 16), FileType::Q2_K), ".attn_v.weight", GgmlType::Q3_K).size(),
            8u);  // n_gqa 2
}

TEST(Mix, ImatrixMovesEarlyFfnDownOfQ4_0ToQ4_1) {
  const gguf::File f = synthetic_model(testing::temp_dir(), 16, 32, 8);
  EXPECT_TRUE(layers_with(plan(f, FileType::Q4_0), ".ffn_down.weight", GgmlType::Q4_1).empty());
  EXPECT_EQ(layers_with(plan(f, FileType::Q4_0, false, true), ".ffn_down.weight", GgmlType::Q4_1),
            (std::set<int>{0, 1}));  // i < 16/8
}

TEST(Mix, PureUsesOneTypeButKeepsFallbacks) {
  const gguf::File f = synthetic_model(testing::temp_dir(), 4, 8, 8, /*ffn_row=*/96);
  for (const auto& t : plan(f, FileType::Q4_K_M, /*pure=*/true)) {
    if (!t.quantize) continue;
    if (t.name.ends_with("ffn_down.weight")) {
      // 96 is no multiple of 256: Q4_K -> Q5_0 (32 divides 96).
      EXPECT_TRUE(t.fallback);
      EXPECT_EQ(t.to, GgmlType::Q5_0) << t.name;
    } else {
      EXPECT_EQ(t.to, GgmlType::Q4_K) << t.name;
    }
  }
}

TEST(Mix, FallbackTable) {
  const std::string dir = testing::temp_dir();
  const gguf::File f96 = synthetic_model(dir, 4, 8, 8, 96);
  auto tensor = [](const std::vector<quant::TensorPlan>& p, const std::string& name) {
    for (const auto& t : p)
      if (t.name == name) return t;
    ADD_FAILURE() << "no " << name;
    return quant::TensorPlan{};
  };
  auto down = [&](const std::vector<quant::TensorPlan>& p) { return tensor(p, "blk.1.ffn_down.weight"); };
  EXPECT_EQ(down(plan(f96, FileType::Q2_K)).to, GgmlType::Q4_0);  // wanted Q3_K
  EXPECT_EQ(down(plan(f96, FileType::Q3_K_S)).to, GgmlType::Q4_0);
  EXPECT_EQ(down(plan(f96, FileType::Q5_K_S)).to, GgmlType::Q5_1);
  EXPECT_EQ(down(plan(f96, FileType::Q6_K)).to, GgmlType::Q8_0);
  // Layer 2 of 4 is a "more bits" layer: Q6_K wanted, Q8_0 written.
  const auto q6 = tensor(plan(f96, FileType::Q4_K_M), "blk.2.ffn_down.weight");
  EXPECT_EQ(q6.wanted, GgmlType::Q6_K);
  EXPECT_EQ(q6.to, GgmlType::Q8_0);
  const gguf::File f40 = synthetic_model(dir, 4, 8, 8, 40);
  EXPECT_EQ(down(plan(f40, FileType::Q4_K_S)).to, GgmlType::F16);  // Q4_K -> Q5_0 does not fit 40 either
  EXPECT_EQ(down(plan(f40, FileType::Q8_0)).to, GgmlType::F16);    // llama.cpp would refuse
  EXPECT_TRUE(down(plan(f40, FileType::Q8_0)).fallback);
  EXPECT_EQ(down(plan(f40, FileType::F16)).to, GgmlType::F16);
  EXPECT_FALSE(down(plan(f40, FileType::F16)).fallback);
}

TEST(Mix, KeepOutput) {
  const gguf::File f = synthetic_model(testing::temp_dir(), 4, 8, 8);
  quant::MixOptions o;
  o.ftype = FileType::Q4_K_M;
  o.keep_output = true;
  for (const auto& t : quant::plan_mix(f, o))
    if (t.name == "output.weight") {
      EXPECT_FALSE(t.quantize);
      EXPECT_EQ(t.to, GgmlType::F32);
    }
}

}  // namespace
}  // namespace lcte
