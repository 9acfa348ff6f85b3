// Stored runs as routing problems: pass rates and costs per tier, the
// visible-example check (real Python), and the policies evaluated on a worked
// example whose numbers are computed by hand below.
#include <gtest/gtest.h>

#include <fstream>

#include "common/test_data.h"
#include "core/error.h"
#include "eval/python_executor.h"
#include "experiment/route_runs.h"

namespace lcte::experiment {
namespace {
using nlohmann::json;

// One token per byte: the prompts' counts are their lengths (55, 55, 59, 33).
const route::TokenCounter kBytes{"bytes", [](std::string_view t) { return static_cast<int64_t>(t.size()); }};

struct Task {
  const char* id;
  const char* prompt;
  std::vector<std::pair<const char*, bool>> weak, strong;  // completion, passed the hidden tests
};

// Four problems. Visible examples: t/1 and t/2 doctests, t/3 an assert in the
// docstring, t/4 none. Weak tier: t/1 half its samples pass; t/2's answer
// passes the visible doctest but not the tests; t/3's answer fails the visible
// assert; t/4 passes. Strong tier passes t/1-t/3 and fails t/4.
const std::vector<Task>& tasks() {
  static const std::vector<Task> t = {
      {"t/1",
       "def double(x):\n    \"\"\"\n    >>> double(3)\n    6\n    \"\"\"\n",
       {{"    return x * 2\n", true}, {"    return 0\n", false}},
       {{"    return 2 * x\n", true}}},
      {"t/2",
       "def square(x):\n    \"\"\"\n    >>> square(3)\n    9\n    \"\"\"\n",
       {{"    return x * 3\n", false}},
       {{"    return x * x\n", true}}},
      {"t/3",
       "def inc(x):\n    \"\"\"Add one.\n    assert inc(1) == 2\n    \"\"\"\n",
       {{"    return x\n", false}},
       {{"    return x + 1\n", true}}},
      {"t/4", "def one():\n    \"\"\"Return one.\"\"\"\n", {{"    return 1\n", true}}, {{"    return 2\n", false}}},
  };
  return t;
}

struct Fixture {
  std::string dir = lcte::testing::temp_dir();
  std::string suite = dir + "/suite.jsonl";
  store::Store store{dir + "/store.sqlite"};
  Fixture() {
    std::ofstream out(suite);
    for (const Task& t : tasks())
      out << json{{"task_id", t.id}, {"prompt", t.prompt}, {"tests", "pass\n"}, {"entry_point", "f"}}.dump() << "\n";
    add_run("weak", "coder-1b", true);
    add_run("strong", "coder-8b", false);
  }
  void add_run(const std::string& id, const std::string& model, bool weak, const json& backend = "canonical",
               const json& summary = json::object()) {
    store::RunRecord r;
    r.id = id;
    r.kind = "eval";
    r.model_name = model;
    r.config = {{"suite", suite}, {"style", "completion"}, {"backend", backend}};
    store.begin_run(r);
    for (const Task& t : tasks()) {
      const auto& answers = weak ? t.weak : t.strong;
      for (size_t i = 0; i < answers.size(); ++i) {
        store::StoredSample s;
        s.suite = suite;
        s.task_id = t.id;
        s.model = model;
        s.sample_index = static_cast<int64_t>(i);
        s.passed = answers[i].second;
        s.status = s.passed ? "passed" : "failed";
        s.completion = answers[i].first;
        s.latency_s = weak ? 0.5 : 2.0;
        store.add_sample(id, s);
      }
    }
    store.finish_run(id, "finished", summary);
  }
};

TEST(VisibleTests, DoctestsThenAssertsThenNothing) {
  EXPECT_NE(visible_tests(tasks()[0].prompt).find("assert _lcte_visible(\"double(3)\", \"6\")"), std::string::npos);
  EXPECT_EQ(visible_tests(tasks()[2].prompt), "assert inc(1) == 2\n");
  EXPECT_EQ(visible_tests(tasks()[3].prompt), "");
}

TEST(RouteRuns, ProblemsCarryPassRatesCostsAndVisibleChecks) {
  Fixture fx;
  eval::testing::PythonExecutor python;
  RoutingDataOptions o;
  o.where = {};
  o.count_tokens = kBytes;
  o.executor = &python;
  o.cost = "weights";
  RoutingData data = load_routing_data(fx.store, {"weak", "strong"}, o);
  ASSERT_EQ(data.problems.size(), 4u);
  EXPECT_EQ(data.tiers, (std::vector<std::string>{"coder-1b", "coder-8b"}));
  const auto& p = data.problems;
  EXPECT_EQ(p[0].pass, (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(p[3].pass, (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(p[0].cost, (std::vector<double>{1.0, 2.0}));
  // Visible checks, run by Python: the weak answers to t/1, t/2 and t/4 pass
  // what the prompt shows (t/2 wrongly), t/3's does not.
  EXPECT_EQ(*p[0].visible_pass[0], true);
  EXPECT_EQ(*p[1].visible_pass[0], true);
  EXPECT_EQ(*p[2].visible_pass[0], false);
  EXPECT_EQ(*p[3].visible_pass[0], true);
  EXPECT_EQ(*p[2].visible_pass[1], true);
  EXPECT_EQ(p[0].query, tasks()[0].prompt);
  EXPECT_EQ(p[0].n_tokens, 55);
  EXPECT_EQ(data.counter.name, "bytes");

  // Measured latency is the cost when every sample has one.
  o.cost = "auto";
  o.executor = nullptr;
  RoutingData timed = load_routing_data(fx.store, {"weak", "strong"}, o);
  EXPECT_EQ(timed.problems[1].cost, (std::vector<double>{0.5, 2.0}));
  EXPECT_TRUE(timed.problems[1].visible_pass.empty());
}

TEST(RouteRuns, PoliciesOnTheWorkedExample) {
  Fixture fx;
  eval::testing::PythonExecutor python;
  RoutingDataOptions o;
  o.where = {};
  o.count_tokens = kBytes;
  o.executor = &python;
  o.cost = "weights";
  RoutingData data = load_routing_data(fx.store, {"weak", "strong"}, o);
  route::RouterConfig rule;
  rule.tiers = data.tiers;
  RouteEvaluation e = evaluate_policies(data, {"threshold", "random", "cascade", "oracle", "always"}, rule, 2, 1);
  // By hand: weak (0.5 + 0 + 0 + 1) / 4, strong 3 / 4.
  EXPECT_DOUBLE_EQ(e.weak, 0.375);
  EXPECT_DOUBLE_EQ(e.strong, 0.75);
  auto point = [&](const std::string& name) {
    for (const auto& p : e.points)
      if (p.policy == name) return p;
    ADD_FAILURE() << "no point " << name;
    return route::OperatingPoint{};
  };
  // Oracle: strong for t/1-t/3, weak for t/4: every problem solved.
  EXPECT_DOUBLE_EQ(point("oracle").accuracy, 1.0);
  // Cascade: t/1 weak (0.5), t/2 weak (0, fooled by the doctest), t/3
  // escalated (1), t/4 weak (1): 2.5 / 4; cost (1 + 1 + 3 + 1) / 4.
  EXPECT_DOUBLE_EQ(point("cascade").accuracy, 0.625);
  EXPECT_DOUBLE_EQ(point("cascade").cost, 1.5);
  EXPECT_DOUBLE_EQ(point("cascade").strong_share, 0.25);
  // Every prompt is under 150 tokens: the rule sends all to the small tier.
  EXPECT_DOUBLE_EQ(point("threshold rule").accuracy, e.weak);
  for (const auto& p : e.all) EXPECT_LE(p.accuracy, 1.0 + 1e-12) << p.policy;
  for (const auto& c : e.curves) {
    EXPECT_DOUBLE_EQ(c.points.front().accuracy, e.weak) << c.policy;
    EXPECT_DOUBLE_EQ(c.points.back().accuracy, e.strong) << c.policy;
  }
  ASSERT_FALSE(e.winners.empty());
  EXPECT_EQ(points_csv(e).rfind("policy,parameter,accuracy,cost,strong_share\n", 0), 0u);
  json j = evaluation_json(data, e);
  EXPECT_EQ(j["problems"], 4);
  EXPECT_NE(evaluation_svg(data, e).find("<svg"), std::string::npos);
}

// The published comparison from two stored runs: each tier alone, and the
// threshold rule's split, problem by problem, with its pass@1 and cost.
TEST(RouteRuns, TheThresholdRuleSplitListsEveryProblemsTier) {
  Fixture fx;
  RoutingDataOptions o;
  o.where = {};
  o.count_tokens = kBytes;
  o.cost = "weights";
  RoutingData data = load_routing_data(fx.store, {"weak", "strong"}, o);
  route::RouterConfig rule;
  rule.tiers = data.tiers;
  // Scores: 55 bytes -> 6 (weak), 59 -> 9 (strong), 33 -> 4 (weak).
  rule.token_bounds = {10, 20, 30, 40, 50, 56, 57, 58, 60};
  RouteEvaluation e = evaluate_policies(data, {"threshold"}, rule);
  ASSERT_EQ(e.split.size(), 4u);
  EXPECT_EQ(e.split[0].task_id, "t/1");
  EXPECT_EQ(e.split[0].n_tokens, 55);
  EXPECT_EQ(e.split[0].score, 6);
  EXPECT_EQ(e.split[0].tier, 0u);
  EXPECT_EQ(e.split[2].task_id, "t/3");
  EXPECT_EQ(e.split[2].score, 9);
  EXPECT_EQ(e.split[2].tier, 1u);
  EXPECT_EQ(e.split[3].tier, 0u);
  // By hand: t/1 weak 0.5, t/2 weak 0, t/3 strong 1, t/4 weak 1 -> 2.5 / 4;
  // cost (1 + 1 + 2 + 1) / 4 with weights 1 and 2.
  route::OperatingPoint routed;
  for (const auto& p : e.points)
    if (p.policy == "threshold rule") routed = p;
  EXPECT_DOUBLE_EQ(routed.accuracy, 0.625);
  EXPECT_DOUBLE_EQ(routed.cost, 1.25);
  EXPECT_DOUBLE_EQ(routed.strong_share, 0.25);
  ASSERT_EQ(e.alone.size(), 2u);
  EXPECT_DOUBLE_EQ(e.alone[0].accuracy, 0.375);
  EXPECT_DOUBLE_EQ(e.alone[0].cost, 1.0);
  EXPECT_DOUBLE_EQ(e.alone[1].accuracy, 0.75);
  EXPECT_DOUBLE_EQ(e.alone[1].cost, 2.0);
  json j = evaluation_json(data, e);
  EXPECT_EQ(j["tokenizer"], "bytes");
  EXPECT_EQ(j["threshold_split"]["problems_per_tier"]["coder-1b"], 3);
  EXPECT_EQ(j["threshold_split"]["problems_per_tier"]["coder-8b"], 1);
  EXPECT_EQ(j["threshold_split"]["problems"][2]["tier"], "coder-8b");
  const std::string csv = split_csv(data, e);
  EXPECT_EQ(
      csv.rfind(
          "task_id,n_tokens,n_tokens_at_least,score,tier,pass_coder-1b,pass_coder-8b,cost_coder-1b,cost_coder-8b\n", 0),
      0u)
      << csv;
  EXPECT_NE(csv.find("\nt/3,59,0,9,coder-8b,0,1,1,2\n"), std::string::npos) << csv;
  // Without threshold there is no split.
  EXPECT_TRUE(evaluate_policies(data, {"oracle"}, rule).split.empty());
}

// Energy per query is what a run measured on this machine over its tasks: a
// local model's is used; an endpoint's run (the client waiting) is refused.
TEST(RouteRuns, EnergyCostTakesLocalRunsAndRefusesEndpoints) {
  Fixture fx;
  auto energy = [](double joules) { return json{{"tasks", 4}, {"energy", {{"total_joules", joules}}}}; };
  fx.add_run("local-a", "a", true, "engine", energy(8.0));
  fx.add_run("local-b", "b", false, "engine", energy(40.0));
  fx.add_run("remote", "c", false, "http", energy(1.0));
  RoutingDataOptions o;
  o.where = {};
  o.count_tokens = kBytes;
  o.cost = "energy";
  RoutingData data = load_routing_data(fx.store, {"local-a", "local-b"}, o);
  EXPECT_EQ(data.problems[0].cost, (std::vector<double>{2.0, 10.0}));  // 8 J and 40 J over 4 tasks
  EXPECT_EQ(data.cost_unit, "energy per query (J)");
  try {
    load_routing_data(fx.store, {"local-a", "remote"}, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--cost energy, but run remote (c) evaluated an endpoint"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("use --cost latency, tokens or weights"), std::string::npos) << e.what();
  }
  o.cost = "latency";
  EXPECT_NO_THROW(load_routing_data(fx.store, {"local-a", "remote"}, o));
}

TEST(RouteRuns, BadInputsAreExplained) {
  Fixture fx;
  RoutingDataOptions o;
  o.where = {};
  o.count_tokens = kBytes;
  EXPECT_THROW(load_routing_data(fx.store, {"weak"}, o), Error);
  EXPECT_THROW(load_routing_data(fx.store, {"weak", "nope"}, o), Error);
  RoutingDataOptions uncounted = o;
  uncounted.count_tokens = {};
  EXPECT_THROW(load_routing_data(fx.store, {"weak", "strong"}, uncounted), Error);  // no byte estimate instead
  o.cost = "carbon";
  try {
    load_routing_data(fx.store, {"weak", "strong"}, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown cost \"carbon\""), std::string::npos);
  }
}

}  // namespace
}  // namespace lcte::experiment
