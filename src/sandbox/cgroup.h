// cgroup v2 limits for jails, where the machine delegates a cgroup v2 subtree
// to lcte. rlimits are per process: a sample may hold up to
// max_processes x memory_bytes in total; a jail's cgroup caps the whole jail
// (memory.max, memory.swap.max, pids.max) so no sample can exhaust the host.
// Where no writable cgroup v2 with the memory and pids controllers exists
// (cgroup v1 or hybrid machines, containers without delegation) jails run
// without one and describe() says why.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace lcte::sandbox::detail {

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // memory.max (swap.max is set to 0)
  uint64_t pids = 0;          // pids.max
};

// The cgroup v2 directory under which lcte may create jail cgroups. All
// paths are relative to `root` (the cgroup2 mount point; tests pass a fake
// tree), `self` is this process's cgroup as /proc/self/cgroup names it.
class CgroupParent {
 public:
  // Finds the cgroup2 mount and this process's cgroup and prepares it: the
  // memory and pids controllers must be enabled for children. When the
  // cgroup holds processes (cgroup v2 forbids controllers there) this
  // process first moves into a leaf child "lcte-harness". On failure
  // available() is false and why() says what is missing.
  static CgroupParent detect();
  static CgroupParent at(const std::string& root, const std::string& self, pid_t me);

  bool available() const { return available_; }
  const std::string& why() const { return why_; }
  const std::string& dir() const { return dir_; }

  // Creates a child cgroup with the limits; returns its directory, or "" on
  // failure (the jail then runs without one; the reason is logged).
  std::string create(const std::string& name, const CgroupLimits& limits) const;
  // Moves `pid` into `cgroup`; false on failure.
  static bool place(const std::string& cgroup, pid_t pid);
  // Removes an empty child cgroup (after its processes are reaped).
  static void remove(const std::string& cgroup);

 private:
  bool available_ = false;
  std::string why_, dir_;
};

}  // namespace lcte::sandbox::detail
