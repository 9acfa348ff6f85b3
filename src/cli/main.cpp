#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/usage.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "kernels/kernels.h"

namespace {

// "lcte VERSION (kernels: ISA)": the kernel table this CPU runs, capped by
// $LCTE_KERNELS, whose wrong value is said instead of failing --version.
std::string version_line() {
  std::string kernels;
  try {
    kernels = std::string(lcte::kernels::isa_name(lcte::kernels::best_isa()));
  } catch (const lcte::Error& e) {
    kernels = e.what();
  }
  return std::string("lcte ") + lcte::version() + " (kernels: " + kernels + ")";
}

// The command's name: the first argument that is not an option (nor the
// value of --log-level, the one option before it that takes a value).
std::string_view command_of(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--log-level")
      ++i;
    else if (!a.empty() && a[0] != '-')
      return a;
  }
  return {};
}

// libgomp reads OMP_WAIT_POLICY when it is loaded, before main. Its default
// lets idle OpenMP threads spin, which on a small machine shared with other
// work (the sandbox's Python processes, a second lcte) makes training several
// times slower; so for the commands that train (the only OpenMP users), unless
// the user chose a policy, lcte restarts itself once with the passive one.
// Should the restart fail, lcte simply goes on.
void prefer_passive_openmp(int argc, char** argv) {
  const std::string_view cmd = command_of(argc, argv);
  if (cmd != "train" && cmd != "distill" && cmd != "demo") return;
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 0) != 0) return;
  execv("/proc/self/exe", argv);
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp(argc, argv);
  CLI::App app{"lcte: the LLM Compression Trade-off Evaluator"};
  // Subcommands inherit this: an option a subcommand does not know is tried on
  // its parent, so `lcte runs list --store F` means `lcte runs --store F list`.
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", version_line);
  app.footer("Exit status: 0 success, 1 error, 2 usage error, 70 internal error (docs/commands.md).");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();
  app.parse_complete_callback([&] { lcte::init_logging(log_level); });

  lcte::cli::add_demo_command(app);
  lcte::cli::add_inspect_command(app);
  lcte::cli::add_quantize_command(app);
  lcte::cli::add_imatrix_command(app);
  lcte::cli::add_quant_report_command(app);
  lcte::cli::add_tokenize_command(app);
  lcte::cli::add_report_command(app);
  lcte::cli::add_bench_command(app);
  lcte::cli::add_generate_command(app);
  lcte::cli::add_kld_command(app);
  lcte::cli::add_runs_command(app);
  lcte::cli::add_sandbox_command(app);
  lcte::cli::add_eval_command(app);
  lcte::cli::add_train_command(app);
  lcte::cli::add_route_command(app);
  lcte::cli::add_distill_command(app);
  lcte::cli::add_dashboard_command(app);
  lcte::cli::add_serve_command(app);
  lcte::cli::add_models_command(app);
  lcte::cli::add_registry_commands(app);
  lcte::cli::add_study_command(app);
  lcte::cli::add_data_command(app);
  lcte::cli::allow_parent_options_after(app);

  // Subcommands run from their callbacks inside parse(). They report bad input
  // by throwing lcte::Error, and a specific exit status with CLI::RuntimeError.
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return lcte::cli::report_parse_error(app, e);
  } catch (const lcte::Error& e) {
    std::fprintf(stderr, "lcte: error: %s\n", e.what());
    return lcte::cli::kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lcte: internal error: %s\n", e.what());
    return lcte::cli::kExitInternal;
  }
  return lcte::cli::kExitOk;
}
