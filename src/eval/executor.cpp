#include "eval/executor.h"

#include <cctype>
#include <cstdio>
#include <memory>

#include "core/error.h"
#include "core/log.h"

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
  for (auto status :
       {sandbox::Status::Passed, sandbox::Status::Failed, sandbox::Status::Error, sandbox::Status::SyntaxError,
        sandbox::Status::Timeout, sandbox::Status::OutOfMemory, sandbox::Status::Killed})
    if (status_string(status) == name) return status;
  fail("unknown sample status \"{}\"", name);
}

std::string resolve_python(const std::string& name) {
  for (char c : name)  // it goes through the shell: plain names and paths only
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' || c == '-')) return name;
  std::string command = name + " -I -S -c 'import sys; print(sys.executable)' 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), &::pclose);
  if (!pipe) return name;
  char buffer[4096];
  std::string out;
  while (std::fgets(buffer, sizeof(buffer), pipe.get()) != nullptr) out += buffer;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.empty() || out[0] != '/') {
    spdlog::debug("could not resolve {}; using it as it is", name);
    return name;
  }
  return out;
}

#ifndef LCTE_HAVE_SANDBOX
std::unique_ptr<Executor> make_sandbox_executor(const sandbox::Options&) {
  fail("this build of lcte has no sandbox (src/sandbox was not built), so it cannot execute samples");
}
bool have_sandbox() { return false; }
#endif

}  // namespace lcte::eval
