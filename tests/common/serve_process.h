// `lcte serve ...` as a background child for whole-program tests: started on
// the port it prints, stopped with SIGTERM (its exit status returned), killed
// if a test ends early.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/run_command.h"

namespace lcte::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `lcte serve ...` in the background; the port is read from its first line.
struct ServeProcess {
  pid_t pid = -1;
  int port = 0;
  std::string out_path, err_path;

  ServeProcess(const std::vector<std::string>& args, const std::string& dir) {
    out_path = dir + "/serve.out";
    err_path = dir + "/serve.err";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv = {lcte::testing::lcte_binary(), "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    posix_spawn(&pid, cargs[0], &fa, nullptr, cargs.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    std::regex line("listening on http://[^:]+:([0-9]+)");
    for (int i = 0; i < 3000 && port == 0; ++i) {  // up to 30 s: the model loads first
      std::smatch m;
      std::string out = slurp(out_path);
      if (std::regex_search(out, m, line))
        port = std::stoi(m[1]);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        break;
      }
    }
  }
  // SIGTERM, then the exit status (-1: did not exit within 20 s).
  int stop() {
    if (pid < 0) return -1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 2000; ++i) {
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace lcte::testing
