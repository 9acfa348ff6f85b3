// Completions that try to make a wrong answer pass. Each forging case is a
// wrong solution plus a technique that has fooled, or could fool, a harness
// where the code and the verdict share a process; every one must end
// not-passed. The controls use the same techniques around a correct answer
// and must pass: the defence is that the verdict is out of the sample's
// reach, not that the techniques are forbidden.
//
// Every case runs in every isolation mode the machine allows.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "core/error.h"
#include "sandbox/sandbox.h"

namespace lcte::sandbox {
namespace {

struct Mode {
  const char* name;
  const char* isolation;
  bool zygote;
};

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
    // As root, processes isolation runs the sample as uid 65534, which must
    // be able to read the interpreter: the system one, not a build under /root.
    if (std::string(mode.isolation) == "processes" && geteuid() == 0) options.python = "/usr/bin/python3";
    return (made[mode.name] = std::make_unique<Sandbox>(options)).get();
  } catch (const Error& e) {
    *skip = failed[mode.name] = e.what();
    return nullptr;
  }
}

Limits limits() {
  Limits l;
  l.wall_seconds = 10;
  l.cpu_seconds = 4;
  l.memory_bytes = 1ull << 30;
  l.max_processes = 16;
  return l;
}

std::string describe(const Result& r) {
  return fmt::format("status {} type '{}' message '{}'\nstdout: {}\nstderr: {}", status_name(r.status), r.error_type,
                     r.error_message, r.stdout_text.substr(0, 800), r.stderr_text.substr(0, 800));
}

// Two calls with different answers: an answer fixed in advance cannot pass.
const char* kTests =
    "def check(candidate):\n"
    "    assert candidate(1, 2) == 3\n"
    "    assert candidate(-4, 4) == 0\n"
    "    assert candidate(10, 5) == 15\n";

// Writes a frame of every kind a harness or judge might read (a pass with
// every 32-hex string it can find as the token, and answers 3, 0 and 15 in
// the judge's value format) on every descriptor, and again from
// finalizers. Used by several cases below.
const char* kForger = R"py(
import os, struct, re
def _frames(tokens):
    out = []
    for tok in tokens + ['0' * 32]:
        payload = b'P\x00' + tok.encode() + b'\x00\x00\x00'
        out.append(struct.pack('<I', len(payload)) + payload)
    for v in (3, 0, 15):
        payload = b'V' + b'i' + struct.pack('<q', v)
        out.append(struct.pack('<I', len(payload)) + payload)
    payload = b'q'
    out.append(struct.pack('<I', len(payload)) + payload)
    return out
def forge(tokens=()):
    for fd in range(0, 256):
        for frame in _frames(list(tokens)):
            try:
                os.write(fd, frame)
            except OSError:
                pass
HEX = re.compile(rb'[0-9a-f]{32}')
)py";

struct Case {
  const char* name;
  std::string code;
  std::string tests = kTests;
  std::string check = "check(add)";
  std::string helpers = "";
};

std::vector<Case> forging_cases() {
  const std::string forger = kForger;
  return {
      {"signal_handler_frames", forger + R"py(
import signal
found = []
def grab(sig, frame):
    f = frame
    while f is not None:
        for scope in (f.f_locals, f.f_globals):
            for k, v in list(scope.items()):
                if isinstance(v, str) and HEX.fullmatch(v.encode()):
                    found.append(v)
                if isinstance(v, (bytes, bytearray)):
                    found.extend(m.decode() for m in HEX.findall(bytes(v)))
        f = f.f_back
    forge(found)
signal.signal(signal.SIGUSR1, grab)
os.kill(os.getpid(), signal.SIGUSR1)
def add(a, b):
    os.kill(os.getpid(), signal.SIGUSR1)
    return 0
)py"},
      {"proc_mem_scan", forger + R"py(
def scan(pid):
    tokens = []
    try:
        maps = open(f'/proc/{pid}/maps').read().splitlines()
        mem = open(f'/proc/{pid}/mem', 'rb', 0)
    except OSError:
        return tokens
    for line in maps:
        lo, hi = (int(x, 16) for x in line.split()[0].split('-'))
        if 'r' not in line.split()[1] or hi - lo > (64 << 20):
            continue
        try:
            mem.seek(lo)
            tokens += [m.decode() for m in HEX.findall(mem.read(hi - lo))]
        except (OSError, ValueError, OverflowError):
            pass
    return tokens
def add(a, b):
    tokens = scan('self')
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            tokens += scan(pid)
    dirfd = os.open('/', os.O_RDONLY)
    try:
        fd = os.open('proc/self/mem', os.O_RDONLY, dir_fd=dirfd)
        os.close(fd)
    except OSError:
        pass
    forge(tokens)
    return 0
)py"},
      {"renamed_ctypes", forger + R"py(
import importlib
c = importlib.import_module('_ctypes')
import ctypes as hidden
def add(a, b):
    tokens = []
    for line in open('/proc/self/maps').read().splitlines():
        lo, hi = (int(x, 16) for x in line.split()[0].split('-'))
        if 'rw' in line.split()[1] and hi - lo < (16 << 20):
            try:
                tokens += [m.decode() for m in HEX.findall(hidden.string_at(lo, hi - lo))]
            except Exception:
                pass
    forge(tokens)
    return 0
)py"},
      {"descriptor_writes", forger + "def add(a, b):\n    forge()\n    return 0\nforge()\n"},
      {"gc_walk", forger + R"py(
import gc
def add(a, b):
    tokens = []
    for o in gc.get_objects():
        if isinstance(o, dict):
            for v in list(o.values()):
                if isinstance(v, str) and HEX.fullmatch(v.encode()):
                    tokens.append(v)
        if type(o).__name__ == 'function' and o.__name__ == 'check':
            o.__code__ = (lambda candidate: None).__code__
    forge(tokens)
    return 0
)py"},
      {"sys_modules_and_builtins",
       R"py(
import sys, builtins, math, operator
builtins.AssertionError = type('Quiet', (Exception,), {})
builtins.abs = lambda x: 0
math.isclose = lambda *a, **k: True
operator.eq = lambda a, b: True
sys.modules['builtins'] = type(sys)('builtins')
def check(candidate):
    pass
builtins.check = check
def add(a, b):
    return 0
)py"},
      {"finalizers_and_atexit", forger + R"py(
import atexit, weakref
class Late:
    def __del__(self):
        forge()
keep = Late()
atexit.register(forge)
weakref.finalize(keep, forge)
def add(a, b):
    return 0
)py"},
      {"racing_thread", forger + R"py(
import threading
def spam():
    while True:
        forge()
threading.Thread(target=spam, daemon=True).start()
def add(a, b):
    return 0
)py"},
      {"forked_child", forger + R"py(
if os.fork() == 0:
    import time
    for _ in range(200):
        forge()
        time.sleep(0.005)
    os._exit(0)
def add(a, b):
    return 0
)py"},
      {"objects_deciding_comparisons",
       R"py(
class Yes(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = int.__hash__
class Always:
    def __eq__(self, other): return True
    def __bool__(self): return True
    def __class__(self): return int
def add(a, b):
    return Always() if a > 0 else Yes(99)
)py"},
      {"stop_iteration_escapes_into_map", "def add(a, b):\n    raise StopIteration\n",
       "assert all(map(lambda p: add(*p) == sum(p), [(1, 2), (3, 4)]))\nassert list(map(add, [1], [2])) == [3]\n", ""},
      {"exit_from_a_call", "import sys\ndef add(a, b):\n    sys.exit(0)\n"},
      // NULs in what the judge reports could shift the report's fields.
      {"exception_with_forged_fields",
       "E = type('P', (Exception,), {})\n"
       "def add(a, b):\n    raise E('m\\x00P\\x00' + '0' * 32 + '\\x00\\x00\\x00')\n",
       "def check(candidate):\n    try:\n        candidate(1, 2)\n    except Exception as e:\n"
       "        raise AssertionError(str(e))\n"},
      {"signals_to_everyone",
       R"py(
import os, signal
def add(a, b):
    for pid in range(1, 300):
        if pid != os.getpid():
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
    return 0
)py"},
      // HumanEval/32's shape: the tests check the answer with the prompt's
      // own poly(); a completion that redefines poly() to agree with a wrong
      // find_zero() must still fail.
      {"helper_shadowing_poly",
       "import math\ndef poly(xs, x):\n    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n"
       "def find_zero(xs):\n    return 0.0\n"
       "def poly(xs, x):\n    return 0.0\n",
       "import math\ndef check(candidate):\n    for coeffs in ([1, 2], [-6, 11, -6, 1], [3, -4]):\n"
       "        solution = candidate(coeffs)\n        assert math.fabs(poly(coeffs, solution)) < 1e-4\n",
       "check(find_zero)",
       "import math\ndef poly(xs, x):\n    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n"},
      // HumanEval/38's shape: identity for both directions would agree with itself.
      {"helper_shadowing_encode",
       "def encode_cyclic(s):\n    groups = [s[3 * i:min(3 * i + 3, len(s))] for i in range((len(s) + 2) // 3)]\n"
       "    return ''.join((g[1:] + g[0]) if len(g) == 3 else g for g in groups)\n"
       "def decode_cyclic(s):\n    return s\n"
       "encode_cyclic = lambda s: s\n",
       "def check(candidate):\n    for s in ('abcdef', 'hello world', 'xyz'):\n"
       "        assert candidate(encode_cyclic(s)) == s\n",
       "check(decode_cyclic)",
       "def encode_cyclic(s):\n    groups = [s[3 * i:min(3 * i + 3, len(s))] for i in range((len(s) + 2) // 3)]\n"
       "    return ''.join((g[1:] + g[0]) if len(g) == 3 else g for g in groups)\n"},
  };
}

// Correct answers, surrounded by the same techniques: they must pass.
std::vector<Case> control_cases() {
  const std::string forger = kForger;
  return {
      {"plain", "def add(a, b):\n    return a + b\n"},
      {"with_ctypes_frames_gc_threads",
       R"py(
import ctypes, gc, sys, threading, signal, os
gc.get_objects()
sys._getframe(0).f_back
threading.Thread(target=lambda: None).start()
signal.signal(signal.SIGUSR1, lambda s, f: None)
os.kill(os.getpid(), signal.SIGUSR1)
def add(a, b):
    ctypes.c_int(a).value
    return a + b
)py"},
      {"forger_but_right", forger + "def add(a, b):\n    return a + b\n"},
      {"helper_kept",
       "import math\ndef poly(xs, x):\n    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n"
       "def find_zero(xs):\n    lo, hi = -100.0, 100.0\n    for _ in range(200):\n"
       "        mid = (lo + hi) / 2\n        if poly(xs, lo) * poly(xs, mid) <= 0:\n            hi = mid\n"
       "        else:\n            lo = mid\n    return lo\n",
       "import math\ndef check(candidate):\n    for coeffs in ([1, 2], [-6, 11, -6, 1], [3, -4]):\n"
       "        solution = candidate(coeffs)\n        assert math.fabs(poly(coeffs, solution)) < 1e-4\n",
       "check(find_zero)",
       "import math\ndef poly(xs, x):\n    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n"},
  };
}

class Forgery : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    std::string skip;
    sandbox_ = sandbox_for(GetParam(), &skip);
    if (!sandbox_) GTEST_SKIP() << "mode " << GetParam().name << " unavailable here: " << skip;
  }
  Result run(const Case& c) { return sandbox_->run(Program{"", c.code, c.tests, c.check, c.helpers}, limits()); }
  Sandbox* sandbox_ = nullptr;
};

TEST_P(Forgery, WrongAnswersNeverPass) {
  for (const Case& c : forging_cases()) {
    Result r = run(c);
    EXPECT_NE(r.status, Status::Passed) << c.name << ": " << describe(r);
  }
}

TEST_P(Forgery, ControlsPass) {
  for (const Case& c : control_cases()) {
    Result r = run(c);
    EXPECT_EQ(r.status, Status::Passed) << c.name << ": " << describe(r);
  }
}

TEST_P(Forgery, RedefinedHelpersAreRecorded) {
  auto cases = forging_cases();
  for (const Case& c : cases) {
    if (c.name != std::string("helper_shadowing_poly") && c.name != std::string("helper_shadowing_encode")) continue;
    Result r = run(c);
    EXPECT_EQ(r.status, Status::Failed) << c.name << ": " << describe(r);
    std::string helper = c.name == std::string("helper_shadowing_poly") ? "poly" : "encode_cyclic";
    EXPECT_EQ(r.redefined_helpers, std::vector<std::string>{helper}) << c.name;
  }
  Result kept = run(control_cases()[3]);
  EXPECT_TRUE(kept.redefined_helpers.empty()) << describe(kept);
}

const Mode kModes[] = {
    {"spawn", "namespaces", false},
    {"zygote", "namespaces", true},
    {"userns", "user-namespaces", false},
    {"processes", "processes", false},
};
INSTANTIATE_TEST_SUITE_P(Modes, Forgery, ::testing::ValuesIn(kModes),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace lcte::sandbox
