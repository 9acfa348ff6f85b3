// The study runner: plan, run what is missing, record each step.
#include "study/study.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "core/clock.h"
#include "core/error.h"
#include "core/sha256.h"
#include "eval/session.h"
#include "experiment/eval_run.h"
#include "experiment/route_runs.h"
#include "quant/imatrix.h"
#include "quant/model_quantizer.h"
#include "registry/registry.h"
#include "report/report.h"
#include "store/store.h"

namespace lcte::study {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string suite_label(const std::string& suite) {
  return suite.find('/') == std::string::npos ? suite : fs::path(suite).stem().string();
}

// A model as the runner sees it: a [[model]] or one a compress step makes.
struct Model {
  ModelSpec spec;
  std::string source;  // derived: the [[model]] it is made from
  std::string type;    // derived: the quant type
  std::string imatrix;
  bool derived() const { return !source.empty(); }
};

// The state file: finished steps with their inputs and results.
class State {
 public:
  explicit State(std::string path) : path_(std::move(path)) {
    if (!fs::exists(path_)) return;
    std::ifstream in(path_);
    try {
      j_ = json::parse(in);
    } catch (const json::parse_error& e) {
      fail("{}: corrupt study state: {}", path_, e.what());
    }
    if (!j_.is_object() || !j_.contains("steps") || !j_["steps"].is_object())
      fail("{}: corrupt study state: no 'steps' object", path_);
  }
  const json* step(const std::string& id) const {
    if (!j_.contains("steps") || !j_["steps"].contains(id)) return nullptr;
    return &j_["steps"][id];
  }
  bool finished(const std::string& id, const json& inputs) const {
    const json* s = step(id);
    return s != nullptr && s->value("status", "") == "finished" && s->value("inputs", json()) == inputs;
  }
  void set_step(const std::string& id, json value) {
    j_["steps"][id] = std::move(value);
    save();
  }
  json& root() { return j_; }
  void save() const { registry::write_file_atomic(path_, j_.dump(2) + "\n"); }

 private:
  std::string path_;
  json j_ = {{"version", 1}, {"steps", json::object()}};
};

class Runner {
 public:
  Runner(const StudySpec& spec, const StudyOptions& options)
      : spec_(spec), options_(options), state_(spec.output + "/study-state.json") {
    print_ = options.print ? options.print : [](const std::string& s) { std::cout << s << std::endl; };
    for (const ModelSpec& m : spec.models) models_.push_back({m, "", "", ""});
    for (const CompressSpec& c : spec.compress) {
      const ModelSpec base = model(c.model).spec;  // a copy: models_ grows below
      for (const std::string& type : c.types) {
        Model d;
        d.spec = base;
        d.spec.name = c.model + "-" + type;
        d.spec.ref.clear();
        d.spec.path = spec.output + "/models/" + d.spec.name + ".gguf";
        d.source = c.model;
        d.type = type;
        d.imatrix = c.imatrix;
        models_.push_back(d);
      }
    }
  }

  StudyResult run() {
    StudyResult result;
    std::vector<std::string> ids = step_ids();
    // The plan, as far as it is known before anything runs.
    for (const std::string& id : ids) {
      Step s = describe(id);
      result.plan.push_back(s);
      print_(fmt::format("{} {}", s.cached ? "[cached]" : "[to run]", s.id));
    }
    if (options_.dry_run) return result;
    check_routing_tokenizer(result.plan);

    fs::create_directories(spec_.output);
    store::Store store(store_path());
    std::string study_run = begin_study_run(store);
    try {
      size_t index = 0;
      for (const std::string& id : ids) {
        ++index;
        Step s = describe(id);
        if (s.cached) {
          print_(fmt::format("step {}/{} {}: cached", index, ids.size(), id));
          continue;
        }
        print_(fmt::format("step {}/{} {}: running", index, ids.size(), id));
        auto t0 = std::chrono::steady_clock::now();
        json r = execute(s, store);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        // Inputs are recomputed: a step that made a model now knows its hash.
        state_.set_step(id, {{"status", "finished"},
                             {"inputs", describe(id).inputs},
                             {"result", r},
                             {"finished_at", utc_now_iso8601()},
                             {"seconds", seconds}});
        result.ran.push_back(id);
        print_(fmt::format("step {}/{} {}: done in {:.1f} s", index, ids.size(), id, seconds));
        if (options_.after_step) options_.after_step(s);
      }
      result.summary = write_outputs(store);
      store.finish_run(study_run, "finished", result.summary);
    } catch (...) {
      store.finish_run(study_run, "failed", json::object());
      throw;
    }
    return result;
  }

 private:
  Model& model(const std::string& name) {
    for (Model& m : models_)
      if (m.spec.name == name) return m;
    fail("{}: no model '{}'", spec_.path, name);
  }

  // The model an eval step evaluates.
  const Model& step_model(const Step& s) {
    std::string rest = s.id.substr(s.id.find(':') + 1);
    return model(rest.substr(0, rest.rfind(':')));
  }

  std::string store_path() const { return spec_.store.empty() ? store::Store::default_path() : spec_.store; }

  registry::Registry& reg() {
    if (!registry_)
      registry_ = std::make_unique<registry::Registry>(spec_.registry.empty() ? registry::default_registry_dir()
                                                                              : spec_.registry);
    return *registry_;
  }

  std::vector<std::string> step_ids() const {
    std::vector<std::string> ids;
    for (const Model& m : models_)
      if (m.derived()) ids.push_back("quantize:" + m.source + ":" + m.type);
    for (const Model& m : models_)
      for (const std::string& suite : spec_.suites) ids.push_back("eval:" + m.spec.name + ":" + suite_label(suite));
    if (models_.size() >= 2 && !spec_.policies.empty())
      for (const std::string& suite : spec_.suites) ids.push_back("route:" + suite_label(suite));
    for (const std::string& suite : spec_.suites)
      for (const std::string& policy : spec_.online) ids.push_back("routed:" + policy + ":" + suite_label(suite));
    ids.push_back("report");
    return ids;
  }

  // sha256 of a file, remembered in the state by size and modification time
  // so a large model is not read again on every invocation.
  std::string file_hash(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "";
    json& cache = state_.root()["hashes"][path];
    json key = {{"size", static_cast<uint64_t>(st.st_size)},
                {"mtime", static_cast<int64_t>(st.st_mtim.tv_sec)},
                {"mtime_ns", static_cast<int64_t>(st.st_mtim.tv_nsec)}};
    if (cache.is_object() && cache.value("key", json()) == key) return cache["sha256"];
    std::string sha = lcte::sha256_file_hex(path);
    cache = {{"key", key}, {"sha256", sha}};
    return sha;
  }

  // The file a model is evaluated from ("" when it does not exist yet).
  std::string model_file(const Model& m) {
    if (!m.spec.ref.empty()) return reg().resolve(m.spec.ref);
    if (m.derived()) return fs::exists(m.spec.path) ? m.spec.path : "";
    return m.spec.path;
  }

  // What identifies a model's behaviour: the GGUF's hash, the samples file's
  // hash, or the backend name for the reference solutions.
  std::string model_identity(const Model& m) {
    if (m.spec.backend == "canonical") return "canonical";
    // An endpoint has no file to hash: it is what the URL and model name say.
    if (m.spec.backend == "http") return "http:" + m.spec.url + "#" + m.spec.remote_model;
    if (m.spec.backend == "file") {
      std::string h = file_hash(m.spec.samples_file);
      if (h.empty()) fail("{}: model '{}': samples file {} not found", spec_.path, m.spec.name, m.spec.samples_file);
      return h;
    }
    std::string file = model_file(m);
    if (file.empty()) return "";  // to be made
    std::string h = file_hash(file);
    if (h.empty() && !m.derived()) fail("{}: model '{}': no file {}", spec_.path, m.spec.name, file);
    return h;
  }

  eval::EvalConfig eval_config(const Model& m, const std::string& suite) {
    eval::EvalConfig c;
    c.suite = suite;
    auto own = spec_.suite_limits.find(suite_label(suite));
    c.limit = own != spec_.suite_limits.end() ? own->second : spec_.limit;
    c.max_tokens = spec_.max_tokens;
    c.backend = m.spec.backend;
    c.model = m.spec.backend == "engine" ? model_file(m) : m.spec.backend == "http" ? m.spec.remote_model : m.spec.name;
    c.base_url = m.spec.url;
    c.api_key_env = m.spec.api_key_env;
    c.samples_file = m.spec.samples_file;
    c.n = spec_.n;
    c.k = spec_.k;
    c.temperature = spec_.temperature;
    c.style = m.spec.style;
    c.top_p = m.spec.top_p.value_or(spec_.top_p);
    c.split = m.spec.split;
    c.timeout = spec_.timeout;
    c.seed = spec_.seed;
    return c;
  }

  const json* finished_result(const std::string& id) const {
    const json* s = state_.step(id);
    return s != nullptr && s->value("status", "") == "finished" ? &(*s)["result"] : nullptr;
  }

  // Models in routing order with their eval run ids for a suite (empty id: not run yet).
  std::vector<std::pair<const Model*, std::string>> tiers(const std::string& suite) {
    std::vector<std::pair<const Model*, std::string>> out;
    for (const Model& m : models_) {
      const json* r = finished_result("eval:" + m.spec.name + ":" + suite_label(suite));
      out.emplace_back(&m, r != nullptr ? r->value("run_id", "") : "");
    }
    std::stable_sort(out.begin(), out.end(), [this](const auto& a, const auto& b) {
      if (a.first->spec.tier != b.first->spec.tier) return a.first->spec.tier < b.first->spec.tier;
      return cost_of(*a.first) < cost_of(*b.first);
    });
    return out;
  }

  // A quantized model's weight: its parent's, scaled by the file size ratio.
  double cost_of(const Model& m) const {
    if (!m.derived()) return m.spec.cost;
    const json* r = finished_result("quantize:" + m.source + ":" + m.type);
    return r != nullptr ? r->value("cost", m.spec.cost) : m.spec.cost;
  }

  // The study's routing settings over these tiers (cheapest first): the rule
  // offline, and with a policy the online router.
  route::RouterConfig rule(const std::vector<std::string>& tiers, const std::string& policy = "threshold") const {
    route::RouterConfig c = spec_.routing;
    c.tiers = tiers;
    if (c.max_score.empty()) c.max_score = route::default_max_scores(tiers.size());
    if (c.max_score.size() != tiers.size())
      fail("{}: [routing] max_score: has {} bounds for {} tiers", spec_.path, c.max_score.size(), tiers.size());
    c.policy = policy;
    c.seed = spec_.seed;
    return c;
  }

  // A routing tokenizer that will not load stops the study before its evals,
  // not after them. One naming a study model is checked when its step runs
  // (a quantized model's file is made on the way).
  void check_routing_tokenizer(const std::vector<Step>& plan) {
    bool routes = std::any_of(plan.begin(), plan.end(),
                              [](const Step& s) { return !s.cached && (s.kind == "route" || s.kind == "routed"); });
    const std::string& tokenizer = spec_.routing.tokenizer;
    bool a_model =
        std::any_of(models_.begin(), models_.end(), [&](const Model& m) { return m.spec.name == tokenizer; });
    if (!routes || a_model) return;
    try {
      route::TokenizerCache().counter(tokenizer);
    } catch (const Error& e) {
      fail("{}: [routing] {}", spec_.path, e.what());
    }
  }

  // A tokenizer naming one of the study's models, as that model's file.
  std::string tokenizer_file(const std::string& tokenizer) {
    auto files = model_files();
    auto it = files.find(tokenizer);
    if (it == files.end()) return tokenizer;
    if (it->second.empty())
      fail("{}: [routing] tokenizer: model '{}' has no GGUF file here to count with", spec_.path, tokenizer);
    return it->second;
  }

  // The models the routing tokenizer may name: each local model's file
  // (quantized ones once made), remote ones with "".
  std::map<std::string, std::string> model_files() {
    std::map<std::string, std::string> files;
    for (const Model& m : models_) {
      bool local = m.spec.backend == "engine" && (!m.derived() || fs::exists(m.spec.path));
      files[m.spec.name] = local ? model_file(m) : "";
    }
    return files;
  }

  // The online router's tiers, cheapest first.
  std::vector<const Model*> online_tiers() {
    std::vector<const Model*> out;
    if (spec_.online_tiers.empty()) {
      for (const auto& [m, run] : tiers(spec_.suites.front())) out.push_back(m);
    } else {
      for (const std::string& name : spec_.online_tiers) out.push_back(&model(name));
    }
    return out;
  }

  std::string suite_path(const std::string& label) const {
    return *std::find_if(spec_.suites.begin(), spec_.suites.end(),
                         [&](const std::string& x) { return suite_label(x) == label; });
  }

  // Every eval run the report covers: each model's, then each online router's.
  std::vector<std::string> report_runs() {
    std::vector<std::string> runs;
    for (const std::string& suite : spec_.suites) {
      for (const auto& [m, run] : tiers(suite)) runs.push_back(run);
      for (const std::string& policy : spec_.online) {
        const json* r = finished_result("routed:" + policy + ":" + suite_label(suite));
        runs.push_back(r != nullptr ? r->value("run_id", "") : "");
      }
    }
    return runs;
  }

  Step describe(const std::string& id) {
    Step s;
    s.id = id;
    s.kind = id.substr(0, id.find(':'));
    bool known = true;
    if (s.kind == "quantize") {
      const Model& d = model(id.substr(9, id.find(':', 9) - 9) + "-" + id.substr(id.rfind(':') + 1));
      std::string src = model_identity(model(d.source));
      s.inputs = {
          {"source_sha256", src}, {"type", d.type}, {"imatrix_sha256", d.imatrix.empty() ? "" : file_hash(d.imatrix)}};
      if (!d.imatrix.empty() && s.inputs["imatrix_sha256"] == "")
        fail("{}: imatrix {} not found", spec_.path, d.imatrix);
      // The output must still be there, unchanged.
      const json* r = finished_result(id);
      if (r != nullptr && file_hash(r->value("path", "")) != r->value("sha256", "")) known = false;
    } else if (s.kind == "eval") {
      std::string rest = id.substr(5);
      std::string suite_name = rest.substr(rest.rfind(':') + 1);
      const Model& m = model(rest.substr(0, rest.rfind(':')));
      std::string suite = *std::find_if(spec_.suites.begin(), spec_.suites.end(),
                                        [&](const std::string& x) { return suite_label(x) == suite_name; });
      std::string identity = model_identity(m);
      known = !identity.empty();
      json config = eval_config(m, suite).to_json();
      s.inputs = {{"model_sha256", identity}, {"config", config}};
      if (fs::path(suite).is_absolute()) s.inputs["suite_sha256"] = file_hash(suite);
    } else if (s.kind == "route") {
      std::string suite = id.substr(6);
      json run_ids = json::array(), names = json::array(), weights = json::array();
      for (const std::string& full : spec_.suites)
        if (suite_label(full) == suite)
          for (const auto& [m, run] : tiers(full)) {
            known = known && !run.empty();
            run_ids.push_back(run);
            names.push_back(m->spec.name);
            weights.push_back(cost_of(*m));
          }
      s.inputs = {{"run_ids", run_ids},         {"tiers", names},
                  {"weights", weights},         {"policies", spec_.policies},
                  {"cost", spec_.routing_cost}, {"folds", spec_.folds},
                  {"seed", spec_.seed},         {"rule", rule(names.get<std::vector<std::string>>()).to_json()}};
    } else if (s.kind == "routed") {
      std::string rest = id.substr(7);
      std::string policy = rest.substr(0, rest.rfind(':'));
      std::string suite = suite_path(rest.substr(rest.rfind(':') + 1));
      json tiers = json::array();
      std::vector<std::string> names;
      const std::vector<const Model*> online = online_tiers();
      for (const Model* m : online) {
        names.push_back(m->spec.name);
        std::string identity = model_identity(*m);
        known = known && !identity.empty();
        tiers.push_back({{"name", m->spec.name}, {"sha256", identity}, {"cost", cost_of(*m)}});
      }
      eval::EvalConfig c = eval_config(*online.front(), suite);
      c.backend = "router";
      c.model = "router-" + policy;
      c.policy = policy;
      // The first tier's own endpoint and samples are the catalogue's business now.
      c.base_url.clear();
      c.api_key_env.clear();
      c.samples_file.clear();
      s.inputs = {
          {"tiers", tiers}, {"policy", policy}, {"rule", rule(names, policy).to_json()}, {"config", c.to_json()}};
      if (fs::path(suite).is_absolute()) s.inputs["suite_sha256"] = file_hash(suite);
    } else {
      json runs = json::array();
      for (const std::string& run : report_runs()) {
        known = known && !run.empty();
        runs.push_back(run);
      }
      s.inputs = {{"run_ids", runs}};
    }
    s.cached = known && state_.finished(id, s.inputs);
    return s;
  }

  json execute(const Step& s, store::Store& store) {
    if (s.kind == "quantize") return run_quantize(s);
    if (s.kind == "eval") return run_eval_step(s);
    if (s.kind == "route") return run_route(s, store);
    if (s.kind == "routed") return run_routed(s);
    return run_report(store);
  }

  json run_quantize(const Step& s) {
    const std::string& id = s.id;
    Model& d = model(id.substr(9, id.find(':', 9) - 9) + "-" + id.substr(id.rfind(':') + 1));
    const Model& base = model(d.source);
    std::string input = model_file(base);
    fs::create_directories(fs::path(d.spec.path).parent_path());
    std::optional<quant::Imatrix> imatrix;
    if (!d.imatrix.empty()) imatrix = quant::read_imatrix(d.imatrix);
    quant::QuantizeOptions q;
    q.input = input;
    q.output = d.spec.path;
    q.ftype = *quant::parse_file_type(d.type);
    q.imatrix = imatrix ? &*imatrix : nullptr;
    quant::QuantizeResult qr = quant::quantize_model(q, [&](const quant::QuantizeTick& t) {
      if (options_.step_progress)
        options_.step_progress({s.id, "bytes", t.bytes_done, t.bytes_total, 0, t.tensor ? t.tensor->plan.name : ""});
    });
    std::string sha = file_hash(d.spec.path);
    registry::AddOptions add;
    add.name = d.spec.name;
    add.parents = {s.inputs["source_sha256"].get<std::string>()};
    add.made_by = fmt::format("lcte study run {} (quantize {} {})", spec_.path, d.source, d.type);
    add.settings = {{"type", d.type}, {"imatrix", d.imatrix}, {"study", spec_.name}};
    registry::Manifest m = reg().add(d.spec.path, add);
    double ratio = fs::file_size(input) > 0 ? double(fs::file_size(d.spec.path)) / fs::file_size(input) : 1.0;
    return {{"path", d.spec.path},
            {"sha256", sha},
            {"registry", m.name + "@" + m.version},
            {"bits_per_weight", qr.bits_per_weight()},
            {"cost", base.spec.cost * ratio},
            {"seconds", qr.seconds}};
  }

  json run_eval_step(const Step& s) {
    std::string rest = s.id.substr(5);
    const Model& m = model(rest.substr(0, rest.rfind(':')));
    eval::EvalConfig config = eval::EvalConfig::from_json(s.inputs["config"]);
    json out = run_eval(s, config);
    if (m.derived() || !m.spec.ref.empty()) {
      std::string sha = s.inputs["model_sha256"];
      json metrics;
      for (const auto& [k, v] : out["pass_at_k"].items()) metrics[suite_label(config.suite) + "/" + k] = v;
      if (reg().try_find(sha)) reg().set_metrics(sha, metrics);
    }
    out["model_sha256"] = s.inputs["model_sha256"];
    return out;
  }

  // The online router over the online tiers: a catalogue of their files and
  // costs with the study's routing rule, evaluated like any model.
  json run_routed(const Step& s) {
    std::string rest = s.id.substr(7);
    std::string policy = rest.substr(0, rest.rfind(':'));
    std::string dir = spec_.output + "/route";
    fs::create_directories(dir);
    std::string catalogue = dir + "/catalogue-" + policy + "-" + rest.substr(rest.rfind(':') + 1) + ".toml";
    std::string text = "# Written by lcte study run: the online router's tiers and rule.\n";
    for (const Model* m : online_tiers()) {
      // The study's entry as the catalogue reads it: a registry model as its file.
      ModelSpec tier = m->spec;
      if (tier.is_local()) tier.path = model_file(*m), tier.ref.clear();
      tier.cost = cost_of(*m);
      text += backend::model_entry_toml(tier) + "\n";
    }
    // The study's rule, its tokenizer a file (a study model need not be a tier).
    json routing = s.inputs["rule"];
    routing["tokenizer"] = tokenizer_file(routing.value("tokenizer", ""));
    text += "[routing]\n";
    for (const auto& [key, value] : routing.items()) text += key + " = " + value.dump() + "\n";  // JSON values are TOML
    registry::write_file_atomic(catalogue, text);
    eval::EvalConfig config = eval::EvalConfig::from_json(s.inputs["config"]);
    config.catalogue = catalogue;
    json out = run_eval(s, config);
    out["catalogue"] = catalogue;
    // What the live router spent: each tier's share of the requests at its cost weight.
    const json requests = out.value("routing", json::object()).value("tier_requests_this_session", json::object());
    out.erase("routing");
    double total = 0, cost = 0;
    for (const auto& t : s.inputs["tiers"]) {
      double n = requests.value(t.value("name", ""), 0.0);
      total += n;
      cost += n * t.value("cost", 0.0);
    }
    out["tier_requests"] = requests;
    if (total > 0) out["cost"] = cost / total;
    return out;
  }

  json run_eval(const Step& s, const eval::EvalConfig& config) {
    eval::SessionOptions session;
    session.out_dir = spec_.output + "/runs";
    session.workers = spec_.workers;
    session.isolation = spec_.isolation;
    session.executor = options_.executor;
    if (config.backend == "http") session.http.max_in_flight = step_model(s).spec.max_in_flight;
    if (options_.step_progress)
      session.progress = [&](const eval::Progress& p) {
        options_.step_progress({s.id, "samples", p.done, p.total, p.skipped, fmt::format("passed {}", p.passed)});
      };
    experiment::EvalExperimentOptions publish;
    publish.store_path = store_path();
    publish.experiment = spec_.name;
    publish.recorder.sample_rate_hz = spec_.sample_rate_hz;
    publish.write_report = false;  // the study writes one report over every run

    // An eval a killed invocation left half done continues with --resume.
    std::string resume;
    if (const json* prev = state_.step(s.id); prev != nullptr && options_.resume &&
                                              prev->value("status", "") == "started" &&
                                              prev->value("inputs", json()) == s.inputs) {
      std::string dir = prev->value("run_dir", "");
      if (fs::exists(dir)) resume = dir;
    }
    if (resume.empty()) {
      session.run_id =
          eval::make_run_id(config.suite.find('/') == std::string::npos ? config.suite : "user", config.backend);
      state_.set_step(s.id, {{"status", "started"},
                             {"inputs", s.inputs},
                             {"run_id", session.run_id},
                             {"run_dir", session.out_dir + "/" + session.run_id}});
    } else {
      print_(fmt::format("  resuming {}", resume));
    }
    experiment::EvalExperimentResult r = experiment::run_eval_experiment(config, session, publish, resume);
    json pass = r.session.summary.value("pass_at_k", json::object());
    json out = {{"run_id", r.session.run_id},
                {"run_dir", r.session.run_dir},
                {"pass_at_k", pass},
                {"tasks", r.session.summary.value("tasks", 0)}};
    if (r.session.summary.contains("routing")) out["routing"] = r.session.summary["routing"];  // router runs only
    return out;
  }

  json run_route(const Step& s, store::Store& store) {
    std::string label = s.id.substr(6);
    std::vector<std::string> run_ids = s.inputs["run_ids"];
    experiment::RoutingDataOptions o;
    o.cost = spec_.routing_cost;
    o.weights = s.inputs["weights"].get<std::vector<double>>();
    std::unique_ptr<eval::Executor> owned;
    o.executor = options_.executor;
    bool cascade = std::find(spec_.policies.begin(), spec_.policies.end(), "cascade") != spec_.policies.end();
    if (o.executor == nullptr && cascade) {
      sandbox::Options so;
      so.python = eval::resolve_python("python3");
      so.isolation = spec_.isolation;
      owned = eval::make_sandbox_executor(so);
      o.executor = owned.get();
    }
    route::RouterConfig rule = route::RouterConfig::from_json(s.inputs["rule"]);
    route::TokenizerCache tokenizers(model_files());
    o.count_tokens = tokenizers.counter(rule.tokenizer);
    experiment::RoutingData data = experiment::load_routing_data(store, run_ids, o);
    data.tiers = s.inputs["tiers"].get<std::vector<std::string>>();
    experiment::RouteEvaluation e = experiment::evaluate_policies(data, spec_.policies, rule, spec_.folds, spec_.seed);
    std::string dir = spec_.output + "/route/" + label;
    fs::create_directories(dir);
    registry::write_file_atomic(dir + "/points.csv", experiment::points_csv(e));
    json ej = experiment::evaluation_json(data, e);
    registry::write_file_atomic(dir + "/evaluation.json", ej.dump(2) + "\n");
    registry::write_file_atomic(dir + "/evaluation.svg", experiment::evaluation_svg(data, e));
    json winners = json::array();
    for (const auto& [budget, policy] : e.winners) winners.push_back({{"budget", budget}, {"policy", policy}});
    return {{"dir", dir}, {"weak", e.weak}, {"strong", e.strong}, {"winners", winners}, {"cost_unit", data.cost_unit}};
  }

  json run_report(store::Store& store) {
    std::vector<std::string> runs = report_runs();
    std::string dir = spec_.output + "/report";
    report::ReportFiles f = report::write_report(store, runs, dir, "Study " + spec_.name);
    return {{"dir", dir}, {"html", f.html}};
  }

  std::string begin_study_run(store::Store& store) {
    json& root = state_.root();
    std::string id = root.value("study_run_id", "");
    if (!id.empty() && store.find_run(id) && store.find_run(id)->id == id) {
      store.reopen_run(id);
      return id;
    }
    id = "study-" + eval::make_run_id(spec_.name, "study");
    store::RunRecord r;
    r.id = id;
    r.kind = "study";
    r.name = spec_.name;
    r.experiment = spec_.name;
    r.config = {{"study_file", spec_.path}, {"output", spec_.output}};
    r.run_dir = spec_.output;
    r.code_version = eval::lcte_version();
    store.begin_run(r);
    root["study_run_id"] = id;
    state_.save();
    return id;
  }

  // results.csv and study.json: only the results, never how this invocation got them.
  json write_outputs(store::Store& /*store*/) {
    json models = json::array(), runs = json::array(), routing = json::object();
    std::set<int> ks;
    for (const Model& m : models_) {
      json entry = {{"name", m.spec.name},
                    {"tier", m.spec.tier},
                    {"cost", cost_of(m)},
                    {"backend", m.spec.backend},
                    {"sha256", model_identity(m)}};
      if (m.derived()) entry["made_from"] = {{"model", m.source}, {"type", m.type}};
      models.push_back(entry);
    }
    std::string csv = "model,tier,cost,suite,run_id,tasks";
    for (const std::string& suite : spec_.suites)
      for (const Model& m : models_) {
        const json* r = finished_result("eval:" + m.spec.name + ":" + suite_label(suite));
        for (const auto& [k, v] : (*r)["pass_at_k"].items()) ks.insert(std::stoi(k.substr(5)));
      }
    for (int k : ks) csv += fmt::format(",pass@{}", k);
    csv += "\n";
    for (const std::string& suite : spec_.suites) {
      for (const Model& m : models_) {
        const json& r = *finished_result("eval:" + m.spec.name + ":" + suite_label(suite));
        runs.push_back({{"model", m.spec.name},
                        {"suite", suite_label(suite)},
                        {"run_id", r["run_id"]},
                        {"tasks", r["tasks"]},
                        {"pass_at_k", r["pass_at_k"]}});
        csv += fmt::format("{},{},{},{},{},{}", m.spec.name, m.spec.tier, cost_of(m), suite_label(suite),
                           r["run_id"].get<std::string>(), r["tasks"].dump());
        for (int k : ks) {
          const json& v = r["pass_at_k"].value("pass@" + std::to_string(k), json());
          csv += "," + (v.is_number() ? fmt::format("{}", v.get<double>()) : std::string());
        }
        csv += "\n";
      }
      for (const std::string& policy : spec_.online) {
        const json& r = *finished_result("routed:" + policy + ":" + suite_label(suite));
        runs.push_back({{"model", "router-" + policy},
                        {"suite", suite_label(suite)},
                        {"run_id", r["run_id"]},
                        {"tasks", r["tasks"]},
                        {"pass_at_k", r["pass_at_k"]},
                        {"online", true},
                        {"cost", r.value("cost", json())},
                        {"tier_requests", r.value("tier_requests", json::object())}});
        csv += fmt::format("router-{},,,{},{},{}", policy, suite_label(suite), r["run_id"].get<std::string>(),
                           r["tasks"].dump());
        for (int k : ks) {
          const json& v = r["pass_at_k"].value("pass@" + std::to_string(k), json());
          csv += "," + (v.is_number() ? fmt::format("{}", v.get<double>()) : std::string());
        }
        csv += "\n";
      }
      if (const json* rr = finished_result("route:" + suite_label(suite))) routing[suite_label(suite)] = *rr;
    }
    registry::write_file_atomic(spec_.output + "/results.csv", csv);
    json summary = {{"name", spec_.name},     {"study_file", spec_.path},
                    {"output", spec_.output}, {"models", models},
                    {"suites", spec_.suites}, {"runs", runs},
                    {"routing", routing},     {"report", spec_.output + "/report"}};
    registry::write_file_atomic(spec_.output + "/study.json", summary.dump(2) + "\n");
    return summary;
  }

  const StudySpec& spec_;
  const StudyOptions& options_;
  State state_;
  std::function<void(const std::string&)> print_;
  std::vector<Model> models_;
  std::unique_ptr<registry::Registry> registry_;
};

}  // namespace

StudyResult run_study(const StudySpec& spec, const StudyOptions& options) {
  Runner runner(spec, options);
  return runner.run();
}

}  // namespace lcte::study
