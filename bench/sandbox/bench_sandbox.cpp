// Samples per second through Sandbox::run, for one interpreter per sample
// ("spawn") and the zygote, with 1 and 2 concurrent callers; plus the
// interpreter's bare start-up for reference and, if the data is there,
// HumanEval's canonical solutions. Prints a table; no assertions.
//
//   bench_sandbox [--samples N] [--humaneval] [--mbpp]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/sandbox.h"
#include "sandbox/suites.h"

extern char** environ;

namespace {

using lcte::sandbox::Limits;
using lcte::sandbox::Options;
using lcte::sandbox::Program;
using lcte::sandbox::Result;
using lcte::sandbox::Sandbox;
using lcte::sandbox::Status;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double children_cpu() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Starts `argv` n times in a row; returns seconds per start.
double startup(const std::vector<std::string>& args, int n) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto t = Clock::now();
  for (int i = 0; i < n; ++i) {
    pid_t pid;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
    waitpid(pid, nullptr, 0);
  }
  return seconds_since(t) / n;
}

struct Row {
  double per_second = 0, mean_wall = 0, mean_cpu = 0;
  int not_passed = 0;
};

// `callers` threads share `count` programs from make(i); names the ones
// that did not pass when `label` is given.
Row measure(Sandbox& sandbox, int callers, int count, const std::function<Program(int)>& make,
            const std::function<std::string(int)>& label = {}) {
  std::atomic<int> next{0}, not_passed{0};
  std::mutex print_mutex;
  std::atomic<long long> wall_us{0}, cpu_us{0};
  auto t = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&] {
      Limits limits;
      for (int i; (i = next++) < count;) {
        Result r = sandbox.run(make(i), limits);
        not_passed += r.status != Status::Passed;
        if (r.status != Status::Passed && label) {
          std::lock_guard lock(print_mutex);
          std::printf("  not passed: %s: %s %s %s\n", label(i).c_str(),
                      std::string(lcte::sandbox::status_name(r.status)).c_str(), r.error_type.c_str(),
                      r.error_message.substr(0, 160).c_str());
        }
        wall_us += static_cast<long long>(r.wall_seconds * 1e6);
        cpu_us += static_cast<long long>(r.cpu_seconds * 1e6);
      }
    });
  }
  for (auto& th : threads) th.join();
  Row row;
  row.per_second = count / seconds_since(t);
  row.mean_wall = wall_us / 1e6 / count;
  row.mean_cpu = cpu_us / 1e6 / count;
  row.not_passed = not_passed;
  return row;
}

void print_row(const char* what, const char* mode, int callers, const Row& r) {
  std::printf("%-22s %-7s %7d %11.1f %14.1f %14.1f %10d\n", what, mode, callers, r.per_second, r.mean_wall * 1e3,
              r.mean_cpu * 1e3, r.not_passed);
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 100;
  bool humaneval = false, mbpp = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--samples") && i + 1 < argc)
      samples = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--humaneval"))
      humaneval = true;
    else if (!std::strcmp(argv[i], "--mbpp"))
      mbpp = true;
    else {
      std::fprintf(stderr, "usage: bench_sandbox [--samples N] [--humaneval] [--mbpp]\n");
      return 2;
    }
  }
  std::printf("load average at start: %s (the machine may be shared)\n", load_average().c_str());

  Sandbox spawn_box(Options{.zygote = false});
  Sandbox zygote_box(Options{});
  std::string python;
  {
    std::string d = spawn_box.describe();
    auto at = d.find("python: ");
    python = d.substr(at + 8, d.find(' ', at + 8) - at - 8);
  }
  double cpu0 = children_cpu();
  double bare = startup({python, "-S", "-I", "-c", "pass"}, 20);
  double bare_cpu = (children_cpu() - cpu0) / 20;
  cpu0 = children_cpu();
  double site = startup({python, "-I", "-c", "pass"}, 20);
  double site_cpu = (children_cpu() - cpu0) / 20;
  std::printf("interpreter start-up (%s): -S -I %.1f ms wall %.1f ms cpu; -I (with site) %.1f ms wall %.1f ms cpu\n\n",
              python.c_str(), bare * 1e3, bare_cpu * 1e3, site * 1e3, site_cpu * 1e3);

  std::printf("%-22s %-7s %7s %11s %14s %14s %10s\n", "program", "mode", "callers", "samples/s", "mean wall ms",
              "mean cpu ms", "not passed");
  auto trivial = [](int) {
    return Program{"", "def add(a, b):\n    return a + b\n", "def check(c):\n    assert c(1, 2) == 3\n", "check(add)"};
  };
  auto typed = [](int) {
    return Program{"", "from typing import List\n\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n",
                   "def check(c):\n    assert c([1, 2, 3]) == 6\n    assert c([]) == 0\n", "check(total)"};
  };
  for (int callers : {1, 2}) {
    print_row("trivial add()", "spawn", callers, measure(spawn_box, callers, samples / 2, trivial));
    print_row("trivial add()", "zygote", callers, measure(zygote_box, callers, samples, trivial));
  }
  for (int callers : {1, 2}) {
    print_row("typing import + sum()", "spawn", callers, measure(spawn_box, callers, samples / 2, typed));
    print_row("typing import + sum()", "zygote", callers, measure(zygote_box, callers, samples, typed));
  }
  auto data = [](const std::string& rel) {
    const char* dir = std::getenv("LCTE_DATA_DIR");
    return (dir && *dir ? std::string(dir) : std::string(LCTE_DEFAULT_DATA_DIR)) + "/" + rel;
  };
  if (mbpp) {
    auto tasks = lcte::sandbox::suites::load_mbpp(data("mbpp/mbpp.jsonl"));
    auto canonical = [&](int i) { return lcte::sandbox::suites::mbpp_program(tasks[i], tasks[i].solution); };
    auto name = [&](int i) { return "MBPP/" + tasks[i].id; };
    print_row("MBPP canonical (974)", "zygote", 2,
              measure(zygote_box, 2, static_cast<int>(tasks.size()), canonical, name));
  }
  if (humaneval) {
    auto tasks = lcte::sandbox::suites::load_humaneval(data("humaneval/HumanEval.jsonl.gz"));
    auto canonical = [&](int i) { return lcte::sandbox::suites::humaneval_program(tasks[i], tasks[i].solution); };
    int n = static_cast<int>(tasks.size());
    auto name = [&](int i) { return tasks[i].id; };
    print_row("HumanEval canonical", "spawn", 2, measure(spawn_box, 2, n, canonical, name));
    print_row("HumanEval canonical", "zygote", 2, measure(zygote_box, 2, n, canonical, name));
  }
  std::printf("\nload average at end: %s\n", load_average().c_str());
  return 0;
}
