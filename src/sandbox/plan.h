// Finding the interpreter and laying out the jail's filesystem view. Done
// once per Sandbox, in the parent, with ordinary (allocating) code.
#pragma once

#include <string>

#include "sandbox/jail.h"
#include "sandbox/seccomp_policy.h"

namespace lcte::sandbox::detail {

struct PythonInfo {
  std::string executable;  // real path of the interpreter binary (not a pyenv shim)
  std::string prefix, exec_prefix;
  std::string version;  // "3.11.7"
};

// Runs `python` once, unconfined, to learn where the real interpreter and its
// standard library live. Throws lcte::Error naming `python` if that fails.
PythonInfo probe_python(const std::string& python);

// The read-only view for `isolation`: system directories, the interpreter's
// prefix, a few /etc files and devices. Throws lcte::Error if no mount point
// for the new root is available.
JailPlan make_plan(Isolation isolation, const PythonInfo& python, const SeccompFilter& filter);

}  // namespace lcte::sandbox::detail
