// lcte route decide|train|eval|log: the router from the command line. The
// routing itself is route/ (policies, offline evaluation); turning stored runs
// into routing problems is experiment/route_runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/routing.h"
#include "core/error.h"
#include "core/text.h"
#include "eval/executor.h"
#include "eval/io.h"
#include "experiment/eval_run.h"
#include "experiment/route_runs.h"
#include "route/decision_log.h"
#include "store/store.h"

namespace lcte::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct RouterArgs {
  std::string config;     // model catalogue
  std::string policy;     // overrides [routing] policy
  std::string tiers;      // without a catalogue: tier names, cheapest first
  std::string tokenizer;  // GGUF or catalogue model
  std::string learned_model;
  double target = -1;
};

void add_router_options(CLI::App* cmd, RouterArgs& a) {
  cmd->add_option("--config", a.config, "Model catalogue (TOML) with a [routing] table");
  cmd->add_option("--policy", a.policy, "threshold, learned, random, cascade or always-<tier>");
  cmd->add_option("--tiers", a.tiers, "Without --config: tier names, cheapest first (default small,large)");
  cmd->add_option("--tokenizer", a.tokenizer, "GGUF whose vocabulary counts tokens (default: the cheapest local tier)");
  cmd->add_option("--learned-model", a.learned_model, "Router file from `lcte route train` (policy learned)");
  cmd->add_option("--target", a.target, "Learned policy: pass chance a tier must reach");
}

struct BuiltRouter {
  route::RouterConfig config;
  route::TokenCounter count;
};

BuiltRouter build_router(const RouterArgs& a) {
  BuiltRouter b;
  std::optional<backend::Catalogue> catalogue;
  if (!a.config.empty()) {
    catalogue = backend::load_catalogue(a.config);
    b.config = router_config(*catalogue);
  } else if (!a.tiers.empty()) {
    b.config.tiers = split_commas(a.tiers);
    if (b.config.tiers.size() == 1) b.config.max_score = {10};
    else if (b.config.tiers.size() != 2) {
      // The published two-tier rule; more tiers split scores 7-10 evenly.
      b.config.max_score = {6};
      for (size_t i = 1; i + 1 < b.config.tiers.size(); ++i)
        b.config.max_score.push_back(static_cast<int>(6 + (4 * i) / (b.config.tiers.size() - 1)));
      b.config.max_score.push_back(10);
    }
  }
  if (!a.policy.empty()) b.config.policy = a.policy;
  if (!a.learned_model.empty()) b.config.learned_model = a.learned_model;
  if (a.target >= 0) b.config.learned_target = a.target;
  b.count = token_counter(routing_tokenizer(catalogue ? &*catalogue : nullptr, a.tokenizer));
  return b;
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
    BuiltRouter b = build_router(a->router);
    route::Router router(b.config, b.count);
    route::RouteResult r = router.route(query, a->model);
    route::DecisionRecord record = route::to_record(r, query);
    if (!a->log.empty()) route::DecisionLog(a->log).append(record);
    if (!a->no_store) {
      store::Store s(*store_path);
      s.add_decision(experiment::stored_decision(record));
    }
    json features = json::object();
    for (size_t i = 0; i < route::Features::names().size() && i < r.features.values.size(); ++i)
      features[route::Features::names()[i]] = r.features.values[i];
    if (a->json) {
      json out = {{"tier", r.tier},
                  {"tier_index", r.tier_index},
                  {"score", r.decision.score},
                  {"n_tokens", r.n_tokens},
                  {"n_tokens_at_least", r.n_tokens_at_least},
                  {"tokens_estimated", !b.count},
                  {"features", features},
                  {"policy", r.policy},
                  {"override", r.override_applied},
                  {"reason", r.decision.reason},
                  {"decision_us", r.decision_us}};
      if (!r.decision.p_pass.empty()) out["p_pass"] = r.decision.p_pass;
      std::printf("%s\n", out.dump(2).c_str());
      return;
    }
    std::printf("tier      %s%s\n", r.tier.c_str(), r.override_applied ? " (override)" : "");
    std::printf("score     %d  (%s%lld tokens%s)\n", r.decision.score, r.n_tokens_at_least ? "at least " : "",
                static_cast<long long>(r.n_tokens),
                !b.count ? ", estimated" : r.n_tokens_at_least ? "; counting stopped, the score was settled" : "");
    std::printf("policy    %s\n", r.policy.c_str());
    std::printf("reason    %s\n", r.decision.reason.c_str());
    for (size_t i = 0; i < r.decision.p_pass.size(); ++i)
      std::printf("p(pass)   %s %.3f\n", b.config.tiers[i].c_str(), r.decision.p_pass[i]);
    std::printf("features ");
    for (const auto& [k, v] : features.items()) std::printf(" %s=%g", k.c_str(), v.get<double>());
    std::printf("\ndecision  %.1f us\n", r.decision_us);
  });
}

struct RunsArgs {
  std::string runs, tokenizer, config, cost = "auto", weights;
};

experiment::RoutingData load_data(const RunsArgs& a, const std::string& store_path, eval::Executor* executor) {
  store::Store s(store_path);
  experiment::RoutingDataOptions o;
  std::optional<backend::Catalogue> catalogue;
  if (!a.config.empty()) catalogue = backend::load_catalogue(a.config);
  o.count_tokens = token_counter(routing_tokenizer(catalogue ? &*catalogue : nullptr, a.tokenizer));
  o.cost = a.cost;
  for (const auto& w : split_commas(a.weights)) {
    try {
      o.weights.push_back(std::stod(w));
    } catch (const std::exception&) {
      fail("--weights: \"{}\" is not a number", w);
    }
  }
  o.executor = executor;
  return experiment::load_routing_data(s, split_commas(a.runs), o);
}

void add_runs_options(CLI::App* cmd, RunsArgs& a) {
  cmd->add_option("--runs", a.runs, "Eval runs on the same suite, one per tier, cheapest first (ids or prefixes)")->required();
  cmd->add_option("--tokenizer", a.tokenizer, "GGUF whose vocabulary counts the queries' tokens");
  cmd->add_option("--config", a.config, "Model catalogue (its routing tokenizer)");
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
    experiment::RoutingData data = load_data(*a, *store_path, nullptr);
    std::vector<route::TrainingExample> examples;
    for (const auto& p : data.problems)
      examples.push_back({route::extract_features(p.query, p.n_tokens).values, p.pass});
    route::PassPredictor predictor = route::PassPredictor::train(data.tiers, examples);
    predictor.save(*out);
    std::printf("trained on %zu problems of %s, tiers", data.problems.size(), data.suite.c_str());
    for (const auto& t : data.tiers) std::printf(" %s", t.c_str());
    std::printf("\nwrote %s\n", out->c_str());
  });
}

std::string opt_text(const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v) : "-"; }

void add_eval(CLI::App* route_cmd, std::shared_ptr<std::string> store_path) {
  auto* cmd = route_cmd->add_subcommand("eval", "Offline: accuracy against cost of routing policies on stored runs");
  auto a = std::make_shared<RunsArgs>();
  struct Extra {
    std::string policies = "threshold,learned,random,cascade,oracle,always", out;
    bool json = false;
    int folds = 5;
    uint64_t seed = 0;
  };
  auto x = std::make_shared<Extra>();
  add_runs_options(cmd, *a);
  cmd->add_option("--policy", x->policies, "Policies to evaluate")->capture_default_str();
  cmd->add_option("--out,-o", x->out, "Write route_points.csv, route_eval.json and route_curve.svg here");
  cmd->add_option("--folds", x->folds, "Cross-validation folds for the learned router")->capture_default_str();
  cmd->add_option("--seed", x->seed, "Seed of the folds and the random policy")->capture_default_str();
  cmd->add_flag("--json", x->json, "Print JSON");
  cmd->callback([a, x, store_path] {
    std::vector<std::string> policies = split_commas(x->policies);
    std::unique_ptr<eval::Executor> executor;
    if (std::find(policies.begin(), policies.end(), "cascade") != policies.end()) {
      sandbox::Options so;
      so.python = eval::resolve_python("python3");
      executor = eval::make_sandbox_executor(so);
    }
    experiment::RoutingData data = load_data(*a, *store_path, executor.get());
    route::RouterConfig rule;
    rule.tiers = data.tiers;
    if (data.tiers.size() != 2) {
      rule.max_score = {6};
      for (size_t i = 1; i + 1 < data.tiers.size(); ++i)
        rule.max_score.push_back(static_cast<int>(6 + (4 * i) / (data.tiers.size() - 1)));
      rule.max_score.push_back(10);
    }
    experiment::RouteEvaluation e = experiment::evaluate_policies(data, policies, rule, x->folds, x->seed);
    json j = experiment::evaluation_json(data, e);
    if (!x->out.empty()) {
      fs::create_directories(x->out);
      eval::write_file_atomic((fs::path(x->out) / "route_points.csv").string(), experiment::points_csv(e));
      eval::write_file_atomic((fs::path(x->out) / "route_eval.json").string(), j.dump(2) + "\n");
      eval::write_file_atomic((fs::path(x->out) / "route_curve.svg").string(), experiment::evaluation_svg(data, e));
    }
    if (x->json) {
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("suite %s, %zu problems, tiers", data.suite.c_str(), data.problems.size());
    for (const auto& t : data.tiers) std::printf(" %s", t.c_str());
    std::printf("\ncost: %s\nweak tier pass@1 %.3f, strong tier pass@1 %.3f\n\n", data.cost_unit.c_str(), e.weak, e.strong);
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
    if (!x->out.empty()) std::printf("wrote %s/route_points.csv, route_eval.json, route_curve.svg\n", x->out.c_str());
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
      for (const auto& d : s.decisions(run, 0))
        rows.push_back({{"time", d.time}, {"query_hash", d.query_hash}, {"n_tokens", d.n_tokens}, {"score", d.score},
                        {"policy", d.policy}, {"tier", d.tier}, {"override", d.override_applied},
                        {"decision_us", d.decision_us}, {"reason", d.reason},
                        {"outcome", d.outcome ? json(*d.outcome) : json(nullptr)}});
      std::reverse(rows.begin(), rows.end());  // the store gives newest first
    }
    size_t from = a->limit > 0 && rows.size() > a->limit ? rows.size() - a->limit : 0;
    if (a->json) {
      for (size_t i = from; i < rows.size(); ++i) std::printf("%s\n", rows[i].dump().c_str());
      return;
    }
    std::printf("%-24s %-16s %7s %5s %-12s %-10s %3s %9s\n", "time", "query", "tokens", "score", "policy", "tier", "ovr",
                "us");
    for (size_t i = from; i < rows.size(); ++i) {
      const json& r = rows[i];
      // "1216+": counting stopped there (the query has at least that many).
      std::string tokens = std::to_string(r.value("n_tokens", int64_t{0})) + (r.value("n_tokens_at_least", false) ? "+" : "");
      std::printf("%-24s %-16s %7s %5d %-12s %-10s %3s %9.1f\n", r.value("time", "").c_str(),
                  r.value("query_hash", "").c_str(), tokens.c_str(), r.value("score", 0),
                  r.value("policy", "").c_str(), r.value("tier", "").c_str(), r.value("override", false) ? "yes" : "",
                  r.value("decision_us", 0.0));
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
