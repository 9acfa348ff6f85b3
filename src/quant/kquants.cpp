// K-quant and importance-weighted quantizers; see kquants.h and, for the
// block layouts, kernels/blocks.h.
//
// A K-quant super-block holds 256 values in sub-blocks of 16 or 32. Each
// sub-block gets its own scale (and for Q2_K/Q4_K/Q5_K a min) from a search
// in scale_search.h; the sub-block scales are then themselves quantized to
// 4, 6 or 8 bits against one F16 super-block scale, and finally every value
// is re-rounded against the scale it will really be decoded with.
//
// Importance weighting (imp != nullptr): group searches minimise
//   sum_i imp_i * sqrt(sigma2 + x_i^2) * (x_i - q_i)^2,
// where sigma2 is the mean square of the super-block (or row), as ggml does:
// the sqrt term keeps large weights precise even in columns the calibration
// text rarely excites. Q6_K uses imp alone. The sub-block scales are then
// quantized by positive_scale / symmetric_scale weighted by each sub-block's
// total weight, rather than by plain rounding against the largest.
#include "quant/kquants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "quant/scale_search.h"

namespace lcte::quant {
namespace {

using namespace lcte::blocks;
using search::nearest_int;

constexpr int QK = kQK_K;

// --- packing helpers -------------------------------------------------------

// Levels 0..3 of 256 values, four per byte: value 128h + 32s + l goes to bits
// 2s..2s+1 of byte 32h + l (Q2_K, and the low two bits of Q3_K).
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int h = 0; h < QK; h += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[h / 4 + l] =
          static_cast<uint8_t>(L[h + l] | (L[h + l + 32] << 2) | (L[h + l + 64] << 4) | (L[h + l + 96] << 6));
    }
  }
}

// Eight 6-bit scales and eight 6-bit mins of Q4_K/Q5_K into 12 bytes; see
// k_scale_min in kernels/blocks.h for the inverse.
void pack_k4_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = ls[j];
    s[j + 4] = lm[j];
  }
  for (int j = 4; j < 8; ++j) {
    s[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
    s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
    s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
  }
}

// Sixteen biased 6-bit scales (0..63) of Q3_K into 12 bytes: low nibbles in
// bytes 0..7 (two per byte), top two bits in bytes 8..11.
void pack_q3_scales(const int* l, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 16; ++j) {
    if (j < 8)
      s[j] = static_cast<uint8_t>(l[j] & 0xF);
    else
      s[j - 8] |= static_cast<uint8_t>((l[j] & 0xF) << 4);
    s[j % 4 + 8] |= static_cast<uint8_t>((l[j] >> 4) << (2 * (j / 4)));
  }
}

int unpack_q3_scale(int j, const uint8_t* s) {
  const int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// Levels 0..7 of Q3_K: bit 2 goes to hmask (value j -> bit j/32 of byte j%32),
// the low two bits to qs.
void pack_q3_levels(uint8_t* L, BlockQ3_K* y) {
  std::memset(y->hmask, 0, sizeof y->hmask);
  for (int j = 0; j < QK; ++j) {
    if (L[j] > 3) {
      y->hmask[j % 32] |= static_cast<uint8_t>(1u << (j / 32));
      L[j] = static_cast<uint8_t>(L[j] - 4);
    }
  }
  pack_2bit(L, y->qs);
}

void pack_q4_K_levels(const uint8_t* L, uint8_t* qs) {
  for (int g = 0; g < QK; g += 64) {
    for (int l = 0; l < 32; ++l) qs[g / 2 + l] = static_cast<uint8_t>(L[g + l] | (L[g + l + 32] << 4));
  }
}

// Levels 0..31: low nibbles as Q4_K; the fifth bit of value 32c + l is bit c
// of qh[l].
void pack_q5_K_levels(const uint8_t* L, BlockQ5_K* y) {
  std::memset(y->qh, 0, sizeof y->qh);
  for (int g = 0; g < QK; g += 64) {
    const int c = g / 32;
    for (int l = 0; l < 32; ++l) {
      int l1 = L[g + l], l2 = L[g + l + 32];
      if (l1 > 15) {
        l1 -= 16;
        y->qh[l] |= static_cast<uint8_t>(1u << c);
      }
      if (l2 > 15) {
        l2 -= 16;
        y->qh[l] |= static_cast<uint8_t>(1u << (c + 1));
      }
      y->qs[g / 2 + l] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
  }
}

// Levels 0..63 of Q6_K: value 128h + 32s + l keeps its low nibble in
// ql[64h + l + 32(s&1)] (low nibble for s < 2, high for s >= 2) and its top
// two bits at bits 2s..2s+1 of qh[32h + l].
void pack_q6_K_levels(const int8_t* L, BlockQ6_K* y) {
  for (int h = 0; h < 2; ++h) {
    uint8_t* ql = y->ql + 64 * h;
    uint8_t* qh = y->qh + 32 * h;
    const int8_t* Lh = L + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
      ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

// Re-round every value of an affine sub-block (x ~ d l - m) against the
// scale and min as they will be decoded. d == 0 keeps the search's levels.
void requantize_affine(const float* x, int n, float d, float m, int nmax, uint8_t* L) {
  if (d == 0.0f) return;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(std::clamp(nearest_int((x[i] + m) / d), 0, nmax));
}

// Eight consecutive groups of n values (x[g * n + i]) and their weights
// into the lane-minor layout of search::affine_scale_lanes.
// w may be null (then wt is left alone).
void to_lanes(const float* x, const float* w, int n, float* xt, float* wt) {
  for (int g = 0; g < search::kLanes; ++g)
    for (int i = 0; i < n; ++i) {
      xt[i * search::kLanes + g] = x[g * n + i];
      if (w) wt[i * search::kLanes + g] = w[g * n + i];
    }
}

float sum_squares(const float* x, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// imp_i * sqrt(sigma2 + x_i^2): see the file comment.
void magnitude_weights(const float* x, const float* imp, int n, float sigma2, float* w) {
  for (int i = 0; i < n; ++i) w[i] = imp[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

float sum(const float* w, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += w[i];
  return s;
}

// --- Q2_K: 16 sub-blocks of 16, 2-bit levels, 4-bit scale and min ----------

void q2_K_ref(const float* x, BlockQ2_K* y) {
  uint8_t L[QK];
  float scales[16], mins[16], w[QK], xt[16 * search::kLanes], wt[16 * search::kLanes];
  for (int i = 0; i < QK; ++i) w[i] = std::fabs(x[i]);
  // Sub-blocks 0-7 and 8-15, eight searches at a time.
  for (int h = 0; h < 2; ++h) {
    to_lanes(x + 128 * h, w + 128 * h, 16, xt, wt);
    search::affine_scale_lanes(16, 3, xt, wt, L + 128 * h, scales + 8 * h, mins + 8 * h, -0.5f, 0.1f, 15, true);
  }
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 16; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  if (max_scale > 0.0f) {
    const float iscale = 15.0f / max_scale;
    for (int j = 0; j < 16; ++j) y->scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    y->d = fp32_to_fp16(max_scale / 15.0f);
  } else {
    std::memset(y->scales, 0, sizeof y->scales);
    y->d = fp32_to_fp16(0.0f);
  }
  if (max_min > 0.0f) {
    const float iscale = 15.0f / max_min;
    for (int j = 0; j < 16; ++j) y->scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
    y->dmin = fp32_to_fp16(max_min / 15.0f);
  } else {
    y->dmin = fp32_to_fp16(0.0f);
  }
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_fp32(y->d) * (y->scales[j] & 0xF);
    const float m = fp16_to_fp32(y->dmin) * (y->scales[j] >> 4);
    requantize_affine(x + 16 * j, 16, d, m, 3, L + 16 * j);
  }
  pack_2bit(L, y->qs);
}

void q2_K_weighted(const float* x, const float* imp, BlockQ2_K* y) {
  uint8_t L[QK], Ls[16], Lm[16];
  float scales[16], mins[16], sw[16], w[QK], xt[16 * search::kLanes], wt[16 * search::kLanes];
  const float sigma2 = sum_squares(x, QK) / QK;
  for (int j = 0; j < 16; ++j) {
    magnitude_weights(x + 16 * j, imp + 16 * j, 16, sigma2, w + 16 * j);
    sw[j] = sum(w + 16 * j, 16);
  }
  for (int h = 0; h < 2; ++h) {
    to_lanes(x + 128 * h, w + 128 * h, 16, xt, wt);
    search::affine_scale_lanes(16, 3, xt, wt, L + 128 * h, scales + 8 * h, mins + 8 * h, -0.9f, 0.05f, 36, false);
  }
  y->d = fp32_to_fp16(search::positive_scale(16, 15, scales, Ls, sw));
  y->dmin = fp32_to_fp16(search::positive_scale(16, 15, mins, Lm, sw));
  const float dm = fp16_to_fp32(y->d), mm = fp16_to_fp32(y->dmin);
  for (int j = 0; j < 16; ++j) y->scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  for (int j = 0; j < 16; ++j) {
    const float d = dm * (y->scales[j] & 0xF);
    const float m = mm * (y->scales[j] >> 4);
    requantize_affine(x + 16 * j, 16, d, m, 3, L + 16 * j);
  }
  pack_2bit(L, y->qs);
}

// --- Q3_K: 16 sub-blocks of 16, 3-bit levels, signed 6-bit scales ----------

// Final rounding of every value against its decoded sub-block scale.
void q3_K_finish(const float* x, int8_t* Ls8, BlockQ3_K* y) {
  uint8_t* L = reinterpret_cast<uint8_t*>(Ls8);
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_fp32(y->d) * unpack_q3_scale(j, y->scales);
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<uint8_t>(std::clamp(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
  }
  pack_q3_levels(L, y);
}

void q3_K_ref(const float* x, BlockQ3_K* y) {
  int8_t L[QK];
  float scales[16];
  float max_scale = 0.0f, amax = 0.0f;
  for (int j = 0; j < 16; ++j) {
    scales[j] = search::symmetric_scale_refined(16, 4, x + 16 * j, L + 16 * j);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  if (max_scale != 0.0f) {
    // The largest sub-block scale maps to -32, so its sign is kept in d.
    const float iscale = -32.0f / max_scale;
    int ls[16];
    for (int j = 0; j < 16; ++j) {
      const int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      ls[j] = std::clamp<int>(l, -32, 31) + 32;
    }
    pack_q3_scales(ls, y->scales);
    y->d = fp32_to_fp16(1.0f / iscale);
  } else {
    std::memset(y->scales, 0, sizeof y->scales);
    y->d = fp32_to_fp16(0.0f);
  }
  q3_K_finish(x, L, y);
}

void q3_K_weighted(const float* x, const float* imp, BlockQ3_K* y) {
  int8_t L[QK], Ls[16];
  float scales[16], sw[16], w[QK], xt[16 * search::kLanes], wt[16 * search::kLanes];
  const float sigma2 = 2.0f * sum_squares(x, QK) / QK;
  for (int j = 0; j < 16; ++j) {
    magnitude_weights(x + 16 * j, imp + 16 * j, 16, sigma2, w + 16 * j);
    sw[j] = sum(w + 16 * j, 16);
  }
  for (int h = 0; h < 2; ++h) {
    to_lanes(x + 128 * h, w + 128 * h, 16, xt, wt);
    search::symmetric_scale_lanes(16, 4, xt, wt, L + 128 * h, scales + 8 * h);
  }
  const float d_block = search::symmetric_scale(16, 32, scales, sw, Ls);
  int ls[16];
  for (int j = 0; j < 16; ++j) ls[j] = Ls[j];
  pack_q3_scales(ls, y->scales);
  y->d = fp32_to_fp16(d_block);
  q3_K_finish(x, L, y);
}

// --- Q4_K / Q5_K: 8 sub-blocks of 32, 6-bit scale and min ------------------

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31); the reference differs between
// them only in the search range.
void k_affine_ref(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* L, uint16_t* d_out,
                  uint16_t* dmin_out, uint8_t* packed) {
  float scales[8], mins[8], w[QK], xt[QK], wt[QK];
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    const float av_x = std::sqrt(sum_squares(xs, 32) / 32);
    for (int l = 0; l < 32; ++l) w[32 * j + l] = av_x + std::fabs(xs[l]);
  }
  to_lanes(x, w, 32, xt, wt);
  search::affine_scale_lanes(32, nmax, xt, wt, L, scales, mins, rmin, rdelta, nstep, false);
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    // ggml narrows to uint8 before clamping; kept for identical bytes.
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  pack_k4_scales(ls, lm, packed);
  *d_out = fp32_to_fp16(max_scale / 63.0f);
  *dmin_out = fp32_to_fp16(max_min / 63.0f);
}

void k_affine_weighted(const float* x, const float* imp, int nmax, uint8_t* L, uint16_t* d_out, uint16_t* dmin_out,
                       uint8_t* packed) {
  float scales[8], mins[8], sw[8], w[QK], xt[QK], wt[QK];
  uint8_t ls[8], lm[8];
  const float sigma2 = 2.0f * sum_squares(x, QK) / QK;
  for (int j = 0; j < 8; ++j) {
    magnitude_weights(x + 32 * j, imp + 32 * j, 32, sigma2, w + 32 * j);
    sw[j] = sum(w + 32 * j, 32);
  }
  to_lanes(x, w, 32, xt, wt);
  search::affine_scale_lanes(32, nmax, xt, wt, L, scales, mins, -0.9f, 0.05f, 36, false);
  const float d_block = search::positive_scale(8, 63, scales, ls, sw);
  const float m_block = search::positive_scale(8, 63, mins, lm, sw);
  pack_k4_scales(ls, lm, packed);
  *d_out = fp32_to_fp16(d_block);
  *dmin_out = fp32_to_fp16(m_block);
}

void k_affine_requantize(const float* x, int nmax, uint16_t d16, uint16_t dmin16, const uint8_t* packed, uint8_t* L) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    k_scale_min(j, packed, &sc, &m);
    const float d = fp16_to_fp32(d16) * sc;
    const float dm = fp16_to_fp32(dmin16) * m;
    requantize_affine(x + 32 * j, 32, d, dm, nmax, L + 32 * j);
  }
}

void q4_K(const float* x, const float* imp, BlockQ4_K* y) {
  uint8_t L[QK];
  if (imp)
    k_affine_weighted(x, imp, 15, L, &y->d, &y->dmin, y->scales);
  else
    k_affine_ref(x, 15, -1.0f, 0.1f, 20, L, &y->d, &y->dmin, y->scales);
  k_affine_requantize(x, 15, y->d, y->dmin, y->scales, L);
  pack_q4_K_levels(L, y->qs);
}

void q5_K(const float* x, const float* imp, BlockQ5_K* y) {
  uint8_t L[QK];
  if (imp)
    k_affine_weighted(x, imp, 31, L, &y->d, &y->dmin, y->scales);
  else
    k_affine_ref(x, 31, -0.5f, 0.1f, 15, L, &y->d, &y->dmin, y->scales);
  k_affine_requantize(x, 31, y->d, y->dmin, y->scales, L);
  pack_q5_K_levels(L, y);
}

// --- Q6_K: 16 sub-blocks of 16, 6-bit levels, signed 8-bit scales ---------

void q6_K(const float* x, const float* imp, BlockQ6_K* y) {
  int8_t L[QK];
  float scales[16], xt[16 * search::kLanes], wt[16 * search::kLanes];
  // Sub-blocks 0-7 and 8-15, eight searches at a time (weights x^2 without imp).
  for (int h = 0; h < 2; ++h) {
    to_lanes(x + 128 * h, imp ? imp + 128 * h : nullptr, 16, xt, wt);
    search::symmetric_scale_lanes(16, 32, xt, imp ? wt : nullptr, L + 128 * h, scales + 8 * h);
  }
  float max_scale = 0.0f, max_abs_scale = 0.0f;
  for (int j = 0; j < 16; ++j) {
    if (std::fabs(scales[j]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  if (max_abs_scale < search::kGroupMaxEps) {
    std::memset(y, 0, sizeof *y);
    return;
  }
  const float iscale = -128.0f / max_scale;
  y->d = fp32_to_fp16(1.0f / iscale);
  for (int j = 0; j < 16; ++j) y->scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_fp32(y->d) * y->scales[j];
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<int8_t>(std::clamp(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
  }
  pack_q6_K_levels(L, y);
}

// --- the 32-blocks with importance weights ----------------------------------

void pack_q5_levels(const uint8_t* L, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((L[j] & 0xF) | ((L[j + 16] & 0xF) << 4));
    qh |= static_cast<uint32_t>((L[j] >> 4) & 1) << j;
    qh |= static_cast<uint32_t>((L[j + 16] >> 4) & 1) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) qh_bytes[k] = static_cast<uint8_t>(qh >> (8 * k));
}

// Q4_1 / Q5_1 with weights: the affine search of each 32-block, eight
// blocks at a time in the lanes (same bytes as one at a time), the last
// nb % 8 blocks one by one; then pack(L, block) stores the levels.
template <class Block, class Pack>
void affine_weighted_32(const float* x, void* dst, int64_t n, const float* imp, int nmax, Pack pack) {
  const float sigma2 = sum_squares(x, n) / static_cast<float>(n);
  Block* y = static_cast<Block*>(dst);
  const int64_t nb = n / kQK;
  constexpr int G = search::kLanes;
  float w[kQK * G], xt[kQK * G], wt[kQK * G], d[G], offset[G];
  uint8_t L[kQK * G];
  for (int64_t b0 = 0; b0 < nb; b0 += G) {
    const int count = static_cast<int>(std::min<int64_t>(G, nb - b0));
    for (int g = 0; g < count; ++g)
      magnitude_weights(x + kQK * (b0 + g), imp + kQK * (b0 + g), kQK, sigma2, w + kQK * g);
    if (count == G) {
      to_lanes(x + kQK * b0, w, kQK, xt, wt);
      search::affine_scale_lanes(kQK, nmax, xt, wt, L, d, offset, -0.9f, 0.05f, 36, false);
    } else {
      for (int g = 0; g < count; ++g)
        d[g] = search::affine_scale(kQK, nmax, x + kQK * (b0 + g), w + kQK * g, L + kQK * g, &offset[g], -0.9f, 0.05f,
                                    36, false);
    }
    for (int g = 0; g < count; ++g) {
      y[b0 + g].d = fp32_to_fp16(d[g]);
      y[b0 + g].m = fp32_to_fp16(-offset[g]);
      pack(L + kQK * g, &y[b0 + g]);
    }
  }
}

// Q4_0 / Q5_0 with weights, like affine_weighted_32: symmetric searches of
// eight 32-blocks at a time, the rest one by one.
template <class Block, class Pack>
void symmetric_weighted_32(const float* x, void* dst, int64_t n, const float* imp, int nmax, Pack pack) {
  const float sigma2 = sum_squares(x, n) / static_cast<float>(n);
  Block* y = static_cast<Block*>(dst);
  const int64_t nb = n / kQK;
  constexpr int G = search::kLanes;
  float w[kQK * G], xt[kQK * G], wt[kQK * G], d[G];
  int8_t L[kQK * G];
  for (int64_t b0 = 0; b0 < nb; b0 += G) {
    const int count = static_cast<int>(std::min<int64_t>(G, nb - b0));
    for (int g = 0; g < count; ++g)
      magnitude_weights(x + kQK * (b0 + g), imp + kQK * (b0 + g), kQK, sigma2, w + kQK * g);
    if (count == G) {
      to_lanes(x + kQK * b0, w, kQK, xt, wt);
      search::symmetric_scale_lanes(kQK, nmax, xt, wt, L, d);
    } else {
      for (int g = 0; g < count; ++g)
        d[g] = search::symmetric_scale(kQK, nmax, x + kQK * (b0 + g), w + kQK * g, L + kQK * g);
    }
    for (int g = 0; g < count; ++g) {
      y[b0 + g].d = fp32_to_fp16(d[g]);
      pack(L + kQK * g, &y[b0 + g]);
    }
  }
}

template <class Block, class Fn>
void each_superblock(const float* x, void* dst, int64_t n, const float* imp, Fn fn) {
  Block* y = static_cast<Block*>(dst);
  for (int64_t b = 0; b < n / QK; ++b) fn(x + QK * b, imp ? imp + QK * b : nullptr, y + b);
}

}  // namespace

void quantize_row_q2_K(const float* x, void* dst, int64_t n, const float* imp) {
  each_superblock<BlockQ2_K>(x, dst, n, imp, [](const float* xb, const float* ib, BlockQ2_K* y) {
    if (ib)
      q2_K_weighted(xb, ib, y);
    else
      q2_K_ref(xb, y);
  });
}

void quantize_row_q3_K(const float* x, void* dst, int64_t n, const float* imp) {
  each_superblock<BlockQ3_K>(x, dst, n, imp, [](const float* xb, const float* ib, BlockQ3_K* y) {
    if (ib)
      q3_K_weighted(xb, ib, y);
    else
      q3_K_ref(xb, y);
  });
}

void quantize_row_q4_K(const float* x, void* dst, int64_t n, const float* imp) {
  each_superblock<BlockQ4_K>(x, dst, n, imp, q4_K);
}

void quantize_row_q5_K(const float* x, void* dst, int64_t n, const float* imp) {
  each_superblock<BlockQ5_K>(x, dst, n, imp, q5_K);
}

void quantize_row_q6_K(const float* x, void* dst, int64_t n, const float* imp) {
  each_superblock<BlockQ6_K>(x, dst, n, imp, q6_K);
}

void quantize_row_q4_0_weighted(const float* x, void* dst, int64_t n, const float* imp) {
  symmetric_weighted_32<BlockQ4_0>(x, dst, n, imp, 8, [](const int8_t* L, BlockQ4_0* y) {
    for (int j = 0; j < 16; ++j) y->qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  });
}

void quantize_row_q5_0_weighted(const float* x, void* dst, int64_t n, const float* imp) {
  symmetric_weighted_32<BlockQ5_0>(x, dst, n, imp, 16, [](const int8_t* L, BlockQ5_0* y) {
    pack_q5_levels(reinterpret_cast<const uint8_t*>(L), y->qs, y->qh);
  });
}

void quantize_row_q4_1_weighted(const float* x, void* dst, int64_t n, const float* imp) {
  affine_weighted_32<BlockQ4_1>(x, dst, n, imp, 15, [](const uint8_t* L, BlockQ4_1* y) {
    for (int j = 0; j < 16; ++j) y->qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  });
}

void quantize_row_q5_1_weighted(const float* x, void* dst, int64_t n, const float* imp) {
  affine_weighted_32<BlockQ5_1>(x, dst, n, imp, 31,
                                [](const uint8_t* L, BlockQ5_1* y) { pack_q5_levels(L, y->qs, y->qh); });
}

}  // namespace lcte::quant
