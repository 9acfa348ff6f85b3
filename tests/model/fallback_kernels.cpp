// TEMPORARY, test-only: a slow scalar stand-in for lcte::kernels (F32, F16,
// BF16 weights only) so the engine's tests link before branch `tensor` lands.
// Delete this file when main has src/tensor/kernels.cpp.
#include <cstring>

#include "core/error.h"
#include "model/vec.h"
#include "tensor/kernels.h"

namespace lcte::kernels {
namespace {
float bf16_to_f32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

std::string_view isa_name(Isa isa) { return isa == Isa::Scalar ? "scalar" : isa == Isa::Avx2 ? "avx2" : "avx512"; }
Isa best_isa() { return Isa::Scalar; }
bool isa_available(Isa isa) { return isa == Isa::Scalar; }

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  switch (t) {
    case GgmlType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::F16: for (int64_t i = 0; i < n; ++i) dst[i] = model::vec::fp16_to_fp32(h[i]); return;
    case GgmlType::BF16: for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]); return;
    default: fail("fallback kernels: type {} not supported", type_name(t));
  }
}

GgmlType activation_type(GgmlType w) {
  if (w == GgmlType::F32 || w == GgmlType::F16 || w == GgmlType::BF16) return GgmlType::F32;
  fail("fallback kernels: type {} not supported", type_name(w));
}

void quantize_activations(GgmlType act, const float* x, void* dst, int64_t n, Isa) {
  if (act != GgmlType::F32) fail("fallback kernels: activation type {} not supported", type_name(act));
  std::memcpy(dst, x, static_cast<size_t>(n) * 4);
}

float vec_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, Isa) {
  const auto* a = static_cast<const float*>(act_row);
  float row[4096];
  double s = 0;
  for (int64_t i0 = 0; i0 < n; i0 += 4096) {
    const int64_t m = std::min<int64_t>(4096, n - i0);
    dequantize_row(w, static_cast<const uint8_t*>(w_row) + row_bytes(w, i0), row, m);
    for (int64_t i = 0; i < m; ++i) s += static_cast<double>(row[i]) * a[i0 + i];
  }
  return static_cast<float>(s);
}

void vec_dot_rows(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* act_row,
                  float* out, Isa isa) {
  for (int64_t r = 0; r < nrows; ++r)
    out[r] = vec_dot(w, n, static_cast<const uint8_t*>(w_rows) + static_cast<size_t>(r) * w_stride, act_row, isa);
}

}  // namespace lcte::kernels
