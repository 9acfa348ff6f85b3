#include "model/vec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/cpu.h"
#include "kernels/fp16.h"
#include "model/vec_avx2.h"

namespace lcte::model::vec {

void to_f16_scalar(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16_portable(x[i]);
}

// One lane of ggml's AVX-512 ggml_v_expf (see exp8 in vec_avx2.h).
float exp_ggml(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j =
      std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
               std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  if (std::isnan(n)) return n;
  return std::ldexp(j, static_cast<int>(n));
}

float reduce16_scalar(const float* v) {
  float h[8], q[4];
  for (int i = 0; i < 8; ++i) h[i] = v[8 + i] + v[i];
  for (int i = 0; i < 4; ++i) q[i] = h[4 + i] + h[i];
  return (q[0] + q[2]) + (q[1] + q[3]);
}

void exp_scalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = exp_ggml(x[i]);
}

// As ggml_vec_soft_max_f32 over llama.cpp's KQ row: the row is padded with
// masked (-inf) positions to a multiple of 16, so every element goes through
// the vector exp, and each 16 lanes are reduced in float, then summed in double.
void softmax_scalar(float* x, int64_t n) {
  const float mx = *std::max_element(x, x + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    float lanes[16] = {0};
    for (int64_t l = 0; l < 16 && i + l < n; ++l) lanes[l] = x[i + l] = exp_ggml(x[i + l] - mx);
    sum += reduce16_scalar(lanes);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// ggml_vec_silu_f32 then ggml_mul: the vector exp for the first n_vec
// elements (whole 16-lane vectors of the row), libm's expf for the rest.
void swiglu_scalar(float* gate, const float* up, int64_t n, int64_t n_vec) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float e = i < n_vec ? exp_ggml(0.0f - g) : std::exp(-g);
    gate[i] = (g / (1.0f + e)) * up[i];
  }
}

#if defined(__x86_64__)
namespace {

using namespace avx2;

LCTE_AVX2 void to_f16_avx2(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) y[i] = fp32_to_fp16_portable(x[i]);
}

// Lanes past n (a partial last vector) are read from and written to a copy.
LCTE_AVX2 void exp_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float tmp[8] = {0};
    std::memcpy(tmp, x + i, static_cast<size_t>(n - i) * 4);
    _mm256_storeu_ps(tmp, exp8(_mm256_loadu_ps(tmp)));
    std::memcpy(y + i, tmp, static_cast<size_t>(n - i) * 4);
  }
}

LCTE_AVX2 void softmax_avx2(float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  const __m256 vmx = _mm256_set1_ps(mx);
  double sum = 0.0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 lo = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
    const __m256 hi = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vmx));
    _mm256_storeu_ps(x + i, lo);
    _mm256_storeu_ps(x + i + 8, hi);
    sum += reduce16(lo, hi);
  }
  if (i < n) {  // the masked lanes of the last vector are exactly 0
    alignas(32) float tmp[16];
    for (int l = 0; l < 16; ++l) tmp[l] = i + l < n ? x[i + l] - mx : -INFINITY;
    const __m256 lo = exp8(_mm256_load_ps(tmp)), hi = exp8(_mm256_load_ps(tmp + 8));
    _mm256_store_ps(tmp, lo);
    _mm256_store_ps(tmp + 8, hi);
    sum += reduce16(lo, hi);
    std::memcpy(x + i, tmp, static_cast<size_t>(n - i) * 4);
  }
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  for (; i < n; ++i) x[i] *= static_cast<float>(1.0 / sum);
}

LCTE_AVX2 void swiglu_avx2(float* gate, const float* up, int64_t n, int64_t n_vec) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  const int64_t nv = std::min(n, n_vec);
  int64_t i = 0;
  for (; i + 8 <= nv; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp8(_mm256_sub_ps(zero, g));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  swiglu_scalar(gate + i, up + i, n - i, nv - i);
}

bool detect_simd() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && lcte::cpu_has_f16c(); }

}  // namespace

bool simd_available() {
  static const bool yes = detect_simd();
  return yes;
}
void to_f16(const float* x, uint16_t* y, int64_t n) {
  simd_available() ? to_f16_avx2(x, y, n) : to_f16_scalar(x, y, n);
}
void exp(const float* x, float* y, int64_t n) { simd_available() ? exp_avx2(x, y, n) : exp_scalar(x, y, n); }
void softmax(float* x, int64_t n) { simd_available() ? softmax_avx2(x, n) : softmax_scalar(x, n); }
void swiglu(float* gate, const float* up, int64_t n, int64_t n_vec) {
  simd_available() ? swiglu_avx2(gate, up, n, n_vec) : swiglu_scalar(gate, up, n, n_vec);
}

#else  // not x86-64: the scalar references are the kernels

bool simd_available() { return false; }
void to_f16(const float* x, uint16_t* y, int64_t n) { to_f16_scalar(x, y, n); }
void exp(const float* x, float* y, int64_t n) { exp_scalar(x, y, n); }
void softmax(float* x, int64_t n) { softmax_scalar(x, n); }
void swiglu(float* gate, const float* up, int64_t n, int64_t n_vec) { swiglu_scalar(gate, up, n, n_vec); }

#endif

}  // namespace lcte::model::vec
