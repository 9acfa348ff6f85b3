// AVX-512 (F, BW, VL, DQ) kernels: kernels_x86.inc compiled with those flags
// (fill_x86_512 says what the table holds).
//
// kernels_tests and model_test compare this table with the scalar reference
// and llama.cpp's logits on CPUs with AVX-512, and on CPUs without it through
// scripts/emulate_avx512.sh (SIMDe; see x86_simd.h).
// GCC 12's AVX-512 headers trip its own -Wuninitialized (the intrinsics
// start from deliberately undefined vectors); the warning says nothing here.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/kernels_x86.inc"

#if defined(LCTE_KERNELS_VNNI)
#error "kernels_avx512.cpp is the table for AVX-512 CPUs without VNNI (kernels_avx512_vnni.cpp has VNNI)"
#endif

namespace lcte::kernels::detail {

void fill_avx512(KernelTable& t) { fill_x86_512(t); }

}  // namespace lcte::kernels::detail
