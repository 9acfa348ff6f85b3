#include "eval/executor.h"

#include "core/error.h"

namespace lcte::eval {

std::string_view status_string(sandbox::Status status) {
  switch (status) {
    case sandbox::Status::Passed: return "passed";
    case sandbox::Status::Failed: return "failed";
    case sandbox::Status::Error: return "error";
    case sandbox::Status::SyntaxError: return "syntax_error";
    case sandbox::Status::Timeout: return "timeout";
    case sandbox::Status::OutOfMemory: return "out_of_memory";
    case sandbox::Status::Killed: return "killed";
  }
  return "error";
}

sandbox::Status parse_status(std::string_view name) {
  for (auto status : {sandbox::Status::Passed, sandbox::Status::Failed, sandbox::Status::Error,
                      sandbox::Status::SyntaxError, sandbox::Status::Timeout, sandbox::Status::OutOfMemory,
                      sandbox::Status::Killed})
    if (status_string(status) == name) return status;
  fail("unknown sample status \"{}\"", name);
}

#ifndef LCTE_HAVE_SANDBOX
std::unique_ptr<Executor> make_sandbox_executor(const sandbox::Options&) {
  fail("this build of lcte has no sandbox (src/sandbox was not built), so it cannot execute samples");
}
bool have_sandbox() { return false; }
#endif

}  // namespace lcte::eval
