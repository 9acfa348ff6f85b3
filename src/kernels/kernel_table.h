// Internal: the function table each ISA fills in. kernels.cpp starts from the
// scalar table and lets an ISA overwrite the entries it has kernels for, so a
// missing SIMD kernel falls back to the scalar one instead of failing.
//
// This header is included by the ISA-specific translation units, which are
// compiled with -mavx2 / -mavx512*: it must declare only, never define inline
// functions (an inline function compiled there could be picked by the linker
// for the portable code too and crash a CPU without that ISA).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lcte::kernels::detail {

using VecDotFn = float (*)(int64_t n, const void* w, const void* a);
using MatmulFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t nrows, const void* acts, size_t act_stride,
                          int64_t ntok, float* out, size_t out_stride);
using QuantizeFn = void (*)(const float* x, void* dst, int64_t n);
using DequantFn = void (*)(const void* src, float* dst, int64_t n);
using PackGroupFn = void (*)(int64_t n, const void* acts, size_t act_stride, void* dst);
using MatmulPackedFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t nrows, const void* acts,
                                size_t act_stride, const void* packed, int64_t ntok, float* out, size_t out_stride);

// Indexed by the raw GgmlType id (all ids are below 40).
constexpr int kTypeSlots = 40;

struct KernelTable {
  VecDotFn vec_dot[kTypeSlots];     // by weight type
  MatmulFn matmul[kTypeSlots];      // by weight type; also serves vec_dot_rows (ntok = 1)
  QuantizeFn quantize[kTypeSlots];  // by activation type
  DequantFn dequant[kTypeSlots];    // by stored type
  // Packed 8-token activation groups (see kernels.h), by weight type; null
  // (and 0 bytes per element) where the ISA has no packed path.
  PackGroupFn pack_group[kTypeSlots];
  MatmulPackedFn matmul_packed[kTypeSlots];
  size_t packed_group_bytes[kTypeSlots];  // bytes of one packed group per element of a row
  // Where llama.cpp sums a matrix it does not repack in another order than
  // one it repacks (Q4_0 with a row count that is not a multiple of 8): that
  // order, by weight type; null where matmul is it.
  MatmulFn matmul_unrepacked[kTypeSlots];
};

void fill_scalar(KernelTable& t);
// Defined only in builds that compile the ISA's translation unit
// (LCTE_HAVE_AVX2 / LCTE_HAVE_AVX512). Each fills the whole table for its
// ISA (on top of the scalar one); the VNNI table is the AVX-512 one with
// vpdpbusd byte products.
void fill_avx2(KernelTable& t);
void fill_avx512(KernelTable& t);
void fill_avx512_vnni(KernelTable& t);

}  // namespace lcte::kernels::detail
