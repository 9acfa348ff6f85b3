#include "dashboard/jobs.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/passk.h"
#include "eval/prompts.h"
#include "eval/run_outputs.h"
#include "eval/runner.h"
#include "eval/session.h"
#include "experiment/eval_run.h"
#include "experiment/recorder.h"
#include "measure/sampler.h"
#include "store/store.h"

namespace lcte::dashboard {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

const std::vector<std::string>& known_suites() {
  static const std::vector<std::string> kSuites = {"humaneval", "mbpp", "mbpp-sanitized"};
  return kSuites;
}

namespace {

template <typename T>
void read_field(const json& j, const std::string& key, T& out) {
  if (!j.contains(key) || j.at(key).is_null()) return;
  try {
    j.at(key).get_to(out);
  } catch (const json::exception&) {
    fail("{}: wrong type ({})", key, j.at(key).type_name());
  }
}

void check_keys(const json& j, const std::set<std::string>& keys) {
  if (!j.is_object()) fail("request body: expected a JSON object");
  for (const auto& [key, value] : j.items())
    if (!keys.contains(key)) fail("{}: unknown field", key);
}

void check_suite(const std::string& suite) {
  const auto& s = known_suites();
  if (std::find(s.begin(), s.end(), suite) == s.end())
    fail("suite: \"{}\" is not one of humaneval, mbpp, mbpp-sanitized", suite);
}

void check_model(const std::string& model, const std::vector<std::string>& models, const std::string& field) {
  if (std::find(models.begin(), models.end(), model) == models.end()) {
    std::string list;
    for (const auto& m : models) list += (list.empty() ? "" : ", ") + m;
    fail("{}: unknown model \"{}\" (available: {})", field, model, list);
  }
}

void check_sampling(int n, int max_n, double temperature, int max_tokens, double timeout) {
  if (n < 1 || n > max_n) fail("n: {} is outside 1-{}", n, max_n);
  if (!(temperature >= 0 && temperature <= 2)) fail("temperature: {} is outside 0-2", temperature);
  if (max_tokens < 1 || max_tokens > 8192) fail("max_tokens: {} is outside 1-8192", max_tokens);
  if (!(timeout > 0 && timeout <= 120)) fail("timeout: {} is outside (0, 120] seconds", timeout);
}

json num_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Makes a stop request end the run: the next generation a worker asks for
// throws, and run_plan stops after the samples in flight.
class StoppableBackend final : public eval::Backend {
 public:
  StoppableBackend(std::shared_ptr<eval::Backend> inner, const std::atomic<bool>& stop)
      : inner_(std::move(inner)), stop_(stop) {}
  std::string name() const override { return inner_->name(); }
  std::string model() const override { return inner_->model(); }
  int available_samples(const std::string& id) const override { return inner_->available_samples(id); }
  std::vector<eval::Generation> generate(const eval::GenerationRequest& r, const backend::StreamFn& on_text) override {
    if (stop_) fail("stopped from the dashboard");
    return inner_->generate(r, on_text);
  }

 private:
  std::shared_ptr<eval::Backend> inner_;
  const std::atomic<bool>& stop_;
};

// Passes the backend's text pieces to a TokenStream while it generates, and
// after it returns sends what is still waiting; a sample that produced no
// piece (backends that do not stream: canonical, file) goes out whole.
class StreamingTap final : public eval::Backend {
 public:
  StreamingTap(std::shared_ptr<eval::Backend> inner, TokenStream& stream) : inner_(std::move(inner)), stream_(stream) {}
  std::string name() const override { return inner_->name(); }
  std::string model() const override { return inner_->model(); }
  int available_samples(const std::string& id) const override { return inner_->available_samples(id); }
  std::vector<eval::Generation> generate(const eval::GenerationRequest& r, const backend::StreamFn& on_text) override {
    auto tap = [&](int index, std::string_view piece) {
      stream_.add(index, piece);
      if (on_text) on_text(index, piece);
    };
    std::vector<eval::Generation> out;
    try {
      out = inner_->generate(r, tap);
    } catch (...) {
      stream_.flush();
      throw;
    }
    for (const eval::Generation& g : out)
      if (stream_.received(g.sample_index) == 0 && g.error.empty()) stream_.add(g.sample_index, g.text);
    stream_.flush();
    return out;
  }

 private:
  std::shared_ptr<eval::Backend> inner_;
  TokenStream& stream_;
};

// Writes every sample to the run's recorder and the event bus as it finishes.
class StoreSink final : public eval::SampleSink {
 public:
  StoreSink(experiment::RunRecorder& recorder, std::string run_id, std::string suite, std::string model,
            double temperature, EventBus& bus, std::string job_id)
      : recorder_(recorder),
        run_id_(std::move(run_id)),
        suite_(std::move(suite)),
        model_(std::move(model)),
        temperature_(temperature),
        bus_(bus),
        job_id_(std::move(job_id)),
        started_(Clock::now()) {}

  void write(const eval::SampleRow& row) override {
    std::lock_guard lock(mutex_);
    recorder_.add_sample(experiment::stored_sample(row, suite_, model_, temperature_));
    rows_.push_back(row);
    passed_ += row.passed ? 1 : 0;
    double t = std::chrono::duration<double>(Clock::now() - started_).count();
    double rate = double(passed_) / double(rows_.size());
    int64_t step = static_cast<int64_t>(rows_.size());
    recorder_.add_metrics({{"samples_done", step, t, double(step)}, {"pass_rate", step, t, rate}});
    bus_.publish("sample", {{"job", job_id_},
                            {"run_id", run_id_},
                            {"model", model_},
                            {"task_id", row.task_id},
                            {"sample_index", row.sample_index},
                            {"status", row.status},
                            {"passed", row.passed},
                            {"latency_s", num_or_null(row.latency_s)},
                            {"exec_s", num_or_null(row.exec_seconds)},
                            {"t", t},
                            {"pass_rate", rate}});
  }
  std::vector<eval::SampleRow> rows() const {
    std::lock_guard lock(mutex_);
    return rows_;
  }

 private:
  experiment::RunRecorder& recorder_;
  std::string run_id_, suite_, model_;
  double temperature_;
  EventBus& bus_;
  std::string job_id_;
  Clock::time_point started_;
  mutable std::mutex mutex_;
  std::vector<eval::SampleRow> rows_;
  size_t passed_ = 0;
};

// Collects rows in memory and pushes each one as it finishes (the interactive tab).
class TrySink final : public eval::SampleSink {
 public:
  TrySink(EventBus& bus, json tag) : bus_(bus), tag_(std::move(tag)) {}
  void write(const eval::SampleRow& row) override {
    {
      std::lock_guard lock(mutex_);
      rows.push_back(row);
    }
    json e = tag_;
    e.update(json{{"sample_index", row.sample_index},
                  {"status", row.status},
                  {"passed", row.passed},
                  {"error_type", row.error_type},
                  {"completion", row.completion},
                  {"latency_s", num_or_null(row.latency_s)},
                  {"exec_s", num_or_null(row.exec_seconds)}});
    bus_.publish("try", e);
  }
  std::mutex mutex_;
  std::vector<eval::SampleRow> rows;

 private:
  EventBus& bus_;
  json tag_;
};

// A reading as the live monitor gets it: the very points the recorder
// stores for it (experiment::metric_points, the same names and `t`), so a
// chart fed from the stream and one fed from the store show the same series.
// Runs the dashboard starts are never resumed, so their time axis starts at 0.
json resources_json(const measure::Sample& s) {
  json metrics = json::object();
  double t = s.t_seconds;
  for (const store::MetricPoint& p : experiment::metric_points(s, 0.0)) {
    metrics[p.name] = p.value;
    t = p.t;
  }
  return {{"t", t}, {"metrics", metrics}};
}

}  // namespace

EvalRequest EvalRequest::from_json(const json& j, const std::vector<std::string>& models) {
  check_keys(j, {"suite", "models", "n", "temperature", "max_tokens", "limit", "tasks", "timeout", "workers"});
  EvalRequest r;
  read_field(j, "suite", r.suite);
  read_field(j, "models", r.models);
  read_field(j, "n", r.n);
  read_field(j, "temperature", r.temperature);
  read_field(j, "max_tokens", r.max_tokens);
  read_field(j, "limit", r.limit);
  read_field(j, "tasks", r.tasks);
  read_field(j, "timeout", r.timeout);
  read_field(j, "workers", r.workers);
  check_suite(r.suite);
  if (r.models.empty() || r.models.size() > 8) fail("models: needs 1 to 8 models, got {}", r.models.size());
  for (size_t i = 0; i < r.models.size(); ++i) check_model(r.models[i], models, fmt::format("models[{}]", i));
  check_sampling(r.n, 200, r.temperature, r.max_tokens, r.timeout);
  if (r.limit > 10000) fail("limit: {} is above 10000", r.limit);
  if (r.tasks.size() > 1000) fail("tasks: at most 1000 task ids");
  for (size_t i = 0; i < r.tasks.size(); ++i)
    if (r.tasks[i].empty() || r.tasks[i].size() > 64) fail("tasks[{}]: must be 1-64 characters", i);
  if (r.workers < 0 || r.workers > 64) fail("workers: {} is outside 0-64", r.workers);
  return r;
}

json EvalRequest::to_json() const {
  return {{"suite", suite},           {"models", models}, {"n", n},         {"temperature", temperature},
          {"max_tokens", max_tokens}, {"limit", limit},   {"tasks", tasks}, {"timeout", timeout},
          {"workers", workers}};
}

TryRequest TryRequest::from_json(const json& j, const std::vector<std::string>& models) {
  check_keys(j, {"suite", "task_id", "model", "n", "temperature", "max_tokens", "timeout", "client_id"});
  TryRequest r;
  read_field(j, "suite", r.suite);
  read_field(j, "task_id", r.task_id);
  read_field(j, "model", r.model);
  read_field(j, "n", r.n);
  read_field(j, "temperature", r.temperature);
  read_field(j, "max_tokens", r.max_tokens);
  read_field(j, "timeout", r.timeout);
  read_field(j, "client_id", r.client_id);
  check_suite(r.suite);
  if (r.client_id.size() > 64) fail("client_id: longer than 64 characters");
  if (r.task_id.empty() || r.task_id.size() > 64) fail("task_id: must be 1-64 characters");
  if (r.model != "auto") check_model(r.model, models, "model");
  check_sampling(r.n, 20, r.temperature, r.max_tokens, r.timeout);
  return r;
}

struct JobManager::Job {
  std::string id;
  EvalRequest request;
  std::atomic<bool> stop{false};
  std::mutex mutex;                // guards the fields below
  std::string status = "running";  // running, finished, failed, stopped
  std::string error;
  std::vector<std::string> run_ids;
  std::string started_at, finished_at;
  size_t done = 0, total = 0, passed = 0;

  json to_json() {
    std::lock_guard lock(mutex);
    return {{"id", id},
            {"request", request.to_json()},
            {"status", status},
            {"error", error},
            {"run_ids", run_ids},
            {"started_at", started_at},
            {"finished_at", finished_at},
            {"done", done},
            {"total", total},
            {"passed", passed}};
  }
};

JobManager::JobManager(JobOptions options, EventBus& bus) : options_(std::move(options)), bus_(bus) {}

JobManager::~JobManager() { stop_all(); }

void JobManager::stop_all() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, job] : jobs_) job->stop = true;
    threads.swap(threads_);
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

const eval::Suite& JobManager::suite(const std::string& name) {
  check_suite(name);
  std::lock_guard lock(suites_mutex_);
  auto it = suites_.find(name);
  if (it == suites_.end())
    it = suites_.emplace(name, std::make_unique<eval::Suite>(eval::load_suite(name, options_.where))).first;
  return *it->second;
}

std::unique_ptr<eval::Executor> JobManager::make_executor() {
  if (options_.executor) return options_.executor();
  sandbox::Options o;
  o.python = eval::resolve_python("python3");
  o.isolation = options_.isolation;
  return eval::make_sandbox_executor(o);
}

json JobManager::start(const EvalRequest& request) {
  std::lock_guard lock(mutex_);
  for (auto& [id, job] : jobs_) {
    std::lock_guard job_lock(job->mutex);
    if (job->status == "running") fail("job {} is still running; stop it first", id);
  }
  suite(request.suite);  // a missing dataset fails here, before a job exists
  auto job = std::make_shared<Job>();
  job->id = fmt::format("job-{}", jobs_.size() + 1);
  job->request = request;
  job->started_at = utc_now_iso8601();
  jobs_[job->id] = job;
  threads_.emplace_back([this, job] { run_job(job); });
  json j = job->to_json();
  bus_.publish("job", j);
  return j;
}

bool JobManager::stop(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return false;
  it->second->stop = true;
  return true;
}

json JobManager::list() const {
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) out.push_back(it->second->to_json());
  return out;
}

json JobManager::get(const std::string& job_id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? json(nullptr) : it->second->to_json();
}

void JobManager::run_job(const std::shared_ptr<Job>& job) {
  std::string status = "finished", error;
  try {
    for (const std::string& model : job->request.models) {
      if (job->stop) break;
      run_model(job, model);
    }
    if (job->stop) status = "stopped";
  } catch (const std::exception& e) {
    status = job->stop ? "stopped" : "failed";
    error = e.what();
    spdlog::warn("dashboard job {}: {}", job->id, e.what());
  }
  {
    std::lock_guard lock(job->mutex);
    job->status = status;
    job->error = error;
    job->finished_at = utc_now_iso8601();
  }
  bus_.publish("job", job->to_json());
}

void JobManager::run_model(const std::shared_ptr<Job>& job, const std::string& model) {
  const EvalRequest& rq = job->request;
  const eval::Suite& s = suite(rq.suite);
  std::shared_ptr<eval::Backend> made = options_.backends ? options_.backends(model, s) : nullptr;
  if (!made) fail("models: no backend for \"{}\"", model);
  StoppableBackend backend(made, job->stop);
  std::vector<size_t> chosen =
      eval::select_tasks(s, eval::select_split(s, eval::parse_split("test")), rq.tasks, rq.limit);
  if (chosen.empty()) fail("no tasks selected from {}", rq.suite);
  std::vector<eval::PlanItem> plan;
  for (size_t i : chosen) plan.push_back({i, rq.n});

  auto executor = make_executor();  // before the run exists: no sandbox, no run left "running"
  store::Store st(options_.store_path);
  json config = rq.to_json();
  config["model"] = model;
  config["backend"] = made->name();
  store::RunRecord run = experiment::new_run_record("eval", "dashboard " + job->id, config);
  run.id = eval::make_run_id(rq.suite, model);
  run.model_name = model;
  const std::string run_id = run.id, job_id = job->id;
  experiment::RecorderOptions ro_rec;
  ro_rec.sample_rate_hz = options_.resource_rate_hz;
  ro_rec.on_reading = [this, run_id, job_id](const measure::Sample& sample) {
    json r = resources_json(sample);
    r["job"] = job_id;
    r["run_id"] = run_id;
    bus_.publish("resources", r);
  };
  experiment::RunRecorder recorder(st, run, ro_rec);
  {
    std::lock_guard lock(job->mutex);
    job->run_ids.push_back(run.id);
    job->total += plan.size() * size_t(rq.n);
  }
  bus_.publish("run", {{"job", job->id},
                       {"run_id", run.id},
                       {"model", model},
                       {"status", "running"},
                       {"total", plan.size() * size_t(rq.n)}});

  StoreSink sink(recorder, run.id, rq.suite, model, rq.temperature, bus_, job->id);
  eval::RunnerOptions ro;
  ro.workers = rq.workers;
  ro.limits.wall_seconds = rq.timeout;
  ro.limits.cpu_seconds = rq.timeout;
  ro.sampling.temperature = rq.temperature;
  ro.sampling.max_tokens = rq.max_tokens;
  size_t base_done, base_passed;
  {
    std::lock_guard lock(job->mutex);
    base_done = job->done;
    base_passed = job->passed;
  }
  auto last_publish = Clock::now() - std::chrono::seconds(1);
  auto progress = [&](const eval::Progress& p) {
    {
      std::lock_guard lock(job->mutex);
      job->done = base_done + p.done;
      job->passed = base_passed + p.passed;
    }
    auto now = Clock::now();
    if (p.done != p.total && now - last_publish < std::chrono::milliseconds(100)) return;
    last_publish = now;
    bus_.publish("progress", {{"job", job_id},
                              {"run_id", run_id},
                              {"model", model},
                              {"done", p.done},
                              {"total", p.total},
                              {"passed", p.passed},
                              {"elapsed_s", p.elapsed_s}});
  };

  eval::RunnerStats stats;
  std::string failure;
  try {
    stats = eval::run_plan(s, plan, {}, backend, *executor, sink, ro, progress);
  } catch (const std::exception& e) {
    failure = e.what();
  }

  eval::SummaryInput in;
  in.suite = &s;
  in.plan = plan;
  in.rows = eval::order_rows(s, sink.rows());
  in.ks = {1};
  for (int k : {10, 100})
    if (k <= rq.n) in.ks.push_back(k);
  in.config = run.config;
  in.run_id = run.id;
  in.session = stats;
  json summary = eval::summarize(in);
  // A stop makes the remaining samples fail fast (the runner goes on past
  // failed samples), so the flag, not an exception, says the run was killed.
  std::string status = job->stop ? "killed" : failure.empty() ? "finished" : "failed";
  if (!failure.empty()) summary["error"] = failure;
  int64_t completion_tokens = 0, passed = 0;
  for (const eval::SampleRow& r : in.rows) {
    completion_tokens += std::max<int64_t>(0, r.completion_tokens);
    passed += r.passed ? 1 : 0;
  }
  summary = recorder.finish(summary, completion_tokens, passed, static_cast<int64_t>(plan.size()), status);
  bus_.publish("run",
               {{"job", job->id}, {"run_id", run.id}, {"model", model}, {"status", status}, {"summary", summary}});
  if (!failure.empty()) fail("{}", failure);
}

namespace {

// Holds a client id for the length of one try, so two running tries never
// share one and a page never mixes their streams.
class ClientClaim {
 public:
  ClientClaim(std::mutex& mutex, std::set<std::string>& active, std::string id)
      : mutex_(mutex), active_(active), id_(std::move(id)) {
    std::lock_guard lock(mutex_);
    if (!active_.insert(id_).second) fail("client_id: \"{}\" belongs to a try that is still running", id_);
  }
  ~ClientClaim() {
    std::lock_guard lock(mutex_);
    active_.erase(id_);
  }
  ClientClaim(const ClientClaim&) = delete;
  ClientClaim& operator=(const ClientClaim&) = delete;

 private:
  std::mutex& mutex_;
  std::set<std::string>& active_;
  std::string id_;
};

}  // namespace

json JobManager::try_problem(const TryRequest& rq, const std::function<json(const std::string&)>& route) {
  std::string try_id;
  {
    std::lock_guard lock(mutex_);
    try_id = fmt::format("try-{}", ++tries_);
  }
  // A try without a client id (an API user's) is told apart by its try id.
  const std::string& client_id = rq.client_id;
  std::optional<ClientClaim> claim;
  if (!client_id.empty()) claim.emplace(mutex_, active_clients_, client_id);
  const eval::Suite& s = suite(rq.suite);
  long index = eval::find_task(s, rq.task_id);
  if (index < 0) fail("task_id: no task \"{}\" in {}", rq.task_id, rq.suite);
  const eval::Task& task = s.tasks[size_t(index)];
  json out = {{"suite", rq.suite}, {"task_id", task.task_id}, {"try_id", try_id}, {"client_id", client_id}};
  std::string model = rq.model;
  if (model == "auto") {
    eval::Prompt prompt = eval::build_prompt(s, task, {});
    json decision = route(prompt.text);
    model = decision.value("model", "");
    out["route"] = decision;
  }
  out["model"] = model;
  std::shared_ptr<eval::Backend> made = options_.backends ? options_.backends(model, s) : nullptr;
  if (!made) fail("model: no backend for \"{}\"", model);
  json tag = {{"try_id", try_id}, {"client_id", client_id}, {"task_id", task.task_id}, {"model", model}};
  TokenStream stream(
      [&](int sample_index, int chunk, const std::string& text) {
        json e = tag;
        e.update(json{{"sample_index", sample_index}, {"chunk", chunk}, {"text", text}});
        bus_.publish("try_token", std::move(e));
      },
      options_.try_stream);
  StreamingTap backend(made, stream);
  auto executor = make_executor();
  eval::RunnerOptions ro;
  ro.workers = std::min(rq.n, 4);
  ro.limits.wall_seconds = rq.timeout;
  ro.limits.cpu_seconds = rq.timeout;
  ro.sampling.temperature = rq.temperature;
  ro.sampling.max_tokens = rq.max_tokens;
  TrySink sink(bus_, tag);
  measure::ResourceSampler::Options so;
  so.rate_hz = 10;
  so.gpus = true;
  measure::ResourceSampler sampler(so);
  sampler.start();
  auto t0 = Clock::now();
  eval::run_plan(s, {{size_t(index), rq.n}}, {}, backend, *executor, sink, ro);
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  sampler.stop();
  std::vector<eval::SampleRow> rows = eval::order_rows(s, sink.rows);
  json samples = json::array();
  int c = 0;
  for (const auto& r : rows) {
    c += r.passed ? 1 : 0;
    samples.push_back({{"sample_index", r.sample_index},
                       {"completion", r.completion},
                       {"status", r.status},
                       {"passed", r.passed},
                       {"error_type", r.error_type},
                       {"error_message", r.error_message},
                       {"completion_tokens", r.completion_tokens},
                       {"latency_s", num_or_null(r.latency_s)},
                       {"exec_s", num_or_null(r.exec_seconds)}});
  }
  json pass = json::object();
  for (int k = 1; k <= rq.n; k *= 2) {
    auto v = eval::pass_at_k(rq.n, c, k);
    if (v) pass["pass@" + std::to_string(k)] = *v;
  }
  if (auto v = eval::pass_at_k(rq.n, c, rq.n)) pass["pass@" + std::to_string(rq.n)] = *v;
  out["samples"] = samples;
  out["n"] = rq.n;
  out["passed"] = c;
  out["pass_at_k"] = pass;
  out["wall_s"] = wall;
  out["energy"] = experiment::resource_summary(sampler, 0, c, 1)["energy"];
  out["events_through"] = bus_.last_id();
  return out;
}

}  // namespace lcte::dashboard
