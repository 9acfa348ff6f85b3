// CPU features that __builtin_cpu_supports cannot ask on every compiler lcte
// builds with (clang 14 rejects "f16c").
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace lcte {

// F16C (half-precision conversions): CPUID leaf 1, ECX bit 29.
// Asked once: the kernels ask on every call, and CPUID traps to the
// hypervisor in a VM (tens of microseconds each under load).
inline bool cpu_has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    return (ecx & (1u << 29)) != 0;
  }();
  return has;
#else
  return false;
#endif
}

}  // namespace lcte
