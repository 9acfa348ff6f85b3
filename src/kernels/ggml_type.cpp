#include "kernels/ggml_type.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace lcte {
namespace {

constexpr int64_t QK_K = 256;

// Block sizes and byte counts follow the block structs of ggml-common.h.
constexpr std::array<TypeTraits, 31> kTraits{{
    {GgmlType::F32, "f32", 1, 4, false, true},
    {GgmlType::F16, "f16", 1, 2, false, true},
    {GgmlType::Q4_0, "q4_0", 32, 2 + 16, true, true},
    {GgmlType::Q4_1, "q4_1", 32, 2 + 2 + 16, true, true},
    {GgmlType::Q5_0, "q5_0", 32, 2 + 4 + 16, true, true},
    {GgmlType::Q5_1, "q5_1", 32, 2 + 2 + 4 + 16, true, true},
    {GgmlType::Q8_0, "q8_0", 32, 2 + 32, true, true},
    {GgmlType::Q8_1, "q8_1", 32, 2 + 2 + 32, true, true},
    {GgmlType::Q2_K, "q2_K", QK_K, 16 + 64 + 2 + 2, true, true},
    {GgmlType::Q3_K, "q3_K", QK_K, 32 + 64 + 12 + 2, true, true},
    {GgmlType::Q4_K, "q4_K", QK_K, 2 + 2 + 12 + 128, true, true},
    {GgmlType::Q5_K, "q5_K", QK_K, 2 + 2 + 12 + 32 + 128, true, true},
    {GgmlType::Q6_K, "q6_K", QK_K, 128 + 64 + 16 + 2, true, true},
    {GgmlType::Q8_K, "q8_K", QK_K, 4 + 256 + 32, true, true},
    {GgmlType::IQ2_XXS, "iq2_xxs", QK_K, 2 + 64, true, false},
    {GgmlType::IQ2_XS, "iq2_xs", QK_K, 2 + 64 + 8, true, false},
    {GgmlType::IQ3_XXS, "iq3_xxs", QK_K, 2 + 96, true, false},
    {GgmlType::IQ1_S, "iq1_s", QK_K, 2 + 32 + 16, true, false},
    {GgmlType::IQ4_NL, "iq4_nl", 32, 2 + 16, true, false},
    {GgmlType::IQ3_S, "iq3_s", QK_K, 2 + 64 + 8 + 32 + 4, true, false},
    {GgmlType::IQ2_S, "iq2_s", QK_K, 2 + 64 + 8 + 8, true, false},
    {GgmlType::IQ4_XS, "iq4_xs", QK_K, 2 + 2 + 4 + 128, true, false},
    {GgmlType::I8, "i8", 1, 1, false, false},
    {GgmlType::I16, "i16", 1, 2, false, false},
    {GgmlType::I32, "i32", 1, 4, false, false},
    {GgmlType::I64, "i64", 1, 8, false, false},
    {GgmlType::F64, "f64", 1, 8, false, false},
    {GgmlType::IQ1_M, "iq1_m", QK_K, 32 + 16 + 8, true, false},
    {GgmlType::BF16, "bf16", 1, 2, false, true},
    {GgmlType::TQ1_0, "tq1_0", QK_K, 48 + 4 + 2, true, false},
    {GgmlType::TQ2_0, "tq2_0", QK_K, 64 + 2, true, false},
}};

}  // namespace

const TypeTraits* find_type_traits(uint32_t raw_type) {
  for (const TypeTraits& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == raw_type) return &t;
  }
  return nullptr;
}

const TypeTraits& type_traits(GgmlType type) { return *find_type_traits(static_cast<uint32_t>(type)); }

std::optional<GgmlType> type_from_name(std::string_view name) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
  };
  std::string want = lower(name);
  for (const TypeTraits& t : kTraits) {
    if (lower(t.name) == want) return t.type;
  }
  return std::nullopt;
}

}  // namespace lcte
