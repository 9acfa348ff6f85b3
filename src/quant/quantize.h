// Quantizing rows of floats into a GGUF tensor type: the entry point other
// parts use (the model quantizer, the distiller, tests, benchmarks).
#pragma once

#include <cstdint>

#include "kernels/ggml_type.h"

namespace lcte::quant {

// Types lcte can write: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool can_quantize_to(GgmlType t);

// Quantizes one row of n floats (n a multiple of t's block size) into dst
// (row_bytes(t, n) bytes). `importance`: n non-negative weights (the mean
// squared activation of each input column, from an imatrix) or nullptr.
// Without weights the bytes equal ggml's reference quantizers (what
// llama-quantize writes without --imatrix); with them, the group scales
// minimise the importance-weighted error. Q8_0, F16, BF16 and F32 ignore the
// weights. Throws lcte::Error for an unsupported type or a bad n.
void quantize_row(GgmlType t, const float* x, void* dst, int64_t n, const float* importance = nullptr);

// nrows consecutive rows of n_per_row floats into nrows consecutive
// quantized rows, split across `threads` threads (rows are independent, so
// the bytes do not depend on the thread count). `importance` has n_per_row
// weights shared by every row, or is nullptr.
void quantize_rows(GgmlType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                   const float* importance = nullptr, int threads = 1);

}  // namespace lcte::quant
