#include "model/attention.h"

#include <algorithm>
#include <cstring>

#include "model/vec.h"
#include "model/vec_avx2.h"

namespace lcte::model {
namespace {

#if defined(__x86_64__)
using namespace vec::avx2;

template <bool F16>
LCTE_AVX2 inline __m256 load_row8(const uint8_t* row, int64_t d) {
  return F16 ? load_f16(reinterpret_cast<const uint16_t*>(row) + d)
             : _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d);
}

// Lane i of the result is the sum of the lanes of v[i].
LCTE_AVX2 inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// Scores of query g against positions t .. t+3 (rows `stride` apart), scaled:
// four dot products reduced together.
template <bool F16>
LCTE_AVX2 inline void scores4(const float* q, const uint8_t* k, size_t stride, int64_t hd, float scale, float* s) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t d = 0; d < hd; d += 8) {
    const __m256 qv = _mm256_loadu_ps(q + d);
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(qv, load_row8<F16>(k + j * stride, d), acc[j]);
  }
  _mm_storeu_ps(s, _mm_mul_ps(_mm_set1_ps(scale), hsum4(acc[0], acc[1], acc[2], acc[3])));
}

// out[g] = sum over positions of p[g][t] * V[t] for NG query heads, one
// 8-wide slice of the outputs at a time, kept in registers over all positions
// (NG is a template parameter so the accumulators are registers, not memory).
template <bool F16, int NG>
LCTE_AVX2 void weighted_v(const KvCache& cache, int64_t layer, size_t head_off, int64_t hd, int64_t n_pos,
                          const float* p, float* out) {
  const size_t stride = cache.row_bytes();
  for (int64_t d = 0; d < hd; d += 8) {
    __m256 acc[NG];
    for (int g = 0; g < NG; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t t0 = 0; t0 < n_pos;) {
      const int64_t t1 = std::min(n_pos, (t0 / KvCache::kBlock + 1) * KvCache::kBlock);
      const uint8_t* v = cache.v(layer, t0) + head_off;
      for (int64_t t = t0; t < t1; ++t, v += stride) {
        const __m256 vv = load_row8<F16>(v, d);
        for (int g = 0; g < NG; ++g) acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(p[g * n_pos + t]), vv, acc[g]);
      }
      t0 = t1;
    }
    for (int g = 0; g < NG; ++g) _mm256_storeu_ps(out + g * hd + d, acc[g]);
  }
}

// Scores four positions at a time (one reduction for four dot products);
// the weighted sum of V keeps each 8-wide slice of up to four outputs in
// registers over all positions instead of loading and storing it per position.
template <bool F16>
LCTE_AVX2 void attend_avx2(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t hd, int64_t G,
                           const float* q, int64_t n_pos, float scale, float* scores, float* out) {
  const size_t stride = cache.row_bytes();
  const size_t head_off = static_cast<size_t>(kv_head * hd) * cache.elem_bytes();
  for (int64_t t0 = 0; t0 < n_pos;) {
    const int64_t t1 = std::min(n_pos, (t0 / KvCache::kBlock + 1) * KvCache::kBlock);
    const uint8_t* k = cache.k(layer, t0) + head_off;
    int64_t t = t0;
    for (; t + 4 <= t1; t += 4, k += 4 * stride)
      for (int64_t g = 0; g < G; ++g) scores4<F16>(q + g * hd, k, stride, hd, scale, scores + g * n_pos + t);
    for (; t < t1; ++t, k += stride)
      for (int64_t g = 0; g < G; ++g) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t d = 0; d < hd; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * hd + d), load_row8<F16>(k, d), acc);
        scores[g * n_pos + t] = scale * hsum(acc);
      }
    t0 = t1;
  }
  for (int64_t g = 0; g < G; ++g) vec::softmax(scores + g * n_pos, n_pos);
  for (int64_t g0 = 0; g0 < G; g0 += 4) {
    switch (std::min<int64_t>(4, G - g0)) {
      case 1: weighted_v<F16, 1>(cache, layer, head_off, hd, n_pos, scores + g0 * n_pos, out + g0 * hd); break;
      case 2: weighted_v<F16, 2>(cache, layer, head_off, hd, n_pos, scores + g0 * n_pos, out + g0 * hd); break;
      case 3: weighted_v<F16, 3>(cache, layer, head_off, hd, n_pos, scores + g0 * n_pos, out + g0 * hd); break;
      default: weighted_v<F16, 4>(cache, layer, head_off, hd, n_pos, scores + g0 * n_pos, out + g0 * hd); break;
    }
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
