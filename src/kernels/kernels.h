// The numeric inner loops of lcte: dequantization of every computable block
// type, quantization of activations to 8 bits, and dot products of a weight
// row (in its file format, straight from the mapping) with an activation row.
// Each has a scalar reference and vectorised versions (AVX2, AVX-512) chosen
// at run time; tests compare every version with the scalar one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "kernels/ggml_type.h"

namespace lcte::kernels {

// In increasing order: each ISA's CPUs can run the ones before it.
// Avx512Vnni is the AVX-512 table with AVX512-VNNI's vpdpbusd for the byte
// products (Cascade Lake, Ice Lake, Sapphire Rapids, Zen 4 and later);
// Avx512 serves AVX-512 CPUs without VNNI (Skylake-SP/X).
enum class Isa { Scalar, Avx2, Avx512, Avx512Vnni };
// Every ISA, in that order.
inline constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni};
// "scalar", "avx2", "avx512", "avx512vnni": the names $LCTE_KERNELS takes.
std::string_view isa_name(Isa isa);
// The best ISA this CPU supports and this build has kernels for.
Isa best_isa();
// True if this CPU and build can run kernels for `isa`.
bool isa_available(Isa isa);
// The ISA named by $LCTE_KERNELS (one of the isa_name()s), which caps
// best_isa(); nullopt when the variable is unset or empty. Throws lcte::Error
// naming the variable for any other value, so a typo is not a silent default.
std::optional<Isa> requested_isa();

// Dequantize n elements of type t (n a multiple of t's block size) to F32.
// Throws lcte::Error for a type lcte cannot compute with. Bit-exact with
// ggml's dequantize_row_* and gguf-py's dequantize for every ISA.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n, Isa isa);

// Reference (round-to-nearest) weight quantizer, as ggml's
// quantize_row_*_ref: F32, F16, BF16, Q8_0, Q8_1, Q4_0, Q4_1, Q5_0, Q5_1 and
// Q8_K. dst holds row_bytes(t, n) bytes. Throws for other types (the K-quant
// quantizers, with their scale searches, live in quant/kquants.h).
void quantize_row_ref(GgmlType t, const float* x, void* dst, int64_t n);

// The format activations take for dot products with weights of type w:
// Q8_0 (or Q8_1) for the 32-blocks, Q8_K for the K-quants, F32 for F32/F16/BF16.
GgmlType activation_type(GgmlType w);
// Bytes of one activation row of n elements for weights of type w.
size_t activation_row_bytes(GgmlType w, int64_t n);

// Quantize n floats into activation format `act` (as returned by
// activation_type); dst holds row_bytes(act, n) bytes.
void quantize_activations(GgmlType act, const float* x, void* dst, int64_t n, Isa isa = best_isa());

// Dot product of one weight row of type w (n elements) with an activation row
// already in activation_type(w) format.
float vec_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, Isa isa = best_isa());

// out[r] = dot(weight row r, act) for nrows consecutive rows w_stride bytes
// apart: the decode-time matrix-vector product, one row at a time.
void vec_dot_rows(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* act_row,
                  float* out, Isa isa = best_isa());

// The batched product of prompt processing:
//   out[t*out_stride + r] = dot(weight row r, activation row t)
// for r < nrows, t < ntok. Weight rows lie w_stride bytes apart, activation
// rows (in activation_type(w) format) act_stride bytes apart. Tiled so each
// weight block is unpacked once for several tokens; single-threaded (callers
// split rows across threads).
void matmul(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* acts,
            size_t act_stride, int64_t ntok, float* out, size_t out_stride, Isa isa = best_isa());

// matmul for a matrix that llama.cpp would not repack to its interleaved
// layout: for Q4_0 with a row count that is not a multiple of 8 llama.cpp
// keeps the plain layout and sums in the order of its other 32-block formats
// (see docs/parts/engine.md); for every other type the same as matmul.
void matmul_unrepacked(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* acts,
                       size_t act_stride, int64_t ntok, float* out, size_t out_stride, Isa isa = best_isa());

// Prompt processing with 32-block weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) on
// x86 goes through tiles that read the activations of 8 tokens interleaved
// ("packed": see kernels_x86.inc). matmul() packs them itself on every call;
// a caller that runs many row ranges over the same activations (one call per
// thread chunk) packs them once and calls matmul_packed.
//
// Bytes of one packed group of 8 tokens for weights of type w and rows of n
// elements; 0 where this type and ISA have no packed path (then use matmul).
size_t packed_group_bytes(GgmlType w, int64_t n, Isa isa = best_isa());
// Packs 8 activation rows (activation_type(w) format, act_stride bytes apart,
// starting at acts) into dst, which holds packed_group_bytes(w, n) bytes.
void pack_activation_group(GgmlType w, int64_t n, const void* acts, size_t act_stride, void* dst, Isa isa = best_isa());
// matmul with the ntok / 8 full groups of tokens already packed (group g at
// packed + g * packed_group_bytes(w, n)); tokens after the last full group
// are read from acts, as are all of them where there is no packed path.
// The same results as matmul.
void matmul_packed(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* acts,
                   size_t act_stride, const void* packed, int64_t ntok, float* out, size_t out_stride,
                   Isa isa = best_isa());

}  // namespace lcte::kernels
