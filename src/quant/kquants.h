// Row quantizers lcte writes itself: the K-quants (Q2_K..Q6_K) and the
// importance-weighted variants of every block format.
//
// Without importance weights each function follows ggml's reference
// quantizer (quantize_row_qX_K_ref), which is what llama-quantize runs when
// it has no imatrix, so lcte's bytes match llama.cpp's. With importance
// weights (imp[i] = mean squared activation of input column i, one value per
// element of the row) they follow ggml's quant_weights path: every group's
// scale and min search minimises sum imp_i * (x_i - q_i)^2 (times a
// magnitude term, see kquants.cpp) instead of the plain error.
//
// The 32-element round-to-nearest formats without weights live in
// kernels/kernels.h (quantize_row_ref); quant/quantize.h dispatches to both.
#pragma once

#include <cstdint>

namespace lcte::quant {

// n: elements in the row, a multiple of 256; imp: n weights or nullptr.
void quantize_row_q2_K(const float* x, void* dst, int64_t n, const float* imp);
void quantize_row_q3_K(const float* x, void* dst, int64_t n, const float* imp);
void quantize_row_q4_K(const float* x, void* dst, int64_t n, const float* imp);
void quantize_row_q5_K(const float* x, void* dst, int64_t n, const float* imp);
void quantize_row_q6_K(const float* x, void* dst, int64_t n, const float* imp);

// n: a multiple of 32; imp must not be null (the unweighted versions are
// kernels::quantize_row_ref). The magnitude term uses the whole row's mean
// square, so these take one full row.
void quantize_row_q4_0_weighted(const float* x, void* dst, int64_t n, const float* imp);
void quantize_row_q4_1_weighted(const float* x, void* dst, int64_t n, const float* imp);
void quantize_row_q5_0_weighted(const float* x, void* dst, int64_t n, const float* imp);
void quantize_row_q5_1_weighted(const float* x, void* dst, int64_t n, const float* imp);

}  // namespace lcte::quant
