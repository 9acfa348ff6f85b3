// Vector kernels of the forward pass that are not matrix products: F16
// conversion (for the KV cache), exp, softmax and SwiGLU. Each has a scalar
// reference (*_scalar, which the tests compare against) and an AVX2 version
// chosen at run time.
#pragma once

#include <cstdint>

namespace lcte::model::vec {

bool simd_available();  // AVX2 + FMA + F16C

void to_f16_scalar(const float* x, uint16_t* y, int64_t n);
void to_f16(const float* x, uint16_t* y, int64_t n);

// y[i] = e^x[i] by the operations of ggml's AVX-512 vector expf (within
// 1.5 ulp; 0 below about -104, +inf above 88.4), so that softmax and SiLU
// round as in llama.cpp. exp_ggml is one lane of it.
float exp_ggml(float x);
void exp_scalar(const float* x, float* y, int64_t n);
void exp(const float* x, float* y, int64_t n);
// In place: x[i] = e^(x[i] - max) / sum, as ggml's softmax: 16-lane vectors
// (the row padded with zeros), each reduced in float, summed in double.
void softmax_scalar(float* x, int64_t n);
void softmax(float* x, int64_t n);
// gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + e^-g) rounded before the
// product. The first n_vec elements use the vector exp, the rest libm's expf:
// ggml's SiLU runs whole 16-lane vectors of a row and the tail in scalar code.
void swiglu_scalar(float* gate, const float* up, int64_t n, int64_t n_vec);
void swiglu(float* gate, const float* up, int64_t n, int64_t n_vec);
// The 16-lane float reduction of _mm512_reduce_add_ps (GCC's order).
float reduce16_scalar(const float* v);
}  // namespace lcte::model::vec
