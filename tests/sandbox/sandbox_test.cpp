// Sandbox::run against real interpreters: ordinary programs, then hostile
// ones. Each hostile case must end non-passing with the right status, leave
// this (the harness) process alive, leave no process of the sample user
// behind and change nothing outside the sandbox.
//
// The hostile set runs in every mode the machine allows: a new jail per
// sample ("spawn"), pooled workers ("zygote"), and forced unprivileged user
// namespaces. Attempts to forge a verdict have their own file, forgery_test.cpp.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "common/test_data.h"
#include "core/error.h"
#include "sandbox/sandbox.h"

namespace lcte::sandbox {
namespace {

namespace fs = std::filesystem;

struct Mode {
  const char* name;
  const char* isolation;
  bool zygote;
};

// One Sandbox per mode per test process (constructing probes the machine).
Sandbox* sandbox_for(const Mode& mode, std::string* skip) {
  static std::map<std::string, std::unique_ptr<Sandbox>> made;
  static std::map<std::string, std::string> failed;
  if (auto it = made.find(mode.name); it != made.end()) return it->second.get();
  if (auto it = failed.find(mode.name); it != failed.end()) {
    *skip = it->second;
    return nullptr;
  }
  try {
    Options options;
    options.isolation = mode.isolation;
    options.zygote = mode.zygote;
    return (made[mode.name] = std::make_unique<Sandbox>(options)).get();
  } catch (const Error& e) {
    *skip = failed[mode.name] = e.what();
    return nullptr;
  }
}

Limits quick_limits() {
  Limits limits;
  limits.wall_seconds = 5;
  limits.cpu_seconds = 2;
  limits.memory_bytes = 512ull << 20;
  limits.max_processes = 16;
  return limits;
}

// Processes below this one (samples are our descendants in every mode:
// init is our child, the zygote init's), with their uids. Other test
// processes may run samples at the same time, so the whole machine is not
// looked at.
std::map<int, unsigned> descendants() {
  std::map<int, std::pair<int, unsigned>> parent_and_uid;
  DIR* proc = opendir("/proc");
  if (!proc) return {};
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string dir = std::string("/proc/") + e->d_name;
    std::ifstream stat_file(dir + "/stat");
    std::string line;
    std::getline(stat_file, line);
    auto close_paren = line.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(line.substr(close_paren + 2));
    char state;
    int ppid = 0;
    rest >> state >> ppid;
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) continue;
    parent_and_uid[std::atoi(e->d_name)] = {ppid, st.st_uid};
  }
  closedir(proc);
  std::map<int, unsigned> below;
  int me = getpid();
  for (const auto& [pid, info] : parent_and_uid) {
    for (int p = info.first, hops = 0; p > 1 && hops < 64; ++hops) {
      if (p == me) {
        below[pid] = info.second;
        break;
      }
      auto it = parent_and_uid.find(p);
      if (it == parent_and_uid.end()) break;
      p = it->second.first;
    }
  }
  return below;
}

// Descendants that were not there `before`; a pooled worker started during
// the test is expected to stay, so in zygote mode only the sample user counts.
int leftovers(const std::map<int, unsigned>& before, bool sample_user_only) {
  int count = 0;
  for (const auto& [pid, uid] : descendants())
    if (!before.count(pid) && (!sample_user_only || uid == 65534)) ++count;
  return count;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string describe(const Result& r) {
  return fmt::format("status {} type '{}' message '{}' exit {} signal {}\nstdout: {}\nstderr: {}",
                     status_name(r.status), r.error_type, r.error_message, r.exit_code, r.signal,
                     r.stdout_text.substr(0, 600), r.stderr_text.substr(0, 600));
}

// A correct add() with its tests: only the hostile part decides the outcome.
const char* kAddTests = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-4, 4) == 0\n";
const char* kAdd = "def add(a, b):\n    return a + b\n";

class SandboxTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    std::string skip;
    sandbox_ = sandbox_for(GetParam(), &skip);
    if (!sandbox_) GTEST_SKIP() << "mode " << GetParam().name << " unavailable here: " << skip;
    before_ = descendants();
  }
  void TearDown() override {
    if (!sandbox_) return;
    // Nothing of the sample may outlive run().
    bool zygote = GetParam().zygote;
    int left = leftovers(before_, zygote);
    for (int i = 0; i < 20 && left > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      left = leftovers(before_, zygote);
    }
    EXPECT_EQ(left, 0) << "sample processes left behind";
  }

  Result run(const std::string& code, const std::string& tests = kAddTests, const std::string& check = "check(add)",
             Limits limits = quick_limits(), const std::string& setup = "") {
    return sandbox_->run(Program{setup, code, tests, check}, limits);
  }

  Sandbox* sandbox_ = nullptr;
  std::map<int, unsigned> before_;
};

// Cases about the driver (the Python side) rather than the jail: they run in
// the spawn and zygote modes only.
class DriverTest : public SandboxTest {};

// --- ordinary programs -------------------------------------------------------

TEST_P(SandboxTest, CorrectProgramPasses) {
  Result r = run(kAdd);
  EXPECT_EQ(r.status, Status::Passed) << describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GT(r.peak_memory_bytes, 1u << 20);
  EXPECT_GT(r.wall_seconds, 0);
}

TEST_P(SandboxTest, WrongAnswerFailsWithAssertionError) {
  Result r = run("def add(a, b):\n    return a - b\n");
  EXPECT_EQ(r.status, Status::Failed) << describe(r);
  EXPECT_EQ(r.error_type, "AssertionError");
  EXPECT_NE(r.error_message.find("tests line 2"), std::string::npos) << r.error_message;
}

TEST_P(SandboxTest, NameErrorIsAnError) {
  Result r = run("def add(a, b):\n    return a + c\n");
  EXPECT_EQ(r.status, Status::Error) << describe(r);
  EXPECT_EQ(r.error_type, "NameError");
  EXPECT_NE(r.error_message.find("'c'"), std::string::npos) << r.error_message;
}

TEST_P(SandboxTest, SyntaxErrorIsCaughtBeforeRunning) {
  // The print must not run: the code is compiled before anything executes.
  Result r = run("print('ran')\ndef add(a, b)\n    return a + b\n");
  EXPECT_EQ(r.status, Status::SyntaxError) << describe(r);
  EXPECT_EQ(r.error_type, "SyntaxError");
  EXPECT_NE(r.error_message.find("line 2"), std::string::npos) << r.error_message;
  EXPECT_EQ(r.stdout_text, "");
  Result indent = run("def add(a, b):\nreturn a + b\n");
  EXPECT_EQ(indent.status, Status::SyntaxError) << describe(indent);
  EXPECT_EQ(indent.error_type, "IndentationError");
}

TEST_P(DriverTest, SetupRunsFirstAndTopLevelAssertsWork) {
  // MBPP style: imports in setup, asserts at top level, no check call.
  Result r =
      run("def root(x):\n    return math.sqrt(x)\n",
          "assert root(16) == 4.0\nassert math.isclose(root(2), 1.41421356, rel_tol=1e-6)\nassert 1 < root(4) <= 2\n",
          "", quick_limits(), "import math");
  EXPECT_EQ(r.status, Status::Passed) << describe(r);
}

TEST_P(DriverTest, OutputIsCapturedAndCutAtTheCap) {
  Limits limits = quick_limits();
  limits.max_output_bytes = 1000;
  Result r = run(std::string(kAdd) + "import sys\nprint('x' * 5000)\nsys.stderr.write('warned\\n')\n", kAddTests,
                 "check(add)", limits);
  EXPECT_EQ(r.status, Status::Passed) << describe(r);
  EXPECT_TRUE(r.output_truncated);
  EXPECT_EQ(r.stdout_text, std::string(1000, 'x'));
  EXPECT_EQ(r.stderr_text, "warned\n");
}

TEST_P(DriverTest, MemoryErrorIsOutOfMemory) {
  Limits limits = quick_limits();
  limits.memory_bytes = 160ull << 20;
  Result r = run("blocks = []\nwhile True:\n    blocks.append(bytearray(8 << 20))\n", kAddTests, "check(add)", limits);
  EXPECT_EQ(r.status, Status::OutOfMemory) << describe(r);
}

TEST_P(DriverTest, SuiteThatDoesNotCompileIsTheSuitesError) {
  Result r = run(kAdd, "assert add(1, 2) ==\n", "");
  EXPECT_EQ(r.status, Status::Error) << describe(r);
  EXPECT_EQ(r.error_type, "SuiteError");
}

TEST_P(DriverTest, ComparisonsKeepPythonSemantics) {
  // Strict comparison must not break ordinary values: int/float mixing,
  // containers, Counter vs dict, generators, namedtuple, chained comparisons.
  std::string code =
      "from collections import Counter, namedtuple, OrderedDict\n"
      "P = namedtuple('P', 'x y')\n"
      "def f(n):\n"
      "    return {'int': n, 'float': n / 2, 'list': [n, [n]], 'counter': Counter('aab'),\n"
      "            'gen': (i for i in range(n)), 'tuple': P(n, n), 'set': {n, 1}, 'none': None}\n";
  std::string tests =
      "r = f(4)\n"
      "assert r['int'] == 4.0 and r['float'] == 2\n"
      "assert r['list'] == [4, [4]] and r['list'] != [4, 4]\n"
      "assert r['counter'] == {'a': 2, 'b': 1}\n"
      "assert list(r['gen']) == [0, 1, 2, 3]\n"
      "assert r['tuple'] == (4, 4)\n"
      "assert r['set'] == {1, 4} and 4 in r['set'] and 5 not in r['set']\n"
      "assert r['none'] is None\n"
      "assert 1 < r['int'] <= 4 < 5\n"
      "assert not (r['int'] < 3)\n"
      "assert f(0)['list'] == [0, [0]]\n";
  Result r = run(code, tests, "");
  EXPECT_EQ(r.status, Status::Passed) << describe(r);
}

// --- hostile programs ---------------------------------------------------------

TEST_P(SandboxTest, ForkBombIsContained) {
  Limits limits = quick_limits();
  limits.wall_seconds = 1.5;
  Result r = run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", kAddTests,
                 "check(add)", limits);
  EXPECT_TRUE(r.status == Status::Timeout) << describe(r);
}

TEST_P(DriverTest, ThreadBombIsContained) {
  Result r = run("import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,)).start()\n");
  EXPECT_EQ(r.status, Status::Error) << describe(r);
  EXPECT_EQ(r.error_type, "RuntimeError");  // "can't start new thread": RLIMIT_NPROC
}

TEST_P(DriverTest, MemoryBombIsOutOfMemory) {
  Result r = run("x = 'a' * (1 << 40)\n");
  EXPECT_EQ(r.status, Status::OutOfMemory) << describe(r);
}

TEST_P(DriverTest, BusyLoopHitsTheCpuLimit) {
  Limits limits = quick_limits();
  limits.cpu_seconds = 1;
  limits.wall_seconds = 20;  // ends at 1 s of CPU; a loaded machine may take long to give it that
  Result r = run("while True:\n    pass\n", kAddTests, "check(add)", limits);
  EXPECT_EQ(r.status, Status::Timeout) << describe(r);
  EXPECT_EQ(r.error_type, "CpuLimit");
  // The kernel enforces RLIMIT_CPU on tick-sampled time, rusage reports the
  // precise run time; on a loaded machine the two differ by some tenths.
  EXPECT_GE(r.cpu_seconds, 0.5);
}

TEST_P(SandboxTest, SleepingForeverHitsTheWallClock) {
  Limits limits = quick_limits();
  limits.wall_seconds = 1;
  auto start = std::chrono::steady_clock::now();
  Result r = run("import time\ntime.sleep(3600)\n", kAddTests, "check(add)", limits);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, Status::Timeout) << describe(r);
  EXPECT_EQ(r.error_type, "WallLimit");
  // Killed at the limit, not after the hour-long sleep. Reaping the jail
  // waits for the kernel to tear its namespaces down, which on a heavily
  // loaded machine has taken several seconds.
  EXPECT_LT(took, 30.0);
}

TEST_P(SandboxTest, NoNetwork) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  // Also a Unix socket on the host filesystem, reachable only through the path.
  std::string dir = testing::temp_dir();
  std::string path = dir + "/listener.sock";
  int unix_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::snprintf(un.sun_path, sizeof un.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(unix_listener, reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
  chmod(path.c_str(), 0777);
  ASSERT_EQ(listen(unix_listener, 4), 0);

  std::string code = fmt::format(
      "import socket\n"
      "def attempt(name, fn):\n"
      "    try:\n"
      "        fn()\n"
      "        print(name, 'CONNECTED')\n"
      "    except BaseException as e:\n"
      "        print(name, type(e).__name__)\n"
      "def tcp():\n"
      "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
      "    s.settimeout(1)\n"
      "    s.connect(('127.0.0.1', {}))\n"
      "def unix():\n"
      "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
      "    s.settimeout(1)\n"
      "    s.connect('{}')\n"
      "attempt('tcp', tcp)\n"
      "attempt('unix', unix)\n"
      "tcp()\n",
      ntohs(addr.sin_port), path);
  Result r = run(code + kAdd);
  EXPECT_EQ(r.status, Status::Error) << describe(r);
  EXPECT_EQ(r.error_type, "PermissionError");  // socket(AF_INET) is refused
  EXPECT_EQ(r.stdout_text.find("CONNECTED"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("tcp PermissionError"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("unix FileNotFoundError"), std::string::npos) << r.stdout_text;
  EXPECT_LT(accept(listener, nullptr, nullptr), 0);
  EXPECT_LT(accept(unix_listener, nullptr, nullptr), 0);
  close(listener);
  close(unix_listener);
}

TEST_P(SandboxTest, FilesOutsideCannotBeWrittenReadOrDeleted) {
  // Everything here is open to everyone, so only the sandbox stops the sample.
  std::string dir = testing::temp_dir();
  chmod(dir.c_str(), 0777);
  std::string canary = dir + "/canary";
  { std::ofstream(canary) << "secret-canary-7f3a"; }
  chmod(canary.c_str(), 0666);
  std::string code = fmt::format(
      "import os, shutil\n"
      "def attempt(name, fn):\n"
      "    try:\n"
      "        out = fn()\n"
      "        print(name, 'SUCCEEDED', out)\n"
      "    except BaseException as e:\n"
      "        print(name, type(e).__name__)\n"
      "attempt('read', lambda: open('{0}').read())\n"
      "attempt('write', lambda: open('{0}', 'w').write('changed'))\n"
      "attempt('append', lambda: open('{0}', 'a').write('more'))\n"
      "attempt('delete', lambda: os.remove('{0}'))\n"
      "attempt('create', lambda: open('{1}/new', 'w').write('x'))\n"
      "attempt('rmtree', lambda: shutil.rmtree('{1}'))\n"
      "attempt('environ', lambda: open('/proc/{2}/environ').read())\n"
      // init is a copy of the harness: its command line and environment
      "attempt('init_cmdline', lambda: open('/proc/1/cmdline').read())\n"
      "attempt('init_environ', lambda: open('/proc/1/environ').read())\n"
      "attempt('usr', lambda: open('/usr/lcte-sandbox-probe', 'w').write('x'))\n"
      "attempt('root', lambda: open('/lcte-sandbox-probe', 'w').write('x'))\n"
      "attempt('chmod', lambda: os.chmod('/usr/bin', 0o777))\n"
      "attempt('workdir', lambda: open('inside.txt', 'w').write('fine'))\n"
      "print(open('inside.txt').read())\n",
      canary, dir, getpid());
  Result r = run(code + "def add(a, b):\n    return 0\n");
  EXPECT_EQ(r.status, Status::Failed) << describe(r);
  std::vector<std::string> names = {"read",   "write",   "append", "delete", "create",
                                    "rmtree", "environ", "usr",    "root",   "chmod"};
  if (std::string(GetParam().isolation) != "processes") names.push_back("init_environ");
  // init's command line is blanked (or hidden): the harness's never shows.
  EXPECT_EQ(r.stdout_text.find("sandbox_test"), std::string::npos) << r.stdout_text;
  for (const std::string& name : names)
    EXPECT_EQ(r.stdout_text.find(std::string(name) + " SUCCEEDED"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("workdir SUCCEEDED"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("fine"), std::string::npos);
  EXPECT_EQ(r.stdout_text.find("secret-canary"), std::string::npos);
  EXPECT_EQ(read_file(canary), "secret-canary-7f3a");
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e.path().filename().string());
  EXPECT_EQ(entries, std::vector<std::string>{"canary"});
  EXPECT_FALSE(fs::exists("/usr/lcte-sandbox-probe"));
  EXPECT_FALSE(fs::exists("/lcte-sandbox-probe"));
}

TEST_P(DriverTest, HugeFileIsStoppedByTheFileSizeLimit) {
  Limits limits = quick_limits();
  limits.file_bytes = 1 << 20;
  Result r = run("with open('big', 'wb') as f:\n    for _ in range(10 * 1024):\n        f.write(b'x' * (1 << 20))\n",
                 kAddTests, "check(add)", limits);
  EXPECT_EQ(r.status, Status::Error) << describe(r);
  EXPECT_EQ(r.error_type, "OSError");  // EFBIG (Python ignores SIGXFSZ)
  EXPECT_NE(r.error_message.find("too large"), std::string::npos) << r.error_message;
}

TEST_P(SandboxTest, ExitingBeforeTheTestsDoesNotPass) {
  // A correct add() follows each early exit: passing would mean the tests
  // were skipped.
  struct Case {
    const char* code;
    const char* type;
  };
  for (Case c :
       {Case{"exit(0)\n", "SystemExit"}, Case{"import sys\nsys.exit(0)\n", "SystemExit"},
        Case{"raise SystemExit(0)\n", "SystemExit"}, Case{"raise KeyboardInterrupt\n", "KeyboardInterrupt"},
        Case{"raise BaseException('done')\n", "BaseException"}, Case{"import os\nos._exit(0)\n", "EarlyExit"}}) {
    Result r = run(std::string(kAdd) + c.code);
    EXPECT_EQ(r.status, Status::Error) << c.code << describe(r);
    EXPECT_EQ(r.error_type, c.type) << c.code;
  }
  // ... and inside the tests, from the candidate itself.
  Result r = run("import os\ndef add(a, b):\n    os._exit(0)\n");
  EXPECT_EQ(r.status, Status::Error) << describe(r);
  EXPECT_EQ(r.error_type, "EarlyExit");
}

TEST_P(SandboxTest, RunsWithoutPrivileges) {
  // Under root namespaces the sample is uid 65534 (nobody); with user
  // namespaces it is uid 0 of its own namespace, without capabilities.
  std::string expected_uid = std::string(GetParam().isolation) == "user-namespaces" ? "0" : "65534";
  std::string code =
      "import os\n"
      "def attempt(name, fn):\n"
      "    try:\n"
      "        fn()\n"
      "        print(name, 'SUCCEEDED')\n"
      "    except BaseException as e:\n"
      "        print(name, type(e).__name__)\n"
      "print('uid', os.getuid(), os.geteuid())\n"
      "open('mine', 'w').close()\n"
      "attempt('chown', lambda: os.chown('mine', 12345, 12345))\n"
      "attempt('setuid', lambda: os.setuid(12345))\n"
      "attempt('hostname', lambda: __import__('socket').sethostname('x'))\n"
      "attempt('chroot', lambda: os.chroot('/tmp'))\n"
      "attempt('mknod', lambda: os.mknod('dev', 0o20666, os.makedev(1, 3)))\n";
  Result r = run(code + std::string(kAdd));
  EXPECT_EQ(r.status, Status::Passed) << describe(r);
  EXPECT_NE(r.stdout_text.find("uid " + expected_uid + " " + expected_uid), std::string::npos) << r.stdout_text;
  EXPECT_EQ(r.stdout_text.find("SUCCEEDED"), std::string::npos) << r.stdout_text;
}

TEST_P(SandboxTest, KillingTheParentOrEveryoneIsRefused) {
  for (const char* code :
       {"import os, signal\nos.kill(-1, signal.SIGKILL)\n", "import os, signal\nos.kill(0, signal.SIGKILL)\n",
        "import os, signal\nos.kill(1, signal.SIGKILL)\n",
        "import os, signal\nos.killpg(os.getpgid(0), signal.SIGKILL)\n"}) {
    Result r = run(code + std::string(kAdd));
    EXPECT_EQ(r.status, Status::Error) << code << describe(r);
    EXPECT_EQ(r.error_type, "PermissionError") << code;
  }
  // The parent is the worker's coordinator: another uid under namespaces;
  // with user namespaces (one uid inside) killing it ends this sample's jail.
  Result parent = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + std::string(kAdd));
  EXPECT_EQ(parent.status, Status::Error) << describe(parent);
  if (std::string(GetParam().isolation) == "namespaces") {
    EXPECT_EQ(parent.error_type, "PermissionError");
  }
  // The harness's own pid means nothing inside the PID namespace.
  Result r = run(
      fmt::format("import os, signal\ntry:\n    os.kill({}, signal.SIGKILL)\nexcept OSError:\n    pass\n", getpid()) +
      "def add(a, b):\n    return 0\n");
  EXPECT_EQ(r.status, Status::Failed) << describe(r);
}

TEST_P(DriverTest, StoppingItselfIsKilledPromptly) {
  Limits limits = quick_limits();
  limits.wall_seconds = 10;
  Result r = run("import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n" + std::string(kAdd), kAddTests,
                 "check(add)", limits);
  EXPECT_EQ(r.status, Status::Killed) << describe(r);
  EXPECT_EQ(r.signal, SIGSTOP);
  EXPECT_LT(r.wall_seconds, 5.0);
}

TEST_P(DriverTest, OutputFloodIsCutAndKilled) {
  Limits limits = quick_limits();
  limits.max_output_bytes = 4096;
  limits.wall_seconds = 10;
  Result r =
      run("import os\nblock = b'x' * 65536\nwhile True:\n    os.write(1, block)\n", kAddTests, "check(add)", limits);
  EXPECT_EQ(r.status, Status::Killed) << describe(r);
  EXPECT_EQ(r.error_type, "OutputLimit");
  EXPECT_TRUE(r.output_truncated);
  EXPECT_EQ(r.stdout_text.size(), 4096u);
}

TEST_P(DriverTest, ClosingTheOutputsDoesNotFakeAnything) {
  Result r = run("import os, sys\nos.close(1)\nos.close(2)\ndef add(a, b):\n    return 0\n");
  EXPECT_EQ(r.status, Status::Failed) << describe(r);
  // Closing its socket to the judge only loses its answers.
  Result closed = run("import os\nos.close(3)\n" + std::string(kAdd));
  EXPECT_EQ(closed.status, Status::Error) << describe(closed);
}

TEST_P(SandboxTest, FakeSuccessMarkersDoNotPass) {
  // Printing what a naive harness looks for, and writing a pass frame with a
  // made-up token on the only socket the sample has (the judge's).
  std::string code =
      "import os, struct\n"
      "print('passed')\nprint('All tests passed')\n"
      "payload = b'P\\x00' + b'0' * 32\n"
      "os.write(3, struct.pack('<I', len(payload)) + payload)\n"
      "os._exit(0)\n";
  Result r = run(code + std::string(kAdd));
  EXPECT_EQ(r.status, Status::Error) << describe(r);
  EXPECT_EQ(r.error_type, "ProtocolViolation");
}

TEST_P(DriverTest, PatchingBuiltinsAndHelpersDoesNotPass) {
  std::vector<std::string> codes = {
      // builtins the tests use, and the exception assert raises
      "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.AssertionError = type('Quiet', (Exception,), {})\n"
      "__builtins__['len'] = lambda x: 3\n",
      // a check() of its own, in the module and in builtins
      "import builtins\ndef check(candidate):\n    pass\nbuiltins.check = check\n",
      // the module the tests compare with
      "import math\nmath.isclose = lambda *a, **k: True\n",
      // exception hooks and the exit path
      "import sys\nsys.excepthook = lambda *a: None\nsys.exit = lambda *a: None\n",
  };
  // ... and, from inside the candidate while the tests run, the builtins and
  // operator functions the comparator itself might look up.
  std::string during =
      "import builtins, _operator, operator\n"
      "class Yes:\n    def __eq__(self, other):\n        return True\n"
      "real_issubclass = builtins.issubclass\n"
      "def fake_issubclass(c, k):\n"
      "    try:\n        return k is builtins.bool or real_issubclass(c, k)\n"
      "    except TypeError:\n        return False\n"
      "def add(a, b):\n"
      "    builtins.issubclass = fake_issubclass\n"
      "    builtins.bool = lambda v: Yes()\n"
      "    builtins.abs = lambda v: 0\n"
      "    _operator.eq = operator.eq = lambda x, y: True\n"
      "    _operator.lt = operator.lt = lambda x, y: True\n"
      "    _operator.contains = operator.contains = lambda x, y: True\n"
      "    return Yes()\n";
  Result patched = run(during,
                       "def check(candidate):\n    assert candidate(1, 2) == 3\n"
                       "    assert 3 in [candidate(1, 2)]\n",
                       "check(add)");
  EXPECT_EQ(patched.status, Status::Failed) << describe(patched);
  std::string tests =
      "import math\n"
      "def check(candidate):\n"
      "    assert abs(candidate(1, 2) - 3) < 1e-9\n"
      "    assert len([candidate(1, 1)]) == 1\n"
      "    assert math.isclose(candidate(2, 2), 4)\n";
  for (const auto& code : codes) {
    Result r = run(code + "def add(a, b):\n    return 0\n", tests, "check(add)");
    EXPECT_EQ(r.status, Status::Failed) << code << describe(r);
  }
}

TEST_P(DriverTest, ObjectsThatAgreeWithEverythingDoNotPass) {
  // An int subclass travels as the int it holds (0 here), so it fails as a
  // wrong answer; other objects stay in the sample, and the judge's handle on
  // one equals only itself and has no arithmetic.
  Result as_int =
      run("class Yes(int):\n    def __eq__(self, other):\n        return True\n"
          "def add(a, b):\n    return Yes(0)\n");
  EXPECT_EQ(as_int.status, Status::Failed) << describe(as_int);
  EXPECT_EQ(as_int.error_type, "AssertionError");
  std::vector<std::string> codes = {
      "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
      "def add(a, b):\n    return Yes()\n",
      "class Yes:\n    def __eq__(self, other):\n        return True\n"
      "def add(a, b):\n    return [Yes()]\n",
      // a class whose metaclass says it is int (hash and equality of the type)
      "class Meta(type):\n    def __eq__(cls, other):\n        return True\n"
      "    def __hash__(cls):\n        return hash(int)\n"
      "class Yes(metaclass=Meta):\n    def __eq__(self, other):\n        return True\n"
      "def add(a, b):\n    return Yes()\n",
  };
  std::string tests =
      "def check(candidate):\n"
      "    assert candidate(1, 2) == 3 or candidate(1, 2) == [3]\n";
  for (const auto& code : codes) {
    Result r = run(code, tests, "check(add)");
    EXPECT_EQ(r.status, Status::Failed) << code << describe(r);
    EXPECT_EQ(r.error_type, "AssertionError") << code << describe(r);
  }
  // Arithmetic that would cancel whatever it is compared against is not there.
  Result zero =
      run("class Zero:\n    def __sub__(self, other):\n        return 0\n"
          "    def __rsub__(self, other):\n        return 0\n"
          "def add(a, b):\n    return Zero()\n",
          "def check(candidate):\n    assert abs(candidate(2, 2) - 4) < 1e-9\n", "check(add)");
  EXPECT_EQ(zero.status, Status::Error) << describe(zero);
  EXPECT_EQ(zero.error_type, "TypeError");
}

TEST_P(DriverTest, SampleObjectsAreUsableThroughHandles) {
  // What tests do with objects that are not plain data (MBPP 367 and 927
  // build trees of the solution's Node class in test_setup_code): construct,
  // set and read attributes, call methods, iterate, index, len, str.
  std::string code =
      "class Node:\n"
      "    def __init__(self, v):\n        self.v = v\n        self.left = self.right = None\n"
      "    def size(self):\n"
      "        return 1 + (self.left.size() if self.left else 0) + (self.right.size() if self.right else 0)\n"
      "    def __repr__(self):\n        return f'Node({self.v})'\n"
      "def height(n):\n"
      "    return 0 if n is None else 1 + max(height(n.left), height(n.right))\n"
      "def squares(n):\n"
      "    for i in range(n):\n        yield i * i\n"
      "class Bag:\n"
      "    def __init__(self):\n        self.items = {}\n"
      "    def __setitem__(self, k, v):\n        self.items[k] = v\n"
      "    def __getitem__(self, k):\n        return self.items[k]\n"
      "    def __len__(self):\n        return len(self.items)\n"
      "    def __iter__(self):\n        return iter(sorted(self.items))\n";
  std::string tests =
      "root = Node(1)\nroot.left = Node(2)\nroot.left.left = Node(3)\nroot.right = Node(4)\n"
      "assert height(root) == 3\nassert root.size() == 4\nassert root.left.v == 2\n"
      "assert repr(root) == 'Node(1)' and str(root.right) == 'Node(4)'\n"
      "assert root.left is root.left and root.left != root.right\n"
      "assert list(squares(4)) == [0, 1, 4, 9] and sum(squares(3)) == 5\n"
      "b = Bag()\nb['x'] = [1, 2]\nb['a'] = 3\n"
      "assert len(b) == 2 and b['x'] == [1, 2] and list(b) == ['a', 'x'] and 'x' in b and 'q' not in b\n";
  Result r = run(code, tests, "");
  EXPECT_EQ(r.status, Status::Passed) << describe(r);
}

TEST_P(DriverTest, ExceptionsKeepTheirBuiltinClass) {
  std::string code =
      "class Negative(ValueError):\n    pass\n"
      "def root(x):\n"
      "    if x < 0:\n        raise Negative('negative input')\n"
      "    return x ** 0.5\n";
  std::string tests =
      "try:\n    root(-1)\n    raise AssertionError('no exception')\n"
      "except ValueError as e:\n    assert 'negative input' in str(e)\n"
      "assert root(9) == 3.0\n";
  EXPECT_EQ(run(code, tests, "").status, Status::Passed);
  Result r = run(code, "root(-4)\n", "");
  EXPECT_EQ(r.status, Status::Error) << describe(r);
  EXPECT_EQ(r.error_type, "ValueError");
  EXPECT_NE(r.error_message.find("Negative"), std::string::npos) << r.error_message;
  EXPECT_NE(r.error_message.find("completion line 5"), std::string::npos) << r.error_message;
}

TEST_P(DriverTest, ThreadsAndProcessesLeftRunningDoNotMatter) {
  // They cannot reach the verdict, so ordinary code that leaves them is
  // judged on its answers; the worker kills them afterwards (TearDown checks).
  Result threads =
      run("import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n" +
          std::string(kAdd));
  EXPECT_EQ(threads.status, Status::Passed) << describe(threads);
  Result procs = run("import subprocess\nsubprocess.Popen(['sleep', '30'])\n" + std::string(kAdd));
  EXPECT_EQ(procs.status, Status::Passed) << describe(procs);
  Result wrong =
      run("import threading, time\nthreading.Thread(target=time.sleep, args=(30,)).start()\n"
          "def add(a, b):\n    return 1\n");
  EXPECT_EQ(wrong.status, Status::Failed) << describe(wrong);
}

TEST_P(SandboxTest, SamplesDoNotSeeEachOther) {
  // The second run must not find what the first left in its directory.
  // Including a tree deeper than Python's recursion limit and PATH_MAX, and
  // a link that leads out of the directory.
  Result first =
      run("import os\nopen('left-behind', 'w').write('x')\nos.symlink('/usr', 'out')\n"
          "for i in range(1500):\n    os.mkdir('d')\n    os.chdir('d')\n    open('f', 'w').close()\n" +
          std::string(kAdd));
  EXPECT_EQ(first.status, Status::Passed) << describe(first);
  Result second =
      run("import os\nassert not os.path.exists('left-behind')\nassert os.listdir('.') == []\n" + std::string(kAdd));
  EXPECT_EQ(second.status, Status::Passed) << describe(second);
}

TEST_P(SandboxTest, ConcurrentCallersGetTheirOwnResults) {
  constexpr int kThreads = 4, kRuns = 6;
  std::vector<std::thread> threads;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::string> first_wrong(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRuns; ++i) {
        bool good = (t + i) % 2 == 0;
        std::string code =
            fmt::format("print({})\ndef add(a, b):\n    return a + b{}\n", t * 100 + i, good ? "" : " + 1");
        Result r = run(code);
        Status expected = good ? Status::Passed : Status::Failed;
        if (r.status != expected || r.stdout_text != fmt::format("{}\n", t * 100 + i)) {
          if (wrong[t]++ == 0) first_wrong[t] = describe(r);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t << ": " << first_wrong[t];
}

TEST_P(SandboxTest, DescribeNamesTheProtections) {
  std::string text = sandbox_->describe();
  EXPECT_NE(text.find("isolation: "), std::string::npos) << text;
  EXPECT_NE(text.find("seccomp filter"), std::string::npos) << text;
  EXPECT_NE(text.find("rlimits"), std::string::npos) << text;
}

// The judge zygote compiles a task's tests once and keeps them by their
// text: a sample must always be judged by the tests it was sent with,
// whatever ran before it on the same worker, and a broken suite stays the
// suite's error.
TEST_P(DriverTest, EachSampleIsJudgedByItsOwnTests) {
  const std::string code = "def f():\n    return 1\n";
  const std::string wants_one = "assert f() == 1\n", wants_two = "assert f() == 2\n";
  for (int round = 0; round < 3; ++round) {
    Result one = run(code, wants_one, "");
    EXPECT_EQ(one.status, Status::Passed) << "round " << round << ": " << describe(one);
    Result two = run(code, wants_two, "");
    EXPECT_EQ(two.status, Status::Failed) << "round " << round << ": " << describe(two);
    Result check_differs = run(code, "def check(g):\n    assert g() == 1\n", "check(f)");
    EXPECT_EQ(check_differs.status, Status::Passed) << describe(check_differs);
    Result check_fails = run(code, "def check(g):\n    assert g() == 1\n", "check(f)\nassert f() == 3");
    EXPECT_EQ(check_fails.status, Status::Failed) << describe(check_fails);
    Result broken = run(code, "assert f() ==\n", "");
    EXPECT_EQ(broken.status, Status::Error) << describe(broken);
    EXPECT_EQ(broken.error_type, "SuiteError");
  }
  // More than the judge zygote keeps (16): the first tests are compiled again.
  for (int i = 0; i < 20; ++i) {
    Result r = run(code, fmt::format("assert f() == {}\n", i == 1 ? 1 : 0), "");
    EXPECT_EQ(r.status, i == 1 ? Status::Passed : Status::Failed) << i << ": " << describe(r);
  }
}

// Tests too large to travel with the worker's request are compiled by the
// judge itself, with the same outcome.
TEST_P(DriverTest, LargeTestsAreCompiledByTheJudge) {
  std::string big = "table = [";
  for (int i = 0; i < 20000; ++i) big += std::to_string(i) + ", ";
  big += "]\nassert add(len(table), 1) == 20001\n";
  ASSERT_GT(big.size(), 64u << 10);
  Result passes = run(kAdd, big, "");
  EXPECT_EQ(passes.status, Status::Passed) << describe(passes);
  Result fails = run("def add(a, b):\n    return a\n", big, "");
  EXPECT_EQ(fails.status, Status::Failed) << describe(fails);
}

// Running out of memory while the completion itself runs (before any test).
TEST_P(DriverTest, MemoryErrorWhileRunningTheCodeIsOutOfMemory) {
  Limits limits = quick_limits();
  limits.memory_bytes = 160ull << 20;
  Result r = run("x = bytearray(150 << 20)\n" + std::string(kAdd), kAddTests, "check(add)", limits);
  EXPECT_EQ(r.status, Status::OutOfMemory) << describe(r);
  EXPECT_EQ(r.error_type, "MemoryError");
}

const Mode kModes[] = {
    {"spawn", "namespaces", false},
    {"zygote", "namespaces", true},
    {"userns", "user-namespaces", false},
};
INSTANTIATE_TEST_SUITE_P(Modes, SandboxTest, ::testing::ValuesIn(kModes),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Modes, DriverTest, ::testing::ValuesIn(kModes, kModes + 2),
                         [](const auto& info) { return std::string(info.param.name); });

// --- the weakest mode: no namespaces -----------------------------------------

TEST(SandboxProcessesOnly, RunsAndLimitsWithoutNamespaces) {
  Options options;
  options.isolation = "processes";
  // As root the sample runs as uid 65534, which must be able to read the
  // interpreter: a pyenv build under /root is not, the system one is.
  if (geteuid() == 0) {
    if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3 for uid 65534";
    options.python = "/usr/bin/python3";
  }
  Sandbox sandbox(options);
  EXPECT_NE(sandbox.describe().find("processes only"), std::string::npos);
  Limits limits = quick_limits();
  EXPECT_EQ(sandbox.run({"", kAdd, kAddTests, "check(add)"}, limits).status, Status::Passed);
  EXPECT_EQ(sandbox.run({"", "def add(a, b):\n    return 0\n", kAddTests, "check(add)"}, limits).status,
            Status::Failed);
  limits.wall_seconds = 1;
  Result r = sandbox.run({"",
                          "import os\nif os.fork() == 0:\n    import time\n    time.sleep(60)\nelse:\n    time = "
                          "__import__('time')\n    time.sleep(60)\n",
                          kAddTests, "check(add)"},
                         limits);
  EXPECT_EQ(r.status, Status::Timeout) << describe(r);
  // The whole process group went with it.
  int left = leftovers({}, false);
  for (int i = 0; i < 20 && left > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    left = leftovers({}, false);
  }
  EXPECT_EQ(left, 0);
  Result killer =
      sandbox.run({"", "import os, signal\nos.kill(-1, signal.SIGKILL)\n" + std::string(kAdd), kAddTests, "check(add)"},
                  quick_limits());
  EXPECT_EQ(killer.error_type, "PermissionError") << describe(killer);  // seccomp, the only guard here
}

TEST(SandboxOptions, BadInputIsAnError) {
  Options options;
  options.isolation = "chroot";
  EXPECT_THROW(Sandbox{options}, Error);
  Options missing;
  missing.python = "/nonexistent/python3";
  EXPECT_THROW(Sandbox{missing}, Error);
  Options fine;
  fine.zygote = false;
  Sandbox sandbox(fine);
  Limits bad;
  bad.wall_seconds = 0;
  EXPECT_THROW(sandbox.run({"", kAdd, kAddTests, "check(add)"}, bad), Error);
}

}  // namespace
}  // namespace lcte::sandbox
