#include "experiment/route_runs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "eval/extract.h"
#include "eval/prompts.h"
#include "eval/run_outputs.h"
#include "eval/suite.h"
#include "report/svg_chart.h"

namespace lcte::experiment {
using nlohmann::json;

namespace {

struct TaskStats {
  int n = 0, passed = 0;
  double latency_sum = 0, tokens_sum = 0;
  int latency_n = 0, tokens_n = 0;
  std::string first_completion;
  int64_t first_index = -1;
};

std::string query_text(const eval::Prompt& p) {
  if (p.style == eval::Style::Completion) return p.text;
  std::string text;
  for (const auto& m : p.messages) text += (text.empty() ? "" : "\n") + m.content;
  return text;
}

double energy_per_problem(const store::RunRecord& run) {
  const json& s = run.summary;
  if (!s.contains("energy") || !s["energy"].contains("total_joules")) return std::nan("");
  int64_t tasks = s.value("tasks", 0);
  return tasks > 0 ? s["energy"]["total_joules"].get<double>() / static_cast<double>(tasks) : std::nan("");
}

}  // namespace

namespace {

struct Example {
  std::string source, want;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string strip(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

bool closes_docstring(const std::string& line) { return line.rfind("\"\"\"", 0) == 0 || line.rfind("'''", 0) == 0; }

// Doctest examples as doctest reads them: ">>> " source, "... " continuation
// lines, then the expected output up to a blank line, the next example or
// the docstring's closing quotes.
std::vector<Example> doctest_examples(const std::string& text) {
  std::vector<Example> out;
  std::vector<std::string> lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = strip(lines[i]);
    if (line.rfind(">>>", 0) != 0) continue;
    Example e;
    e.source = strip(line.substr(3));
    while (i + 1 < lines.size() && strip(lines[i + 1]).rfind("...", 0) == 0) {
      std::string more = strip(lines[++i]);
      e.source += "\n" + more.substr(std::min<size_t>(4, more.size()));
    }
    while (i + 1 < lines.size()) {
      std::string next = strip(lines[i + 1]);
      if (next.empty() || next.rfind(">>>", 0) == 0 || closes_docstring(next)) break;
      e.want += (e.want.empty() ? "" : "\n") + next;
      ++i;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::string visible_tests(const std::string& prompt_text) {
  std::vector<Example> examples = doctest_examples(prompt_text);
  if (!examples.empty()) {
    // Each example judged as doctest judges it: the repr of an expression's
    // value against the expected text, whitespace normalised; a statement is
    // run and must expect nothing. (The sandbox does not allow importing
    // doctest itself.)
    std::string code =
        "def _lcte_visible(src, want):\n"
        "    try:\n"
        "        code = compile(src, '<visible>', 'eval')\n"
        "    except SyntaxError:\n"
        "        exec(src, globals())\n"
        "        return want.strip() == ''\n"
        "    value = eval(code, globals())\n"
        "    got = '' if value is None else repr(value)\n"
        "    return ' '.join(got.split()) == ' '.join(want.split())\n";
    for (const Example& e : examples)
      code += fmt::format("assert _lcte_visible({}, {}), {}\n", json(e.source).dump(), json(e.want).dump(),
                          json("visible example failed: " + e.source).dump());
    return code;
  }
  std::string asserts;
  for (const std::string& line : lines_of(prompt_text)) {
    std::string s = strip(line);
    if (s.rfind("assert ", 0) == 0) asserts += s + "\n";
  }
  return asserts;
}

RoutingData load_routing_data(store::Store& store, const std::vector<std::string>& run_ids,
                              const RoutingDataOptions& options) {
  if (run_ids.size() < 2) fail("route eval: give at least two runs (cheapest tier first)");
  if (!options.count_tokens) fail("route eval: no tokenizer to count the queries' tokens");
  RoutingData data;
  data.counter = options.count_tokens;
  std::vector<store::RunRecord> runs;
  std::vector<std::map<std::string, TaskStats>> stats;
  for (const std::string& id : run_ids) {
    auto run = store.find_run(id);
    if (!run) fail("route eval: no run '{}' in {}", id, store.path());
    std::string suite = run->config.value("suite", "");
    if (data.suite.empty()) data.suite = suite;
    if (suite != data.suite)
      fail("route eval: run {} is on suite {}, run {} on {}", runs[0].id, data.suite, run->id, suite);
    if (eval::is_fix_suite_name(suite)) fail("route eval: {} is a debugging suite; route on the plain suites", suite);
    std::map<std::string, TaskStats> per_task;
    for (const store::StoredSample& s : store.samples(run->id)) {
      TaskStats& t = per_task[s.task_id];
      t.n++;
      t.passed += s.passed;
      if (s.latency_s) t.latency_sum += *s.latency_s, t.latency_n++;
      if (s.completion_tokens >= 0) t.tokens_sum += static_cast<double>(s.completion_tokens), t.tokens_n++;
      if (t.first_index < 0 || s.sample_index < t.first_index)
        t.first_index = s.sample_index, t.first_completion = s.completion;
    }
    if (per_task.empty()) fail("route eval: run {} has no samples", run->id);
    data.run_ids.push_back(run->id);
    data.tiers.push_back(run->model_name.empty() ? run->id : run->model_name);
    runs.push_back(*run);
    stats.push_back(std::move(per_task));
  }
  const size_t n_tiers = runs.size();

  std::vector<double> weights = options.weights;
  if (weights.empty())
    for (size_t t = 0; t < n_tiers; ++t) weights.push_back(static_cast<double>(t + 1));
  if (weights.size() != n_tiers) fail("route eval: {} cost weights for {} tiers", weights.size(), n_tiers);

  eval::Suite suite = eval::load_suite(data.suite, options.where);
  eval::PromptOptions prompt_options;
  prompt_options.style = eval::parse_style(runs[0].config.value("style", "completion"));
  prompt_options.few_shot = runs[0].config.value("few_shot", 0);

  bool all_latency = true;
  for (size_t t = 0; t < n_tiers; ++t)
    for (const auto& [id, s] : stats[t]) all_latency = all_latency && s.latency_n == s.n;
  std::string cost = options.cost == "auto" ? (all_latency ? "latency" : "weights") : options.cost;
  if (cost == "latency" && !all_latency) fail("route eval: --cost latency, but some samples have no measured latency");
  if (cost == "latency")
    data.cost_unit = "mean latency per query (s)";
  else if (cost == "tokens")
    data.cost_unit = "mean completion tokens per query";
  else if (cost == "energy")
    data.cost_unit = "energy per query (J)";
  else if (cost == "weights")
    data.cost_unit = "relative cost (weights)";
  else
    fail("route eval: unknown cost \"{}\" (auto, latency, tokens, energy, weights)", options.cost);
  if (options.cost == "auto" && cost == "weights")
    data.notes.push_back("costs are the tier weights: not every sample has a measured latency");
  // An endpoint's run measured this machine's client waiting for the server,
  // and OpenAI-compatible servers report no energy of their own.
  for (size_t t = 0; t < n_tiers && cost == "energy"; ++t)
    if (runs[t].config.value("backend", "") == "http")
      fail(
          "route eval: --cost energy, but run {} ({}) evaluated an endpoint, whose energy lcte cannot measure (only "
          "this machine's waiting client; the server reports none); use --cost latency, tokens or weights",
          runs[t].id, data.tiers[t]);

  size_t unchecked = 0;
  for (const eval::Task& task : suite.tasks) {
    bool everywhere = true;
    for (size_t t = 0; t < n_tiers; ++t) everywhere = everywhere && stats[t].count(task.task_id);
    if (!everywhere) continue;
    route::ProblemRecord p;
    p.task_id = task.task_id;
    eval::Prompt prompt = eval::build_prompt(suite, task, prompt_options);
    p.query = query_text(prompt);
    p.n_tokens = options.count_tokens(p.query);
    std::string checks = visible_tests(prompt.style == eval::Style::Completion ? prompt.text : p.query);
    for (size_t t = 0; t < n_tiers; ++t) {
      const TaskStats& s = stats[t].at(task.task_id);
      p.pass.push_back(static_cast<double>(s.passed) / s.n);
      double c = cost == "latency"  ? s.latency_sum / s.latency_n
                 : cost == "tokens" ? (s.tokens_n ? s.tokens_sum / s.tokens_n : std::nan(""))
                 : cost == "energy" ? energy_per_problem(runs[t])
                                    : weights[t];
      if (!std::isfinite(c)) fail("route eval: run {} has no {} figure for {}", runs[t].id, cost, task.task_id);
      p.cost.push_back(c);
      if (options.executor) {
        eval::Task visible = task;
        visible.tests = checks;
        visible.check.clear();
        sandbox::Result r = options.executor->run(eval::assemble_program(visible, prompt, s.first_completion), {});
        p.visible_pass.push_back(r.status == sandbox::Status::Passed);
        if (checks.empty()) ++unchecked;
      }
    }
    data.problems.push_back(std::move(p));
  }
  size_t total = 0;
  for (const auto& s : stats) total = std::max(total, s.size());
  if (data.problems.empty()) fail("route eval: the runs share no problem of {}", data.suite);
  if (data.problems.size() < total)
    data.notes.push_back(fmt::format("{} problem(s) left out: not in every run", total - data.problems.size()));
  if (unchecked > 0)
    data.notes.push_back(
        fmt::format("cascade: {} answer(s) had no visible example to check; only that the code runs", unchecked));
  return data;
}

RouteEvaluation evaluate_policies(const RoutingData& data, const std::vector<std::string>& policies,
                                  const route::RouterConfig& rule, int folds, uint64_t seed) {
  const auto& problems = data.problems;
  const size_t n_tiers = route::check_records(problems);
  const size_t last = n_tiers - 1;
  RouteEvaluation e;
  e.weak = route::evaluate_assignment(problems, std::vector<size_t>(problems.size(), 0), "always", 0).accuracy;
  e.strong = route::evaluate_assignment(problems, std::vector<size_t>(problems.size(), last), "always", 0).accuracy;
  for (size_t t = 0; t < n_tiers; ++t)
    e.alone.push_back(
        route::evaluate_assignment(problems, std::vector<size_t>(problems.size(), t), data.tiers[t] + " alone", 0));
  auto add_curve = [&](const std::string& name, const std::vector<double>& priority) {
    PolicyCurve c{name, route::priority_curve(problems, priority, name), {}};
    c.gap = route::gap_metrics(c.points, e.weak, e.strong);
    e.curves.push_back(std::move(c));
  };
  for (const std::string& policy : policies) {
    if (policy == "threshold") {
      std::vector<double> priority;
      for (const auto& p : problems) priority.push_back(static_cast<double>(p.n_tokens));
      add_curve("threshold", priority);
      // The configured rule itself, as one point: the router decides each problem.
      route::Router router(rule, data.counter);
      std::vector<size_t> tiers;
      for (const auto& p : problems) {
        route::RouteResult r = router.route(p.query);
        tiers.push_back(std::min(r.tier_index, last));
        e.split.push_back({p.task_id, r.n_tokens, r.n_tokens_at_least, r.decision.score, tiers.back()});
      }
      e.points.push_back(route::evaluate_assignment(problems, tiers, "threshold rule", 0));
    } else if (policy == "learned") {
      auto predictions = route::cross_validated_predictions(problems, data.tiers, folds, seed);
      std::vector<double> priority;
      for (const auto& p : predictions) priority.push_back(p[last] - p[0]);
      add_curve("learned", priority);
    } else if (policy == "random") {
      std::vector<double> priority;
      for (const auto& p : problems)
        priority.push_back(static_cast<double>(route::query_hash(p.query + std::to_string(seed)) >> 11));
      add_curve("random", priority);
    } else if (policy == "cascade") {
      if (problems.front().visible_pass.empty())
        fail("route eval: cascade needs the visible-example checks (a sandbox)");
      e.points.push_back(route::cascade_point(problems));
    } else if (policy == "oracle") {
      e.points.push_back(route::oracle_point(problems));
    } else if (policy == "always") {
      for (size_t t = 0; t < n_tiers; ++t)
        e.points.push_back(route::evaluate_assignment(problems, std::vector<size_t>(problems.size(), t),
                                                      "always-" + data.tiers[t], 0));
    } else {
      fail("route eval: unknown policy \"{}\" (threshold, learned, random, cascade, oracle, always)", policy);
    }
  }
  for (const auto& c : e.curves) e.all.insert(e.all.end(), c.points.begin(), c.points.end());
  e.all.insert(e.all.end(), e.points.begin(), e.points.end());
  e.front = route::pareto_front(e.all);
  for (int b = 0; b <= 10; ++b) {
    double budget = b / 10.0;
    const route::OperatingPoint* best = nullptr;
    for (const auto& p : e.all)
      if (p.policy != "oracle" && p.strong_share <= budget + 1e-9 && (!best || p.accuracy > best->accuracy + 1e-12))
        best = &p;
    if (best) e.winners.emplace_back(budget, best->policy);
  }
  return e;
}

std::string points_csv(const RouteEvaluation& e) {
  std::string out = "policy,parameter,accuracy,cost,strong_share\n";
  for (const auto& p : e.all)
    out += fmt::format("{},{:.6g},{:.6g},{:.6g},{:.6g}\n", p.policy, p.parameter, p.accuracy, p.cost, p.strong_share);
  return out;
}

std::string split_csv(const RoutingData& data, const RouteEvaluation& e) {
  std::string out = "task_id,n_tokens,n_tokens_at_least,score,tier";
  for (const auto& t : data.tiers) out += ",pass_" + t;
  for (const auto& t : data.tiers) out += ",cost_" + t;
  out += "\n";
  for (size_t i = 0; i < e.split.size(); ++i) {
    const SplitRow& r = e.split[i];
    const route::ProblemRecord& p = data.problems[i];
    out += fmt::format("{},{},{},{},{}", eval::csv_field(r.task_id), r.n_tokens, r.n_tokens_at_least ? 1 : 0, r.score,
                       eval::csv_field(data.tiers[r.tier]));
    for (double v : p.pass) out += fmt::format(",{:.6g}", v);
    for (double v : p.cost) out += fmt::format(",{:.6g}", v);
    out += "\n";
  }
  return out;
}

json evaluation_json(const RoutingData& data, const RouteEvaluation& e) {
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json curves = json::array();
  for (const auto& c : e.curves)
    curves.push_back(
        {{"policy", c.policy}, {"apgr", opt(c.gap.apgr)}, {"cpt50", opt(c.gap.cpt50)}, {"cpt80", opt(c.gap.cpt80)}});
  json points = json::array();
  for (const auto& p : e.points)
    points.push_back({{"policy", p.policy},
                      {"accuracy", p.accuracy},
                      {"cost", p.cost},
                      {"strong_share", p.strong_share},
                      {"tier_share", p.tier_share}});
  json winners = json::array();
  for (const auto& [b, name] : e.winners) winners.push_back({{"strong_share_budget", b}, {"policy", name}});
  json alone = json::array();
  for (const auto& p : e.alone) alone.push_back({{"policy", p.policy}, {"accuracy", p.accuracy}, {"cost", p.cost}});
  json split = nullptr;
  if (!e.split.empty()) {
    json counts = json::object(), rows = json::array();
    for (const auto& t : data.tiers) counts[t] = 0;
    for (const SplitRow& r : e.split) {
      counts[data.tiers[r.tier]] = counts[data.tiers[r.tier]].get<int>() + 1;
      rows.push_back({{"task_id", r.task_id},
                      {"n_tokens", r.n_tokens},
                      {"n_tokens_at_least", r.n_tokens_at_least},
                      {"score", r.score},
                      {"tier", data.tiers[r.tier]}});
    }
    split = {{"tokenizer", data.counter.name}, {"problems_per_tier", counts}, {"problems", rows}};
  }
  return {{"suite", data.suite},
          {"tiers", data.tiers},
          {"runs", data.run_ids},
          {"tokenizer", data.counter.name},
          {"alone", alone},
          {"threshold_split", split},
          {"problems", data.problems.size()},
          {"cost_unit", data.cost_unit},
          {"weak", e.weak},
          {"strong", e.strong},
          {"curves", curves},
          {"points", points},
          {"winners", winners},
          {"notes", data.notes}};
}

std::string evaluation_svg(const RoutingData& data, const RouteEvaluation& e) {
  std::vector<report::LineSeries> series;
  for (const auto& c : e.curves) {
    report::LineSeries s{c.policy, {}, {}, false, true};
    for (const auto& p : c.points) s.x.push_back(p.cost), s.y.push_back(p.accuracy);
    series.push_back(std::move(s));
  }
  for (const auto& p : e.points) series.push_back({p.policy, {p.cost}, {p.accuracy}, false, true});
  return report::line_chart("Routing: accuracy against cost (" + data.suite + ")", series, {data.cost_unit, {}, {}},
                            {"pass@1", 0.0, 1.0});
}

}  // namespace lcte::experiment
