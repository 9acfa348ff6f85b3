#include "experiment/eval_run.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/sha256.h"
#include "eval/io.h"
#include "measure/machine.h"
#include "report/report.h"

namespace lcte::experiment {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<double> known(double x) { return std::isfinite(x) ? std::optional<double>(x) : std::nullopt; }

// Where a resumed run lives, resolved the way eval::resume_eval does, so the
// store row and the run directory share one id.
std::string resumed_run_id(const std::string& run, const std::string& out_dir) {
  fs::path dir = run;
  if (!fs::is_regular_file(dir / "run.sqlite")) dir = fs::path(out_dir) / run;
  dir = dir.lexically_normal();
  std::string id = dir.filename().string();
  return id.empty() ? dir.parent_path().filename().string() : id;
}

std::optional<std::string> store_run_for(store::Store& store, const std::string& run_dir) {
  store::RunFilter f;
  f.kind = "eval";
  for (const store::RunRecord& r : store.list_runs(f))
    if (r.run_dir == run_dir) return r.id;
  return std::nullopt;
}

std::string unused_id(store::Store& store, const std::string& wanted) {
  std::set<std::string> ids;
  for (const store::RunRecord& r : store.list_runs()) ids.insert(r.id);
  std::string id = wanted;
  for (int i = 2; ids.count(id); ++i) id = wanted + "-" + std::to_string(i);
  return id;
}

store::RunRecord run_record(const eval::EvalConfig& c, const std::string& id) {
  store::RunRecord r = new_run_record("eval", c.suite + " " + (c.model.empty() ? c.backend : c.model), c.to_json());
  r.id = id;
  r.model_name = c.model.empty() ? c.backend : c.model;
  // A model given as a file is identified by its content, not its name.
  if (!c.model.empty() && fs::is_regular_file(c.model)) {
    r.model_path = fs::absolute(c.model).string();
    r.model_sha256 = lcte::sha256_file_hex(c.model);
  } else if (!c.samples_file.empty() && fs::is_regular_file(c.samples_file)) {
    r.model_path = fs::absolute(c.samples_file).string();
    r.model_sha256 = lcte::sha256_file_hex(c.samples_file);
  }
  return r;
}

}  // namespace

store::StoredDecision stored_decision(const route::DecisionRecord& d, std::optional<std::string> run_id) {
  store::StoredDecision s;
  s.run_id = std::move(run_id);
  s.time = d.time;
  s.query_hash = d.query_hash;
  s.n_tokens = d.n_tokens;
  s.n_tokens_at_least = d.n_tokens_at_least;
  s.tokenizer = d.tokenizer;
  s.features = json(d.features);
  s.score = d.score;
  s.policy = d.policy;
  s.policy_version = d.policy_version;
  s.tier = d.tier;
  s.override_applied = d.override_applied;
  s.decision_us = d.decision_us;
  s.reason = d.reason;
  s.outcome = d.outcome;
  return s;
}

store::StoredSample stored_sample(const eval::SampleRow& row, const std::string& suite, const std::string& model,
                                  double temperature) {
  store::StoredSample s;
  s.suite = suite;
  s.task_id = row.task_id;
  s.model = model;
  s.sample_index = row.sample_index;
  s.temperature = temperature;
  s.status = row.status;
  s.passed = row.passed;
  s.error_type = row.error_type;
  s.prompt_tokens = row.prompt_tokens;
  s.completion_tokens = row.completion_tokens;
  s.ttft_s = known(row.time_to_first_token_s);
  s.tpot_s = known(row.time_per_output_token_s);
  s.latency_s = known(row.latency_s);
  s.exec_s = known(row.exec_seconds);
  s.completion = row.completion;
  return s;
}

EvalExperimentResult run_eval_experiment(const eval::EvalConfig& config, eval::SessionOptions session,
                                         const EvalExperimentOptions& options, const std::string& resume,
                                         const json& given) {
  EvalExperimentResult result;
  if (options.store_path.empty()) {
    result.session = resume.empty() ? eval::run_eval(config, session) : eval::resume_eval(resume, given, session);
    return result;
  }

  // The run id must be fixed before the session starts so that rows can be
  // published as they are made.
  std::string run_id = !resume.empty()          ? resumed_run_id(resume, session.out_dir)
                       : session.run_id.empty() ? eval::make_run_id(config.suite, config.backend)
                                                : session.run_id;
  session.run_id = resume.empty() ? run_id : "";
  std::string run_dir = resume.empty() ? fs::absolute(fs::path(session.out_dir) / run_id).string()
                                       : fs::absolute(fs::is_regular_file(fs::path(resume) / "run.sqlite")
                                                          ? fs::path(resume)
                                                          : fs::path(session.out_dir) / resume)
                                             .string();
  store::Store store(options.store_path);
  // A store row belongs to one run directory: a resumed run finds its row by
  // directory, and a new run whose name an older run in the store already
  // has (another --out, say) gets a suffixed id rather than the older row.
  std::optional<std::string> existing = resume.empty() ? std::nullopt : store_run_for(store, run_dir);
  std::string store_id = existing ? *existing : unused_id(store, run_id);
  store::RunRecord record = run_record(config, store_id);
  record.experiment = options.experiment;
  record.run_dir = run_dir;
  RunRecorder recorder(store, record, options.recorder, existing.has_value());
  result.store_run_id = store_id;

  std::string model = record.model_name;
  std::string suite = config.suite;
  double temperature = config.temperature;
  session.on_decision = [&](const route::RouteResult& r, const std::string& text) {
    store.add_decision(stored_decision(route::to_record(r, text), store_id));
  };
  session.on_sample = [&](const eval::SampleRow& row) {
    recorder.add_sample(stored_sample(row, suite, model, temperature));
  };
  try {
    result.session = resume.empty() ? eval::run_eval(config, session) : eval::resume_eval(resume, given, session);
  } catch (const std::exception& e) {
    recorder.fail(e.what());
    throw;
  }

  // A resumed run's earlier rows were made by another process: publish them all.
  eval::RunDatabase run_db = eval::RunDatabase::open(result.session.run_dir);
  int64_t tokens = 0, passed = 0;
  for (const eval::SampleRow& row : run_db.rows()) {
    if (!resume.empty()) recorder.add_sample(stored_sample(row, suite, model, temperature));
    if (row.completion_tokens > 0) tokens += row.completion_tokens;
    passed += row.passed;
  }
  json& summary = result.session.summary;
  int64_t tasks = summary.value("tasks", 0);
  bool complete = summary.value("complete", false);
  summary = recorder.finish(summary, tokens, passed, tasks, complete ? "finished" : "incomplete");
  eval::write_file_atomic((fs::path(result.session.run_dir) / "summary.json").string(), summary.dump(2) + "\n");

  if (options.write_report) {
    result.report_dir = (fs::path(result.session.run_dir) / "report").string();
    report::ReportFiles files = report::write_report(store, {store_id}, result.report_dir, "lcte eval " + run_id);
    store.add_artifact(store_id, {"report.html", files.html, "report"});
    store.add_artifact(store_id, {"samples.csv", (fs::path(result.session.run_dir) / "samples.csv").string(), "csv"});
  }
  return result;
}

}  // namespace lcte::experiment
