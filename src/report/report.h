// Reports of one or more runs from the store: a self-contained HTML page
// (inline SVG charts, no network), a Markdown summary with the same tables,
// and CSV files a notebook can load.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace lcte::report {

// What the report knows of one run, gathered from the store.
struct RunView {
  store::RunRecord run;
  std::string label;  // model name, or the run's name or id
  std::string suite;
  std::map<int, double> pass_at_k;  // k -> value (absent when not computable)
  std::vector<double> latency_s;    // per sample; NaN when unknown
  std::vector<double> exec_s;
  std::map<std::string, std::pair<int, int>> per_task;  // task -> (passed samples, samples)
  std::optional<double> energy_j;                       // whole run
  bool energy_estimated = true;
  std::optional<double> peak_rss_bytes;
  int64_t completion_tokens = 0;
  size_t samples = 0, passed = 0;
};

RunView load_run_view(store::Store& store, const std::string& run_id);

struct ReportFiles {
  std::string html, markdown, summary_csv, samples_csv, per_task_csv;
};

// Writes report.html, report.md, summary.csv, samples.csv and per_task.csv
// into out_dir (created).
ReportFiles write_report(store::Store& store, const std::vector<std::string>& run_ids, const std::string& out_dir,
                         const std::string& title = "lcte report");

// The pieces, for tests and for the dashboard.
std::string render_html(const std::vector<RunView>& runs, const std::string& title);
std::string render_markdown(const std::vector<RunView>& runs, const std::string& title);
std::string summary_csv(const std::vector<RunView>& runs);
std::string per_task_csv(const std::vector<RunView>& runs);

}  // namespace lcte::report
