#include "model/attention.h"

#include <algorithm>
#include <cstring>

#include "model/vec.h"
#include "model/vec_avx2.h"

namespace lcte::model {
namespace {

#if defined(__x86_64__)
using namespace vec::avx2;

// Dot of a float vector with a cache row of n elements (n a multiple of 8).
template <bool F16>
LCTE_AVX2 inline float dot_row(const float* q, const uint8_t* row, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t d = 0; d < n; d += 8) {
    const __m256 k = F16 ? load_f16(reinterpret_cast<const uint16_t*>(row) + d)
                         : _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d);
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), k, acc);
  }
  return hsum(acc);
}

template <bool F16>
LCTE_AVX2 void attend_avx2(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t hd, int64_t G,
                           const float* q, int64_t n_pos, float scale, float* scores, float* out) {
  const size_t stride = cache.row_bytes();
  const size_t head_off = static_cast<size_t>(kv_head * hd) * cache.elem_bytes();
  for (int64_t t0 = 0; t0 < n_pos;) {
    const int64_t t1 = std::min(n_pos, (t0 / KvCache::kBlock + 1) * KvCache::kBlock);
    const uint8_t* k = cache.k(layer, t0) + head_off;
    for (int64_t t = t0; t < t1; ++t, k += stride)
      for (int64_t g = 0; g < G; ++g) scores[g * n_pos + t] = scale * dot_row<F16>(q + g * hd, k, hd);
    t0 = t1;
  }
  for (int64_t g = 0; g < G; ++g) vec::softmax(scores + g * n_pos, n_pos);
  std::fill(out, out + G * hd, 0.0f);
  for (int64_t t0 = 0; t0 < n_pos;) {
    const int64_t t1 = std::min(n_pos, (t0 / KvCache::kBlock + 1) * KvCache::kBlock);
    const uint8_t* v = cache.v(layer, t0) + head_off;
    for (int64_t t = t0; t < t1; ++t, v += stride) {
      for (int64_t d = 0; d < hd; d += 8) {
        const __m256 vv = F16 ? load_f16(reinterpret_cast<const uint16_t*>(v) + d)
                              : _mm256_loadu_ps(reinterpret_cast<const float*>(v) + d);
        for (int64_t g = 0; g < G; ++g) {
          float* o = out + g * hd + d;
          _mm256_storeu_ps(o, _mm256_fmadd_ps(_mm256_set1_ps(scores[g * n_pos + t]), vv, _mm256_loadu_ps(o)));
        }
      }
    }
    t0 = t1;
  }
}

#endif

float cache_elem(const KvCache& cache, const uint8_t* row, int64_t i) {
  if (cache.type() == KvType::F32) return reinterpret_cast<const float*>(row)[i];
  return vec::fp16_to_fp32(reinterpret_cast<const uint16_t*>(row)[i]);
}

}  // namespace

void store_kv(KvCache& cache, int64_t layer, int64_t pos, const float* k, const float* v) {
  const int64_t n = static_cast<int64_t>(cache.row_bytes() / cache.elem_bytes());
  if (cache.type() == KvType::F32) {
    std::memcpy(cache.k(layer, pos), k, cache.row_bytes());
    std::memcpy(cache.v(layer, pos), v, cache.row_bytes());
  } else {
    vec::to_f16(k, reinterpret_cast<uint16_t*>(cache.k(layer, pos)), n);
    vec::to_f16(v, reinterpret_cast<uint16_t*>(cache.v(layer, pos)), n);
  }
}

void attend_scalar(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t hd, int64_t G, const float* q,
                   int64_t n_pos, float scale, float* scores, float* out) {
  const int64_t off = kv_head * hd;
  for (int64_t g = 0; g < G; ++g) {
    float* s = scores + g * n_pos;
    for (int64_t t = 0; t < n_pos; ++t) {
      const uint8_t* k = cache.k(layer, t);
      float dot = 0.0f;
      for (int64_t i = 0; i < hd; ++i) dot += q[g * hd + i] * cache_elem(cache, k, off + i);
      s[t] = scale * dot;
    }
    vec::softmax_scalar(s, n_pos);
    float* o = out + g * hd;
    std::fill(o, o + hd, 0.0f);
    for (int64_t t = 0; t < n_pos; ++t) {
      const uint8_t* v = cache.v(layer, t);
      for (int64_t i = 0; i < hd; ++i) o[i] += s[t] * cache_elem(cache, v, off + i);
    }
  }
}

void attend(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t hd, int64_t G, const float* q,
            int64_t n_pos, float scale, float* scores, float* out) {
#if defined(__x86_64__)
  if (vec::simd_available() && hd % 8 == 0) {
    if (cache.type() == KvType::F16)
      attend_avx2<true>(cache, layer, kv_head, hd, G, q, n_pos, scale, scores, out);
    else
      attend_avx2<false>(cache, layer, kv_head, hd, G, q, n_pos, scale, scores, out);
    return;
  }
#endif
  attend_scalar(cache, layer, kv_head, hd, G, q, n_pos, scale, scores, out);
}

}  // namespace lcte::model
