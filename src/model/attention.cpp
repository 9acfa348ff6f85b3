#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"
#include "model/vec.h"
#include "model/vec_avx2.h"

namespace lcte::model {
namespace {

// The order of llama.cpp's arithmetic (AVX-512 build, no flash attention, F32
// cache), which the engine follows so that its activations are bit-identical:
//  - scores: ggml_vec_dot_f32(head_dim, k, q): four 16-lane FMA accumulators
//    over the first head_dim & ~63 elements, combined (0+2, 1+3, then the
//    two) and reduced in GCC's order; the rest added in element order, the
//    products of whole 16- and 8-element runs rounded before the add (GCC
//    vectorises the products), the last < 8 fused (fma).
//  - the weighted sum of V with one token per batch: ggml_vec_dot_f32 over
//    the KV length padded to 32 (so the tail is whole runs: rounded products
//    added in order); with several tokens per batch: llamafile's sgemm, one
//    16-lane FMA accumulator over positions, reduced at the end.
// Positions past n_pos are masked in llama.cpp (probability 0, V row 0), so
// they add zeros and are skipped here.
constexpr int64_t kKvPad = 32;

float cache_elem(const uint8_t* row, int64_t i, bool f16) {
  if (!f16) return reinterpret_cast<const float*>(row)[i];
  return fp16_to_fp32_portable(reinterpret_cast<const uint16_t*>(row)[i]);
}

// The element-order tail of ggml_vec_dot_f32 from i to n.
float dot_tail(float sum, const float* q, const uint8_t* k, bool f16, int64_t i, int64_t n) {
  for (; n - i >= 16; i += 16)
    for (int64_t l = 0; l < 16; ++l) sum += cache_elem(k, i + l, f16) * q[i + l];
  if (n - i >= 8)
    for (int64_t l = 0; l < 8; ++l, ++i) sum += cache_elem(k, i, f16) * q[i];
  for (; i < n; ++i) sum = std::fma(cache_elem(k, i, f16), q[i], sum);
  return sum;
}

// acc holds the four 16-lane accumulators one after the other.
float combine4x16(const float* acc) {
  float s[16];
  for (int l = 0; l < 16; ++l) s[l] = (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]);
  return vec::reduce16_scalar(s);
}

float dot_ggml_scalar(const float* q, const uint8_t* k, bool f16, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float acc[64] = {0};
  for (int64_t i = 0; i < np; ++i) acc[i & 63] = std::fma(cache_elem(k, i, f16), q[i], acc[i & 63]);
  return dot_tail(np > 0 ? combine4x16(acc) : 0.0f, q, k, f16, np, n);
}

// out[0..hd) = sum over t < n_pos of p[t] * V[t], in the order above.
void weighted_v_scalar(const KvCache& cache, int64_t layer, int64_t off, int64_t hd, int64_t n_pos, const float* p,
                       bool batched, float* out) {
  const bool f16 = cache.type() == KvType::F16;
  for (int64_t d = 0; d < hd; ++d) {
    if (batched) {
      float acc[16] = {0};
      for (int64_t t = 0; t < n_pos; ++t)
        acc[t & 15] = std::fma(cache_elem(cache.v(layer, t), off + d, f16), p[t], acc[t & 15]);
      out[d] = vec::reduce16_scalar(acc);
      continue;
    }
    const int64_t np = std::min(n_pos, ((n_pos + kKvPad - 1) / kKvPad * kKvPad) & ~int64_t{63});
    float acc[64] = {0};
    for (int64_t t = 0; t < np; ++t)
      acc[t & 63] = std::fma(cache_elem(cache.v(layer, t), off + d, f16), p[t], acc[t & 63]);
    float sum = ((n_pos + kKvPad - 1) / kKvPad * kKvPad) >= 64 ? combine4x16(acc) : 0.0f;
    for (int64_t t = np; t < n_pos; ++t) sum += cache_elem(cache.v(layer, t), off + d, f16) * p[t];
    out[d] = sum;
  }
}

#if defined(__x86_64__)
using namespace vec::avx2;

template <bool F16>
LCTE_AVX2 inline __m256 load_row8(const uint8_t* row, int64_t d) {
  return F16 ? load_f16(reinterpret_cast<const uint16_t*>(row) + d)
             : _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d);
}

// ggml_vec_dot_f32(n, k, q): the 64-element part in eight 8-lane registers
// (accumulator j of ggml is registers 2j, 2j+1).
template <bool F16>
LCTE_AVX2 float dot_ggml_avx2(const float* q, const uint8_t* k, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float sum = 0.0f;
  if (np > 0) {
    __m256 a[8];
    for (int j = 0; j < 8; ++j) a[j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < np; i += 64)
      for (int j = 0; j < 8; ++j)
        a[j] = _mm256_fmadd_ps(load_row8<F16>(k, i + 8 * j), _mm256_loadu_ps(q + i + 8 * j), a[j]);
    const __m256 lo = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
    const __m256 hi = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
    sum = reduce16(lo, hi);
  }
  return dot_tail(sum, q, k, F16, np, n);
}

// The 8 x 8 block k[j][i..i+8) transposed: out[l] holds element i+l of the
// eight rows.
template <bool F16>
LCTE_AVX2 inline void transpose8(const uint8_t* const* k, int64_t i, __m256* out) {
  __m256 r[8];
  for (int j = 0; j < 8; ++j) r[j] = load_row8<F16>(k[j], i);
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  out[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  out[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  out[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  out[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  out[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  out[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  out[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  out[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// The element-order tails (from np to n) of eight scores at once, one
// position per lane: each lane does exactly the additions of dot_tail, and
// eight of them are in flight instead of one.
template <bool F16>
LCTE_AVX2 __m256 dot_tail8_avx2(const float* q, const uint8_t* const* k, int64_t np, int64_t n, __m256 sum) {
  int64_t i = np;
  for (; n - i >= 8; i += 8) {
    __m256 kt[8];
    transpose8<F16>(k, i, kt);
    for (int l = 0; l < 8; ++l) sum = _mm256_add_ps(sum, _mm256_mul_ps(kt[l], _mm256_set1_ps(q[i + l])));
  }
  for (; i < n; ++i) {
    const __m256 kv = _mm256_setr_ps(cache_elem(k[0], i, F16), cache_elem(k[1], i, F16), cache_elem(k[2], i, F16),
                                     cache_elem(k[3], i, F16), cache_elem(k[4], i, F16), cache_elem(k[5], i, F16),
                                     cache_elem(k[6], i, F16), cache_elem(k[7], i, F16));
    sum = _mm256_fmadd_ps(kv, _mm256_set1_ps(q[i]), sum);
  }
  return sum;
}

// The weighted sum of V for dimensions [d, d + 8 NS): NS 8-wide slices side
// by side, so that NS independent chains are in flight. Chain c (positions
// c, c + lanes, ... below np) is ggml's accumulator lane c; the chains are
// combined in its order, then positions np..n_pos added in element order.
template <bool F16, int NS>
LCTE_AVX2 void weighted_v_slices(const KvCache& cache, int64_t layer, size_t head_off, int64_t d, int64_t n_pos,
                                 int64_t np, int64_t lanes, bool combine, const float* p, float* out) {
  __m256 acc[64][NS];
  for (int64_t c = 0; c < lanes; ++c) {
    __m256 a[NS];
    for (int s = 0; s < NS; ++s) a[s] = _mm256_setzero_ps();
    for (int64_t t = c; t < np; t += lanes) {
      const uint8_t* v = cache.v(layer, t) + head_off;
      const __m256 pt = _mm256_set1_ps(p[t]);
      for (int s = 0; s < NS; ++s) a[s] = _mm256_fmadd_ps(load_row8<F16>(v, d + 8 * s), pt, a[s]);
    }
    for (int s = 0; s < NS; ++s) acc[c][s] = a[s];
  }
  __m256 sum[NS];
  for (int s = 0; s < NS; ++s) {
    __m256 l16[16];
    if (lanes == 16) {
      for (int l = 0; l < 16; ++l) l16[l] = acc[l][s];
    } else {
      for (int l = 0; l < 16; ++l)
        l16[l] = _mm256_add_ps(_mm256_add_ps(acc[l][s], acc[32 + l][s]), _mm256_add_ps(acc[16 + l][s], acc[48 + l][s]));
    }
    __m256 h[8], qd[4];
    for (int i = 0; i < 8; ++i) h[i] = _mm256_add_ps(l16[8 + i], l16[i]);
    for (int i = 0; i < 4; ++i) qd[i] = _mm256_add_ps(h[4 + i], h[i]);
    sum[s] = combine ? _mm256_add_ps(_mm256_add_ps(qd[0], qd[2]), _mm256_add_ps(qd[1], qd[3])) : _mm256_setzero_ps();
  }
  for (int64_t t = np; t < n_pos; ++t) {
    const uint8_t* v = cache.v(layer, t) + head_off;
    const __m256 pt = _mm256_set1_ps(p[t]);
    for (int s = 0; s < NS; ++s) sum[s] = _mm256_add_ps(sum[s], _mm256_mul_ps(load_row8<F16>(v, d + 8 * s), pt));
  }
  for (int s = 0; s < NS; ++s) _mm256_storeu_ps(out + d + 8 * s, sum[s]);
}

template <bool F16>
LCTE_AVX2 void weighted_v_avx2(const KvCache& cache, int64_t layer, size_t head_off, int64_t hd, int64_t n_pos,
                               const float* p, bool batched, float* out) {
  const int64_t lanes = batched ? 16 : 64;
  const int64_t padded = (n_pos + kKvPad - 1) / kKvPad * kKvPad;
  const int64_t np = batched ? n_pos : std::min(n_pos, padded & ~int64_t{63});
  const bool combine = batched || padded >= 64;
  const int64_t lanes_used = np > 0 ? lanes : 0;  // no chain has a position: skip them
  int64_t d = 0;
  for (; d + 32 <= hd; d += 32)
    weighted_v_slices<F16, 4>(cache, layer, head_off, d, n_pos, np, lanes_used > 0 ? lanes : 16, combine, p, out);
  for (; d < hd; d += 8)
    weighted_v_slices<F16, 1>(cache, layer, head_off, d, n_pos, np, lanes_used > 0 ? lanes : 16, combine, p, out);
}

template <bool F16>
LCTE_AVX2 void attend_avx2(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t hd, int64_t G, const float* q,
                           int64_t n_pos, float scale, bool batched, float* scores, float* out) {
  const size_t head_off = static_cast<size_t>(kv_head * hd) * cache.elem_bytes();
  const int64_t np = hd & ~int64_t{63};
  if (np == hd) {  // no tail: the vector part per position
    for (int64_t t = 0; t < n_pos; ++t) {
      const uint8_t* k = cache.k(layer, t) + head_off;
      for (int64_t g = 0; g < G; ++g) scores[g * n_pos + t] = dot_ggml_avx2<F16>(q + g * hd, k, hd) * scale;
    }
  } else {  // eight positions at a time (the last group repeats its last row)
    for (int64_t t = 0; t < n_pos; t += 8) {
      const uint8_t* k[8];
      for (int j = 0; j < 8; ++j) k[j] = cache.k(layer, std::min(t + j, n_pos - 1)) + head_off;
      const int64_t m = std::min<int64_t>(8, n_pos - t);
      for (int64_t g = 0; g < G; ++g) {
        alignas(32) float head[8] = {0};
        if (np > 0)
          for (int j = 0; j < 8; ++j) head[j] = dot_ggml_avx2<F16>(q + g * hd, k[j], np);
        alignas(32) float sc[8];
        _mm256_store_ps(
            sc, _mm256_mul_ps(dot_tail8_avx2<F16>(q + g * hd, k, np, hd, _mm256_load_ps(head)), _mm256_set1_ps(scale)));
        std::memcpy(scores + g * n_pos + t, sc, static_cast<size_t>(m) * 4);
      }
    }
  }
  for (int64_t g = 0; g < G; ++g) {
    vec::softmax(scores + g * n_pos, n_pos);
    weighted_v_avx2<F16>(cache, layer, head_off, hd, n_pos, scores + g * n_pos, batched, out + g * hd);
  }
}

#endif

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
                   int64_t n_pos, float scale, bool batched, float* scores, float* out) {
  const int64_t off = kv_head * hd;
  const bool f16 = cache.type() == KvType::F16;
  const size_t off_bytes = static_cast<size_t>(off) * cache.elem_bytes();
  for (int64_t g = 0; g < G; ++g) {
    float* s = scores + g * n_pos;
    for (int64_t t = 0; t < n_pos; ++t)
      s[t] = dot_ggml_scalar(q + g * hd, cache.k(layer, t) + off_bytes, f16, hd) * scale;
    vec::softmax_scalar(s, n_pos);
    weighted_v_scalar(cache, layer, off, hd, n_pos, s, batched, out + g * hd);
  }
}

void attend(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t hd, int64_t G, const float* q, int64_t n_pos,
            float scale, bool batched, float* scores, float* out) {
#if defined(__x86_64__)
  if (vec::simd_available() && hd % 8 == 0) {
    if (cache.type() == KvType::F16)
      attend_avx2<true>(cache, layer, kv_head, hd, G, q, n_pos, scale, batched, scores, out);
    else
      attend_avx2<false>(cache, layer, kv_head, hd, G, q, n_pos, scale, batched, scores, out);
    return;
  }
#endif
  attend_scalar(cache, layer, kv_head, hd, G, q, n_pos, scale, batched, scores, out);
}

}  // namespace lcte::model
