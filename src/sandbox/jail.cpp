#include "sandbox/jail.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "sandbox/cgroup.h"

namespace lcte::sandbox::detail {

const char* isolation_name(Isolation isolation) {
  switch (isolation) {
    case Isolation::Namespaces: return "namespaces";
    case Isolation::UserNamespaces: return "user-namespaces";
    case Isolation::Processes: return "processes";
  }
  return "?";
}

namespace {

// Steps of the child's setup, reported with errno when one fails.
enum Step : int32_t {
  kFds = 1,
  kDeathSignal,
  kSync,
  kSetsid,
  kPrivate,
  kRootTmpfs,
  kMkdir,
  kLink,
  kBind,
  kRemount,
  kDevice,
  kProc,
  kTmp,
  kPivot,
  kChdirRoot,
  kUmountOld,
  kRootReadonly,
  kHostname,
  kPipes,
  kFork,
  kUserns,
  kUidMap,
  kRlimit,
  kGroups,
  kUid,
  kCaps,
  kNoNewPrivs,
  kSeccomp,
  kChdir,
  kExec,
  kDumpable,
};

constexpr const char* kStepNames[] = {
    "?",
    "arranging descriptors",
    "setting the parent-death signal",
    "waiting for the uid map",
    "setsid",
    "making mounts private",
    "mounting the root tmpfs",
    "mkdir in the new root",
    "creating a symlink in the new root",
    "bind-mounting",
    "remounting a bind read-only",
    "binding a device",
    "mounting /proc",
    "mounting /tmp",
    "pivot_root",
    "chdir to the new root",
    "unmounting the old root",
    "remounting the root read-only",
    "sethostname",
    "creating sync pipes",
    "forking python",
    "entering a user namespace",
    "writing the uid map",
    "setrlimit",
    "setgroups",
    "dropping to the sample user",
    "dropping capabilities",
    "setting no_new_privs",
    "loading the seccomp filter",
    "chdir to the work directory",
    "executing the interpreter",
    "making init undumpable",
};

constexpr int kReportFd = 4;  // init's report pipe in the child
constexpr int kSyncFd = 5;    // the harness writes a byte once the uid map is set and the cgroup joined
// uid 0 (the worker's coordinator), the judge's and the sample's uids.
constexpr const char* kIdMapText = "0 0 1\n65533 65533 2\n";

// A fork that runs no atfork handlers: the harness may be multi-threaded and
// another thread may hold malloc's or stdio's locks at this moment.
pid_t raw_clone(unsigned long flags) {
  return static_cast<pid_t>(syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

[[noreturn]] void fail_step(int32_t step) {
  JailReport report;
  report.kind = JailReport::SetupFailed;
  report.step = step;
  report.error = errno;
  ssize_t ignored = write(kReportFd, &report, sizeof report);
  (void)ignored;
  _exit(127);
}

void check(bool ok, int32_t step) {
  if (!ok) fail_step(step);
}

void close_from(int first) {
  if (syscall(SYS_close_range, first, ~0u, 0) == 0) return;
  for (int fd = first; fd < 65536; ++fd) close(fd);  // kernels before 5.9
}

// Writes "/proc/<pid>/<name>" into buf without allocating.
void proc_path(char* buf, pid_t pid, const char* name) {
  char digits[16];
  int n = 0;
  for (unsigned v = static_cast<unsigned>(pid); v > 0 || n == 0; v /= 10) digits[n++] = char('0' + v % 10);
  char* p = buf;
  for (const char* s = "/proc/"; *s;) *p++ = *s++;
  while (n > 0) *p++ = digits[--n];
  *p++ = '/';
  for (const char* s = name; *s;) *p++ = *s++;
  *p = '\0';
}

bool write_file(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t len = std::strlen(text);
  bool ok = write(fd, text, len) == static_cast<ssize_t>(len);
  close(fd);
  return ok;
}

void make_mountpoint(const BindMount& b) {
  if (b.directory) {
    check(mkdir(b.target.c_str(), 0755) == 0 || errno == EEXIST, kMkdir);
  } else {
    int fd = open(b.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    check(fd >= 0, kMkdir);
    close(fd);
  }
}

// init is a copy of the harness, so /proc/1/cmdline inside the jail would
// show the harness's command line (readable by every process that can see
// pid 1, whatever hidepid says to the group it exempts). Blank init's copy
// of it: the range comes from /proc/self/stat (fields 48 and 49, arg_start
// and arg_end), read and parsed without allocating. Best effort: nothing
// else depends on it.
void blank_command_line() {
  char buf[2048];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  const char* p = nullptr;
  for (ssize_t i = n - 1; i >= 0; --i)
    if (buf[i] == ')') {
      p = buf + i + 2;  // field 3 (state) starts here
      break;
    }
  if (p == nullptr) return;
  unsigned long field[2] = {0, 0};
  for (int index = 3; *p && index <= 49; ++index) {
    unsigned long value = 0;
    while (*p >= '0' && *p <= '9') value = value * 10 + static_cast<unsigned long>(*p++ - '0');
    if (index == 48) field[0] = value;
    if (index == 49) field[1] = value;
    while (*p && *p != ' ') ++p;
    if (*p == ' ') ++p;
  }
  if (field[0] != 0 && field[1] > field[0] && field[1] - field[0] < (1ul << 24))
    std::memset(reinterpret_cast<void*>(field[0]), 0, field[1] - field[0]);
}

// The new root: a small tmpfs holding read-only binds of the system and the
// interpreter, a fresh /proc, a few devices and a private /tmp; the host's
// root is detached, so nothing else of the host is reachable.
void build_root(const JailPlan& plan, const JailRun& run) {
  check(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0, kPrivate);
  check(mount("tmpfs", plan.root_mount.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755") == 0,
        kRootTmpfs);
  for (const auto& dir : plan.dirs) check(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST, kMkdir);
  for (const auto& [path, target] : plan.links) check(symlink(target.c_str(), path.c_str()) == 0, kLink);
  for (const auto& b : plan.binds) {
    make_mountpoint(b);
    check(mount(b.source.c_str(), b.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0, kBind);
    check(mount(nullptr, b.target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | b.flags,
                nullptr) == 0,
          kRemount);
  }
  for (const auto& d : plan.devices) {
    make_mountpoint(d);
    check(mount(d.source.c_str(), d.target.c_str(), nullptr, MS_BIND, nullptr) == 0, kDevice);
  }
  check(mkdir(plan.proc_dir.c_str(), 0555) == 0 || errno == EEXIST, kMkdir);
  // hidepid=2: a process sees in /proc only those it could ptrace, so the
  // sample sees neither init (whose command line is the harness's) nor the
  // judge.
  check(mount("proc", plan.proc_dir.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") == 0, kProc);
  check(mkdir(plan.tmp_dir.c_str(), 0755) == 0 || errno == EEXIST, kMkdir);
  check(mount("tmpfs", plan.tmp_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, run.tmp_options.c_str()) == 0, kTmp);
  check(mkdir(plan.old_root.c_str(), 0700) == 0, kMkdir);
  check(syscall(SYS_pivot_root, plan.root_mount.c_str(), plan.old_root.c_str()) == 0, kPivot);
  check(chdir("/") == 0, kChdirRoot);
  const char* old_inside = plan.old_root.c_str() + plan.root_mount.size();  // "/.lcte-old"
  check(umount2(old_inside, MNT_DETACH) == 0, kUmountOld);
  rmdir(old_inside);
  check(mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) == 0,
        kRootReadonly);
}

void set_limit(int resource, uint64_t soft, uint64_t hard) {
  rlimit lim{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  check(setrlimit(resource, &lim) == 0, kRlimit);
}

void drop_all_capabilities(bool bounding_set) {
  if (bounding_set) {
    // Root in a user namespace regains every capability in the bounding set
    // on execve; empty it and lock the root special case off.
    for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    prctl(PR_SET_SECUREBITS,
          SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED, 0, 0, 0);
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  check(syscall(SYS_capset, &header, data) == 0, kCaps);
}

[[noreturn]] void python_main(const JailPlan& plan, const JailRun& run, const char* const* argv,
                              const char* const* envp, int to_init, int from_init) {
  if (plan.isolation == Isolation::Namespaces) {
    // A user namespace of its own: RLIMIT_NPROC counts per (namespace, uid),
    // so concurrent samples do not share one budget; init writes the map.
    check(unshare(CLONE_NEWUSER) == 0, kUserns);
    char byte = 'u';
    check(write(to_init, &byte, 1) == 1, kUidMap);
    check(read(from_init, &byte, 1) == 1, kUidMap);
  }
  if (to_init >= 0) close(to_init);
  if (from_init >= 0) close(from_init);
  // Without a PID namespace the sample's processes are found by group.
  if (plan.isolation == Isolation::Processes) check(setpgid(0, 0) == 0, kSetsid);

  set_limit(RLIMIT_CORE, 0, 0);
  // Whatever the harness may have: no real-time scheduling, no raised
  // priority, no locked memory, no message queue bytes.
  set_limit(RLIMIT_RTPRIO, 0, 0);
  set_limit(RLIMIT_NICE, 0, 0);
  set_limit(RLIMIT_MEMLOCK, 0, 0);
  set_limit(RLIMIT_MSGQUEUE, 0, 0);
  if (run.address_space) set_limit(RLIMIT_AS, run.address_space, run.address_space);
  if (run.cpu_seconds) set_limit(RLIMIT_CPU, run.cpu_seconds, run.cpu_seconds + 1);  // SIGXCPU, then SIGKILL
  if (run.file_size) set_limit(RLIMIT_FSIZE, run.file_size, run.file_size);
  if (run.processes) set_limit(RLIMIT_NPROC, run.processes, run.processes);
  if (run.open_files) set_limit(RLIMIT_NOFILE, run.open_files, run.open_files);

  // Raw system calls: glibc's set*id() broadcast the change to every thread
  // it believes exists, and this copy of a multi-threaded harness has only
  // one, so the wrappers wait forever for the others.
  bool can_switch = plan.isolation == Isolation::Namespaces || geteuid() == 0;
  if (run.sample_user && can_switch && plan.isolation != Isolation::UserNamespaces) {
    check(syscall(SYS_setgroups, 0, nullptr) == 0, kGroups);
    check(syscall(SYS_setresgid, kSampleUid, kSampleUid, kSampleUid) == 0, kUid);
    check(syscall(SYS_setresuid, kSampleUid, kSampleUid, kSampleUid) == 0, kUid);
  }
  if (plan.isolation == Isolation::UserNamespaces)
    drop_all_capabilities(true);
  else if (run.sample_user && plan.isolation == Isolation::Namespaces)
    drop_all_capabilities(false);

  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, kNoNewPrivs);
  sock_fprog prog{static_cast<unsigned short>(plan.seccomp.size()), const_cast<sock_filter*>(plan.seccomp.data())};
  check(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0, kSeccomp);

  const char* workdir = plan.isolation == Isolation::Processes ? run.host_workdir.c_str() : "/tmp";
  check(chdir(workdir) == 0, kChdir);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  execve(plan.python.c_str(), const_cast<char* const*>(argv), const_cast<char* const*>(envp));
  fail_step(kExec);
}

// The child side of start_jail: pid 1 of the new namespaces.
[[noreturn]] void init_main(const JailPlan& plan, const JailRun& run, const JailFds& fds, int report_fd, int sync_fd,
                            const char* const* argv, const char* const* envp) {
  // Move everything above 10 first so the dup2s below cannot clobber each other.
  int out = fcntl(fds.out, F_DUPFD_CLOEXEC, 10);
  int err = fcntl(fds.err, F_DUPFD_CLOEXEC, 10);
  int channel = fcntl(fds.channel, F_DUPFD_CLOEXEC, 10);
  int report = fcntl(report_fd, F_DUPFD_CLOEXEC, 10);
  int sync = sync_fd >= 0 ? fcntl(sync_fd, F_DUPFD_CLOEXEC, 10) : -1;
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (report < 0 || dup3(report, kReportFd, O_CLOEXEC) < 0) _exit(127);
  check(out >= 0 && err >= 0 && channel >= 0 && null >= 0 && (sync_fd < 0 || sync >= 0), kFds);
  check(dup2(null, 0) == 0 && dup2(out, 1) == 1 && dup2(err, 2) == 2 && dup2(channel, 3) == 3, kFds);
  if (sync >= 0) check(dup3(sync, kSyncFd, O_CLOEXEC) == kSyncFd, kFds);
  close_from(sync >= 0 ? kSyncFd + 1 : kReportFd + 1);  // nothing else of the harness survives

  if (run.die_with_parent) check(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0, kDeathSignal);
  // init is a copy of the harness (its memory, environment and command line):
  // not dumpable, so nothing in the jail can read them through /proc.
  check(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, kDumpable);
  blank_command_line();
  if (sync >= 0) {
    char byte;
    check(read(kSyncFd, &byte, 1) == 1, kSync);
    close(kSyncFd);
  }
  check(setsid() >= 0, kSetsid);
  // Orphans become ours (in a PID namespace we are pid 1 anyway), so they
  // are reaped here instead of lingering as zombies of the host's init.
  if (plan.isolation == Isolation::Processes) check(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, kSetsid);
  if (plan.isolation != Isolation::Processes) {
    build_root(plan, run);
    check(sethostname("lcte-sandbox", 12) == 0, kHostname);
  }

  int to_init[2] = {-1, -1}, from_init[2] = {-1, -1};
  if (plan.isolation == Isolation::Namespaces)
    check(pipe2(to_init, O_CLOEXEC) == 0 && pipe2(from_init, O_CLOEXEC) == 0, kPipes);
  pid_t python = raw_clone(0);
  check(python >= 0, kFork);
  if (python == 0) {
    if (to_init[0] >= 0) close(to_init[0]), close(from_init[1]);
    python_main(plan, run, argv, envp, to_init[1], from_init[0]);
  }
  // init keeps none of python's descriptors, so the harness sees EOF when
  // python and its children are gone.
  close(1), close(2), close(3);
  JailReport started;
  started.kind = JailReport::Started;
  started.value = python;
  check(write(kReportFd, &started, sizeof started) == sizeof started, kFork);
  if (plan.isolation == Isolation::Namespaces) {
    close(to_init[1]), close(from_init[0]);
    char byte;
    if (read(to_init[0], &byte, 1) == 1) {
      char path[64];
      proc_path(path, python, "uid_map");
      check(write_file(path, kIdMapText), kUidMap);
      proc_path(path, python, "gid_map");
      check(write_file(path, kIdMapText), kUidMap);
      check(write(from_init[1], &byte, 1) == 1, kUidMap);
    }
    close(to_init[0]), close(from_init[1]);
  }

  // Reap everything (orphans are ours: we are pid 1); python stopping itself
  // would otherwise hang until the wall clock runs out.
  JailReport result;
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, __WALL | WUNTRACED);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pid != python) continue;
    if (!WIFSTOPPED(status) && plan.isolation == Isolation::Processes) kill(-python, SIGKILL);
    if (WIFSTOPPED(status)) {
      if (result.stop_signal == 0) result.stop_signal = WSTOPSIG(status);
      kill(python, SIGKILL);
      continue;
    }
    if (WIFEXITED(status)) {
      result.kind = JailReport::Exited;
      result.value = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      result.kind = JailReport::Signaled;
      result.value = WTERMSIG(status);
    }
    // Under namespaces our exit ends the rest; otherwise reap until none is left.
    if (plan.isolation != Isolation::Processes) break;
  }
  ssize_t ignored = write(kReportFd, &result, sizeof result);
  (void)ignored;
  _exit(0);
}

}  // namespace

const char* jail_step_name(int step) {
  constexpr int count = sizeof kStepNames / sizeof kStepNames[0];
  return step > 0 && step < count ? kStepNames[step] : "an unknown step";
}

Jail start_jail(const JailPlan& plan, const JailRun& run, const JailFds& fds) {
  // Pointers for execve, built before clone: the child must not allocate.
  std::vector<const char*> argv, envp;
  for (const auto& a : run.argv) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  for (const auto& e : plan.env) envp.push_back(e.c_str());
  envp.push_back(nullptr);

  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) fail("sandbox: pipe: {}", std::strerror(errno));
  // init waits on this pipe until the harness has written its uid map
  // (user namespaces) and put it into its cgroup, so nothing runs before.
  bool hold = plan.isolation == Isolation::UserNamespaces || !run.cgroup.empty();
  int sync[2] = {-1, -1};
  if (hold && pipe2(sync, O_CLOEXEC) != 0) {
    int e = errno;
    close(report[0]), close(report[1]);
    fail("sandbox: pipe: {}", std::strerror(e));
  }

  unsigned long flags = 0;
  if (plan.isolation != Isolation::Processes)
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  if (plan.isolation == Isolation::UserNamespaces) flags |= CLONE_NEWUSER;

  pid_t pid = raw_clone(flags);
  if (pid == 0) init_main(plan, run, fds, report[1], sync[0], argv.data(), envp.data());
  int clone_errno = errno;
  close(report[1]);
  if (sync[0] >= 0) close(sync[0]);
  if (pid < 0) {
    close(report[0]);
    if (sync[1] >= 0) close(sync[1]);
    fail("sandbox: clone ({} isolation): {}", isolation_name(plan.isolation), std::strerror(clone_errno));
  }
  if (plan.isolation == Isolation::UserNamespaces) {
    // Unprivileged: we may only map ourselves, and must give up setgroups.
    char path[64];
    proc_path(path, pid, "setgroups");
    bool ok = write_file(path, "deny");
    proc_path(path, pid, "uid_map");
    ok = ok && write_file(path, fmt::format("0 {} 1\n", geteuid()).c_str());
    proc_path(path, pid, "gid_map");
    ok = ok && write_file(path, fmt::format("0 {} 1\n", getegid()).c_str());
    if (!ok) {
      int e = errno;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, __WALL);
      close(report[0]);
      close(sync[1]);
      fail("sandbox: cannot write the user namespace map of pid {}: {}", pid, std::strerror(e));
    }
  }
  if (!run.cgroup.empty() && !CgroupParent::place(run.cgroup, pid))
    spdlog::warn("sandbox: cannot move the jail into {}: {}", run.cgroup, std::strerror(errno));
  if (hold) {
    char byte = 'm';
    bool ok = write(sync[1], &byte, 1) == 1;
    int e = errno;
    close(sync[1]);
    if (!ok) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, __WALL);
      close(report[0]);
      fail("sandbox: cannot release the jail's init (pid {}): {}", pid, std::strerror(e));
    }
  }
  return Jail{pid, report[0]};
}

void kill_jail(const JailPlan& plan, pid_t init, pid_t python) {
  if (plan.isolation == Isolation::Processes && python > 0) {
    kill(-python, SIGKILL);
    return;
  }
  if (init > 0) kill(init, SIGKILL);
}

}  // namespace lcte::sandbox::detail
