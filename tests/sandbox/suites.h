// Loading the reference suites (shared/data) as sandbox programs, for the
// suite tests and bench/sandbox.
#pragma once

#include <zlib.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace lcte::sandbox::suites {

struct Task {
  std::string id;
  std::string prompt, solution, tests, entry_point;  // HumanEval fields (MBPP: solution and tests)
  std::string setup;                                 // MBPP test_setup_code
};

inline std::string gunzip_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string out;
  char buf[65536];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

// HumanEval.jsonl.gz: task_id, prompt, canonical_solution, test, entry_point.
inline std::vector<Task> load_humaneval(const std::string& path) {
  std::vector<Task> tasks;
  std::istringstream lines(gunzip_file(path));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    tasks.push_back(
        {j.at("task_id"), j.at("prompt"), j.at("canonical_solution"), j.at("test"), j.at("entry_point"), ""});
  }
  return tasks;
}

// The program HumanEval's own harness runs: prompt + completion, the test
// module, then check(entry_point); the prompt before the entry point (its
// imports and helpers such as `poly`) is what the tests call.
inline Program humaneval_program(const Task& t, const std::string& completion) {
  size_t cut = t.prompt.find("def " + t.entry_point + "(");
  std::string helpers = cut == std::string::npos ? "" : t.prompt.substr(0, cut);
  return Program{"", t.prompt + completion, t.tests, "check(" + t.entry_point + ")", helpers};
}

// mbpp.jsonl: task_id, code, test_setup_code, test_list. MBPP's own harness
// runs code, then test_setup_code, then the asserts: its setup code may use
// the solution's classes (tasks 367 and 927 build trees of its Node), so it
// goes in front of the tests here, not into Program::setup (run before the code).
inline std::vector<Task> load_mbpp(const std::string& path) {
  std::vector<Task> tasks;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    std::string tests = j.at("test_setup_code").get<std::string>() + "\n";
    for (const auto& assertion : j.at("test_list")) tests += assertion.get<std::string>() + "\n";
    tasks.push_back({std::to_string(j.at("task_id").get<int>()), "", j.at("code"), tests, "", ""});
  }
  return tasks;
}

inline Program mbpp_program(const Task& t, const std::string& code) { return Program{"", code, t.tests, ""}; }

}  // namespace lcte::sandbox::suites
