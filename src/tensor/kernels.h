// The numeric inner loops of lcte: dequantization of every computable block
// type, quantization of activations to 8 bits, and dot products of a weight
// row (in its file format, straight from the mapping) with an activation row.
// Each has a scalar reference and vectorised versions (AVX2, AVX-512) chosen
// at run time; tests compare every version with the scalar one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tensor/ggml_type.h"

namespace lcte::kernels {

enum class Isa { Scalar, Avx2, Avx512 };
std::string_view isa_name(Isa isa);
// The best ISA this CPU supports and this build has kernels for.
Isa best_isa();
// True if this CPU and build can run kernels for `isa`.
bool isa_available(Isa isa);

// Dequantize n elements of type t (n a multiple of t's block size) to F32.
// Throws lcte::Error for a type lcte cannot compute with.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// The format activations take for dot products with weights of type w:
// Q8_0 (or Q8_1) for the 32-blocks, Q8_K for the K-quants, F32 for F32/F16/BF16.
GgmlType activation_type(GgmlType w);

// Quantize n floats into activation format `act` (as returned by
// activation_type); dst holds row_bytes(act, n) bytes.
void quantize_activations(GgmlType act, const float* x, void* dst, int64_t n, Isa isa = best_isa());

// Dot product of one weight row of type w (n elements) with an activation row
// already in activation_type(w) format.
float vec_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, Isa isa = best_isa());

// out[r] = dot(weight row r, act) for nrows consecutive rows w_stride bytes
// apart: the decode-time matrix-vector product, one row at a time.
void vec_dot_rows(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows,
                  const void* act_row, float* out, Isa isa = best_isa());

}  // namespace lcte::kernels
