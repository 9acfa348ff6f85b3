// AVX2 + FMA + F16C kernels (this file is compiled with those flags only; see
// CMakeLists.txt). The kernels themselves are in kernels_x86.inc.
#include "kernels/kernels_x86.inc"

namespace lcte::kernels::detail {

void fill_avx2(KernelTable& t) { fill_x86_256(t); }

}  // namespace lcte::kernels::detail
