// The element-wise and row-wise operations of the forward pass, each a plain
// loop that reads like its formula. The heavy lifting (matrix products) is in
// lcte::kernels; these run on one activation row at a time.
#pragma once

#include <cstdint>
#include <vector>

namespace lcte::model::ops {

// out = x / sqrt(mean(x^2) + eps) * w. The mean is accumulated in double, as
// llama.cpp does, so long rows do not lose precision.
void rmsnorm(const float* x, const float* w, float* out, int64_t n, float eps);

// Rotates the first rope_dims dimensions of each of n_heads heads (head_dim
// apart) in place. cos_sin holds rope_dims/2 (cos, sin) pairs for this
// position. Normal pairs dimension 2i with 2i+1, NeoX pairs i with i + rope_dims/2.
void rope_normal(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, const float* cos_sin);
void rope_neox(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, const float* cos_sin);

// cos_sin[2i], cos_sin[2i+1] = cos, sin of the angle of pair i at pos:
// pos * base^(-2i/rope_dims) / factors[i] * freq_scale (factors may be null),
// computed in float as ggml does (the angle by repeated multiplication).
void rope_angles(int64_t pos, int64_t rope_dims, float base, float freq_scale, const float* factors, float* cos_sin);

// y[i] += x[i]
void add(float* y, const float* x, int64_t n);

}  // namespace lcte::model::ops
