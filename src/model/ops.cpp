#include "model/ops.h"

#include <algorithm>
#include <cmath>

namespace lcte::model::ops {

void rmsnorm(const float* x, const float* w, float* out, int64_t n, float eps) {
  // x*x in float, the sum in double: the same rounding as ggml, so that a
  // quantized model's activations land on the same side of 8-bit rounding
  // boundaries as in llama.cpp as often as possible.
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i] * x[i]);
  const float scale = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

std::vector<double> rope_frequencies(int64_t rope_dims, float base, float freq_scale, const float* factors) {
  std::vector<double> f(static_cast<size_t>(rope_dims / 2));
  for (int64_t i = 0; i < rope_dims / 2; ++i) {
    f[i] = freq_scale * std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(rope_dims));
    if (factors != nullptr) f[i] /= factors[i];
  }
  return f;
}

void rope_angles(int64_t pos, const std::vector<double>& freqs, float* cos_sin) {
  for (size_t i = 0; i < freqs.size(); ++i) {
    const double theta = static_cast<double>(pos) * freqs[i];
    cos_sin[2 * i] = static_cast<float>(std::cos(theta));
    cos_sin[2 * i + 1] = static_cast<float>(std::sin(theta));
  }
}

void rope_angles(int64_t pos, int64_t rope_dims, float base, float freq_scale, const float* factors,
                 float* cos_sin) {
  rope_angles(pos, rope_frequencies(rope_dims, base, freq_scale, factors), cos_sin);
}

void rope_normal(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, const float* cos_sin) {
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < rope_dims / 2; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const float a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * c - b * s;
      v[2 * i + 1] = a * s + b * c;
    }
  }
}

void rope_neox(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, const float* cos_sin) {
  const int64_t half = rope_dims / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const float a = v[i], b = v[i + half];
      v[i] = a * c - b * s;
      v[i + half] = a * s + b * c;
    }
  }
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace lcte::model::ops
