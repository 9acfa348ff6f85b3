// Vector kernels of the forward pass that are not matrix products: F16
// conversion (for the KV cache), exp, softmax and SwiGLU. Each has a scalar
// reference (*_scalar, which the tests compare against) and an AVX2 version
// chosen at run time.
#pragma once

#include <cstdint>

namespace lcte::model::vec {

uint16_t fp32_to_fp16(float f);  // round to nearest even, as F16C does
float fp16_to_fp32(uint16_t h);

bool simd_available();  // AVX2 + FMA + F16C

void to_f16_scalar(const float* x, uint16_t* y, int64_t n);
void to_f16(const float* x, uint16_t* y, int64_t n);

// y[i] = exp(x[i]). The AVX2 version reduces x = n ln2 + r, |r| <= ln2/2, and
// sums e^r's Taylor series to r^7: within a few ulp of std::exp on
// [-87.3, 88.7]; 0 below, +inf above.
void exp_scalar(const float* x, float* y, int64_t n);
void exp(const float* x, float* y, int64_t n);

// In place: x[i] = e^(x[i] - max) / sum; the sum accumulated in double.
void softmax_scalar(float* x, int64_t n);
void softmax(float* x, int64_t n);

// gate[i] = silu(gate[i]) * up[i] = gate[i] * up[i] / (1 + e^-gate[i]).
void swiglu_scalar(float* gate, const float* up, int64_t n);
void swiglu(float* gate, const float* up, int64_t n);

}  // namespace lcte::model::vec
