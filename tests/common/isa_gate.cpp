// Linked into the test programs that ctest runs once per kernel ISA. When
// $LCTE_KERNELS names an ISA this machine (or build) lacks, the program exits
// 77, which those tests declare as SKIP_RETURN_CODE: the run says the ISA was
// not tested instead of quietly testing a lesser one. An unknown value fails.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "core/error.h"
#include "kernels/kernels.h"

namespace {

constexpr int kSkipReturnCode = 77;

const char* isa_title(lcte::kernels::Isa isa) {
  switch (isa) {
    case lcte::kernels::Isa::Avx2: return "AVX2 (with FMA and F16C)";
    case lcte::kernels::Isa::Avx512: return "AVX-512 (F, BW, VL, DQ)";
    case lcte::kernels::Isa::Avx512Vnni: return "AVX-512 VNNI";
    default: return "scalar";
  }
}

class IsaGate : public ::testing::Environment {
 public:
  // SetUp runs only when tests run, not when ctest lists them at build time.
  void SetUp() override {
    std::optional<lcte::kernels::Isa> want;
    try {
      want = lcte::kernels::requested_isa();
    } catch (const lcte::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      std::fflush(nullptr);
      std::exit(1);
    }
    if (!want || lcte::kernels::isa_available(*want)) return;
    const std::string name(lcte::kernels::isa_name(*want));
    std::printf("this machine has no %s kernels (CPU or build): isa_%s tests skipped\n", isa_title(*want),
                name.c_str());
    std::fflush(nullptr);
    std::exit(kSkipReturnCode);
  }
};

// gtest allows environments to be registered before InitGoogleTest.
[[maybe_unused]] ::testing::Environment* const gate = ::testing::AddGlobalTestEnvironment(new IsaGate);

}  // namespace
