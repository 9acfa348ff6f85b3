// lcte runs list|show|compare|export|rm: the experiment store from the shell.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/csv.h"
#include "core/error.h"
#include "store/mlflow_export.h"
#include "store/mlflow_rest.h"
#include "store/store.h"

namespace lcte::cli {
namespace {

using nlohmann::json;

// Summary numbers flattened to dotted names: "pass@k.1" -> 0.42.
std::map<std::string, double> flat_numbers(const json& j, const std::string& prefix = "") {
  std::map<std::string, double> out;
  std::function<void(const json&, const std::string&)> walk = [&](const json& v, const std::string& p) {
    if (v.is_number())
      out[p] = v.get<double>();
    else if (v.is_object())
      for (auto it = v.begin(); it != v.end(); ++it) walk(it.value(), p.empty() ? it.key() : p + "." + it.key());
  };
  walk(j, prefix);
  return out;
}

store::RunRecord require_run(store::Store& s, const std::string& id) {
  auto r = s.find_run(id);
  if (!r) fail("no run '{}' in {}", id, s.path());
  return *r;
}

void print_json(const json& j) { std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str()); }

}  // namespace

void add_runs_command(CLI::App& app) {
  auto* runs = app.add_subcommand("runs", "List, show, compare, export and remove runs in the experiment store");
  runs->require_subcommand(1);
  auto store_path = std::make_shared<std::string>(store::Store::default_path());
  runs->add_option("--store", *store_path, "Store database")->capture_default_str();

  auto* list = runs->add_subcommand("list", "Runs, newest first");
  auto filter = std::make_shared<store::RunFilter>();
  auto list_json = std::make_shared<bool>(false), list_csv = std::make_shared<bool>(false);
  list->add_option("--kind", filter->kind, "Only runs of this kind (eval, quantize, ...)");
  list->add_option("--experiment", filter->experiment, "Only runs of this experiment");
  list->add_option("--model", filter->model, "Only runs whose model name contains this");
  list->add_option("--limit", filter->limit, "At most this many");
  list->add_flag("--json", *list_json, "Print JSON");
  list->add_flag("--csv", *list_csv, "Print CSV");
  list->callback([=] {
    store::Store s(*store_path);
    auto rows = s.list_runs(*filter);
    if (*list_json) {
      json out = json::array();
      for (const auto& r : rows) out.push_back(store::to_json(r));
      print_json(out);
      return;
    }
    if (*list_csv) {
      std::printf("id,kind,experiment,model,status,started_at,finished_at\n");
      for (const auto& r : rows)
        std::printf("%s\n", fmt::format("{},{},{},{},{},{},{}", csv_field(r.id), r.kind, csv_field(r.experiment),
                                        csv_field(r.model_name), r.status, r.started_at, r.finished_at)
                                .c_str());
      return;
    }
    if (rows.empty()) {
      std::printf("no runs in %s\n", s.path().c_str());
      return;
    }
    std::printf("%-44s %-10s %-24s %-9s %s\n", "id", "kind", "model", "status", "started");
    for (const auto& r : rows)
      std::printf("%-44s %-10s %-24s %-9s %s\n", r.id.c_str(), r.kind.c_str(), r.model_name.substr(0, 24).c_str(),
                  r.status.c_str(), r.started_at.c_str());
  });

  auto* show = runs->add_subcommand("show", "One run: configuration, summary, parameters, artifacts");
  auto show_id = std::make_shared<std::string>();
  auto show_json = std::make_shared<bool>(false);
  show->add_option("run", *show_id, "Run id or unique prefix")->required();
  show->add_flag("--json", *show_json, "Print JSON");
  show->callback([=] {
    store::Store s(*store_path);
    store::RunRecord r = require_run(s, *show_id);
    json j = store::to_json(r);
    j["params"] = s.params(r.id);
    json arts = json::array();
    for (const auto& a : s.artifacts(r.id)) arts.push_back({{"name", a.name}, {"path", a.path}, {"kind", a.kind}});
    j["artifacts"] = arts;
    auto samples = s.samples(r.id);
    size_t passed = 0;
    for (const auto& x : samples) passed += x.passed;
    j["samples"] = {{"count", samples.size()}, {"passed", passed}};
    if (*show_json) {
      print_json(j);
      return;
    }
    std::printf(
        "run        %s\nkind       %s\nexperiment %s\nmodel      %s %s\nstatus     %s\nstarted    %s\nfinished   %s\n",
        r.id.c_str(), r.kind.c_str(), r.experiment.c_str(), r.model_name.c_str(),
        r.model_sha256.empty() ? "" : ("(sha256 " + r.model_sha256.substr(0, 16) + ")").c_str(), r.status.c_str(),
        r.started_at.c_str(), r.finished_at.c_str());
    std::printf("samples    %zu (%zu passed)\n", samples.size(), passed);
    std::printf("config     %s\n", r.config.dump().c_str());
    for (const auto& [k, v] : flat_numbers(r.summary)) std::printf("  %-40s %g\n", k.c_str(), v);
    for (const auto& a : s.artifacts(r.id)) std::printf("artifact   %s: %s\n", a.name.c_str(), a.path.c_str());
  });

  auto* compare = runs->add_subcommand("compare", "Summary figures of several runs side by side");
  auto compare_ids = std::make_shared<std::vector<std::string>>();
  auto compare_json = std::make_shared<bool>(false), compare_csv = std::make_shared<bool>(false);
  compare->add_option("runs", *compare_ids, "Run ids or prefixes")->required()->expected(2, 64);
  compare->add_flag("--json", *compare_json, "Print JSON");
  compare->add_flag("--csv", *compare_csv, "Print CSV");
  compare->callback([=] {
    store::Store s(*store_path);
    std::vector<store::RunRecord> rs;
    std::vector<std::map<std::string, double>> nums;
    std::set<std::string> keys;
    for (const std::string& id : *compare_ids) {
      rs.push_back(require_run(s, id));
      nums.push_back(flat_numbers(rs.back().summary));
      for (const auto& [k, v] : nums.back()) keys.insert(k);
    }
    if (*compare_json) {
      json out = json::object();
      for (const std::string& k : keys) {
        json row = json::object();
        for (size_t i = 0; i < rs.size(); ++i) row[rs[i].id] = nums[i].count(k) ? json(nums[i][k]) : json(nullptr);
        out[k] = row;
      }
      print_json(out);
      return;
    }
    std::string sep = *compare_csv ? "," : " | ";
    std::string header = "metric";
    for (const auto& r : rs) header += sep + (*compare_csv ? csv_field(r.id) : r.id);
    std::printf("%s\n", header.c_str());
    if (!*compare_csv) std::printf("%s\n", std::string(header.size(), '-').c_str());
    for (const std::string& k : keys) {
      std::string line = k;
      for (auto& n : nums) line += sep + (n.count(k) ? fmt::format("{:.6g}", n[k]) : std::string("-"));
      std::printf("%s\n", line.c_str());
    }
  });

  auto* exp = runs->add_subcommand("export", "A run's samples as CSV or JSON, or the run in MLflow's layout");
  auto exp_id = std::make_shared<std::string>();
  auto exp_json = std::make_shared<bool>(false);
  auto exp_mlflow = std::make_shared<std::string>();
  exp->add_option("run", *exp_id, "Run id or unique prefix")->required();
  auto* json_flag = exp->add_flag("--json", *exp_json, "Samples as JSON (default CSV)");
  // --csv names the default, so it binds to nothing: a bound bool would have to outlive this function.
  exp->add_flag("--csv")->description("Samples as CSV (the default)")->excludes(json_flag);
  exp->add_option("--mlflow", *exp_mlflow, "Write the run into this mlruns directory instead");
  auto exp_mlflow_uri = std::make_shared<std::string>();
  auto exp_mlflow_experiment = std::make_shared<std::string>();
  auto* uri_opt = exp->add_option("--mlflow-uri", *exp_mlflow_uri,
                                  "Log the run to this MLflow tracking server (http://HOST:PORT); credentials from "
                                  "MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD");
  uri_opt->excludes("--mlflow");
  exp->add_option("--mlflow-experiment", *exp_mlflow_experiment,
                  "MLflow experiment to log into (default: the run's experiment, else Default)")
      ->needs(uri_opt);
  exp->callback([=] {
    store::Store s(*store_path);
    store::RunRecord r = require_run(s, *exp_id);
    if (!exp_mlflow->empty()) {
      std::string dir = store::export_mlflow(s, r.id, *exp_mlflow);
      std::printf("%s\n", dir.c_str());
      return;
    }
    if (!exp_mlflow_uri->empty()) {
      store::MlflowRestOptions o;
      o.uri = *exp_mlflow_uri;
      o.experiment = *exp_mlflow_experiment;
      store::mlflow_credentials_from_env(o);
      store::MlflowRestResult res = store::export_mlflow_rest(s, r.id, o);
      std::fprintf(stderr, "logged %zu params, %zu metric points, %zu tags, %zu artifacts\n", res.params, res.metrics,
                   res.tags, res.artifacts);
      std::printf("%s\n", res.url.c_str());
      return;
    }
    auto samples = s.samples(r.id);
    auto opt = [](const std::optional<double>& v) { return v ? fmt::format("{:.6g}", *v) : std::string(); };
    if (*exp_json) {
      json out = json::array();
      for (const auto& x : samples)
        out.push_back({{"suite", x.suite},
                       {"task_id", x.task_id},
                       {"model", x.model},
                       {"sample_index", x.sample_index},
                       {"temperature", x.temperature},
                       {"status", x.status},
                       {"passed", x.passed},
                       {"error_type", x.error_type},
                       {"prompt_tokens", x.prompt_tokens},
                       {"completion_tokens", x.completion_tokens},
                       {"ttft_s", x.ttft_s ? json(*x.ttft_s) : json()},
                       {"tpot_s", x.tpot_s ? json(*x.tpot_s) : json()},
                       {"latency_s", x.latency_s ? json(*x.latency_s) : json()},
                       {"exec_s", x.exec_s ? json(*x.exec_s) : json()},
                       {"energy_j", x.energy_j ? json(*x.energy_j) : json()},
                       {"completion", x.completion}});
      print_json(out);
      return;
    }
    std::printf(
        "run_id,suite,task_id,model,sample_index,temperature,status,passed,error_type,prompt_tokens,"
        "completion_tokens,ttft_s,tpot_s,latency_s,exec_s,energy_j,completion\n");
    for (const auto& x : samples)
      std::printf("%s\n", fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}", csv_field(r.id),
                                      csv_field(x.suite), csv_field(x.task_id), csv_field(x.model), x.sample_index,
                                      x.temperature, x.status, x.passed ? 1 : 0, csv_field(x.error_type),
                                      x.prompt_tokens, x.completion_tokens, opt(x.ttft_s), opt(x.tpot_s),
                                      opt(x.latency_s), opt(x.exec_s), opt(x.energy_j), csv_field(x.completion))
                              .c_str());
  });

  auto* rm = runs->add_subcommand("rm", "Remove runs and everything that belongs to them");
  auto rm_ids = std::make_shared<std::vector<std::string>>();
  rm->add_option("runs", *rm_ids, "Run ids (full ids only)")->required();
  rm->callback([=] {
    store::Store s(*store_path);
    for (const std::string& id : *rm_ids) {
      if (!s.delete_run(id)) fail("no run '{}' in {} (rm takes full ids)", id, s.path());
      std::printf("removed %s\n", id.c_str());
    }
  });
}

}  // namespace lcte::cli
