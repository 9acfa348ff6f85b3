// Byte layouts of ggml's quantized blocks, as they lie in a GGUF file
// (little-endian, packed, no alignment). Halves are stored as raw uint16_t
// bits; convert with fp16.h. The static_asserts pin every size to the value
// ggml_type.cpp uses, so the two cannot drift apart.
//
// Element order inside a block, i.e. which value index each quant holds:
//   Q4_0/Q4_1:  qs[j] low nibble -> element j, high nibble -> element j+16.
//   Q5_0/Q5_1:  as Q4 for the low 4 bits; bit j of qh (LE u32) is bit 4 of
//               element j, bit j+16 of element j+16.
//   Q2_K/Q3_K:  elements 128h + 32s + l (h<2, s<4, l<32) take bits 2s..2s+1
//               of qs[32h + l]; Q3_K's third bit is bit 4h+s of hmask[l]
//               (set means +0, clear means -4). One scale per 16 elements.
//   Q4_K/Q5_K:  elements 64g + l take the low nibble of qs[32g + l], elements
//               64g + 32 + l the high nibble; Q5_K's fifth bit of element 32c+l
//               is bit c of qh[l]. One (scale, min) pair per 32 elements,
//               6 bits each, packed into 12 bytes (see k_scale_min).
//   Q6_K:       elements 128h + 32s + l: low 4 bits from ql[64h + l + 32(s&1)]
//               (low nibble for s<2, high for s>=2), high 2 bits are bits
//               2s..2s+1 of qh[32h + l]. One int8 scale per 16 elements.
#pragma once

#include <cstdint>

namespace lcte::blocks {

constexpr int kQK = 32;     // elements per block of the *_0/*_1 formats
constexpr int kQK_K = 256;  // elements per super-block of the K formats

#pragma pack(push, 1)
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
// Activation format for Q4_1/Q5_1 weights: s = d * sum(qs), for the min term.
struct BlockQ8_1 {
  uint16_t d, s;
  int8_t qs[kQK];
};
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // low nibble scale, high nibble min
  uint8_t qs[kQK_K / 4];
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];  // 16 scales of 6 bits, biased by 32
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
// Activation format for the K-quants: d is a full float, bsums[j] is the sum
// of qs[16j..16j+15] (the min/offset terms of the weight formats need it).
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
#pragma pack(pop)

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Scale and min j (j < 8) of a Q4_K/Q5_K block: the first four pairs are the
// low 6 bits of bytes j and j+4; the last four take their low 4 bits from
// byte j+4 (scale: low nibble, min: high nibble) and their top 2 bits from
// the spare top bits of bytes j-4 (scale) and j (min).
// (static: each ISA-specific translation unit keeps its own copy, so the
// linker can never hand the scalar code a copy compiled for AVX2.)
static inline void k_scale_min(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Scale j (j < 16) of a Q3_K block, unbiased to [-32, 31]: the low 4 bits are
// the low (j<8) or high (j>=8) nibble of byte j%8, the top 2 bits are bits
// 2*(j/4).. of byte 8 + j%4.
static inline int q3k_scale(int j, const uint8_t* s) {
  const int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  const int high = (s[8 + (j % 4)] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace lcte::blocks
