// Which kernel ISAs a test compares. ctest runs the kernel and model tests
// once per ISA (isa_scalar., isa_avx2., isa_avx512., isa_avx512vnni.) with
// $LCTE_KERNELS set;
// there a test exercises that ISA alone against the scalar reference. Run by
// hand without the variable, it exercises every ISA this CPU and build have.
#pragma once

#include <optional>
#include <vector>

#include "kernels/kernels.h"

namespace lcte::testing {

// Scalar first: it is the reference the others are compared with.
inline std::vector<kernels::Isa> isas_under_test() {
  std::vector<kernels::Isa> out = {kernels::Isa::Scalar};
  const std::optional<kernels::Isa> only = kernels::requested_isa();
  for (kernels::Isa isa : kernels::kAllIsas)
    if (isa != kernels::Isa::Scalar && kernels::isa_available(isa) && (!only || *only == isa)) out.push_back(isa);
  return out;
}

// isas_under_test() without the scalar reference.
inline std::vector<kernels::Isa> simd_isas() {
  std::vector<kernels::Isa> out = isas_under_test();
  out.erase(out.begin());
  return out;
}

}  // namespace lcte::testing
