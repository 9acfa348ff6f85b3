// The seam between the harness and the sandbox: the runner executes programs
// through this interface, so its pool and resume logic are unit-tested with a
// fake, while real runs use the sandbox (make_sandbox_executor).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "sandbox/sandbox.h"

namespace lcte::eval {

class Executor {
 public:
  virtual ~Executor() = default;
  // Thread-safe. Throws only when execution itself is impossible (the run
  // stops and can be resumed); a misbehaving program is a Result.
  virtual sandbox::Result run(const sandbox::Program& program, const sandbox::Limits& limits) = 0;
  virtual std::string describe() const = 0;
};

// The real thing: lcte::sandbox::Sandbox. Throws lcte::Error when this build
// has no sandbox library.
std::unique_ptr<Executor> make_sandbox_executor(const sandbox::Options& options = {});
bool have_sandbox();

// The interpreter a name on PATH really runs (sys.executable), so that
// every sample does not pay for a wrapper script: a pyenv shim costs about
// 0.5 s per start here. Returns `name` unchanged when asking fails.
std::string resolve_python(const std::string& name = "python3");

// Status names as stored in runs ("passed", "failed", "error",
// "syntax_error", "timeout", "out_of_memory", "killed"), kept here so that
// stored runs do not depend on the sandbox library.
std::string_view status_string(sandbox::Status status);
// Throws lcte::Error for an unknown name.
sandbox::Status parse_status(std::string_view name);

}  // namespace lcte::eval
