// lcte sandbox: run one program through the execution sandbox, or say which
// protections are in effect on this machine.
//
//   lcte sandbox info [--isolation I] [--no-zygote]
//   lcte sandbox run --code FILE [--setup FILE] [--helpers FILE] [--tests FILE] [--check EXPR]
//                    [--wall S] [--cpu S] [--memory-mb N] [--file-mb N]
//                    [--processes N] [--open-files N] [--output-kb N]
//                    [--isolation I] [--no-zygote]
//
// `run` prints the Result as one JSON object and exits 0 whatever the status.
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "sandbox/sandbox.h"

namespace lcte::cli {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

struct SandboxArgs {
  std::string isolation = "auto";
  bool no_zygote = false;
  std::string code, setup, helpers, tests, check;
  sandbox::Limits limits;
  double memory_mb = 0, file_mb = 0, output_kb = 0;
};

sandbox::Options options_of(const SandboxArgs& a) {
  sandbox::Options o;
  o.isolation = a.isolation;
  o.zygote = !a.no_zygote;
  return o;
}

void add_common(CLI::App* cmd, SandboxArgs& a) {
  cmd->add_option("--isolation", a.isolation, "auto, namespaces, user-namespaces or processes")->capture_default_str();
  cmd->add_flag("--no-zygote", a.no_zygote, "start a new jail per sample instead of using a warm worker");
}

void run_command(const SandboxArgs& a) {
  sandbox::Program program;
  program.code = read_text(a.code);
  if (!a.setup.empty()) program.setup = read_text(a.setup);
  if (!a.helpers.empty()) program.helpers = read_text(a.helpers);
  if (!a.tests.empty()) program.tests = read_text(a.tests);
  program.check = a.check;
  sandbox::Limits limits = a.limits;
  if (a.memory_mb > 0) limits.memory_bytes = static_cast<uint64_t>(a.memory_mb * 1048576.0);
  if (a.file_mb > 0) limits.file_bytes = static_cast<uint64_t>(a.file_mb * 1048576.0);
  if (a.output_kb > 0) limits.max_output_bytes = static_cast<size_t>(a.output_kb * 1024.0);

  sandbox::Sandbox box(options_of(a));
  sandbox::Result r = box.run(program, limits);
  nlohmann::json out = {
      {"status", std::string(sandbox::status_name(r.status))},
      {"error_type", r.error_type},
      {"error_message", r.error_message},
      {"stdout", r.stdout_text},
      {"stderr", r.stderr_text},
      {"output_truncated", r.output_truncated},
      {"wall_seconds", r.wall_seconds},
      {"cpu_seconds", r.cpu_seconds},
      {"peak_memory_bytes", r.peak_memory_bytes},
      {"exit_code", r.exit_code},
      {"signal", r.signal},
      {"isolation", r.isolation},
      {"redefined_helpers", r.redefined_helpers},
  };
  std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace

void add_sandbox_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("sandbox", "Run Python through the execution sandbox, or describe it");
  cmd->require_subcommand(1);
  auto args = std::make_shared<SandboxArgs>();

  auto* info = cmd->add_subcommand("info", "Print which protections are in effect here");
  add_common(info, *args);
  info->callback([args] { std::cout << sandbox::Sandbox(options_of(*args)).describe(); });

  auto* run = cmd->add_subcommand("run",
                                  "Run code in a sample process judged by setup, helpers, tests and check; "
                                  "print the result as JSON");
  add_common(run, *args);
  run->add_option("--code", args->code, "the untrusted program (a Python file)")->required()->check(CLI::ExistingFile);
  run->add_option("--setup", args->setup, "trusted code the judge runs before the tests")->check(CLI::ExistingFile);
  run->add_option("--helpers", args->helpers, "trusted prompt code whose names the tests may use")
      ->check(CLI::ExistingFile);
  run->add_option("--tests", args->tests, "trusted test code the judge runs")->check(CLI::ExistingFile);
  run->add_option("--check", args->check, "final statement, e.g. 'check(add)'");
  run->add_option("--wall", args->limits.wall_seconds, "wall-clock limit, seconds")->capture_default_str();
  run->add_option("--cpu", args->limits.cpu_seconds, "CPU limit, seconds")->capture_default_str();
  run->add_option("--memory-mb", args->memory_mb, "address-space limit, MiB (default 2048)");
  run->add_option("--file-mb", args->file_mb, "largest file it may write, MiB (default 16)");
  run->add_option("--processes", args->limits.max_processes, "processes and threads")->capture_default_str();
  run->add_option("--open-files", args->limits.max_open_files, "open descriptors")->capture_default_str();
  run->add_option("--output-kb", args->output_kb, "stdout and stderr kept, KiB each (default 64)");
  run->callback([args] { run_command(*args); });
}

}  // namespace lcte::cli
