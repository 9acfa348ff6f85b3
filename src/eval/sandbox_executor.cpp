// Built only when the sandbox library is part of the build (LCTE_HAVE_SANDBOX).
#include "eval/executor.h"

namespace lcte::eval {
namespace {

class SandboxExecutor final : public Executor {
 public:
  explicit SandboxExecutor(const sandbox::Options& options) : sandbox_(options) {}
  sandbox::Result run(const sandbox::Program& program, const sandbox::Limits& limits) override {
    return sandbox_.run(program, limits);
  }
  std::string describe() const override { return sandbox_.describe(); }

 private:
  sandbox::Sandbox sandbox_;
};

}  // namespace

std::unique_ptr<Executor> make_sandbox_executor(const sandbox::Options& options) {
  return std::make_unique<SandboxExecutor>(options);
}

bool have_sandbox() { return true; }

}  // namespace lcte::eval
