// lcte eval: score a model's code on HumanEval/MBPP (or a user suite) by
// executing its completions in the sandbox; pass@k, samples.csv,
// summary.json, resumable runs. The work is in eval/session.h.
#include <cstdio>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/usage.h"
#include "core/error.h"
#include "core/progress.h"
#include "eval/passk.h"
#include "eval/run_database.h"
#include "eval/run_outputs.h"
#include "eval/samples_file.h"
#include "eval/session.h"
#include "experiment/eval_run.h"
#include "store/store.h"

namespace lcte::cli {
namespace {

struct EvalArgs {
  eval::EvalConfig config;
  std::string k_text;
  std::string tasks_text;
  std::string out_dir = "runs";
  std::string run_id;
  std::string resume;
  int workers = 0;
  int max_sequences = 32;
  int64_t prefill_chunk = 256;
  int threads = 0;
  int max_in_flight = 8;
  int retries = 4;
  double request_timeout = 600;
  bool no_stream = false;
  bool json = false;
  bool offline = false;
  std::string isolation = "auto";
  experiment::EvalExperimentOptions publish;
  bool no_store = false;
  bool human_eval_results = false;
};

// human-eval's <samples>_results.jsonl beside the run's samples.csv; the line that says so.
std::string write_human_eval_results(const std::string& run_dir) {
  eval::RunDatabase store = eval::RunDatabase::open(run_dir);
  const std::string samples = store.config().value("samples_file", "");
  const std::string path = eval::human_eval_results_path(run_dir, samples);
  size_t n = eval::write_human_eval_results(path, samples, store.rows());
  return "results  " + path + " (" + std::to_string(n) + " samples, human-eval's format)\n";
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    if (!item.empty()) items.push_back(item);
    start = comma + 1;
  }
  return items;
}

// The runner's counts drawn by the one progress reporter (core/progress.h).
class EvalProgress {
 public:
  EvalProgress() : progress_(Progress::to_stream(stderr, "eval", "samples")) {}
  void operator()(const eval::Progress& p) {
    if (!progress_.started()) progress_.start(p.total, p.skipped);
    const std::string passed =
        "passed " + std::to_string(p.passed) + (p.failed ? ", failed " + std::to_string(p.failed) : "");
    progress_.update(p.done, passed);
  }

 private:
  Progress progress_;
};

void run(CLI::App& command, EvalArgs& args) {
  if (!args.k_text.empty()) args.config.k = eval::parse_k_list(args.k_text);
  if (!args.tasks_text.empty()) args.config.tasks = split_commas(args.tasks_text);

  eval::SessionOptions options;
  options.out_dir = args.out_dir;
  options.run_id = args.run_id;
  options.workers = args.workers;
  options.engine_threads = args.threads;
  options.engine_max_sequences = args.max_sequences;
  options.engine_prefill_chunk = args.prefill_chunk;
  options.http.max_in_flight = args.max_in_flight;
  options.http.max_retries = args.retries;
  options.http.request_timeout_s = args.request_timeout;
  options.http.stream = !args.no_stream;
  options.where.allow_download = !args.offline;
  options.isolation = args.isolation;
  auto printer = std::make_shared<EvalProgress>();
  options.progress = [printer](const eval::Progress& p) { (*printer)(p); };

  if (args.no_store) args.publish.store_path.clear();
  if (args.publish.store_path.empty()) args.publish.write_report = false;
  experiment::EvalExperimentResult published;
  if (!args.resume.empty()) {
    // Only what the user passed again is compared with the stored configuration.
    static const std::map<std::string, std::string> kOptionKeys = {{"--suite", "suite"},
                                                                   {"--split", "split"},
                                                                   {"--split-sizes", "split_sizes"},
                                                                   {"--tasks", "tasks"},
                                                                   {"--limit", "limit"},
                                                                   {"--backend", "backend"},
                                                                   {"--model", "model"},
                                                                   {"--samples", "samples_file"},
                                                                   {"--n", "n"},
                                                                   {"--k", "k"},
                                                                   {"--temperature", "temperature"},
                                                                   {"--top-p", "top_p"},
                                                                   {"--max-tokens", "max_tokens"},
                                                                   {"--timeout", "timeout"},
                                                                   {"--seed", "seed"},
                                                                   {"--style", "style"},
                                                                   {"--few-shot", "few_shot"},
                                                                   {"--base-url", "base_url"},
                                                                   {"--api-key-env", "api_key_env"},
                                                                   {"--ctx", "ctx"},
                                                                   {"--config", "catalogue"},
                                                                   {"--policy", "policy"},
                                                                   {"--min-time-limit", "min_time_limit"},
                                                                   {"--gt-time-limit-factor", "time_limit_factor"}};
    nlohmann::json all = args.config.to_json(), given = nlohmann::json::object();
    for (const auto& [flag, key] : kOptionKeys)
      if (command.count(flag) > 0) given[key] = all[key];
    if (command.count("--run-id") > 0) fail("--run-id cannot be combined with --resume");
    published = experiment::run_eval_experiment(args.config, options, args.publish, args.resume, given);
  } else {
    if (command.count("--suite") == 0 || command.count("--backend") == 0)
      fail("--suite and --backend are required (unless --resume)");
    published = experiment::run_eval_experiment(args.config, options, args.publish);
  }
  const eval::SessionResult& result = published.session;
  const std::string results_line = args.human_eval_results ? write_human_eval_results(result.run_dir) : "";

  if (args.json) {
    std::printf("%s\n", result.summary.dump(2).c_str());
    std::fputs(results_line.c_str(), stderr);  // stdout holds only the JSON
  } else {
    std::printf("%s", eval::summary_table(result.summary).c_str());
    std::printf("output   %s (samples.csv, summary.json, run.sqlite)\n", result.run_dir.c_str());
    if (result.summary.contains("energy")) {
      const auto& e = result.summary["energy"];
      std::printf("energy   %.4g Wh%s; %s\n", e.value("watt_hours", 0.0),
                  e.value("estimated", true) ? " (estimate)" : "", e.value("source", "").c_str());
    }
    if (!args.publish.store_path.empty())
      std::printf("store    %s (run %s)\n", args.publish.store_path.c_str(), published.store_run_id.c_str());
    if (!published.report_dir.empty()) std::printf("report   %s/report.html\n", published.report_dir.c_str());
    std::fputs(results_line.c_str(), stdout);
  }
  if (!result.failures.empty()) {
    const eval::SampleFailure& f = result.failures.front();
    fail(
        "{} sample(s) could not be generated (first: {} sample {}: {}); the finished samples are kept in {}; "
        "ask for the rest with --resume {}",
        result.failures.size(), f.task_id, f.sample_index, f.message, result.run_dir, result.run_dir);
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* command = app.add_subcommand("eval", "Score code completions by running the suite's tests (pass@k)");
  auto& c = args->config;
  command->add_option("--suite", c.suite,
                      "humaneval, mbpp, mbpp-sanitized, humaneval+, mbpp+, humaneval-fix, mbpp-fix, "
                      "mbpp-sanitized-fix, or a suite file (.jsonl: lcte, HumanEval or EvalPlus records)");
  command->add_option("--backend", c.backend,
                      "canonical (reference solutions), file (--samples), engine (--model FILE.gguf) or http "
                      "(--base-url, --model)");
  command->add_option("--model", c.model,
                      "engine: the GGUF file; http: the server's model name; otherwise a label for the reports");
  command->add_option("--config", c.catalogue, "router: the model catalogue whose tiers and [routing] the router uses");
  command->add_option("--policy", c.policy,
                      "router: threshold, learned, random or always-<tier> (default: the catalogue's)");
  command->add_option("--base-url", c.base_url, "http: the OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1");
  command->add_option("--api-key-env", c.api_key_env, "http: environment variable holding the API key");
  command->add_option("--max-in-flight", args->max_in_flight, "http: most requests at once")->capture_default_str();
  command->add_option("--retries", args->retries, "http: retries after a failed attempt (429, 5xx, connection)")
      ->capture_default_str();
  command->add_option("--request-timeout", args->request_timeout, "http: seconds per request")->capture_default_str();
  command->add_flag("--no-stream", args->no_stream, "http: ask for whole responses instead of SSE streams");
  command->add_option("--ctx", c.ctx, "engine: context size (prompt + completion)")->capture_default_str();
  command->add_option("--threads", args->threads, "engine: threads for the forward pass (default: cores, at most 8)");
  command
      ->add_option("--max-seqs", args->max_sequences,
                   "engine: most samples decoded together over the workers' requests (1: one at a time)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  command
      ->add_option("--prefill-chunk", args->prefill_chunk,
                   "engine: most prompt tokens prefilled between two decode steps (0: a prompt at once)")
      ->capture_default_str()
      ->check(prefill_chunk_validator());
  command->add_option("--samples", c.samples_file,
                      "Samples for --backend file: human-eval JSONL ({\"task_id\", \"completion\"}), EvalPlus JSONL "
                      "({\"task_id\", \"solution\"}) or EvalPlus's folder (<task_id with / as _>/<n>.py)");
  command->add_option("--n", c.n, "Samples per task (default 1, or all in the samples file)");
  command->add_option("--k", args->k_text, "pass@k values, e.g. 1,5,10 (default 1 and 10/100 where n allows)");
  command->add_option("--temperature", c.temperature, "Sampling temperature")->capture_default_str();
  command->add_option("--top-p", c.top_p, "Nucleus sampling threshold")->capture_default_str();
  command->add_option("--max-tokens", c.max_tokens, "Most tokens per completion")->capture_default_str();
  command->add_option("--workers", args->workers,
                      "Parallel samples (default: number of cores; http: at least --max-in-flight)");
  command->add_option("--timeout", c.timeout, "Seconds per sample (wall clock and CPU)")->capture_default_str();
  command->add_option("--limit", c.limit, "Only the first N selected tasks");
  command->add_option("--tasks", args->tasks_text, "Only these task ids, comma-separated (Mbpp/11 or 11)");
  command->add_option("--split", c.split,
                      "test, validation, train, prompt or all (MBPP: 11-510, 511-600, 601-974, 1-10)");
  command->add_option("--split-sizes", c.split_sizes, "A seeded custom split TRAIN/VALIDATION/TEST, e.g. 800/100/74");
  command->add_option("--seed", c.seed, "Seed for custom splits, injected bugs and sampling")->capture_default_str();
  command->add_option("--style", c.style, "completion (raw prompt) or instruct (chat messages)")->capture_default_str();
  command->add_option("--few-shot", c.few_shot, "MBPP: 0-3 solved examples (tasks 2, 3, 4) before the task");
  command
      ->add_option("--min-time-limit", c.min_time_limit,
                   "humaneval+/mbpp+: least seconds an input may take (EvalPlus's --min-time-limit)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--gt-time-limit-factor", c.time_limit_factor,
                   "humaneval+/mbpp+: an input may take this many times the reference's time (EvalPlus's flag)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--out", args->out_dir, "Directory for runs")->capture_default_str();
  command->add_option("--run-id", args->run_id, "Name of the run directory (default: generated)");
  command->add_option("--resume", args->resume, "Continue the run in this directory (or with this id under --out)");
  command->add_flag("--json", args->json, "Print summary.json instead of the table");
  command->add_flag(
      "--human-eval-results", args->human_eval_results,
      "Also write human-eval's <samples>_results.jsonl (each sample with result and passed) in the run directory");
  command->add_flag("--offline", args->offline, "Never download datasets");
  command
      ->add_option(
          "--isolation", args->isolation,
          "Sandbox isolation for samples: auto (refuses without namespaces), namespaces, user-namespaces or processes")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "namespaces", "user-namespaces", "processes"}));
  args->publish.store_path = store::Store::default_path();
  command->add_option("--store", args->publish.store_path, "Experiment store the run is published to")
      ->capture_default_str();
  command->add_flag("--no-store", args->no_store, "Do not publish the run to the experiment store (no report either)");
  command->add_option("--experiment", args->publish.experiment, "Experiment name the run is filed under in the store");
  command->add_flag("!--no-report", args->publish.write_report, "Do not write <run dir>/report/ at the end");
  command
      ->add_option("--sample-rate", args->publish.recorder.sample_rate_hz,
                   "Resource readings per second (0.1-20; 0: off)")
      ->capture_default_str();
  command
      ->add_option("--watts-per-core", args->publish.recorder.power.watts_per_busy_core,
                   "Power model for the CPU energy estimate where no RAPL counter is readable")
      ->capture_default_str();
  command->callback([command, args] { run(*command, *args); });
}

}  // namespace lcte::cli
