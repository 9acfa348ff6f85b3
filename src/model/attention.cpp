#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/ops.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define LCTE_HAVE_X86 1
#endif

namespace lcte::model {
namespace attn {

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t mag = x & 0x7fffffffu;
  if (mag >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0u));
  if (mag >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (mag < 0x38800000u) {
    // Below 2^-14: a subnormal half, the value in units of 2^-24 rounded to
    // nearest even (exact scaling by a power of two, then nearbyint).
    float a;
    std::memcpy(&a, &mag, 4);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));
  }
  uint32_t h = (((mag >> 23) - 112u) << 10) | ((mag >> 13) & 0x3ffu);
  const uint32_t rest = mag & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent correctly
  return static_cast<uint16_t>(sign | h);
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float dot_f32_scalar(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f16_scalar(const float* a, const uint16_t* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * fp16_to_fp32(b[i]);
  return s;
}

void axpy_f32_scalar(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_scalar(float* y, float a, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}

void to_f16_scalar(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

#ifdef LCTE_HAVE_X86
#define LCTE_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace {

LCTE_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LCTE_AVX2 float dot_f32_avx2(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

LCTE_AVX2 inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

LCTE_AVX2 float dot_f16_avx2(const float* a, const uint16_t* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_f16(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load_f16(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_f16(b + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * _cvtsh_ss(b[i]);
  return s;
}

LCTE_AVX2 void axpy_f32_avx2(float* y, float a, const float* x, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

LCTE_AVX2 void axpy_f16_avx2(float* y, float a, const uint16_t* x, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * _cvtsh_ss(x[i]);
}

LCTE_AVX2 void to_f16_avx2(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

bool detect_simd() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

}  // namespace

bool simd_available() {
  static const bool yes = detect_simd();
  return yes;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  return simd_available() ? dot_f32_avx2(a, b, n) : dot_f32_scalar(a, b, n);
}
float dot_f16(const float* a, const uint16_t* b, int64_t n) {
  return simd_available() ? dot_f16_avx2(a, b, n) : dot_f16_scalar(a, b, n);
}
void axpy_f32(float* y, float a, const float* x, int64_t n) {
  simd_available() ? axpy_f32_avx2(y, a, x, n) : axpy_f32_scalar(y, a, x, n);
}
void axpy_f16(float* y, float a, const uint16_t* x, int64_t n) {
  simd_available() ? axpy_f16_avx2(y, a, x, n) : axpy_f16_scalar(y, a, x, n);
}
void to_f16(const float* x, uint16_t* y, int64_t n) {
  simd_available() ? to_f16_avx2(x, y, n) : to_f16_scalar(x, y, n);
}

#else  // not x86-64: the scalar references are the kernels

bool simd_available() { return false; }
float dot_f32(const float* a, const float* b, int64_t n) { return dot_f32_scalar(a, b, n); }
float dot_f16(const float* a, const uint16_t* b, int64_t n) { return dot_f16_scalar(a, b, n); }
void axpy_f32(float* y, float a, const float* x, int64_t n) { axpy_f32_scalar(y, a, x, n); }
void axpy_f16(float* y, float a, const uint16_t* x, int64_t n) { axpy_f16_scalar(y, a, x, n); }
void to_f16(const float* x, uint16_t* y, int64_t n) { to_f16_scalar(x, y, n); }

#endif

}  // namespace attn

void store_kv(KvCache& cache, int64_t layer, int64_t pos, const float* k, const float* v) {
  const int64_t n = static_cast<int64_t>(cache.row_bytes() / cache.elem_bytes());
  if (cache.type() == KvType::F32) {
    std::memcpy(cache.k(layer, pos), k, cache.row_bytes());
    std::memcpy(cache.v(layer, pos), v, cache.row_bytes());
  } else {
    attn::to_f16(k, reinterpret_cast<uint16_t*>(cache.k(layer, pos)), n);
    attn::to_f16(v, reinterpret_cast<uint16_t*>(cache.v(layer, pos)), n);
  }
}

void attend(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t head_dim, const float* q,
            int64_t n_pos, float scale, float* scores, float* out) {
  const size_t stride = cache.row_bytes();
  const size_t head_off = static_cast<size_t>(kv_head * head_dim) * cache.elem_bytes();
  const bool f16 = cache.type() == KvType::F16;
  // Positions are stored in blocks; inside a block the rows are contiguous.
  for (int64_t t0 = 0; t0 < n_pos;) {
    const int64_t t1 = std::min(n_pos, (t0 / KvCache::kBlock + 1) * KvCache::kBlock);
    const uint8_t* k = cache.k(layer, t0) + head_off;
    for (int64_t t = t0; t < t1; ++t, k += stride)
      scores[t] = scale * (f16 ? attn::dot_f16(q, reinterpret_cast<const uint16_t*>(k), head_dim)
                               : attn::dot_f32(q, reinterpret_cast<const float*>(k), head_dim));
    t0 = t1;
  }
  ops::softmax(scores, n_pos);
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t t0 = 0; t0 < n_pos;) {
    const int64_t t1 = std::min(n_pos, (t0 / KvCache::kBlock + 1) * KvCache::kBlock);
    const uint8_t* v = cache.v(layer, t0) + head_off;
    for (int64_t t = t0; t < t1; ++t, v += stride) {
      if (f16)
        attn::axpy_f16(out, scores[t], reinterpret_cast<const uint16_t*>(v), head_dim);
      else
        attn::axpy_f32(out, scores[t], reinterpret_cast<const float*>(v), head_dim);
    }
    t0 = t1;
  }
}

}  // namespace lcte::model
