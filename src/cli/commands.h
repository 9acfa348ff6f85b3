// Each lcte subcommand lives in its own file and registers itself here.
// A command parses its arguments, calls the library and prints; no logic of
// its own beyond that.
#pragma once

#include <CLI/CLI.hpp>

namespace lcte::cli {

void add_demo_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_imatrix_command(CLI::App& app);
void add_quant_report_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_kld_command(CLI::App& app);
void add_runs_command(CLI::App& app);
void add_sandbox_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_route_command(CLI::App& app);
void add_distill_command(CLI::App& app);
void add_dashboard_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_models_command(CLI::App& app);
void add_registry_commands(CLI::App& app);
// The registry's models, for `lcte models list` when no catalogue is named.
void list_registry(const std::string& root_dir, bool as_json);
void add_study_command(CLI::App& app);
void add_data_command(CLI::App& app);

}  // namespace lcte::cli
