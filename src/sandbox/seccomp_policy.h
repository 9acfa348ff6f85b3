// The system-call filter every sample runs under, compiled once into a BPF
// program so that the child can install it with one prctl() between clone()
// and execve(), where nothing may allocate. The rules and why each is there
// are listed in seccomp_policy.cpp and docs/parts/sandbox.md.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

namespace lcte::sandbox::detail {

struct SeccompFilter {
  std::vector<sock_filter> program;  // ready for SECCOMP_SET_MODE_FILTER
  int rules = 0;                     // how many rules went into it
  std::string summary;               // one line for Sandbox::describe()
};

// Throws lcte::Error if libseccomp cannot build the filter for this machine.
SeccompFilter build_seccomp_filter();

}  // namespace lcte::sandbox::detail
