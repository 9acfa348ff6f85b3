// What a run produces besides its database: samples.csv (one row per
// sample), summary.json (pass@k, counts by status, timings) and the table the
// CLI prints.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/csv.h"
#include "eval/runner.h"

namespace lcte::eval {

// Rows in the suite's task order, then by sample index (the database orders
// task ids as text, "HumanEval/10" before "HumanEval/2").
std::vector<SampleRow> order_rows(const Suite& suite, std::vector<SampleRow> rows);

using lcte::csv_field;  // core/csv.h

// Columns: suite, task_id, model, sample_index, temperature, status, passed,
// error_type, prompt_tokens, completion_tokens, ttft_s, tpot_s, latency_s,
// exec_s, completion. Unknown numbers are empty fields.
std::string samples_csv(const std::string& suite, const std::string& model, double temperature,
                        const std::vector<SampleRow>& rows);

struct SummaryInput {
  const Suite* suite = nullptr;
  std::vector<PlanItem> plan;
  std::vector<SampleRow> rows;  // every row of the run
  std::vector<int> ks;
  nlohmann::json config;
  std::string run_id;
  RunnerStats session;  // this invocation's work
};

nlohmann::json summarize(const SummaryInput& input);
std::string summary_table(const nlohmann::json& summary);

}  // namespace lcte::eval
