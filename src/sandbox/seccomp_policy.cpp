#include "sandbox/seccomp_policy.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace lcte::sandbox::detail {
namespace {

// Denied outright with EPERM, so Python raises PermissionError and the sample
// ends as an error instead of a crash. Grouped by what they would give away.
constexpr const char* kDenied[] = {
    // looking into or steering other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "pidfd_send_signal",
    // changing the filesystem view or the namespaces built for the sample
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "name_to_handle_at",
    "open_by_handle_at",
    // leaving the process group the harness kills on timeout
    "setsid",
    "setpgid",
    // the kernel itself: modules, reboot, kexec, BPF, perf, keyrings, io_uring
    // (whose requests bypass this filter), userfaultfd (used to widen races)
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    // machine-wide settings
    "swapon",
    "swapoff",
    "syslog",
    "acct",
    "quotactl",
    "quotactl_fd",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "vhangup",
    "lookup_dcookie",
    "nfsservctl",
    "uselib",
    "_sysctl",
    "fanotify_init",
    // System V IPC and POSIX message queues: a zygote worker's IPC namespace
    // outlives one sample, so they could carry data to the next
    "shmget",
    "shmat",
    "shmctl",
    "shmdt",
    "semget",
    "semop",
    "semctl",
    "semtimedop",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
};

struct Ctx {
  scmp_filter_ctx ctx;
  ~Ctx() { seccomp_release(ctx); }
};

void add(scmp_filter_ctx ctx, uint32_t action, const char* name, int* rules,
         std::initializer_list<scmp_arg_cmp> args = {}) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return;  // not on this architecture or libseccomp version
  int rc = seccomp_rule_add_exact_array(ctx, action, nr, static_cast<unsigned>(args.size()),
                                        args.size() ? args.begin() : nullptr);
  if (rc != 0) fail("seccomp: cannot add the rule for {}: {}", name, std::strerror(-rc));
  ++*rules;
}

// Signals may only go to positive pids other than 1: not to the process group
// (0), init or the zygote (1), or every process (-1, negative groups). The
// PID namespace already confines them; this turns such attempts into a clear
// PermissionError. pid_t is 32 bits, so compare the low half only.
void add_signal_rules(scmp_filter_ctx ctx, const char* name, int* rules) {
  add(ctx, SCMP_ACT_ERRNO(EPERM), name, rules, {SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, 0)});
  add(ctx, SCMP_ACT_ERRNO(EPERM), name, rules, {SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, 1)});
  add(ctx, SCMP_ACT_ERRNO(EPERM), name, rules, {SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000u, 0x80000000u)});
}

}  // namespace

SeccompFilter build_seccomp_filter() {
  Ctx c{seccomp_init(SCMP_ACT_ALLOW)};
  if (c.ctx == nullptr) fail("seccomp: seccomp_init failed");
  // The child sets no_new_privs itself before loading the exported program.
  seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_NNP, 0);
  // Syscalls through another ABI (int 0x80, x32) would dodge the rules: kill.
  seccomp_attr_set(c.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);

  int rules = 0;
  for (const char* name : kDenied) add(c.ctx, SCMP_ACT_ERRNO(EPERM), name, &rules);

  // New namespaces through clone(); clone3 passes its flags in memory the
  // filter cannot read, so it reports ENOSYS and glibc falls back to clone.
  for (uint64_t flag :
       {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP})
    add(c.ctx, SCMP_ACT_ERRNO(EPERM), "clone", &rules, {SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)});
  add(c.ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", &rules);

  for (const char* name : {"kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"})
    add_signal_rules(c.ctx, name, &rules);

  // Only local sockets (the driver's own channel, multiprocessing); the
  // network namespace is empty anyway.
  add(c.ctx, SCMP_ACT_ERRNO(EPERM), "socket", &rules, {SCMP_A0(SCMP_CMP_NE, AF_UNIX)});
  add(c.ctx, SCMP_ACT_ERRNO(EPERM), "socketpair", &rules, {SCMP_A0(SCMP_CMP_NE, AF_UNIX)});

  // Typing into the controlling terminal of whoever started lcte.
  for (unsigned long request : {TIOCSTI, TIOCLINUX})
    add(c.ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", &rules, {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, request)});

  // Export through a memfd: libseccomp writes the program to a descriptor.
  int fd = memfd_create("lcte-seccomp", MFD_CLOEXEC);
  if (fd < 0) fail("seccomp: memfd_create: {}", std::strerror(errno));
  int rc = seccomp_export_bpf(c.ctx, fd);
  off_t size = lseek(fd, 0, SEEK_END);
  if (rc != 0 || size <= 0 || size % sizeof(sock_filter) != 0) {
    close(fd);
    fail("seccomp: cannot export the filter ({})", rc != 0 ? std::strerror(-rc) : "bad size");
  }
  SeccompFilter out;
  out.program.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  ssize_t got = pread(fd, out.program.data(), static_cast<size_t>(size), 0);
  close(fd);
  if (got != size) fail("seccomp: short read of the exported filter");
  out.rules = rules;
  out.summary = fmt::format(
      "seccomp filter of {} rules ({} BPF instructions): EPERM for ptrace, mount, "
      "unshare/setns, namespace clone flags, setsid/setpgid, kernel modules, "
      "bpf, perf, io_uring, keyrings, SysV IPC and message queues, signals to pid <= 1, "
      "non-AF_UNIX sockets, TIOCSTI; other ABIs kill the process",
      rules, out.program.size());
  return out;
}

}  // namespace lcte::sandbox::detail
