// Runs untrusted Python (a model's completion) against trusted test code and
// says how it ended. This is the only place that knows about namespaces,
// rlimits and seccomp.
//
// Threat model: the completion may be hostile or broken (fork bombs, memory
// bombs, endless loops, network access, writes outside its directory, and
// any trick that tries to make a wrong answer pass). The harness must
// survive it, nothing outside the sandbox may change, and the verdict is
// computed by a judge process that never runs sample code: the completion
// runs in a separate confined process and answers the tests' calls with
// plain data (docs/parts/sandbox.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::sandbox {

struct Limits {
  double wall_seconds = 10.0;          // the whole process tree is killed after this
  double cpu_seconds = 10.0;           // RLIMIT_CPU
  uint64_t memory_bytes = 2ull << 30;  // address space
  uint64_t file_bytes = 16ull << 20;   // largest file it may write
  int max_processes = 32;              // processes and threads
  int max_open_files = 64;
  size_t max_output_bytes = 64u << 10;  // stdout and stderr each; the rest is cut
};

// How a sample ended. Exactly one per run.
enum class Status { Passed, Failed, Error, SyntaxError, Timeout, OutOfMemory, Killed };
std::string_view status_name(Status s);  // "passed", "failed", "error", "syntax_error", ...

// What to run. `code` is untrusted and runs alone in the sample process;
// `helpers`, `setup`, `tests` and `check` are the suite's and run, in that
// order, in the judge process, where every name the code defines is a
// handle on the sample's object. Passed means `check` ran to its end without
// an exception.
struct Program {
  std::string setup;  // test imports / test_setup_code (may be empty)
  std::string code;   // the model's program (prompt + completion), untrusted
  std::string tests;  // test definitions or asserts
  std::string check;  // the final statement, e.g. "check(add)"; may be empty
  // The trusted part of the prompt that the tests may call (HumanEval's
  // `poly`, `encode_cyclic`): the judge defines these names itself, so a
  // completion that redefines one cannot change what the tests compute.
  std::string helpers;
};

struct Result {
  Status status = Status::Error;
  std::string error_type;     // exception class name for Failed/Error ("AssertionError", "NameError")
  std::string error_message;  // first line of the exception or reason, truncated
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  uint64_t peak_memory_bytes = 0;
  int exit_code = -1;     // of the sample's interpreter, when it exited
  int signal = 0;         // that killed it, when one did
  std::string isolation;  // "namespaces", "user-namespaces" or "processes": what confined this sample
  // Prompt helpers the completion redefined (the tests used the prompt's own).
  std::vector<std::string> redefined_helpers;
};

struct Options {
  std::string python = "python3";  // interpreter to run, found on PATH if not absolute
  // "auto" takes the strongest namespace isolation that works on this
  // machine and refuses to run samples when none does; or force one of
  // "namespaces" (needs root), "user-namespaces" (unprivileged user
  // namespaces) or "processes" (rlimits + seccomp only: the sample can read
  // the user's files; only when asked for by name).
  std::string isolation = "auto";
  // Fork each sample from a warm worker (one per concurrent caller) that has
  // the common modules imported. Only with "namespaces" isolation;
  // otherwise, or when false, a new jail is started per sample.
  bool zygote = true;
};

// Whether `name` is one Options::isolation accepts (for configuration files
// that check it before any sandbox starts).
bool is_isolation_name(const std::string& name);

class Sandbox {
 public:
  explicit Sandbox(Options options = {});
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Thread-safe: several threads may run programs at once.
  Result run(const Program& program, const Limits& limits);

  // Which protections are in effect on this machine (namespaces, seccomp,
  // rlimits), for run records and the dashboard's About page.
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lcte::sandbox
