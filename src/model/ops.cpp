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

// As ggml's rope cache: theta_scale = powf(base, -2/d) in float, theta
// multiplied by it once per pair (starting from the position), divided by the
// frequency factor, scaled by freq_scale, then cosf/sinf.
void rope_angles(int64_t pos, int64_t rope_dims, float base, float freq_scale, const float* factors, float* cos_sin) {
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(rope_dims));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < rope_dims / 2; ++i) {
    const float ff = factors != nullptr ? factors[i] : 1.0f;
    const float t = freq_scale * (theta / ff);
    cos_sin[2 * i] = std::cos(t);
    cos_sin[2 * i + 1] = std::sin(t);
    theta *= theta_scale;
  }
}

// The rotation as llama.cpp's build computes it (GCC contracts x0*c - x1*s
// to fma(x0, c, -(x1*s)) and x0*s + x1*c to fma(x0, s, x1*c); checked
// against its output).
namespace {

// Pair i is (i, i + half) for NeoX, (2i, 2i + 1) otherwise.
template <bool kNeox, class Fma>
__attribute__((always_inline)) inline void rotate_heads(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims,
                                                        const float* cos_sin, Fma fma) {
  const int64_t half = rope_dims / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      float& a = v[kNeox ? i : 2 * i];
      float& b = v[kNeox ? i + half : 2 * i + 1];
      const float a0 = a, b0 = b;
      a = fma(a0, c, -(b0 * s));
      b = fma(a0, s, b0 * c);
    }
  }
}

template <bool kNeox>
__attribute__((target("fma"))) void rotate_hw(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims,
                                              const float* cos_sin) {
  rotate_heads<kNeox>(
      x, n_heads, head_dim, rope_dims, cos_sin,
      [](float a, float b, float c) __attribute__((target("fma"))) { return __builtin_fmaf(a, b, c); });
}

template <bool kNeox>
void rotate_lib(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, const float* cos_sin) {
  rotate_heads<kNeox>(x, n_heads, head_dim, rope_dims, cos_sin,
                      [](float a, float b, float c) { return std::fma(a, b, c); });
}

// The FMA instruction where the CPU has it: the baseline ISA does not, and a
// libm call per element cost 3 % of a prompt.
bool have_fma() {
#if defined(__x86_64__)
  static const bool yes = __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

}  // namespace

void rope_normal(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, const float* cos_sin) {
  have_fma() ? rotate_hw<false>(x, n_heads, head_dim, rope_dims, cos_sin)
             : rotate_lib<false>(x, n_heads, head_dim, rope_dims, cos_sin);
}

void rope_neox(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dims, const float* cos_sin) {
  have_fma() ? rotate_hw<true>(x, n_heads, head_dim, rope_dims, cos_sin)
             : rotate_lib<true>(x, n_heads, head_dim, rope_dims, cos_sin);
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace lcte::model::ops
