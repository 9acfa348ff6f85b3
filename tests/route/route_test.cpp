#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include <cmath>
#include <fstream>
#include <random>

#include "common/test_data.h"
#include "core/clock.h"
#include "core/error.h"
#include "route/complexity.h"
#include "route/decision_log.h"
#include "route/features.h"
#include "route/learned.h"
#include "route/offline.h"
#include "route/policy.h"

namespace lcte::route {
namespace {

Query query_of(int64_t tokens, std::string text = "q") {
  Query q;
  q.text = std::move(text);
  q.n_tokens = tokens;
  q.features = extract_features(q.text, tokens);
  return q;
}

TEST(Complexity, ThePublishedRuleSplitsAt150Tokens) {
  auto policy = make_threshold_policy({}, {});
  Decision at150 = policy->decide(query_of(150));
  Decision at151 = policy->decide(query_of(151));
  EXPECT_EQ(at150.score, 6);
  EXPECT_EQ(at150.tier, 0u);  // small
  EXPECT_EQ(at151.score, 7);
  EXPECT_EQ(at151.tier, 1u);  // large
  EXPECT_EQ(policy->decide(query_of(1)).score, 1);
  EXPECT_EQ(policy->decide(query_of(0)).score, 1);
  EXPECT_EQ(policy->decide(query_of(100000)).score, 10);
  EXPECT_NE(at151.reason.find("151 tokens -> score 7 -> large"), std::string::npos) << at151.reason;
}

TEST(Complexity, ThreeTiersOneToSixSevenToNineTen) {
  TierThresholds t;
  t.tiers = {"small", "medium", "large"};
  t.max_score = {6, 9, 10};
  auto policy = make_threshold_policy({}, t);
  EXPECT_EQ(policy->decide(query_of(150)).tier, 0u);
  EXPECT_EQ(policy->decide(query_of(151)).tier, 1u);
  EXPECT_EQ(policy->decide(query_of(1200)).tier, 1u);  // score 9
  EXPECT_EQ(policy->decide(query_of(1201)).tier, 2u);  // score 10
}

TEST(Complexity, BadConfigurationsAreExplained) {
  TierThresholds t;
  t.tiers = {"small", "large"};
  t.max_score = {6, 9};
  EXPECT_THROW(make_threshold_policy({}, t), Error);
  t.max_score = {7, 6};
  EXPECT_THROW(make_threshold_policy({}, t), Error);
  t.max_score = {6};
  EXPECT_THROW(make_threshold_policy({}, t), Error);
  ComplexityScale s;
  s.upper_bounds = {10, 5, 20, 30, 40, 50, 60, 70, 80};
  try {
    make_threshold_policy(s, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bounds must increase"), std::string::npos);
  }
}

TEST(Features, CountExamplesDocstringAndHardWords) {
  std::string q = "def f(x):\n    \"\"\"Return the longest palindrome.\n    >>> f('aba')\n    'aba'\n    \"\"\"\n";
  Features f = extract_features(q, 40);
  const auto& n = Features::names();
  auto at = [&](const std::string& name) { return f.values[std::find(n.begin(), n.end(), name) - n.begin()]; };
  EXPECT_DOUBLE_EQ(at("examples"), 1);
  EXPECT_DOUBLE_EQ(at("functions"), 1);
  EXPECT_DOUBLE_EQ(at("hard_words"), 2);  // "longest", "palindrome"
  EXPECT_DOUBLE_EQ(at("log_tokens"), std::log1p(40.0));
  EXPECT_GT(at("docstring_chars"), 0);
  EXPECT_DOUBLE_EQ(at("lines"), 6);
}

// The features as first written, one std::string::find loop per pattern: the
// reference the one-pass PatternSet must reproduce.
namespace reference {

size_t count(std::string_view s, std::string_view needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string_view::npos; at = s.find(needle, at + needle.size())) ++n;
  return n;
}

std::vector<double> features(std::string_view query, int64_t n_tokens) {
  std::string lower(query);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t hard = 0;
  for (std::string_view w :
       {"recurs",    "dynamic",    "matrix",           "prime",     "permutation", "combination", "subsequence",
        "substring", "palindrome", "binary",           "tree",      "graph",       "path",        "sort",
        "regex",     "parse",      "nested",           "fibonacci", "maximum",     "minimum",     "optimal",
        "shortest",  "longest",    "count the number", "bit"})
    hard += count(lower, w) > 0 ? 1 : 0;
  size_t doc = 0;
  for (std::string_view q : {std::string_view("\"\"\""), std::string_view("'''")}) {
    size_t open = query.find(q);
    if (open == std::string_view::npos) continue;
    size_t close = query.find(q, open + 3);
    if (close != std::string_view::npos) {
      doc = close - open - 3;
      break;
    }
  }
  const double tokens = static_cast<double>(std::clamp<int64_t>(n_tokens, 0, 1200));
  return {std::log1p(tokens),
          static_cast<double>(count(query, "\n") + 1),
          static_cast<double>(count(query, ">>>")),
          static_cast<double>(count(query, "assert ")),
          std::log1p(static_cast<double>(doc)),
          static_cast<double>(count(query, "def ")),
          static_cast<double>(hard),
          count(query, "class ") > 0 ? 1.0 : 0.0,
          tokens / 100.0};
}

}  // namespace reference

TEST(Features, OnePassCountsAsOneFindLoopPerPattern) {
  std::vector<std::string> queries = {"",
                                      "d",
                                      ">>>>>>> >>>> >>",
                                      "assert assert  assertassert ",
                                      "DEF def Def def",
                                      "Class class classclass ",
                                      "COUNT THE NUMBER of Binary TREES",
                                      "\"\"\" x \"\"\"",
                                      "bibitbit",
                                      "\xc3\x89T\xc3\xa9 sort\n\n"};
  if (lcte::testing::data_exists("mbpp/sanitized-mbpp.json")) {
    std::ifstream in(lcte::testing::data_path("mbpp/sanitized-mbpp.json"));
    for (const auto& task : nlohmann::json::parse(in)) {
      queries.push_back(task.at("prompt").get<std::string>() + "\n" + task.at("code").get<std::string>());
      if (task.contains("test_list"))
        for (const auto& t : task["test_list"]) queries.back() += "\n" + t.get<std::string>();
    }
  }
  for (const std::string& q : queries)
    for (int64_t n : {int64_t{0}, int64_t{7}, int64_t{1200}, int64_t{5000}})
      EXPECT_EQ(extract_features(q, n).values, reference::features(q, n)) << q;
}

TEST(Features, TokenFeaturesSaturateSoAStoppedCountChangesNothing) {
  const std::string q = "def f(x):\n    return x\n";
  EXPECT_EQ(extract_features(q, kFeatureTokenCap).values, extract_features(q, 100000).values);
  EXPECT_NE(extract_features(q, kFeatureTokenCap - 1).values, extract_features(q, kFeatureTokenCap).values);
}

TEST(RandomPolicy, IsDeterministicAndSendsTheRequestedShare) {
  auto p = make_random_policy({}, 2, 0.3, 7);
  int strong = 0;
  for (int i = 0; i < 2000; ++i) {
    Query q = query_of(10, "query " + std::to_string(i));
    size_t t = p->decide(q).tier;
    EXPECT_EQ(t, p->decide(q).tier);
    strong += t == 1;
  }
  EXPECT_NEAR(strong / 2000.0, 0.3, 0.04);
}

// Four problems: the weak tier passes only p0, the strong one p0-p2.
std::vector<ProblemRecord> worked_example() {
  std::vector<ProblemRecord> ps(4);
  double weak[] = {1, 0, 0, 0}, strong[] = {1, 1, 1, 0};
  for (int i = 0; i < 4; ++i) {
    ps[i].task_id = "p" + std::to_string(i);
    ps[i].pass = {weak[i], strong[i]};
    ps[i].cost = {1, 10};
  }
  return ps;
}

TEST(OfflineEvaluation, ApgrAndCptMatchTheHandComputation) {
  auto ps = worked_example();
  // The router ranks p1, p2, p0, p3 (most deserving of the strong tier first).
  auto curve = priority_curve(ps, {2, 4, 3, 1}, "ranked");
  ASSERT_EQ(curve.size(), 5u);
  // Sending 0..4 problems: accuracy .25, .5, .75, .75, .75.
  EXPECT_DOUBLE_EQ(curve[0].accuracy, 0.25);
  EXPECT_DOUBLE_EQ(curve[1].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(curve[2].accuracy, 0.75);
  EXPECT_DOUBLE_EQ(curve[4].accuracy, 0.75);
  EXPECT_DOUBLE_EQ(curve[2].cost, (1 + 10 + 10 + 1) / 4.0);
  GapMetrics g = gap_metrics(curve, 0.25, 0.75);
  // PGR is 0 on [0, .25), .5 on [.25, .5), 1 from .5: area .125 + .5 = .625.
  ASSERT_TRUE(g.apgr.has_value());
  EXPECT_DOUBLE_EQ(*g.apgr, 0.625);
  EXPECT_DOUBLE_EQ(*g.cpt50, 0.25);
  EXPECT_DOUBLE_EQ(*g.cpt80, 0.5);
  // Equal priorities are never split by a threshold.
  EXPECT_EQ(priority_curve(ps, {1, 1, 0, 0}, "ties").size(), 3u);
}

TEST(OfflineEvaluation, OracleCascadeAndParetoFront) {
  auto ps = worked_example();
  OperatingPoint oracle = oracle_point(ps);
  EXPECT_DOUBLE_EQ(oracle.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(oracle.strong_share, 0.5);  // only p1 and p2 need the strong tier
  for (int i = 0; i < 4; ++i) ps[i].visible_pass = {ps[i].pass[0] > 0, ps[i].pass[1] > 0};
  OperatingPoint cascade = cascade_point(ps);
  // p0 accepted from the weak tier (cost 1); the rest escalate (cost 11).
  EXPECT_DOUBLE_EQ(cascade.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(cascade.cost, (1 + 11 + 11 + 11) / 4.0);
  std::vector<OperatingPoint> pts = {
      {"a", 0, 0.5, 1, 0, {}}, {"b", 0, 0.4, 2, 0, {}}, {"c", 0, 0.9, 3, 0, {}}, {"d", 0, 0.9, 4, 0, {}}};
  EXPECT_EQ(pareto_front(pts), (std::vector<size_t>{0, 2}));
  ps[3].pass = {1};
  EXPECT_THROW(oracle_point(ps), Error);
}

TEST(OfflineEvaluation, NoGapMeansNoApgr) {
  auto ps = worked_example();
  GapMetrics g = gap_metrics(priority_curve(ps, {1, 2, 3, 4}, "x"), 0.5, 0.5);
  EXPECT_FALSE(g.apgr.has_value());
}

// Problems whose difficulty shows in their text: long queries with "hard"
// words defeat the weak tier. A router that reads the features must beat
// random routing at the same share of strong calls.
std::vector<ProblemRecord> synthetic_suite(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<ProblemRecord> ps;
  for (int i = 0; i < n; ++i) {
    bool hard = rng() % 2 == 0;
    int tokens = hard ? 120 + static_cast<int>(rng() % 200) : 20 + static_cast<int>(rng() % 150);
    ProblemRecord p;
    p.task_id = "t" + std::to_string(i);
    p.query = hard ? "def f(xs):\n    \"\"\"Return the longest increasing subsequence using dynamic programming.\n    "
                     ">>> f([1])\n    \"\"\"\n"
                   : "def f(x):\n    \"\"\"Add one.\"\"\"\n";
    p.n_tokens = tokens;
    bool weak_ok = hard ? rng() % 10 == 0 : rng() % 10 < 8;
    bool strong_ok = hard ? rng() % 10 < 7 : rng() % 10 < 9;
    p.pass = {weak_ok ? 1.0 : 0.0, strong_ok ? 1.0 : 0.0};
    p.cost = {1, 8};
    p.visible_pass = {weak_ok, strong_ok};
    ps.push_back(p);
  }
  return ps;
}

TEST(OfflineEvaluation, LearnedAndCascadeBeatRandomAndOracleBoundsAll) {
  auto ps = synthetic_suite(200, 3);
  std::vector<size_t> all_weak(ps.size(), 0), all_strong(ps.size(), 1);
  double weak = evaluate_assignment(ps, all_weak, "weak", 0).accuracy;
  double strong = evaluate_assignment(ps, all_strong, "strong", 0).accuracy;
  ASSERT_GT(strong, weak + 0.1);

  auto pred = cross_validated_predictions(ps, {"small", "large"}, 5, 11);
  std::vector<double> gain;
  for (const auto& p : pred) gain.push_back(p[1] - p[0]);
  auto learned = priority_curve(ps, gain, "learned");
  GapMetrics gl = gap_metrics(learned, weak, strong);

  // Random routing at shares 0, .1, ..., 1 (deterministic per query).
  std::vector<OperatingPoint> random_curve;
  for (int s = 0; s <= 10; ++s) {
    auto policy = make_random_policy({}, 2, s / 10.0, 5);
    std::vector<size_t> tier;
    for (const auto& p : ps) tier.push_back(policy->decide(query_of(p.n_tokens, p.task_id)).tier);
    random_curve.push_back(evaluate_assignment(ps, tier, policy->name(), s / 10.0));
  }
  GapMetrics gr = gap_metrics(random_curve, weak, strong);
  EXPECT_GT(*gl.apgr, *gr.apgr + 0.15) << "learned " << *gl.apgr << " random " << *gr.apgr;

  // Cascade: compare with random at the same share of strong calls.
  OperatingPoint cascade = cascade_point(ps);
  double random_at_share = weak + (strong - weak) * cascade.strong_share;  // random's expected line
  EXPECT_GT(cascade.accuracy, random_at_share);

  OperatingPoint oracle = oracle_point(ps);
  for (const auto& curve : {learned, random_curve})
    for (const auto& pt : curve) {
      EXPECT_GE(oracle.accuracy + 1e-12, pt.accuracy);
      EXPECT_GE(pt.accuracy + 1e-12, std::min(weak, strong));
    }
  EXPECT_GE(oracle.accuracy, cascade.accuracy);
  EXPECT_LE(oracle.cost, evaluate_assignment(ps, all_strong, "s", 0).cost);
}

TEST(LearnedRouter, FitsSeparableDataAndRoundTripsThroughItsFile) {
  std::vector<TrainingExample> data;
  for (int i = 0; i < 60; ++i) {
    bool hard = i % 2 == 0;
    auto f = extract_features(hard ? "longest path in a graph" : "add", hard ? 400 : 20).values;
    data.push_back({f, {hard ? 0.0 : 1.0, 1.0}});
  }
  PassPredictor model = PassPredictor::train({"small", "large"}, data);
  auto easy = model.predict(extract_features("add", 20).values);
  auto hard = model.predict(extract_features("longest path in a graph", 400).values);
  EXPECT_GT(easy[0], 0.8);
  EXPECT_LT(hard[0], 0.2);
  EXPECT_GT(hard[1], 0.8);
  std::string dir = testing::temp_dir();
  model.save(dir + "/router.json");
  PassPredictor back = PassPredictor::load(dir + "/router.json");
  EXPECT_EQ(back.predict(extract_features("add", 20).values), easy);
  auto policy = make_learned_policy({}, back, 0.5);
  EXPECT_EQ(policy->decide(query_of(20, "add")).tier, 0u);
  EXPECT_EQ(policy->decide(query_of(400, "longest path in a graph")).tier, 1u);
  std::ofstream(dir + "/bad.json") << "{\"format\": \"something else\"}";
  EXPECT_THROW(PassPredictor::load(dir + "/bad.json"), Error);
  std::ofstream(dir + "/broken.json") << "{";
  EXPECT_THROW(PassPredictor::load(dir + "/broken.json"), Error);
}

TEST(DecisionLog, AppendsAndReadsBackAndNamesBadLines) {
  std::string dir = testing::temp_dir();
  DecisionLog log(dir + "/decisions.jsonl");
  DecisionRecord r;
  r.time = utc_now_iso8601();
  r.query_hash = "00ff";
  r.n_tokens = 151;
  r.features = extract_features("x", 151).values;
  r.score = 7;
  r.policy = "threshold";
  r.policy_version = "1";
  r.tier = "large";
  r.decision_us = 12.5;
  log.append(r);
  r.override_applied = true;
  r.outcome = true;
  log.append(r);
  auto back = DecisionLog::read(dir + "/decisions.jsonl");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].tier, "large");
  EXPECT_EQ(back[0].features, r.features);
  EXPECT_FALSE(back[0].outcome.has_value());
  EXPECT_TRUE(back[1].override_applied);
  EXPECT_EQ(back[1].outcome, std::optional<bool>(true));
  std::ofstream(dir + "/decisions.jsonl", std::ios::app) << "{not json\n";
  try {
    DecisionLog::read(dir + "/decisions.jsonl");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("decisions.jsonl:3:"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lcte::route
