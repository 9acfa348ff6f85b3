// Shared by `lcte quant-report` and `lcte quantize --report`: the options,
// and running the report on files and printing / saving it.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "quant/quant_report.h"

namespace lcte::cli {

struct QuantReportArgs {
  std::string text;       // evaluation text (required to run)
  std::string csv, json;  // also save as CSV / JSON
  quant::ReportOptions options;
};

// Adds --text, --ctx, --chunks, --pp, --tg, --reps, --csv, --json.
void add_quant_report_options(CLI::App* cmd, QuantReportArgs& args);

// Tokenizes the text with the base model's tokenizer, runs the report,
// prints the table on stdout and writes the CSV / JSON files asked for.
void run_quant_report(const std::string& base, const std::vector<std::string>& files, const QuantReportArgs& args);

}  // namespace lcte::cli
