// A deterministic stand-in for the sandbox, for the runner's and the run
// store's tests: the verdict follows markers in the code.
#pragma once

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "eval/executor.h"

namespace lcte::eval::testing {

class FakeExecutor final : public Executor {
 public:
  // Throw (as a broken sandbox would) on the call after `calls` calls; -1: never.
  explicit FakeExecutor(int fail_after = -1) : fail_after_(fail_after) {}

  sandbox::Result run(const sandbox::Program& program, const sandbox::Limits& limits) override {
    int call = calls_++;
    if (fail_after_ >= 0 && call >= fail_after_) throw std::runtime_error("fake executor: broken on purpose");
    {
      std::lock_guard lock(mutex_);
      codes_.push_back(program.code);
    }
    sandbox::Result result;
    result.wall_seconds = 0.001;
    if (program.code.find("SYNTAX") != std::string::npos) {
      result.status = sandbox::Status::SyntaxError;
      result.error_type = "SyntaxError";
    } else if (program.code.find("PASS") != std::string::npos) {
      result.status = sandbox::Status::Passed;
    } else {
      result.status = sandbox::Status::Failed;
      result.error_type = "AssertionError";
    }
    return result;
  }
  std::string describe() const override { return "fake"; }
  int calls() const { return calls_; }
  std::vector<std::string> codes() const {
    std::lock_guard lock(mutex_);
    return codes_;
  }

 private:
  int fail_after_;
  std::atomic<int> calls_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> codes_;
};

}  // namespace lcte::eval::testing
