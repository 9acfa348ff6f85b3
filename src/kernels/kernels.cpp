// Run-time dispatch: one function table per ISA, built once, chosen per call.
#include "kernels/kernels.h"

#include <cstdlib>
#include <string>

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/kernel_table.h"

namespace lcte::kernels {
namespace {

using detail::KernelTable;

bool cpu_has_avx2() {
#if defined(LCTE_HAVE_AVX2)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && lcte::cpu_has_f16c();
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(LCTE_EMULATE_AVX512)
  return cpu_has_avx2();  // the table runs on AVX2 (see kernels/x86_simd.h)
#elif defined(LCTE_HAVE_AVX512)
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

bool cpu_has_avx512_vnni() {
#if defined(LCTE_EMULATE_AVX512)
  return cpu_has_avx512();
#elif defined(LCTE_HAVE_AVX512)
  return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

KernelTable build_table(Isa isa) {
  KernelTable t;
  detail::fill_scalar(t);
#if defined(LCTE_HAVE_AVX2)
  if (isa == Isa::Avx2) detail::fill_avx2(t);
#endif
#if defined(LCTE_HAVE_AVX512)
  if (isa == Isa::Avx512) detail::fill_avx512(t);
  if (isa == Isa::Avx512Vnni) detail::fill_avx512_vnni(t);
#endif
  return t;
}

// Each table is built on first use and only once its ISA is known to run
// here: the fill functions live in translation units compiled for that ISA.
const KernelTable& table(Isa isa) {
  if (!isa_available(isa)) fail("kernels: ISA {} is not available on this CPU or build", isa_name(isa));
  switch (isa) {
    case Isa::Avx2: {
      static const KernelTable avx2 = build_table(Isa::Avx2);
      return avx2;
    }
    case Isa::Avx512: {
      static const KernelTable avx512 = build_table(Isa::Avx512);
      return avx512;
    }
    case Isa::Avx512Vnni: {
      static const KernelTable avx512_vnni = build_table(Isa::Avx512Vnni);
      return avx512_vnni;
    }
    default: {
      static const KernelTable scalar = build_table(Isa::Scalar);
      return scalar;
    }
  }
}

// LCTE_KERNELS=scalar|avx2|avx512|avx512vnni caps the ISA that best_isa()
// picks, so a benchmark or a bug hunt can compare paths without rebuilding.
Isa detect_best() {
  Isa best = Isa::Scalar;
  for (Isa isa : kAllIsas)
    if (isa_available(isa)) best = isa;
  const std::optional<Isa> cap = requested_isa();
  if (!cap) return best;
  return static_cast<int>(*cap) < static_cast<int>(best) ? *cap : best;
}

const TypeTraits& checked_traits(GgmlType t, const char* what) {
  const TypeTraits* tr = find_type_traits(static_cast<uint32_t>(t));
  if (tr == nullptr) fail("{}: unknown tensor type id {}", what, static_cast<uint32_t>(t));
  return *tr;
}

void check_length(const TypeTraits& tr, int64_t n, const char* what) {
  if (n < 0 || n % tr.block_size != 0)
    fail("{}: row of {} elements is not a multiple of the {} block size {}", what, n, tr.name, tr.block_size);
}

detail::VecDotFn dot_fn(const KernelTable& k, GgmlType w, const char* what) {
  const TypeTraits& tr = checked_traits(w, what);
  detail::VecDotFn fn = k.vec_dot[static_cast<int>(w)];
  if (fn == nullptr) fail("{}: no dot-product kernel for weight type {}", what, tr.name);
  return fn;
}

detail::MatmulFn matmul_fn(const KernelTable& k, GgmlType w, const char* what) {
  const TypeTraits& tr = checked_traits(w, what);
  detail::MatmulFn fn = k.matmul[static_cast<int>(w)];
  if (fn == nullptr) fail("{}: no dot-product kernel for weight type {}", what, tr.name);
  return fn;
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Vnni: return "avx512vnni";
  }
  return "?";
}

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return cpu_has_avx2();
    case Isa::Avx512: return cpu_has_avx512();
    case Isa::Avx512Vnni: return cpu_has_avx512_vnni();
  }
  return false;
}

std::optional<Isa> requested_isa() {
  const char* env = std::getenv("LCTE_KERNELS");
  if (env == nullptr || *env == '\0') return std::nullopt;
  const std::string_view want(env);
  for (Isa isa : kAllIsas)
    if (want == isa_name(isa)) return isa;
  fail("LCTE_KERNELS='{}' is not one of scalar, avx2, avx512, avx512vnni (unset it to use the best this CPU has)",
       want);
}

Isa best_isa() {
  static const Isa best = detect_best();
  return best;
}

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) { dequantize_row(t, src, dst, n, best_isa()); }

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n, Isa isa) {
  const TypeTraits& tr = checked_traits(t, "dequantize");
  detail::DequantFn fn = table(isa).dequant[static_cast<int>(t)];
  if (fn == nullptr) fail("dequantize: type {} is not supported", tr.name);
  check_length(tr, n, "dequantize");
  fn(src, dst, n);
}

GgmlType activation_type(GgmlType w) {
  switch (w) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16: return GgmlType::F32;
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0: return GgmlType::Q8_0;
    case GgmlType::Q4_1:
    case GgmlType::Q5_1: return GgmlType::Q8_1;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
    case GgmlType::Q8_K: return GgmlType::Q8_K;
    default: break;
  }
  fail("activation_type: no dot-product kernel for weight type {}", checked_traits(w, "activation_type").name);
}

size_t activation_row_bytes(GgmlType w, int64_t n) {
  const GgmlType act = activation_type(w);
  check_length(type_traits(act), n, "activation_row_bytes");
  return row_bytes(act, n);
}

void quantize_activations(GgmlType act, const float* x, void* dst, int64_t n, Isa isa) {
  const TypeTraits& tr = checked_traits(act, "quantize_activations");
  detail::QuantizeFn fn = table(isa).quantize[static_cast<int>(act)];
  if (fn == nullptr) fail("quantize_activations: {} is not an activation format (F32, Q8_0, Q8_1, Q8_K)", tr.name);
  check_length(tr, n, "quantize_activations");
  fn(x, dst, n);
}

float vec_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, Isa isa) {
  detail::VecDotFn fn = dot_fn(table(isa), w, "vec_dot");
  check_length(type_traits(w), n, "vec_dot");
  check_length(type_traits(activation_type(w)), n, "vec_dot");
  return fn(n, w_row, act_row);
}

void vec_dot_rows(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* act_row,
                  float* out, Isa isa) {
  matmul(w, n, w_rows, w_stride, nrows, act_row, 0, 1, out, 0, isa);
}

void matmul(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* acts,
            size_t act_stride, int64_t ntok, float* out, size_t out_stride, Isa isa) {
  detail::MatmulFn fn = matmul_fn(table(isa), w, "matmul");
  check_length(type_traits(w), n, "matmul");
  check_length(type_traits(activation_type(w)), n, "matmul");
  if (nrows <= 0 || ntok <= 0) return;
  fn(n, w_rows, w_stride, nrows, acts, act_stride, ntok, out, out_stride);
}

void matmul_unrepacked(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* acts,
                       size_t act_stride, int64_t ntok, float* out, size_t out_stride, Isa isa) {
  detail::MatmulFn fn = table(isa).matmul_unrepacked[static_cast<int>(checked_traits(w, "matmul").type)];
  if (fn == nullptr) {
    matmul(w, n, w_rows, w_stride, nrows, acts, act_stride, ntok, out, out_stride, isa);
    return;
  }
  check_length(type_traits(w), n, "matmul");
  check_length(type_traits(activation_type(w)), n, "matmul");
  if (nrows <= 0 || ntok <= 0) return;
  fn(n, w_rows, w_stride, nrows, acts, act_stride, ntok, out, out_stride);
}

size_t packed_group_bytes(GgmlType w, int64_t n, Isa isa) {
  const TypeTraits& tr = checked_traits(w, "packed_group_bytes");
  check_length(tr, n, "packed_group_bytes");
  return table(isa).packed_group_bytes[static_cast<int>(w)] * static_cast<size_t>(n);
}

void pack_activation_group(GgmlType w, int64_t n, const void* acts, size_t act_stride, void* dst, Isa isa) {
  const TypeTraits& tr = checked_traits(w, "pack_activation_group");
  detail::PackGroupFn fn = table(isa).pack_group[static_cast<int>(w)];
  if (fn == nullptr) fail("pack_activation_group: no packed form for weight type {} ({})", tr.name, isa_name(isa));
  check_length(tr, n, "pack_activation_group");
  fn(n, acts, act_stride, dst);
}

void matmul_packed(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* acts,
                   size_t act_stride, const void* packed, int64_t ntok, float* out, size_t out_stride, Isa isa) {
  checked_traits(w, "matmul");
  detail::MatmulPackedFn fn = table(isa).matmul_packed[static_cast<int>(w)];
  if (fn == nullptr || packed == nullptr) {
    matmul(w, n, w_rows, w_stride, nrows, acts, act_stride, ntok, out, out_stride, isa);
    return;
  }
  check_length(type_traits(w), n, "matmul");
  if (nrows <= 0 || ntok <= 0) return;
  fn(n, w_rows, w_stride, nrows, acts, act_stride, packed, ntok, out, out_stride);
}

}  // namespace lcte::kernels
