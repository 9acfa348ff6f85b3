// lcte route decide|train|eval|log: the router from the command line. The
// routing itself is route/ (policies, offline evaluation); turning stored runs
// into routing problems is experiment/route_runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "backend/catalogue.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/text.h"
#include "eval/executor.h"
#include "eval/io.h"
#include "experiment/eval_run.h"
#include "experiment/route_runs.h"
#include "route/decision_log.h"
#include "route/router.h"
#include "store/store.h"

namespace lcte::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct RouterArgs {
  std::string config;     // model catalogue
  std::string policy;     // overrides [routing] policy
  std::string tiers;      // without a catalogue: tier names, cheapest first
  std::string tokenizer;  // overrides [routing] tokenizer
  std::string learned_model;
  double target = -1;
};

const char* kTokenizerHelp =
    "Counts the queries' tokens: an encoding (cl100k_base, o200k_base), a .tiktoken or GGUF file, or a catalogue "
    "model (default: the catalogue's [routing] tokenizer, else cl100k_base)";

void add_router_options(CLI::App* cmd, RouterArgs& a) {
  cmd->add_option("--config", a.config, "Model catalogue (TOML) with a [routing] table");
  cmd->add_option("--policy", a.policy, "threshold, learned, random, cascade or always-<tier>");
  cmd->add_option("--tiers", a.tiers, "Without --config: tier names, cheapest first (default small,large)");
  cmd->add_option("--tokenizer", a.tokenizer, kTokenizerHelp);
  cmd->add_option("--learned-model", a.learned_model, "Router file from `lcte route train` (policy learned)");
  cmd->add_option("--target", a.target, "Learned policy: pass chance a tier must reach");
}

// The routing configuration a command starts from (the catalogue's [routing],
// else the defaults) and the tokenizers it may name (the catalogue's models).
struct Routing {
  route::RouterConfig config;
  std::shared_ptr<route::TokenizerCache> tokenizers;
};

Routing load_routing(const std::string& catalogue_path, const std::string& tokenizer) {
  Routing r;
  std::map<std::string, std::string> model_files;
  if (!catalogue_path.empty()) {
    backend::Catalogue catalogue = backend::load_catalogue(catalogue_path);
    r.config = catalogue.routing;
    model_files = backend::model_files(catalogue);
  }
  if (!tokenizer.empty()) r.config.tokenizer = tokenizer;
  r.tokenizers = std::make_shared<route::TokenizerCache>(std::move(model_files));
  return r;
}

route::Router build_router(const RouterArgs& a) {
  Routing r = load_routing(a.config, a.tokenizer);
  route::RouterConfig& c = r.config;
  if (a.config.empty() && !a.tiers.empty()) {
    c.tiers = split_commas(a.tiers);
    c.max_score = route::default_max_scores(c.tiers.size());
  }
  if (!a.policy.empty()) c.policy = a.policy;
  if (!a.learned_model.empty()) c.learned_model = a.learned_model;
  if (a.target >= 0) c.learned_target = a.target;
  route::make_policy(c);  // a mistake in the settings is reported before a tokenizer is loaded
  return route::Router(c, r.tokenizers->counter(c.tokenizer));
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("--file: {}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void add_decide(CLI::App* route_cmd, std::shared_ptr<std::string> store_path) {
  auto* cmd = route_cmd->add_subcommand("decide", "Route one query: score, features, tier, decision time");
  struct Args {
    RouterArgs router;
    std::string text, file, log, model;
    bool json = false, no_store = false;
  };
  auto a = std::make_shared<Args>();
  add_router_options(cmd, a->router);
  auto* text = cmd->add_option("--text", a->text, "The query");
  cmd->add_option("--file", a->file, "Read the query from this file")->excludes(text);
  cmd->add_option("--model", a->model, "Force this tier (a per-request override, logged as one)");
  cmd->add_option("--log", a->log, "Also append the decision to this JSONL log");
  cmd->add_flag("--no-store", a->no_store, "Do not record the decision in the store");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a, store_path] {
    if (a->text.empty() && a->file.empty()) fail("route decide: give --text or --file");
    std::string query = a->file.empty() ? a->text : read_text_file(a->file);
    route::Router router = build_router(a->router);
    route::RouteResult r = router.route(query, a->model);
    route::DecisionRecord record = route::to_record(r, query);
    if (!a->log.empty()) route::DecisionLog(a->log).append(record);
    if (!a->no_store) {
      store::Store s(*store_path);
      s.add_decision(experiment::stored_decision(record));
    }
    if (a->json) {
      std::printf("%s\n", route::explain(r).dump(2).c_str());
      return;
    }
    std::printf("tier      %s%s\n", r.tier.c_str(), r.override_applied ? " (override)" : "");
    std::printf("score     %d  (%s%lld %s tokens%s)\n", r.decision.score, r.n_tokens_at_least ? "at least " : "",
                static_cast<long long>(r.n_tokens), r.tokenizer.c_str(),
                r.n_tokens_at_least ? "; counting stopped, the score was settled" : "");
    std::printf("policy    %s\n", r.policy.c_str());
    std::printf("reason    %s\n", r.decision.reason.c_str());
    for (size_t i = 0; i < r.decision.p_pass.size(); ++i)
      std::printf("p(pass)   %s %.3f\n", router.config().tiers[i].c_str(), r.decision.p_pass[i]);
    std::printf("features ");
    for (size_t i = 0; i < route::Features::names().size() && i < r.features.values.size(); ++i)
      std::printf(" %s=%g", route::Features::names()[i].c_str(), r.features.values[i]);
    std::printf("\ndecision  %.1f us\n", r.decision_us);
  });
}

struct RunsArgs {
  std::string runs, tokenizer, config, cost = "auto", weights;
};

experiment::RoutingData load_data(const RunsArgs& a, const Routing& routing, const std::string& store_path,
                                  eval::Executor* executor) {
  store::Store s(store_path);
  const std::vector<std::string> runs = split_commas(a.runs);
  for (const std::string& id : runs)  // a mistyped run is named before a tokenizer is loaded
    if (!s.find_run(id)) fail("route eval: no run '{}' in {}", id, s.path());
  experiment::RoutingDataOptions o;
  o.count_tokens = routing.tokenizers->counter(routing.config.tokenizer);
  o.cost = a.cost;
  for (const auto& w : split_commas(a.weights)) {
    try {
      o.weights.push_back(std::stod(w));
    } catch (const std::exception&) {
      fail("--weights: \"{}\" is not a number", w);
    }
  }
  o.executor = executor;
  return experiment::load_routing_data(s, runs, o);
}

void add_runs_options(CLI::App* cmd, RunsArgs& a) {
  cmd->add_option("--runs", a.runs, "Eval runs on the same suite, one per tier, cheapest first (ids or prefixes)")
      ->required();
  cmd->add_option("--tokenizer", a.tokenizer, kTokenizerHelp);
  cmd->add_option("--config", a.config, "Model catalogue (its [routing]: tokenizer, token_bounds, max_score)");
  cmd->add_option("--cost", a.cost, "auto, latency, tokens, energy or weights")->capture_default_str();
  cmd->add_option("--weights", a.weights, "Cost weights per tier for --cost weights (default 1,2,...)");
}

void add_train(CLI::App* route_cmd, std::shared_ptr<std::string> store_path) {
  auto* cmd = route_cmd->add_subcommand("train", "Train the learned router on stored runs");
  auto a = std::make_shared<RunsArgs>();
  auto out = std::make_shared<std::string>();
  add_runs_options(cmd, *a);
  cmd->add_option("--out,-o", *out, "Router file to write (JSON)")->required();
  cmd->callback([a, out, store_path] {
    experiment::RoutingData data = load_data(*a, load_routing(a->config, a->tokenizer), *store_path, nullptr);
    std::vector<route::TrainingExample> examples;
    for (const auto& p : data.problems)
      examples.push_back({route::extract_features(p.query, p.n_tokens).values, p.pass});
    route::PassPredictor predictor = route::PassPredictor::train(data.tiers, examples);
    predictor.set_tokenizer(data.counter.name);
    predictor.save(*out);
    std::printf("trained on %zu problems of %s, tiers", data.problems.size(), data.suite.c_str());
    for (const auto& t : data.tiers) std::printf(" %s", t.c_str());
    std::printf("\nwrote %s\n", out->c_str());
  });
}

std::string opt_text(const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v) : "-"; }

// The published comparison: each tier alone, and the threshold rule's split
// of the problems between them (every problem's tier with --list).
void print_split(const experiment::RoutingData& data, const experiment::RouteEvaluation& e,
                 const route::RouterConfig& rule, bool list) {
  if (e.split.empty()) return;
  std::vector<int> per_tier(data.tiers.size(), 0);
  for (const auto& r : e.split) ++per_tier[r.tier];
  std::printf("threshold rule, %s tokens (scale bounds", data.counter.name.c_str());
  for (int64_t b : rule.scale().upper_bounds) std::printf(" %lld", static_cast<long long>(b));
  std::printf("; highest score per tier");
  for (int m : rule.max_score) std::printf(" %d", m);
  std::printf("):\n");
  for (size_t t = 0; t < data.tiers.size(); ++t)
    std::printf("  %-20s %5d problems\n", data.tiers[t].c_str(), per_tier[t]);
  if (list) {
    std::printf("  %-24s %8s %5s  %s\n", "task", "tokens", "score", "tier");
    for (const auto& r : e.split)
      std::printf("  %-24s %7lld%s %5d  %s\n", r.task_id.c_str(), static_cast<long long>(r.n_tokens),
                  r.n_tokens_at_least ? "+" : " ", r.score, data.tiers[r.tier].c_str());
  }
  std::printf("\n%-22s %8s %10s\n", "", "pass@1", "cost");
  for (const auto& p : e.alone) std::printf("%-22s %8.3f %10.4g\n", p.policy.c_str(), p.accuracy, p.cost);
  for (const auto& p : e.points)
    if (p.policy == "threshold rule")
      std::printf("%-22s %8.3f %10.4g\n", "routed (threshold rule)", p.accuracy, p.cost);
  std::printf("\n");
}

void add_eval(CLI::App* route_cmd, std::shared_ptr<std::string> store_path) {
  auto* cmd = route_cmd->add_subcommand("eval", "Offline: accuracy against cost of routing policies on stored runs");
  auto a = std::make_shared<RunsArgs>();
  struct Extra {
    std::string policies = "threshold,learned,random,cascade,oracle,always", out;
    bool json = false, list = false;
    int folds = 5;
    uint64_t seed = 0;
    std::string isolation = "auto";  // the cascade's sandbox
  };
  auto x = std::make_shared<Extra>();
  add_runs_options(cmd, *a);
  cmd->add_option("--policy", x->policies, "Policies to evaluate")->capture_default_str();
  cmd->add_option("--out,-o", x->out, "Write route_points.csv, route_eval.json and route_curve.svg here");
  cmd->add_option("--folds", x->folds, "Cross-validation folds for the learned router")->capture_default_str();
  cmd->add_option("--seed", x->seed, "Seed of the folds and the random policy")->capture_default_str();
  cmd->add_flag("--json", x->json, "Print JSON");
  cmd->add_flag("--list", x->list, "List every problem's tokens, score and tier under the threshold rule");
  cmd->add_option(
         "--isolation", x->isolation,
         "Sandbox isolation for samples: auto (refuses without namespaces), namespaces, user-namespaces or processes")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "namespaces", "user-namespaces", "processes"}));
  cmd->callback([a, x, store_path] {
    std::vector<std::string> policies = split_commas(x->policies);
    std::unique_ptr<eval::Executor> executor;
    if (std::find(policies.begin(), policies.end(), "cascade") != policies.end()) {
      sandbox::Options so;
      so.python = eval::resolve_python("python3");
      so.isolation = x->isolation;
      executor = eval::make_sandbox_executor(so);
    }
    Routing routing = load_routing(a->config, a->tokenizer);
    experiment::RoutingData data = load_data(*a, routing, *store_path, executor.get());
    // The threshold rule: the catalogue's scale and bounds (when its tier
    // count matches the runs'), over the runs' tiers.
    route::RouterConfig rule = routing.config;
    rule.tiers = data.tiers;
    rule.models.clear();
    if (rule.max_score.size() != rule.tiers.size()) rule.max_score = route::default_max_scores(rule.tiers.size());
    rule.policy = "threshold";
    rule.forced_tier.clear();
    experiment::RouteEvaluation e = experiment::evaluate_policies(data, policies, rule, x->folds, x->seed);
    json j = experiment::evaluation_json(data, e);
    if (!x->out.empty()) {
      fs::create_directories(x->out);
      eval::write_file_atomic((fs::path(x->out) / "route_points.csv").string(), experiment::points_csv(e));
      eval::write_file_atomic((fs::path(x->out) / "route_eval.json").string(), j.dump(2) + "\n");
      eval::write_file_atomic((fs::path(x->out) / "route_curve.svg").string(), experiment::evaluation_svg(data, e));
      if (!e.split.empty())
        eval::write_file_atomic((fs::path(x->out) / "route_split.csv").string(), experiment::split_csv(data, e));
    }
    if (x->json) {
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("suite %s, %zu problems, tiers", data.suite.c_str(), data.problems.size());
    for (const auto& t : data.tiers) std::printf(" %s", t.c_str());
    std::printf("\ncost: %s\ntokens: %s\nweak tier pass@1 %.3f, strong tier pass@1 %.3f\n\n", data.cost_unit.c_str(),
                data.counter.name.c_str(), e.weak, e.strong);
    print_split(data, e, rule, x->list);
    std::printf("%-14s %7s %7s %7s\n", "curve", "APGR", "CPT50", "CPT80");
    for (const auto& c : e.curves)
      std::printf("%-14s %7s %7s %7s\n", c.policy.c_str(), opt_text(c.gap.apgr).c_str(), opt_text(c.gap.cpt50).c_str(),
                  opt_text(c.gap.cpt80).c_str());
    std::printf("\n%-22s %8s %10s %12s\n", "point", "pass@1", "cost", "strong share");
    for (const auto& p : e.points)
      std::printf("%-22s %8.3f %10.4g %12.3f\n", p.policy.c_str(), p.accuracy, p.cost, p.strong_share);
    std::printf("\nbest policy within a budget of strong-tier calls:\n");
    for (const auto& [budget, name] : e.winners) std::printf("  <= %3.0f%%  %s\n", 100 * budget, name.c_str());
    for (const auto& n : data.notes) std::printf("note: %s\n", n.c_str());
    if (!x->out.empty())
      std::printf("wrote %s/route_points.csv, route_eval.json, route_curve.svg%s\n", x->out.c_str(),
                  e.split.empty() ? "" : ", route_split.csv");
  });
}

void add_log(CLI::App* route_cmd, std::shared_ptr<std::string> store_path) {
  auto* cmd = route_cmd->add_subcommand("log", "Routing decisions, newest last (from a JSONL log or the store)");
  struct Args {
    std::string log, run;
    size_t limit = 50;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--log", a->log, "Read this JSONL decision log instead of the store");
  cmd->add_option("--run", a->run, "Only decisions of this run (store)");
  cmd->add_option("--limit", a->limit, "At most this many (0: all)")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON lines");
  cmd->callback([a, store_path] {
    std::vector<json> rows;
    if (!a->log.empty()) {
      for (const auto& r : route::DecisionLog::read(a->log)) rows.push_back(r.to_json());
    } else {
      store::Store s(*store_path);
      std::optional<std::string> run;
      if (!a->run.empty()) run = a->run;
      for (const auto& d : s.decisions(run, 0)) rows.push_back(store::to_json(d));
      std::reverse(rows.begin(), rows.end());  // the store gives newest first
    }
    size_t from = a->limit > 0 && rows.size() > a->limit ? rows.size() - a->limit : 0;
    if (a->json) {
      for (size_t i = from; i < rows.size(); ++i) std::printf("%s\n", rows[i].dump().c_str());
      return;
    }
    std::printf("%-24s %-16s %7s %-12s %5s %-12s %-10s %3s %9s\n", "time", "query", "tokens", "tokenizer", "score",
                "policy", "tier", "ovr", "us");
    for (size_t i = from; i < rows.size(); ++i) {
      const json& r = rows[i];
      // "1216+": counting stopped there (the query has at least that many).
      std::string tokens =
          std::to_string(r.value("n_tokens", int64_t{0})) + (r.value("n_tokens_at_least", false) ? "+" : "");
      std::printf("%-24s %-16s %7s %-12s %5d %-12s %-10s %3s %9.1f\n", r.value("time", "").c_str(),
                  r.value("query_hash", "").c_str(), tokens.c_str(), r.value("tokenizer", "").c_str(),
                  r.value("score", 0), r.value("policy", "").c_str(), r.value("tier", "").c_str(),
                  r.value("override", false) ? "yes" : "", r.value("decision_us", 0.0));
    }
  });
}

}  // namespace

void add_route_command(CLI::App& app) {
  auto* route_cmd = app.add_subcommand("route", "Route queries among model tiers; train and evaluate routers");
  route_cmd->require_subcommand(1);
  auto store_path = std::make_shared<std::string>(store::Store::default_path());
  route_cmd->add_option("--store", *store_path, "Experiment store")->capture_default_str();
  add_decide(route_cmd, store_path);
  add_train(route_cmd, store_path);
  add_eval(route_cmd, store_path);
  add_log(route_cmd, store_path);
}

}  // namespace lcte::cli
