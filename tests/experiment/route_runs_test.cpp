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
      {"t/1", "def double(x):\n    \"\"\"\n    >>> double(3)\n    6\n    \"\"\"\n",
       {{"    return x * 2\n", true}, {"    return 0\n", false}}, {{"    return 2 * x\n", true}}},
      {"t/2", "def square(x):\n    \"\"\"\n    >>> square(3)\n    9\n    \"\"\"\n",
       {{"    return x * 3\n", false}}, {{"    return x * x\n", true}}},
      {"t/3", "def inc(x):\n    \"\"\"Add one.\n    assert inc(1) == 2\n    \"\"\"\n",
       {{"    return x\n", false}}, {{"    return x + 1\n", true}}},
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
  void add_run(const std::string& id, const std::string& model, bool weak) {
    store::RunRecord r;
    r.id = id;
    r.kind = "eval";
    r.model_name = model;
    r.config = {{"suite", suite}, {"style", "completion"}};
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
    store.finish_run(id, "finished", json::object());
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
  EXPECT_EQ(p[0].n_tokens, route::estimate_tokens(tasks()[0].prompt));

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

TEST(RouteRuns, BadInputsAreExplained) {
  Fixture fx;
  RoutingDataOptions o;
  o.where = {};
  EXPECT_THROW(load_routing_data(fx.store, {"weak"}, o), Error);
  EXPECT_THROW(load_routing_data(fx.store, {"weak", "nope"}, o), Error);
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
