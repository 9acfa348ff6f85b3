// The AVX-512 table once more, compiled with AVX512-VNNI as well: every
// u8 x s8 byte product of the 32-block formats (dot_u8s8, OffsetDot and the
// token-lane tiles in kernels_x86.inc) is one vpdpbusd instead of
// maddubs + madd. The integers, hence the results, are those of the table
// without VNNI; kernels_tests checks both against the scalar reference.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/kernels_x86.inc"

#if !defined(LCTE_KERNELS_VNNI)
#error "kernels_avx512_vnni.cpp must be compiled with -mavx512vnni (or emulated VNNI)"
#endif

namespace lcte::kernels::detail {

void fill_avx512_vnni(KernelTable& t) { fill_x86_512(t); }

}  // namespace lcte::kernels::detail
