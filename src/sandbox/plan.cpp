#include "sandbox/plan.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/error.h"

extern char** environ;

namespace lcte::sandbox::detail {
namespace fs = std::filesystem;
namespace {

std::string find_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  fail("sandbox: python interpreter '{}' not found on PATH", name);
}

// Runs argv and returns its stdout; throws unless it exits 0.
std::string capture(const std::vector<std::string>& args) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) fail("sandbox: pipe: {}", std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    fail("sandbox: cannot run python interpreter {}: {}", args[0], std::strerror(rc));
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("sandbox: python interpreter {} failed to start (status {})", args[0], status);
  return out;
}

bool under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         (dir.back() == '/' || path[dir.size()] == '/'));
}

// Mount flags of the source that a read-only remount must keep (a locked
// atime or noexec setting cannot be changed inside a user namespace).
unsigned long kept_flags(const std::string& path) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

void add_parents(JailPlan& plan, const std::string& root, const fs::path& path) {
  fs::path acc;
  for (const auto& part : path.parent_path()) {
    if (part == "/") continue;
    acc /= part;
    std::string dir = root + "/" + acc.string();
    if (std::find(plan.dirs.begin(), plan.dirs.end(), dir) == plan.dirs.end()) plan.dirs.push_back(dir);
  }
}

}  // namespace

PythonInfo probe_python(const std::string& python) {
  std::string exe = find_on_path(python);
  std::string out = capture({exe, "-S", "-I", "-c",
                             "import sys\nprint(sys.executable)\nprint(sys.prefix)\n"
                             "print(sys.exec_prefix)\nprint(sys.version.split()[0])"});
  std::stringstream lines(out);
  PythonInfo info;
  std::getline(lines, info.executable);
  std::getline(lines, info.prefix);
  std::getline(lines, info.exec_prefix);
  std::getline(lines, info.version);
  std::error_code ec;
  info.executable = fs::canonical(info.executable, ec).string();
  if (ec || info.prefix.empty() || info.version.empty())
    fail("sandbox: python interpreter {} did not say where it lives (got '{}')", exe, out);
  info.prefix = fs::weakly_canonical(info.prefix).string();
  info.exec_prefix = fs::weakly_canonical(info.exec_prefix).string();
  return info;
}

JailPlan make_plan(Isolation isolation, const PythonInfo& python, const SeccompFilter& filter) {
  JailPlan plan;
  plan.isolation = isolation;
  plan.python = python.executable;
  plan.seccomp = filter.program;
  plan.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"};
  if (isolation == Isolation::Processes) return plan;

  // Host directories to expose read-only: the system, then the interpreter's
  // own tree when it lives elsewhere (pyenv under /root, a venv...).
  std::vector<std::string> sources;
  for (const char* top : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"})
    if (fs::exists(top)) sources.push_back(top);
  for (const std::string& dir :
       {python.prefix, python.exec_prefix, fs::path(python.executable).parent_path().string()}) {
    bool covered = false;
    for (const auto& s : sources) covered = covered || under(dir, fs::canonical(s).string());
    if (!covered && fs::is_directory(dir)) sources.push_back(dir);
  }

  for (const char* candidate : {"/tmp", "/mnt", "/var/tmp", "/run"}) {
    bool clash = !fs::is_directory(candidate) || fs::is_symlink(candidate);
    for (const auto& s : sources) clash = clash || under(s, candidate) || under(candidate, s);
    if (!clash) {
      plan.root_mount = candidate;
      break;
    }
  }
  if (plan.root_mount.empty()) fail("sandbox: no directory to mount the sandbox root on");
  const std::string& root = plan.root_mount;

  for (const auto& source : sources) {
    if (fs::is_symlink(source)) {  // merged /usr: /bin -> usr/bin
      plan.links.emplace_back(root + source, fs::read_symlink(source).string());
      continue;
    }
    add_parents(plan, root, source);
    plan.binds.push_back({source, root + source, true, kept_flags(source)});
  }
  plan.dirs.push_back(root + "/etc");
  for (const char* file :
       {"/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts"}) {
    if (fs::is_symlink(file))
      plan.links.emplace_back(root + file, fs::read_symlink(file).string());
    else if (fs::is_regular_file(file))
      plan.binds.push_back({file, root + file, false, kept_flags(file)});
  }
  plan.dirs.push_back(root + "/dev");
  for (const char* dev : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"})
    if (fs::exists(dev)) plan.devices.push_back({dev, root + dev, false, 0});
  plan.proc_dir = root + "/proc";
  plan.tmp_dir = root + "/tmp";
  plan.old_root = root + "/.lcte-old";
  return plan;
}

}  // namespace lcte::sandbox::detail
