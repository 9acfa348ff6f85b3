#include "report/report.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "core/csv.h"
#include "core/error.h"
#include "core/file.h"
#include "report/svg_chart.h"

namespace lcte::report {
namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(std::optional<double> v, const char* f = "{:.4g}") {
  return v && std::isfinite(*v) ? fmt::format(fmt::runtime(f), *v) : std::string();
}

std::vector<int> all_ks(const std::vector<RunView>& runs) {
  std::set<int> ks;
  for (const RunView& r : runs)
    for (const auto& [k, v] : r.pass_at_k) ks.insert(k);
  return {ks.begin(), ks.end()};
}

std::vector<std::string> all_tasks(const std::vector<RunView>& runs) {
  std::vector<std::string> tasks;
  std::set<std::string> seen;
  for (const RunView& r : runs)
    for (const auto& [t, c] : r.per_task)
      if (seen.insert(t).second) tasks.push_back(t);
  // Natural order: "HumanEval/2" before "HumanEval/10".
  std::sort(tasks.begin(), tasks.end(), [](const std::string& a, const std::string& b) {
    auto split = [](const std::string& s) {
      size_t i = s.find_last_not_of("0123456789");
      std::string head = s.substr(0, i + 1);
      long n = i + 1 < s.size() ? std::stol(s.substr(i + 1, 15)) : -1;
      return std::make_pair(head, n);
    };
    return split(a) < split(b);
  });
  return tasks;
}

double agreement(const RunView& a, const RunView& b) {
  size_t same = 0, both = 0;
  for (const auto& [t, ca] : a.per_task) {
    auto it = b.per_task.find(t);
    if (it == b.per_task.end() || ca.second == 0 || it->second.second == 0) continue;
    bool pa = 2 * ca.first >= ca.second, pb = 2 * it->second.first >= it->second.second;
    same += pa == pb;
    ++both;
  }
  return both ? static_cast<double>(same) / static_cast<double>(both) : kNaN;
}

double mean_finite(const std::vector<double>& v) {
  double s = 0;
  size_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / static_cast<double>(n) : kNaN;
}

// The cost a run is charged in the accuracy-cost chart: energy per problem
// when measured or estimated, else mean latency, else mean execution time.
std::pair<double, std::string> cost_of(const RunView& r, bool use_energy, bool use_latency) {
  if (use_energy) return {r.energy_j.value_or(kNaN) / std::max<size_t>(r.per_task.size(), 1), "energy per problem (J)"};
  if (use_latency) return {mean_finite(r.latency_s), "mean latency per sample (s)"};
  return {mean_finite(r.exec_s), "mean execution time per sample (s)"};
}

}  // namespace

RunView load_run_view(store::Store& store, const std::string& run_id) {
  auto found = store.find_run(run_id);
  if (!found) fail("no run '{}' in {}", run_id, store.path());
  RunView v;
  v.run = *found;
  const json& s = v.run.summary;
  v.label = !v.run.model_name.empty() ? v.run.model_name : !v.run.name.empty() ? v.run.name : v.run.id;
  v.suite = s.value("suite", v.run.config.value("suite", ""));
  if (s.contains("pass_at_k") && s["pass_at_k"].is_object())
    for (const auto& [name, value] : s["pass_at_k"].items())
      if (value.is_number() && name.rfind("pass@", 0) == 0)
        v.pass_at_k[std::stoi(name.substr(5))] = value.get<double>();
  if (s.contains("energy") && s["energy"].is_object()) {
    const json& e = s["energy"];
    if (e.contains("total_joules") && e["total_joules"].is_number()) v.energy_j = e["total_joules"].get<double>();
    v.energy_estimated = e.value("estimated", true);
  }
  for (const store::StoredSample& x : store.samples(v.run.id)) {
    v.latency_s.push_back(x.latency_s.value_or(kNaN));
    v.exec_s.push_back(x.exec_s.value_or(kNaN));
    auto& c = v.per_task[x.task_id];
    c.first += x.passed;
    c.second += 1;
    v.samples++;
    v.passed += x.passed;
    if (x.completion_tokens > 0) v.completion_tokens += x.completion_tokens;
  }
  for (const store::MetricPoint& m : store.metrics(v.run.id, "peak_rss_bytes"))
    v.peak_rss_bytes = std::max(v.peak_rss_bytes.value_or(0), m.value);
  // Without stored pass@k (a run still going), pass@1 is the mean per-task pass rate.
  if (v.pass_at_k.empty() && !v.per_task.empty()) {
    double sum = 0;
    for (const auto& [t, c] : v.per_task) sum += static_cast<double>(c.first) / c.second;
    v.pass_at_k[1] = sum / static_cast<double>(v.per_task.size());
  }
  return v;
}

std::string summary_csv(const std::vector<RunView>& runs) {
  std::vector<int> ks = all_ks(runs);
  std::string out = "run_id,label,suite,samples,passed";
  for (int k : ks) out += fmt::format(",pass@{}", k);
  out +=
      ",latency_p50_s,latency_p90_s,latency_p99_s,exec_p50_s,energy_j,energy_estimated,energy_per_1k_tokens_j,energy_"
      "per_pass_j,peak_rss_bytes\n";
  for (const RunView& r : runs) {
    out +=
        fmt::format("{},{},{},{},{}", csv_field(r.run.id), csv_field(r.label), csv_field(r.suite), r.samples, r.passed);
    for (int k : ks) out += "," + (r.pass_at_k.count(k) ? fmt::format("{:.6g}", r.pass_at_k.at(k)) : std::string());
    std::optional<double> per_1k, per_pass;
    if (r.energy_j && r.completion_tokens > 0) per_1k = *r.energy_j * 1000.0 / static_cast<double>(r.completion_tokens);
    if (r.energy_j && r.passed > 0) per_pass = *r.energy_j / static_cast<double>(r.passed);
    out +=
        fmt::format(",{},{},{},{},{},{},{},{},{}\n", num(percentile(r.latency_s, 50)), num(percentile(r.latency_s, 90)),
                    num(percentile(r.latency_s, 99)), num(percentile(r.exec_s, 50)), num(r.energy_j),
                    r.energy_j ? (r.energy_estimated ? "1" : "0") : "", num(per_1k), num(per_pass),
                    num(r.peak_rss_bytes, "{:.0f}"));
  }
  return out;
}

std::string per_task_csv(const std::vector<RunView>& runs) {
  std::string out = "task_id";
  for (const RunView& r : runs) out += "," + csv_field(r.run.id + " passed") + "," + csv_field(r.run.id + " samples");
  out += "\n";
  for (const std::string& t : all_tasks(runs)) {
    out += csv_field(t);
    for (const RunView& r : runs) {
      auto it = r.per_task.find(t);
      out += it == r.per_task.end() ? ",," : fmt::format(",{},{}", it->second.first, it->second.second);
    }
    out += "\n";
  }
  return out;
}

std::string render_markdown(const std::vector<RunView>& runs, const std::string& title) {
  std::vector<int> ks = all_ks(runs);
  std::string md = "# " + title + "\n\n";
  md += "| run | model | suite | samples |";
  for (int k : ks) md += fmt::format(" pass@{} |", k);
  md += " latency p50 (s) | latency p90 (s) | energy (J) |\n|---|---|---|---|";
  for (size_t i = 0; i < ks.size(); ++i) md += "---|";
  md += "---|---|---|\n";
  for (const RunView& r : runs) {
    md += fmt::format("| {} | {} | {} | {} |", r.run.id, r.label, r.suite, r.samples);
    for (int k : ks) md += " " + (r.pass_at_k.count(k) ? fmt::format("{:.3f}", r.pass_at_k.at(k)) : "n/a") + " |";
    std::string energy =
        r.energy_j ? fmt::format("{:.1f}{}", *r.energy_j, r.energy_estimated ? " (estimate)" : "") : "-";
    md += fmt::format(" {} | {} | {} |\n",
                      num(percentile(r.latency_s, 50)).empty() ? "-" : num(percentile(r.latency_s, 50)),
                      num(percentile(r.latency_s, 90)).empty() ? "-" : num(percentile(r.latency_s, 90)), energy);
  }
  if (runs.size() > 1) {
    md += "\n## Per-problem agreement (share of problems both pass or both fail)\n\n|  |";
    for (const RunView& r : runs) md += " " + r.label + " |";
    md += "\n|---|";
    for (size_t i = 0; i < runs.size(); ++i) md += "---|";
    md += "\n";
    for (const RunView& a : runs) {
      md += "| " + a.label + " |";
      for (const RunView& b : runs)
        md += " " + (std::isfinite(agreement(a, b)) ? fmt::format("{:.2f}", agreement(a, b)) : "-") + " |";
      md += "\n";
    }
  }
  md += "\nEnergy marked \"estimate\" comes from CPU time and a power model, not from a meter.\n";
  return md;
}

std::string render_html(const std::vector<RunView>& runs, const std::string& title) {
  std::vector<int> ks = all_ks(runs);
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" + html_escape(title) +
       "</title>\n";
  h += "<style>body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1400px;padding:0 16px;color:#222}"
       "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
       "th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:"
       "16px}"
       ".chart{max-width:100%;height:auto;border:1px solid #eee}.grid td{padding:0;width:10px;height:10px;border:1px "
       "solid #fff}"
       ".p{background:#009E73}.f{background:#D55E00}.m{background:#eee}.h{background:#E69F00}.note{color:#555;font-"
       "size:90%}"
       "</style>\n</head>\n<body>\n";
  h += "<h1>" + html_escape(title) + "</h1>\n";
  h += "<h2>Summary</h2>\n<table>\n<tr><th>run</th><th>model</th><th>suite</th><th>samples</th>";
  for (int k : ks) h += fmt::format("<th>pass@{}</th>", k);
  h += "<th>latency p50 (s)</th><th>latency p90 (s)</th><th>energy (J)</th></tr>\n";
  for (const RunView& r : runs) {
    h += "<tr><td>" + html_escape(r.run.id) + "</td><td>" + html_escape(r.label) + "</td><td>" + html_escape(r.suite) +
         "</td><td>" + std::to_string(r.samples) + "</td>";
    for (int k : ks) h += "<td>" + (r.pass_at_k.count(k) ? fmt::format("{:.3f}", r.pass_at_k.at(k)) : "n/a") + "</td>";
    std::string p50 = num(percentile(r.latency_s, 50)), p90 = num(percentile(r.latency_s, 90));
    h += "<td>" + (p50.empty() ? "-" : p50) + "</td><td>" + (p90.empty() ? "-" : p90) + "</td><td>" +
         (r.energy_j ? fmt::format("{:.1f}{}", *r.energy_j, r.energy_estimated ? " (estimate)" : "") : "-") +
         "</td></tr>\n";
  }
  h += "</table>\n<div class=\"charts\">\n";

  std::vector<std::string> labels;
  for (const RunView& r : runs) labels.push_back(r.label);
  std::vector<BarSeries> pk;
  for (int k : ks) {
    BarSeries s{fmt::format("pass@{}", k), {}};
    for (const RunView& r : runs) s.values.push_back(r.pass_at_k.count(k) ? r.pass_at_k.at(k) : kNaN);
    pk.push_back(s);
  }
  h += bar_chart("pass@k per model", labels, pk, {"pass@k (fraction of problems)", 0.0, 1.0});

  bool any_latency = false, any_energy = false, any_mem = false;
  for (const RunView& r : runs) {
    any_latency = any_latency || std::isfinite(mean_finite(r.latency_s));
    any_energy = any_energy || r.energy_j.has_value();
    any_mem = any_mem || r.peak_rss_bytes.has_value();
  }
  std::vector<BoxStats> boxes;
  for (const RunView& r : runs) boxes.push_back(box_stats(r.label, any_latency ? r.latency_s : r.exec_s));
  h += box_chart(any_latency ? "Latency per sample" : "Execution time per sample", boxes,
                 {any_latency ? "end-to-end latency (s)" : "sandbox execution time (s)", {}, {}});
  if (any_energy || any_mem) {
    std::vector<BarSeries> e;
    if (any_energy) {
      BarSeries s{"energy per problem (J)", {}};
      for (const RunView& r : runs)
        s.values.push_back(r.energy_j ? *r.energy_j / std::max<size_t>(r.per_task.size(), 1) : kNaN);
      h += bar_chart("Energy per problem", labels, {s}, {"joules per problem", {}, {}});
    }
    if (any_mem) {
      BarSeries s{"peak RSS (MiB)", {}};
      for (const RunView& r : runs) s.values.push_back(r.peak_rss_bytes ? *r.peak_rss_bytes / 1048576.0 : kNaN);
      h += bar_chart("Peak memory", labels, {s}, {"MiB", {}, {}});
    }
  }
  if (runs.size() > 1) {
    std::vector<ScatterPoint> pts;
    std::string xlabel;
    for (const RunView& r : runs) {
      auto [c, label] = cost_of(r, any_energy, any_latency);
      xlabel = label;
      pts.push_back({r.label, c, r.pass_at_k.count(1) ? r.pass_at_k.at(1) : kNaN, r.label});
    }
    std::vector<size_t> order(pts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pts[a].x < pts[b].x; });
    std::vector<size_t> front;
    double best = -1;
    for (size_t i : order)
      if (std::isfinite(pts[i].x) && std::isfinite(pts[i].y) && pts[i].y > best) front.push_back(i), best = pts[i].y;
    h += scatter_chart("Accuracy against cost", pts, front, {xlabel, {}, {}}, {"pass@1", {}, {}});
  }
  h += "</div>\n";

  if (runs.size() > 1) {
    h += "<h2>Per-problem agreement</h2>\n<p class=\"note\">Share of problems on which two runs agree (both pass or "
         "both fail; a problem passes when at least half its samples pass).</p>\n<table>\n<tr><th></th>";
    for (const RunView& r : runs) h += "<th>" + html_escape(r.label) + "</th>";
    h += "</tr>\n";
    for (const RunView& a : runs) {
      h += "<tr><td>" + html_escape(a.label) + "</td>";
      for (const RunView& b : runs)
        h += "<td>" + (std::isfinite(agreement(a, b)) ? fmt::format("{:.2f}", agreement(a, b)) : "-") + "</td>";
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  h += "<h2>Which model passed what</h2>\n<p class=\"note\">One column per problem; green: all samples passed, orange: "
       "some, red: none, grey: not run.</p>\n<table class=\"grid\">\n";
  std::vector<std::string> tasks = all_tasks(runs);
  for (const RunView& r : runs) {
    h += "<tr><th>" + html_escape(r.label) + "</th>";
    for (const std::string& t : tasks) {
      auto it = r.per_task.find(t);
      std::string cls = it == r.per_task.end() || it->second.second == 0 ? "m"
                        : it->second.first == it->second.second          ? "p"
                        : it->second.first == 0                          ? "f"
                                                                         : "h";
      std::string tip =
          it == r.per_task.end() ? "not run" : fmt::format("{}/{} passed", it->second.first, it->second.second);
      h += "<td class=\"" + cls + "\" title=\"" + html_escape(t + ": " + tip) + "\"></td>";
    }
    h += "</tr>\n";
  }
  h += "</table>\n<p class=\"note\">pass@k is the unbiased estimator of Chen et al. (2021). Energy marked \"estimate\" "
       "comes from CPU time and a power model, not from a meter. Files: summary.csv, samples.csv, "
       "per_task.csv.</p>\n</body>\n</html>\n";
  return h;
}

ReportFiles write_report(store::Store& store, const std::vector<std::string>& run_ids, const std::string& out_dir,
                         const std::string& title) {
  if (run_ids.empty()) fail("a report needs at least one run");
  std::vector<RunView> runs;
  for (const std::string& id : run_ids) runs.push_back(load_run_view(store, id));
  std::filesystem::create_directories(out_dir);
  ReportFiles f{out_dir + "/report.html", out_dir + "/report.md", out_dir + "/summary.csv", out_dir + "/samples.csv",
                out_dir + "/per_task.csv"};
  write_file_atomic(f.html, render_html(runs, title));
  write_file_atomic(f.markdown, render_markdown(runs, title));
  write_file_atomic(f.summary_csv, summary_csv(runs));
  write_file_atomic(f.per_task_csv, per_task_csv(runs));
  std::string samples =
      "run_id,label,task_id,sample_index,status,passed,error_type,latency_s,exec_s,completion_tokens\n";
  for (const RunView& r : runs)
    for (const store::StoredSample& x : store.samples(r.run.id))
      samples += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", csv_field(r.run.id), csv_field(r.label),
                             csv_field(x.task_id), x.sample_index, x.status, x.passed ? 1 : 0, csv_field(x.error_type),
                             num(x.latency_s), num(x.exec_s), x.completion_tokens);
  write_file_atomic(f.samples_csv, samples);
  return f;
}

}  // namespace lcte::report
