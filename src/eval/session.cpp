#include "eval/session.h"
#include "eval/samples_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <functional>
#include <random>

#include "backend/catalogue.h"
#include "backend/engine_backend.h"
#include "backend/http_backend.h"
#include "backend/open.h"
#include "backend/router_backend.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/version.h"
#include "eval/io.h"
#include "eval/mutate.h"
#include "eval/passk.h"
#include "eval/run_outputs.h"
#include "eval/suite_backends.h"

namespace lcte::eval {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string lcte_version() { return lcte::version(); }

json EvalConfig::to_json() const {
  return {{"suite", suite},
          {"split", split},
          {"split_sizes", split_sizes},
          {"tasks", tasks},
          {"limit", limit},
          {"backend", backend},
          {"model", model},
          {"samples_file", samples_file},
          {"base_url", base_url},
          {"api_key_env", api_key_env},
          {"ctx", ctx},
          {"catalogue", catalogue},
          {"policy", policy},
          {"n", n},
          {"k", k},
          {"temperature", temperature},
          {"top_p", top_p},
          {"max_tokens", max_tokens},
          {"timeout", timeout},
          {"seed", seed},
          {"style", style},
          {"few_shot", few_shot},
          {"min_time_limit", min_time_limit},
          {"time_limit_factor", time_limit_factor}};
}

EvalConfig EvalConfig::from_json(const json& j) {
  EvalConfig c;
  try {
    c.suite = j.at("suite").get<std::string>();
    c.split = j.at("split").get<std::string>();
    c.split_sizes = j.at("split_sizes").get<std::string>();
    c.tasks = j.at("tasks").get<std::vector<std::string>>();
    c.limit = j.at("limit").get<size_t>();
    c.backend = j.at("backend").get<std::string>();
    c.model = j.at("model").get<std::string>();
    c.samples_file = j.at("samples_file").get<std::string>();
    // Absent from runs made before the engine and HTTP backends.
    c.base_url = j.value("base_url", std::string());
    c.api_key_env = j.value("api_key_env", std::string());
    c.ctx = j.value("ctx", int64_t{4096});
    c.catalogue = j.value("catalogue", std::string());
    c.policy = j.value("policy", std::string());
    c.n = j.at("n").get<int>();
    c.k = j.at("k").get<std::vector<int>>();
    c.temperature = j.at("temperature").get<double>();
    c.top_p = j.at("top_p").get<double>();
    c.max_tokens = j.at("max_tokens").get<int>();
    c.timeout = j.at("timeout").get<double>();
    c.seed = j.at("seed").get<uint64_t>();
    c.style = j.at("style").get<std::string>();
    c.few_shot = j.at("few_shot").get<int>();
    c.min_time_limit = j.value("min_time_limit", kEvalPlusMinTimeLimit);
    c.time_limit_factor = j.value("time_limit_factor", kEvalPlusTimeLimitFactor);
  } catch (const json::exception& e) {
    fail("run configuration: {}", e.what());
  }
  return c;
}

std::string make_run_id(const std::string& suite, const std::string& backend) {
  const std::string stamp = utc_compact_stamp(std::chrono::system_clock::now());
  // A file suite is named by its stem; anything odd becomes '_'.
  std::string name =
      suite.find('/') != std::string::npos || suite.ends_with(".jsonl") ? fs::path(suite).stem().string() : suite;
  for (char& ch : name)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_')) ch = '_';
  std::random_device random;
  return fmt::format("{}-{}-{}-{:04x}", stamp, name, backend, random() & 0xffff);
}

namespace {

void validate(const EvalConfig& c) {
  if (c.backend != "canonical" && c.backend != "file" && c.backend != "engine" && c.backend != "http" &&
      c.backend != "router")
    fail("--backend: unknown backend \"{}\" (available: canonical, file, engine, http, router)", c.backend);
  if (c.backend == "router" && c.catalogue.empty()) fail("--backend router needs --config CATALOGUE");
  if (c.backend != "router" && !c.catalogue.empty()) fail("--config is only used with --backend router");
  if (c.backend == "file" && c.samples_file.empty()) fail("--backend file needs --samples FILE");
  if (c.backend != "file" && !c.samples_file.empty()) fail("--samples is only used with --backend file");
  if (c.backend == "engine" && c.model.empty()) fail("--backend engine needs --model FILE.gguf");
  if (c.backend == "http" && (c.base_url.empty() || c.model.empty()))
    fail("--backend http needs --base-url URL and --model NAME (the server's model name)");
  if (c.backend != "http" && !c.base_url.empty()) fail("--base-url is only used with --backend http");
  if (c.ctx < 16) fail("--ctx: must be at least 16, got {}", c.ctx);
  if (c.n < 0) fail("--n: must be positive, got {}", c.n);
  if (!(c.timeout > 0) || c.timeout > 3600) fail("--timeout: must be in (0, 3600] seconds, got {}", c.timeout);
  if (!(c.temperature >= 0)) fail("--temperature: must be >= 0, got {}", c.temperature);
  if (!(c.top_p > 0 && c.top_p <= 1)) fail("--top-p: must be in (0, 1], got {}", c.top_p);
  if (c.max_tokens < 1) fail("--max-tokens: must be positive, got {}", c.max_tokens);
  if (c.few_shot < 0 || c.few_shot > 3) fail("--few-shot: 0 to 3, got {}", c.few_shot);
  parse_style(c.style);
  if (!c.split.empty()) parse_split(c.split);
}

// --timeout, or what the suite needs if that is more (EvalPlus bounds each
// input itself and gives a task up to 61 s in all).
sandbox::Limits limits_for(const EvalConfig& c, const Suite& suite) {
  sandbox::Limits limits;
  limits.wall_seconds = std::max(c.timeout, suite.sample_timeout);
  limits.cpu_seconds = limits.wall_seconds;
  return limits;
}

// The suite with the selected tasks, and the indices selected.
struct Selection {
  Suite suite;
  std::vector<size_t> tasks;
  std::vector<std::string> dropped;
};

Selection select(const EvalConfig& c, const SessionOptions& options, const std::function<Executor&()>& executor) {
  Selection out;
  out.suite = load_suite(c.suite, options.where, {c.min_time_limit, c.time_limit_factor});
  if (is_fix_suite_name(c.suite) && c.few_shot > 0) fail("--few-shot: not available for {}", c.suite);
  Split split = parse_split(c.split.empty() ? "test" : c.split);
  std::optional<CustomSplit> custom;
  if (!c.split_sizes.empty()) custom = parse_custom_split(c.split_sizes, c.seed);
  std::vector<size_t> chosen = select_tasks(out.suite, select_split(out.suite, split, custom), c.tasks, c.limit);
  if (chosen.empty()) fail("no tasks selected from {} (split {}, --tasks, --limit)", out.suite.name, split_name(split));
  if (!is_fix_suite_name(c.suite)) {
    out.tasks = std::move(chosen);
    return out;
  }
  FixOptions fix;
  fix.seed = c.seed;
  fix.workers = options.workers;
  fix.limits = limits_for(c, out.suite);
  spdlog::info("injecting bugs into {} tasks of {}", chosen.size(), out.suite.name);
  FixSuite made = make_fix_suite(out.suite, chosen, executor(), fix);
  for (const auto& why : made.dropped) spdlog::warn("{}: left out: {}", made.suite.name, why);
  if (made.suite.tasks.empty()) fail("{}: no task got a bug that its tests catch", made.suite.name);
  out.suite = std::move(made.suite);
  out.dropped = std::move(made.dropped);
  for (size_t i = 0; i < out.suite.tasks.size(); i++) out.tasks.push_back(i);
  return out;
}

// The prompt and the tasks are made before the router picks a tier, so every
// tier is evaluated with the run's style, split and top_p: a catalogue entry
// that names other ones is refused rather than overridden.
void check_tier_settings(const backend::ModelEntry& m, const EvalConfig& c, const std::string& catalogue) {
  auto refuse = [&](const char* key, const std::string& tier, const std::string& run, const char* flag) {
    fail(
        "{}: model '{}' is evaluated with {} = {}, this run with {}; pass {} {} (the router sends every tier the "
        "same request)",
        catalogue, m.name, key, tier, run, flag, tier);
  };
  if (!m.style.empty() && m.style != c.style) refuse("style", m.style, c.style, "--style");
  const std::string split = c.split.empty() ? "test" : c.split;
  if (!m.split.empty() && m.split != split) refuse("split", m.split, split, "--split");
  if (m.top_p && *m.top_p != c.top_p)
    refuse("top_p", fmt::format("{}", *m.top_p), fmt::format("{}", c.top_p), "--top-p");
}

// Every tier of the catalogue opened (local models loaded once), routed by the
// catalogue's [routing] (policy overridable), counting with its tokenizer.
std::unique_ptr<Backend> make_router_backend(const EvalConfig& c, const SessionOptions& options) {
  backend::Catalogue catalogue = backend::load_catalogue(c.catalogue);
  route::RouterConfig config = catalogue.routing;
  if (!c.policy.empty()) config.policy = c.policy;
  backend::EngineOptions engine;
  engine.n_ctx = c.ctx;
  engine.threads = options.engine_threads;
  engine.max_sequences = options.engine_max_sequences;
  engine.prefill_chunk = options.engine_prefill_chunk;
  std::map<std::string, std::shared_ptr<Backend>> models;
  for (size_t i = 0; i < config.tiers.size(); ++i) {
    const std::string& name = config.model_of(i);
    check_tier_settings(catalogue.get(name), c, catalogue.path);
    if (!models.count(name)) models[name] = backend::open_backend(catalogue.get(name), engine, options.http);
  }
  route::TokenizerCache tokenizers(backend::model_files(catalogue));
  return std::make_unique<backend::RouterBackend>(config, tokenizers.counter(config.tokenizer), models,
                                                  options.on_decision);
}

std::unique_ptr<Backend> make_backend(const EvalConfig& c, const Suite& suite, const SessionOptions& options) {
  if (c.backend == "canonical") return std::make_unique<CanonicalBackend>(suite);
  if (c.backend == "engine") {
    backend::EngineOptions o;
    o.path = c.model;
    o.n_ctx = c.ctx;
    o.threads = options.engine_threads;
    o.max_sequences = options.engine_max_sequences;
    o.prefill_chunk = options.engine_prefill_chunk;
    return std::make_unique<backend::EngineBackend>(o);
  }
  if (c.backend == "http") {
    backend::HttpOptions o = options.http;
    o.base_url = c.base_url;
    o.model = c.model;
    o.api_key_env = c.api_key_env;
    return std::make_unique<backend::HttpBackend>(o);
  }
  if (c.backend == "router") return make_router_backend(c, options);
  return std::make_unique<FileBackend>(c.samples_file, suite, c.model);
}

std::vector<PlanItem> make_plan(const EvalConfig& c, const Selection& selection, const Backend& backend) {
  std::vector<PlanItem> plan;
  std::vector<std::string> missing;
  for (size_t index : selection.tasks) {
    const std::string& id = selection.suite.tasks[index].task_id;
    int available = backend.available_samples(id);
    int n = c.n > 0 ? c.n : (available >= 0 ? available : 1);
    if (available == 0) {
      missing.push_back(id);
      continue;
    }
    if (available >= 0 && n > available)
      fail("{}: {} sample(s) for task {}, but --n asks for {}", c.samples_file, available, id, n);
    plan.push_back({index, n});
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; i++) list += (i ? ", " : "") + missing[i];
    fail("{}: no samples for {} selected task(s) ({}{}); narrow the selection with --tasks or --limit", c.samples_file,
         missing.size(), list, missing.size() > 5 ? ", ..." : "");
  }
  return plan;
}

std::vector<int> choose_ks(const EvalConfig& c, const std::vector<PlanItem>& plan) {
  if (!c.k.empty()) return c.k;  // asked for: reported even when not computable
  int min_n = plan.empty() ? 1 : plan.front().n;
  for (const auto& item : plan) min_n = std::min(min_n, item.n);
  std::vector<int> ks{1};
  for (int k : {10, 100})
    if (k <= min_n) ks.push_back(k);
  return ks;
}

// Holds an exclusive lock on the run directory for this process's lifetime,
// so that two invocations cannot resume the same run at once.
class RunLock {
 public:
  explicit RunLock(const std::string& dir) {
    std::string path = (fs::path(dir) / "lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fail("{}: another lcte process is working on this run", dir);
    }
  }
  ~RunLock() { ::close(fd_); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Everything decided before any sample runs: checking it all first means a
// malformed suite or samples file fails before a run directory is made.
struct Prepared {
  Selection selection;
  std::unique_ptr<Backend> backend;
  std::vector<PlanItem> plan;
  std::unique_ptr<Executor> owned_executor;
  Executor* executor = nullptr;
};

Prepared prepare(const EvalConfig& c, const SessionOptions& options) {
  Prepared p;
  // The sandbox is only needed up front for the -fix suites (bugs are
  // confirmed by running them); otherwise it is made once the inputs are good.
  auto executor = [&]() -> Executor& {
    if (p.executor == nullptr) {
      p.executor = options.executor;
      if (p.executor == nullptr) {
        sandbox::Options sandbox_options;
        sandbox_options.python = resolve_python(options.python);
        sandbox_options.isolation = options.isolation;
        p.owned_executor = make_sandbox_executor(sandbox_options);
        p.executor = p.owned_executor.get();
      }
    }
    return *p.executor;
  };
  p.selection = select(c, options, executor);
  p.backend = make_backend(c, p.selection.suite, options);
  p.plan = make_plan(c, p.selection, *p.backend);
  executor();
  return p;
}

// Commits each row to the run first, then hands it to the session's observer.
class TeeSink final : public SampleSink {
 public:
  TeeSink(SampleSink& primary, const std::function<void(const SampleRow&)>& observer)
      : primary_(primary), observer_(observer) {}
  void write(const SampleRow& row) override {
    primary_.write(row);
    if (observer_) observer_(row);
  }

 private:
  SampleSink& primary_;
  const std::function<void(const SampleRow&)>& observer_;
};

SessionResult execute(const EvalConfig& c, Prepared& p, RunDatabase& store, const std::string& run_id, bool resumed,
                      const SessionOptions& options) {
  RunLock lock(store.dir());
  store.set_meta("sandbox", p.executor->describe());
  RunnerOptions runner;
  runner.workers = options.workers;
  // A worker waits on its request; without enough of them the in-flight cap
  // would never be reached (each worker also runs its samples' tests).
  if (runner.workers == 0 && c.backend == "http")
    runner.workers = std::max(default_workers(), options.http.max_in_flight);
  runner.limits = limits_for(c, p.selection.suite);
  runner.sampling = {c.temperature, c.top_p, c.max_tokens, c.seed};
  runner.prompt = {parse_style(c.style), c.few_shot};
  std::set<SampleKey> finished = store.finished();
  store.set_meta("status", "running");
  TeeSink sink(store, options.on_sample);
  RunnerStats stats =
      run_plan(p.selection.suite, p.plan, finished, *p.backend, *p.executor, sink, runner, options.progress);

  SummaryInput input;
  input.suite = &p.selection.suite;
  input.plan = p.plan;
  input.rows = order_rows(p.selection.suite, store.rows());
  input.ks = choose_ks(c, p.plan);
  input.config = store.config();
  input.config["model"] = p.backend->model();
  input.run_id = run_id;
  input.session = stats;
  json summary = summarize(input);
  if (!p.selection.dropped.empty()) summary["dropped_tasks"] = p.selection.dropped;
  if (auto* routed = dynamic_cast<backend::RouterBackend*>(p.backend.get()))
    summary["routing"] = {{"tier_requests_this_session", routed->tier_counts()}};
  if (!stats.failures.empty()) {
    json failures = json::array();
    for (const SampleFailure& f : stats.failures)
      failures.push_back({{"task_id", f.task_id}, {"sample_index", f.sample_index}, {"message", f.message}});
    summary["generation_failures"] = failures;
  }
  write_file_atomic((fs::path(store.dir()) / "samples.csv").string(),
                    samples_csv(p.selection.suite.name, p.backend->model(), c.temperature, input.rows));
  write_file_atomic((fs::path(store.dir()) / "summary.json").string(), summary.dump(2) + "\n");
  store.set_meta("status", summary.value("complete", false) ? "complete" : "incomplete");
  return {run_id, store.dir(), resumed, summary, p.selection.dropped, stats.failures};
}

json stored_form(EvalConfig c) {
  json j = c.to_json();
  j["lcte_version"] = lcte_version();
  if (!c.samples_file.empty()) j["samples_sha256"] = samples_sha256(c.samples_file);
  return j;
}

}  // namespace

SessionResult run_eval(const EvalConfig& config, const SessionOptions& options) {
  validate(config);
  EvalConfig c = config;
  if (!c.samples_file.empty()) c.samples_file = fs::absolute(c.samples_file).string();
  if (!c.catalogue.empty()) c.catalogue = fs::absolute(c.catalogue).string();
  if (c.backend == "engine") c.model = fs::absolute(c.model).string();
  if (c.split.empty()) c.split = "test";
  std::string run_id = options.run_id.empty() ? make_run_id(c.suite, c.backend) : options.run_id;
  if (run_id.find('/') != std::string::npos || run_id == "." || run_id == "..")
    fail("--run-id: \"{}\" must be a plain name", run_id);
  std::string dir = (fs::path(options.out_dir) / run_id).string();
  Prepared prepared = prepare(c, options);
  RunDatabase store = RunDatabase::create(dir, stored_form(c));
  return execute(c, prepared, store, run_id, false, options);
}

SessionResult resume_eval(const std::string& run, const json& given, const SessionOptions& options) {
  std::string dir = run;
  if (!fs::is_regular_file(fs::path(dir) / "run.sqlite")) {
    dir = (fs::path(options.out_dir) / run).string();
    if (!fs::is_regular_file(fs::path(dir) / "run.sqlite"))
      fail("--resume: {}: no run there (nor in {})", run, options.out_dir);
  }
  RunDatabase store = RunDatabase::open(dir);
  json stored = store.config();
  std::vector<std::string> differences;
  for (const auto& [key, value] : given.items()) {
    json want = value;
    if ((key == "samples_file" || (key == "model" && stored.value("backend", "") == "engine")) && value.is_string() &&
        !value.get<std::string>().empty())
      want = fs::absolute(value.get<std::string>()).string();
    if (key == "split" && value == "") want = "test";
    if (key == "catalogue" && value.is_string() && !value.get<std::string>().empty())
      want = fs::absolute(value.get<std::string>()).string();
    if (!stored.contains(key) || stored[key] != want)
      differences.push_back(fmt::format("{} (run: {}, now: {})", key, stored.value(key, json()).dump(), want.dump()));
  }
  if (stored.value("lcte_version", "") != lcte_version())
    differences.push_back(
        fmt::format("lcte_version (run: {}, now: {})", stored.value("lcte_version", ""), lcte_version()));
  EvalConfig c = EvalConfig::from_json(stored);
  if (!c.samples_file.empty()) {
    std::string sum = sha256_file_hex(c.samples_file);
    if (sum != stored.value("samples_sha256", ""))
      differences.push_back(fmt::format("samples file {} has changed (sha256 {})", c.samples_file, sum));
  }
  if (!differences.empty()) {
    std::string list;
    for (const auto& d : differences) list += "\n  " + d;
    fail("{}: refusing to resume with a different configuration:{}", dir, list);
  }
  std::string run_id = fs::path(dir).lexically_normal().filename().string();
  if (run_id.empty()) run_id = fs::path(dir).lexically_normal().parent_path().filename().string();
  Prepared prepared = prepare(c, options);
  return execute(c, prepared, store, run_id, true, options);
}

}  // namespace lcte::eval
