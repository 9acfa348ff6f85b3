// Scalar reference kernels: the definition of what every SIMD kernel must
// compute. Each format is first decoded to plain integers (quants, sub-block
// scales and mins), then dequantization and dot products are written as the
// formula reads. Dequantization evaluates the float expressions in the same
// order as ggml's C reference and gguf-py, so it is bit-exact with both
// (this file is compiled with -ffp-contract=off so no FMA can change that).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/ggml_type.h"
#include "kernels/kernel_table.h"

namespace lcte::kernels::detail {
namespace {

using namespace lcte::blocks;

// ---------------------------------------------------------------------------
// Decoding to integers

// A 32-block as integers: value i is d * q[i] (+ m when has_min).
struct Decoded32 {
  float d = 0, m = 0;
  bool has_min = false;
  int q[kQK];
};

void decode(const BlockQ4_0& b, Decoded32& o) {
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < kQK / 2; ++j) {
    o.q[j] = (b.qs[j] & 0xF) - 8;
    o.q[j + 16] = (b.qs[j] >> 4) - 8;
  }
}

void decode(const BlockQ4_1& b, Decoded32& o) {
  o.d = fp16_to_fp32(b.d);
  o.m = fp16_to_fp32(b.m);
  o.has_min = true;
  for (int j = 0; j < kQK / 2; ++j) {
    o.q[j] = b.qs[j] & 0xF;
    o.q[j + 16] = b.qs[j] >> 4;
  }
}

uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

void decode_q5(const uint8_t* qs, const uint8_t* qh_bytes, int offset, Decoded32& o) {
  const uint32_t qh = load_u32(qh_bytes);
  for (int j = 0; j < kQK / 2; ++j) {
    const int h0 = static_cast<int>((qh >> j) & 1) << 4;
    const int h1 = static_cast<int>((qh >> (j + 16)) & 1) << 4;
    o.q[j] = ((qs[j] & 0xF) | h0) - offset;
    o.q[j + 16] = ((qs[j] >> 4) | h1) - offset;
  }
}

void decode(const BlockQ5_0& b, Decoded32& o) {
  o.d = fp16_to_fp32(b.d);
  decode_q5(b.qs, b.qh, 16, o);
}

void decode(const BlockQ5_1& b, Decoded32& o) {
  o.d = fp16_to_fp32(b.d);
  o.m = fp16_to_fp32(b.m);
  o.has_min = true;
  decode_q5(b.qs, b.qh, 0, o);
}

void decode(const BlockQ8_0& b, Decoded32& o) {
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < kQK; ++j) o.q[j] = b.qs[j];
}

void decode(const BlockQ8_1& b, Decoded32& o) {
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < kQK; ++j) o.q[j] = b.qs[j];
}

// A K super-block as integers: value i is (d*sc[i/16])*q[i] - (dmin*mn[i/16]).
// Formats with 32-element sub-blocks repeat each scale for both halves.
struct DecodedK {
  float d = 0, dmin = 0;
  int q[kQK_K];
  int sc[kQK_K / 16];
  int mn[kQK_K / 16];
};

void decode(const BlockQ2_K& b, DecodedK& o) {
  o.d = fp16_to_fp32(b.d);
  o.dmin = fp16_to_fp32(b.dmin);
  for (int j = 0; j < 16; ++j) {
    o.sc[j] = b.scales[j] & 0xF;
    o.mn[j] = b.scales[j] >> 4;
  }
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int l = 0; l < 32; ++l) o.q[128 * h + 32 * s + l] = (b.qs[32 * h + l] >> (2 * s)) & 3;
}

void decode(const BlockQ3_K& b, DecodedK& o) {
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < 16; ++j) {
    o.sc[j] = q3k_scale(j, b.scales);
    o.mn[j] = 0;
  }
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int l = 0; l < 32; ++l) {
        const int low = (b.qs[32 * h + l] >> (2 * s)) & 3;
        const bool high = (b.hmask[l] >> (4 * h + s)) & 1;
        o.q[128 * h + 32 * s + l] = low - (high ? 0 : 4);
      }
}

void decode_k_scales(const uint8_t* packed, DecodedK& o) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, mn;
    k_scale_min(j, packed, &sc, &mn);
    o.sc[2 * j] = o.sc[2 * j + 1] = sc;
    o.mn[2 * j] = o.mn[2 * j + 1] = mn;
  }
}

void decode(const BlockQ4_K& b, DecodedK& o) {
  o.d = fp16_to_fp32(b.d);
  o.dmin = fp16_to_fp32(b.dmin);
  decode_k_scales(b.scales, o);
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) {
      o.q[64 * g + l] = b.qs[32 * g + l] & 0xF;
      o.q[64 * g + 32 + l] = b.qs[32 * g + l] >> 4;
    }
}

void decode(const BlockQ5_K& b, DecodedK& o) {
  o.d = fp16_to_fp32(b.d);
  o.dmin = fp16_to_fp32(b.dmin);
  decode_k_scales(b.scales, o);
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) {
      const int c0 = 2 * g, c1 = 2 * g + 1;  // the two 32-element chunks of group g
      o.q[32 * c0 + l] = (b.qs[32 * g + l] & 0xF) | (((b.qh[l] >> c0) & 1) << 4);
      o.q[32 * c1 + l] = (b.qs[32 * g + l] >> 4) | (((b.qh[l] >> c1) & 1) << 4);
    }
}

void decode(const BlockQ6_K& b, DecodedK& o) {
  o.d = fp16_to_fp32(b.d);
  for (int j = 0; j < 16; ++j) {
    o.sc[j] = b.scales[j];
    o.mn[j] = 0;
  }
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int l = 0; l < 32; ++l) {
        const uint8_t lb = b.ql[64 * h + l + 32 * (s & 1)];
        const int low = s < 2 ? (lb & 0xF) : (lb >> 4);
        const int high = (b.qh[32 * h + l] >> (2 * s)) & 3;
        o.q[128 * h + 32 * s + l] = (low | (high << 4)) - 32;
      }
}

// ---------------------------------------------------------------------------
// Dequantization

template <class Block>
void dequant_32(const void* src, float* dst, int64_t n) {
  const Block* blocks = static_cast<const Block*>(src);
  Decoded32 dec;
  for (int64_t i = 0; i < n / kQK; ++i) {
    decode(blocks[i], dec);
    float* y = dst + i * kQK;
    for (int j = 0; j < kQK; ++j) {
      const float v = dec.d * static_cast<float>(dec.q[j]);
      y[j] = dec.has_min ? v + dec.m : v;
    }
  }
}

template <class Block>
void dequant_k(const void* src, float* dst, int64_t n) {
  const Block* blocks = static_cast<const Block*>(src);
  DecodedK dec;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    decode(blocks[i], dec);
    float* y = dst + i * kQK_K;
    for (int j = 0; j < kQK_K; ++j) {
      const float scale = dec.d * static_cast<float>(dec.sc[j / 16]);
      const float min = dec.dmin * static_cast<float>(dec.mn[j / 16]);
      y[j] = scale * static_cast<float>(dec.q[j]) - min;
    }
  }
}

void dequant_q8_k(const void* src, float* dst, int64_t n) {
  const BlockQ8_K* blocks = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) dst[i * kQK_K + j] = blocks[i].d * static_cast<float>(blocks[i].qs[j]);
}

void dequant_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequant_f16(const void* src, float* dst, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}

void dequant_bf16(const void* src, float* dst, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}

// ---------------------------------------------------------------------------
// Activation quantization. These mirror the SIMD kernels operation for
// operation (127/amax, round half to even), so every ISA produces the same
// bytes; ggml's AVX2 path computes Q8_0/Q8_1 the same way.

int round_even(float x) { return static_cast<int>(std::nearbyint(x)); }

float block_amax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

void quant_act_q8_0(const float* x, void* dst, int64_t n) {
  BlockQ8_0* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* xb = x + i * kQK;
    const float amax = block_amax(xb, kQK);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = static_cast<int8_t>(round_even(xb[j] * id));
  }
}

void quant_act_q8_1(const float* x, void* dst, int64_t n) {
  BlockQ8_1* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* xb = x + i * kQK;
    const float amax = block_amax(xb, kQK);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[i].qs[j] = static_cast<int8_t>(round_even(xb[j] * id));
      sum += y[i].qs[j];
    }
    y[i].d = fp32_to_fp16(d);
    y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

// As ggml's quantize_row_q8_K_ref: the value of largest magnitude (the first
// one, on a tie) maps to -127, d = 1/iscale may be negative.
void quant_act_q8_k(const float* x, void* dst, int64_t n) {
  BlockQ8_K* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* xb = x + i * kQK_K;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(xb[j]) > amax) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    std::memset(&y[i], 0, sizeof(BlockQ8_K));
    if (amax == 0.0f) continue;
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, round_even(iscale * xb[j])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

void quant_act_f32(const float* x, void* dst, int64_t n) {
  std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
}

// ---------------------------------------------------------------------------
// Dot products

float dot_f32(int64_t n, const void* w, const void* a) {
  const float* x = static_cast<const float*>(w);
  const float* y = static_cast<const float*>(a);
  double sum = 0.0;  // the reference may as well be accurate
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * y[i];
  return static_cast<float>(sum);
}

float dot_f16(int64_t n, const void* w, const void* a) {
  const uint8_t* x = static_cast<const uint8_t*>(w);
  const float* y = static_cast<const float*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, x + 2 * i, 2);
    // llama.cpp multiplies F16 weights with activations converted to F16.
    sum += static_cast<double>(fp16_to_fp32(h)) * fp16_to_fp32(fp32_to_fp16(y[i]));
  }
  return static_cast<float>(sum);
}

float dot_bf16(int64_t n, const void* w, const void* a) {
  const uint8_t* x = static_cast<const uint8_t*>(w);
  const float* y = static_cast<const float*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, x + 2 * i, 2);
    // llama.cpp multiplies BF16 weights with activations converted to BF16.
    sum += static_cast<double>(bf16_to_fp32(h)) * bf16_to_fp32(fp32_to_bf16(y[i]));
  }
  return static_cast<float>(sum);
}

// 32-block weights with Q8_0 or Q8_1 activations:
//   sum over blocks of dw*da * sum_i qw_i*qa_i  (+ mw * sa for formats with a min).
template <class WBlock, class ABlock>
float dot_32(int64_t n, const void* w, const void* a) {
  const WBlock* x = static_cast<const WBlock*>(w);
  const ABlock* y = static_cast<const ABlock*>(a);
  Decoded32 dw, da;
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    decode(x[i], dw);
    decode(y[i], da);
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += dw.q[j] * da.q[j];
    sum += dw.d * da.d * static_cast<float>(sumi);
    if constexpr (std::is_same_v<ABlock, BlockQ8_1>) sum += dw.m * fp16_to_fp32(y[i].s);
  }
  return sum;
}

// K weights with Q8_K activations:
//   sum over super-blocks of da*d * sum_j sc_j * (sum over sub-block j of qw*qa)
//                          - da*dmin * sum_j mn_j * bsums_j.
template <class WBlock>
float dot_k(int64_t n, const void* w, const void* a) {
  const WBlock* x = static_cast<const WBlock*>(w);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(a);
  DecodedK dw;
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    decode(x[i], dw);
    int isum = 0, msum = 0;
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sub = 0;
      for (int l = 0; l < 16; ++l) sub += dw.q[16 * j + l] * y[i].qs[16 * j + l];
      isum += dw.sc[j] * sub;
      msum += dw.mn[j] * y[i].bsums[j];
    }
    sum += y[i].d * dw.d * static_cast<float>(isum) - y[i].d * dw.dmin * static_cast<float>(msum);
  }
  return sum;
}

float dot_q8_k(int64_t n, const void* w, const void* a) {
  const BlockQ8_K* x = static_cast<const BlockQ8_K*>(w);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK_K; ++j) isum += x[i].qs[j] * y[i].qs[j];
    sum += x[i].d * y[i].d * static_cast<float>(isum);
  }
  return sum;
}

// ---------------------------------------------------------------------------
// Matmul: one dot product per (row, token); the scalar table has no tiling.

template <VecDotFn Dot>
void matmul_rows(int64_t n, const void* w, size_t w_stride, int64_t nrows, const void* acts, size_t act_stride,
                 int64_t ntok, float* out, size_t out_stride) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const uint8_t* ab = static_cast<const uint8_t*>(acts);
  for (int64_t t = 0; t < ntok; ++t)
    for (int64_t r = 0; r < nrows; ++r)
      out[static_cast<size_t>(t) * out_stride + static_cast<size_t>(r)] =
          Dot(n, wb + static_cast<size_t>(r) * w_stride, ab + static_cast<size_t>(t) * act_stride);
}

template <VecDotFn Dot>
void set_dot(KernelTable& t, GgmlType type) {
  t.vec_dot[static_cast<int>(type)] = Dot;
  t.matmul[static_cast<int>(type)] = matmul_rows<Dot>;
}

}  // namespace

void fill_scalar(KernelTable& t) {
  t = KernelTable{};
  auto slot = [](GgmlType type) { return static_cast<int>(type); };

  t.dequant[slot(GgmlType::F32)] = dequant_f32;
  t.dequant[slot(GgmlType::F16)] = dequant_f16;
  t.dequant[slot(GgmlType::BF16)] = dequant_bf16;
  t.dequant[slot(GgmlType::Q4_0)] = dequant_32<BlockQ4_0>;
  t.dequant[slot(GgmlType::Q4_1)] = dequant_32<BlockQ4_1>;
  t.dequant[slot(GgmlType::Q5_0)] = dequant_32<BlockQ5_0>;
  t.dequant[slot(GgmlType::Q5_1)] = dequant_32<BlockQ5_1>;
  t.dequant[slot(GgmlType::Q8_0)] = dequant_32<BlockQ8_0>;
  t.dequant[slot(GgmlType::Q8_1)] = dequant_32<BlockQ8_1>;
  t.dequant[slot(GgmlType::Q2_K)] = dequant_k<BlockQ2_K>;
  t.dequant[slot(GgmlType::Q3_K)] = dequant_k<BlockQ3_K>;
  t.dequant[slot(GgmlType::Q4_K)] = dequant_k<BlockQ4_K>;
  t.dequant[slot(GgmlType::Q5_K)] = dequant_k<BlockQ5_K>;
  t.dequant[slot(GgmlType::Q6_K)] = dequant_k<BlockQ6_K>;
  t.dequant[slot(GgmlType::Q8_K)] = dequant_q8_k;

  t.quantize[slot(GgmlType::F32)] = quant_act_f32;
  t.quantize[slot(GgmlType::Q8_0)] = quant_act_q8_0;
  t.quantize[slot(GgmlType::Q8_1)] = quant_act_q8_1;
  t.quantize[slot(GgmlType::Q8_K)] = quant_act_q8_k;

  set_dot<dot_f32>(t, GgmlType::F32);
  set_dot<dot_f16>(t, GgmlType::F16);
  set_dot<dot_bf16>(t, GgmlType::BF16);
  set_dot<dot_32<BlockQ4_0, BlockQ8_0>>(t, GgmlType::Q4_0);
  set_dot<dot_32<BlockQ4_1, BlockQ8_1>>(t, GgmlType::Q4_1);
  set_dot<dot_32<BlockQ5_0, BlockQ8_0>>(t, GgmlType::Q5_0);
  set_dot<dot_32<BlockQ5_1, BlockQ8_1>>(t, GgmlType::Q5_1);
  set_dot<dot_32<BlockQ8_0, BlockQ8_0>>(t, GgmlType::Q8_0);
  set_dot<dot_k<BlockQ2_K>>(t, GgmlType::Q2_K);
  set_dot<dot_k<BlockQ3_K>>(t, GgmlType::Q3_K);
  set_dot<dot_k<BlockQ4_K>>(t, GgmlType::Q4_K);
  set_dot<dot_k<BlockQ5_K>>(t, GgmlType::Q5_K);
  set_dot<dot_k<BlockQ6_K>>(t, GgmlType::Q6_K);
  set_dot<dot_q8_k>(t, GgmlType::Q8_K);
}

}  // namespace lcte::kernels::detail
