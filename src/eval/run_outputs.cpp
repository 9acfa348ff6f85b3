#include "eval/run_outputs.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "eval/passk.h"

namespace lcte::eval {
using json = nlohmann::json;

std::vector<SampleRow> order_rows(const Suite& suite, std::vector<SampleRow> rows) {
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < suite.tasks.size(); i++) position[suite.tasks[i].task_id] = i;
  auto key = [&](const SampleRow& row) {
    auto it = position.find(row.task_id);
    return std::make_pair(it == position.end() ? suite.tasks.size() : it->second, row.sample_index);
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const SampleRow& a, const SampleRow& b) { return key(a) < key(b); });
  return rows;
}

namespace {

std::string number(double value) { return std::isnan(value) ? std::string() : fmt::format("{:.6g}", value); }
std::string number(int value) { return value < 0 ? std::string() : std::to_string(value); }

json optional_number(double value) { return std::isnan(value) ? json(nullptr) : json(value); }

struct Stats {
  double mean = std::nan(""), p50 = std::nan(""), p95 = std::nan(""), total = 0;
};

Stats stats_of(std::vector<double> values) {
  Stats s;
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }), values.end());
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  for (double v : values) s.total += v;
  s.mean = s.total / double(values.size());
  // Nearest-rank percentiles.
  auto rank = [&](double p) { return values[size_t(std::ceil(p * double(values.size()))) - 1]; };
  s.p50 = rank(0.50);
  s.p95 = rank(0.95);
  return s;
}

json stats_json(const Stats& s) {
  return {{"mean", optional_number(s.mean)}, {"p50", optional_number(s.p50)}, {"p95", optional_number(s.p95)}};
}

}  // namespace

std::string samples_csv(const std::string& suite, const std::string& model, double temperature,
                        const std::vector<SampleRow>& rows) {
  std::string out =
      "suite,task_id,model,sample_index,temperature,status,passed,error_type,prompt_tokens,completion_tokens,"
      "ttft_s,tpot_s,latency_s,exec_s,completion,isolation,notes\n";
  for (const auto& row : rows) {
    std::vector<std::string> fields = {csv_field(suite),
                                       csv_field(row.task_id),
                                       csv_field(model),
                                       std::to_string(row.sample_index),
                                       number(temperature),
                                       row.status,
                                       row.passed ? "1" : "0",
                                       csv_field(row.error_type),
                                       number(row.prompt_tokens),
                                       number(row.completion_tokens),
                                       number(row.time_to_first_token_s),
                                       number(row.time_per_output_token_s),
                                       number(row.latency_s),
                                       number(row.exec_seconds),
                                       csv_field(row.completion),
                                       csv_field(row.isolation),
                                       csv_field(row.notes)};
    for (size_t i = 0; i < fields.size(); i++) out += (i ? "," : "") + fields[i];
    out += "\n";
  }
  return out;
}

json summarize(const SummaryInput& input) {
  const Suite& suite = *input.suite;
  std::map<std::string, std::vector<const SampleRow*>> by_task;
  for (const auto& row : input.rows) by_task[row.task_id].push_back(&row);

  std::vector<TaskCounts> counts;
  json per_task = json::array();
  size_t planned = 0, present = 0;
  for (const PlanItem& item : input.plan) {
    const Task& task = suite.tasks.at(item.task_index);
    TaskCounts tc{task.task_id, 0, 0};
    json statuses = json::object();
    for (const SampleRow* row : by_task[task.task_id]) {
      if (row->sample_index >= item.n) continue;
      tc.n++;
      tc.c += row->passed ? 1 : 0;
      statuses[row->status] = statuses.value(row->status, 0) + 1;
    }
    planned += size_t(item.n);
    present += size_t(tc.n);
    json entry = {{"task_id", task.task_id}, {"n", tc.n}, {"c", tc.c}, {"statuses", statuses}};
    for (int k : input.ks) {
      auto value = pass_at_k(tc.n, tc.c, k);
      entry["pass@" + std::to_string(k)] = value ? json(*value) : json(nullptr);
    }
    if (!task.mutation.empty()) entry["mutation"] = task.mutation;
    per_task.push_back(entry);
    counts.push_back(tc);
  }

  json pass_at = json::object(), not_computable = json::object();
  for (int k : input.ks) {
    SuitePassAtK result = suite_pass_at_k(counts, k);
    std::string name = "pass@" + std::to_string(k);
    pass_at[name] = result.value ? json(*result.value) : json(nullptr);
    if (!result.value) not_computable[name] = result.reason;
  }

  json status_counts = {{"passed", 0},  {"failed", 0},        {"error", 0}, {"syntax_error", 0},
                        {"timeout", 0}, {"out_of_memory", 0}, {"killed", 0}};
  std::map<std::string, int> error_types, isolation;
  int redefined_helpers = 0;
  std::vector<double> exec, latency, ttft, tpot;
  for (const auto& row : input.rows) {
    status_counts[row.status] = status_counts.value(row.status, 0) + 1;
    if (!row.error_type.empty()) error_types[row.error_type]++;
    isolation[row.isolation.empty() ? "unrecorded" : row.isolation]++;
    redefined_helpers += row.notes.find("redefined=") != std::string::npos;
    exec.push_back(row.exec_seconds);
    latency.push_back(row.latency_s);
    ttft.push_back(row.time_to_first_token_s);
    tpot.push_back(row.time_per_output_token_s);
  }
  double rate = input.session.wall_seconds > 0 ? double(input.session.executed) / input.session.wall_seconds : 0;
  json summary = {{"run_id", input.run_id},
                  {"suite", input.config.value("suite", suite.name)},
                  {"backend", input.config.value("backend", "")},
                  {"model", input.config.value("model", "")},
                  {"tasks", input.plan.size()},
                  {"samples", present},
                  {"samples_planned", planned},
                  {"complete", present == planned},
                  {"pass_at_k", pass_at},
                  {"status_counts", status_counts},
                  {"error_types", error_types},
                  // samples per isolation level that confined them: a run is only as
                  // trustworthy as its weakest sample
                  {"isolation", isolation},
                  {"samples_redefining_prompt_helpers", redefined_helpers},
                  {"timings",
                   {{"session_wall_seconds", input.session.wall_seconds},
                    {"session_samples", input.session.executed},
                    {"session_samples_per_second", rate},
                    {"exec_seconds", stats_json(stats_of(exec))},
                    {"latency_seconds", stats_json(stats_of(latency))},
                    {"ttft_seconds", stats_json(stats_of(ttft))},
                    {"tpot_seconds", stats_json(stats_of(tpot))}}},
                  {"config", input.config},
                  {"per_task", per_task}};
  if (!not_computable.empty()) summary["pass_at_k_not_computable"] = not_computable;
  return summary;
}

std::string summary_table(const json& summary) {
  std::string out;
  out += fmt::format("run      {}\n", summary.value("run_id", ""));
  out += fmt::format("suite    {}   backend {}   model {}\n", summary.value("suite", ""), summary.value("backend", ""),
                     summary.value("model", ""));
  out += fmt::format("tasks    {}   samples {}/{}{}\n", summary.value("tasks", 0), summary.value("samples", 0),
                     summary.value("samples_planned", 0), summary.value("complete", false) ? "" : "  (incomplete)");
  const json& not_computable =
      summary.contains("pass_at_k_not_computable") ? summary["pass_at_k_not_computable"] : json::object();
  // json objects iterate in text order (pass@10 before pass@5): sort by k.
  std::vector<std::pair<int, std::string>> names;
  for (const auto& item : summary["pass_at_k"].items()) names.emplace_back(std::stoi(item.key().substr(5)), item.key());
  std::sort(names.begin(), names.end());
  for (const auto& [k, name] : names) {
    const json& value = summary["pass_at_k"][name];
    if (value.is_null())
      out += fmt::format("{:<8} not computable: {}\n", name, not_computable.value(name, ""));
    else
      out += fmt::format("{:<8} {:.4f}\n", name, value.get<double>());
  }
  std::string statuses;
  for (const auto& [name, count] : summary["status_counts"].items())
    if (count.get<int>() > 0) statuses += fmt::format("{}{} {}", statuses.empty() ? "" : ", ", name, count.get<int>());
  out += fmt::format("status   {}\n", statuses.empty() ? "-" : statuses);
  if (summary.contains("isolation")) {
    std::string levels;
    for (const auto& [name, count] : summary["isolation"].items())
      levels += fmt::format("{}{} {}", levels.empty() ? "" : ", ", name, count.get<int>());
    if (!levels.empty()) out += fmt::format("sandbox  {}\n", levels);
  }
  const json& timings = summary["timings"];
  out +=
      fmt::format("time     {:.2f} s for {} samples ({:.1f} samples/s)", timings["session_wall_seconds"].get<double>(),
                  timings["session_samples"].get<size_t>(), timings["session_samples_per_second"].get<double>());
  const json& exec = timings["exec_seconds"];
  if (!exec["mean"].is_null())
    out += fmt::format(", exec mean {:.3f} s p95 {:.3f} s", exec["mean"].get<double>(), exec["p95"].get<double>());
  out += "\n";
  return out;
}

}  // namespace lcte::eval
