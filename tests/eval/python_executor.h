// An UNCONFINED executor for tests only: runs the program with python3 in a
// child process, with a wall-clock timeout and nothing else. It lets the
// harness's own tests check suites and references against real Python
// independently of the sandbox (which has its own tests); it must never run
// untrusted code, and the end-to-end tests use the real sandbox instead.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "eval/executor.h"

namespace lcte::eval::testing {

class PythonExecutor final : public Executor {
 public:
  sandbox::Result run(const sandbox::Program& program, const sandbox::Limits& limits) override {
    namespace fs = std::filesystem;
    static std::atomic<int> counter{0};
    fs::path dir =
        fs::temp_directory_path() / ("lcte-pyexec-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(dir);
    write(dir / "setup.py", program.setup);
    write(dir / "code.py", program.code);
    write(dir / "tests.py", program.tests);
    write(dir / "check.py", program.check);
    write(dir / "driver.py", kDriver);
    auto start = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::chdir(dir.c_str());
      ::execl(python_.c_str(), python_.c_str(), "-I", "-S", "driver.py", nullptr);
      ::_exit(127);
    }
    sandbox::Result result;
    int status = 0;
    while (true) {
      pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > limits.wall_seconds) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        result.status = sandbox::Status::Timeout;
        fs::remove_all(dir);
        return result;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::ifstream error_file(dir / "error_type");
    std::getline(error_file, result.error_type);
    fs::remove_all(dir);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.exit_code = code;
    result.status = code == 0   ? sandbox::Status::Passed
                    : code == 1 ? sandbox::Status::Failed
                    : code == 3 ? sandbox::Status::SyntaxError
                                : sandbox::Status::Error;
    return result;
  }
  std::string describe() const override { return "unconfined python3 (tests only)"; }

 private:
  std::string python_ = resolve_python("python3");
  static void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  static constexpr const char* kDriver = R"py(
import sys
def read(name):
    with open(name) as f:
        return f.read()
setup, code, tests, check = (read(n) for n in ("setup.py", "code.py", "tests.py", "check.py"))
try:
    compile(code, "code.py", "exec")
except SyntaxError:
    open("error_type", "w").write("SyntaxError")
    sys.exit(3)
ns = {"__name__": "__sandbox__"}
try:
    exec(compile(setup + "\n" + code + "\n" + tests + "\n" + check + "\n", "program.py", "exec"), ns)
except AssertionError:
    open("error_type", "w").write("AssertionError")
    sys.exit(1)
except BaseException as e:
    open("error_type", "w").write(type(e).__name__)
    sys.exit(2)
sys.exit(0)
)py";
};

}  // namespace lcte::eval::testing
