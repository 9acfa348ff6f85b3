// The x86 intrinsics the SIMD kernels are written with. Normally that is just
// <immintrin.h>. In a build configured with -DLCTE_EMULATE_AVX512=ON (for
// tests only, see CMakeLists.txt and scripts/emulate_avx512.sh) the AVX-512
// translation units are compiled for AVX2 instead, and their 512-bit and VNNI
// intrinsics come from SIMDe, which implements each one with AVX2
// instructions: the AVX-512 kernels then run, and are compared with the
// scalar reference, on a machine without AVX-512. Integer results are exact either way; float
// operations are lane-wise IEEE operations (FMAs stay fused), so an emulated
// kernel gives the bits the hardware gives, as long as every horizontal
// reduction sums in the hardware's order: the ones SIMDe lacks or sums in
// another order are defined below, in the order of GCC's own definitions.
#pragma once

// LCTE_KERNELS_AVX512: the translation unit being compiled holds an AVX-512
// table's kernels, natively or emulated.
#if defined(LCTE_EMULATE_AVX512)
#if defined(__AVX512F__)
#error "LCTE_EMULATE_AVX512 is for builds without -mavx512f"
#endif
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#define LCTE_KERNELS_AVX512 1

namespace lcte::kernels::detail {

// GCC 12's _mm512_reduce_add_ps (avx512fintrin.h): the two 256-bit halves
// added lane-wise, then the two 128-bit halves of that, then lanes {0,1} +
// {2,3}, then the last two. SIMDe 0.7 has no reduce_add.
inline float emulated_mm512_reduce_add_ps(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  const __m256 h = _mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8));
  const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  const __m128 p = _mm_add_ps(q, _mm_shuffle_ps(q, q, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(p) + _mm_cvtss_f32(_mm_shuffle_ps(p, p, _MM_SHUFFLE(1, 1, 1, 1)));
}

}  // namespace lcte::kernels::detail

#undef _mm512_reduce_add_ps
#define _mm512_reduce_add_ps(v) ::lcte::kernels::detail::emulated_mm512_reduce_add_ps(v)

#else
#include <immintrin.h>
#if defined(__AVX512F__)
#define LCTE_KERNELS_AVX512 1
#endif
#endif

// LCTE_KERNELS_VNNI: the byte products are vpdpbusd on 256-bit registers
// (AVX512-VNNI with AVX512-VL), natively or emulated.
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(LCTE_EMULATE_VNNI)
#define LCTE_KERNELS_VNNI 1
#endif
