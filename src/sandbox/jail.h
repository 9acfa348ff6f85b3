// Starting a confined Python: the "jail". A jail is two processes:
//
//   init (our C++ code, pid 1 of a new PID namespace) builds the filesystem
//   view, then forks
//   python (pid 2), which enters a user namespace, applies rlimits, drops to
//   the sample user, loads the seccomp filter and execs the interpreter.
//
// init reaps everything, tells the harness how python ended (a JailReport on
// descriptor 4) and exits, which kills whatever is left in the namespace.
// Everything the child needs is prepared in the parent (JailPlan, JailRun):
// between clone() and execve() the child is a copy of a possibly
// multi-threaded harness where only async-signal-safe system calls are safe.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lcte::sandbox::detail {

// What confinement the machine allows, strongest first.
enum class Isolation {
  Namespaces,      // we are root: PID, mount, network, IPC, UTS namespaces; python in a user namespace
  UserNamespaces,  // not root, unprivileged user namespaces: the same, all inside one user namespace
  Processes,       // neither: own session, rlimits, seccomp, a temp dir as cwd; files are not protected
};
const char* isolation_name(Isolation isolation);

inline constexpr uid_t kSampleUid = 65534;  // "nobody": what samples run as, in and outside the namespace
inline constexpr uid_t kJudgeUid = 65533;   // the judge, under namespaces: a uid the sample cannot signal or trace

struct BindMount {
  std::string source;  // on the host
  std::string target;  // absolute path under the new root's mount point
  bool directory = true;
  unsigned long flags = 0;  // MS_* to keep from the source (atime, noexec) on the read-only remount
};

// Built once per Sandbox: the filesystem view and the filter.
struct JailPlan {
  Isolation isolation = Isolation::Processes;
  std::string python;             // absolute path of the real interpreter
  std::string root_mount;         // host directory the new root's tmpfs is mounted on
  std::vector<std::string> dirs;  // created in the new root, parents first (absolute host paths)
  std::vector<BindMount> binds;   // read-only
  std::vector<std::pair<std::string, std::string>> links;  // (path, target) symlinks in the new root
  std::vector<BindMount> devices;                          // /dev/null etc., bound writable
  std::string proc_dir, tmp_dir, old_root;                 // under root_mount
  std::vector<sock_filter> seccomp;
  std::vector<std::string> env;  // environment of the interpreter
};

// Per start: what runs and under which limits.
struct JailRun {
  std::vector<std::string> argv;  // argv[0] is the interpreter
  bool sample_user = true;        // drop python to kSampleUid (false for the zygote, which does it per sample)
  bool die_with_parent = true;    // SIGKILL init if the thread that started it exits
  std::string tmp_options;        // tmpfs options of the work directory
  std::string host_workdir;       // Processes isolation: the cwd, created by the caller
  std::string cgroup;             // a cgroup v2 directory to run the jail in ("" for none)
  // rlimits of python; 0 leaves the harness's value
  uint64_t address_space = 0, cpu_seconds = 0, file_size = 0, processes = 0, open_files = 0;
};

// The child's descriptors: python gets 0 = /dev/null, 1 = out, 2 = err, 3 = channel.
struct JailFds {
  int out = -1, err = -1, channel = -1;
};

struct Jail {
  pid_t init = -1;  // in the harness's PID namespace; kill it (or its group) to end everything
  int report = -1;  // read end: one JailReport, then EOF when init is gone
};

// What init writes to the harness before it exits.
// init writes two: Started (value = python's pid, in the harness's PID
// namespace only under Processes isolation) right after the fork, then the end.
struct JailReport {
  enum Kind : int32_t { None = 0, Exited = 1, Signaled = 2, SetupFailed = 3, Started = 4 };
  int32_t kind = None;
  int32_t value = 0;        // exit code or signal
  int32_t stop_signal = 0;  // python stopped itself (SIGSTOP...): init killed it
  int32_t step = 0;         // SetupFailed: which step (JailStep) and errno
  int32_t error = 0;
};
const char* jail_step_name(int step);

// Starts a jail. Throws lcte::Error if clone() fails. The caller closes its
// copies of fds after this returns, reads the report and reaps `init`.
Jail start_jail(const JailPlan& plan, const JailRun& run, const JailFds& fds);

// Kills a jail's processes: the PID namespace (by killing init) or, without
// one, python's process group (init, a subreaper, then reaps and reports).
void kill_jail(const JailPlan& plan, pid_t init, pid_t python);

}  // namespace lcte::sandbox::detail
