// Routers judged offline on what each tier actually scored on the same
// problems: accuracy against cost for each policy and setting, the cost-quality
// curve, and RouteLLM's measures (APGR, CPT).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lcte::route {

struct ProblemRecord {
  std::string task_id;
  std::string query;
  int64_t n_tokens = 0;
  std::vector<double> pass;                       // per tier (cheapest first), in [0, 1]
  std::vector<double> cost;                       // per tier, in the caller's unit
  std::vector<std::optional<bool>> visible_pass;  // per tier: passed the examples shown in the prompt
};

struct OperatingPoint {
  std::string policy;
  double parameter = 0;     // the threshold, target or share that produced it
  double accuracy = 0;      // mean pass over problems
  double cost = 0;          // mean cost per problem
  double strong_share = 0;  // share of problems sent to the last tier
  std::vector<double> tier_share;
};

// Throws lcte::Error if the records disagree on the number of tiers.
size_t check_records(const std::vector<ProblemRecord>& problems);

OperatingPoint evaluate_assignment(const std::vector<ProblemRecord>& problems, const std::vector<size_t>& tier,
                                   const std::string& policy, double parameter);

// Two-tier curve between the first and the last tier: problems go to the last
// tier in decreasing order of `priority`, equal priorities together (one
// threshold cannot split them). Starts with none sent, ends with all.
std::vector<OperatingPoint> priority_curve(const std::vector<ProblemRecord>& problems,
                                           const std::vector<double>& priority, const std::string& policy);

// The cheapest tier that reached the best pass rate of any tier (upper bound).
OperatingPoint oracle_point(const std::vector<ProblemRecord>& problems);
// Ask tiers cheapest first; accept an answer that passes the visible examples,
// else escalate; the last tier's answer is always accepted. Cost is the sum of
// every tier asked.
OperatingPoint cascade_point(const std::vector<ProblemRecord>& problems);

struct GapMetrics {
  double weak = 0, strong = 0;         // accuracy of all-first and all-last tier
  std::optional<double> apgr;          // absent when the tiers score the same
  std::optional<double> cpt50, cpt80;  // absent when never reached
};
// PGR(c) is the best performance-gap-recovered of any point using at most a
// share c of strong calls; APGR is its integral over c in [0, 1] and CPT(x)
// the smallest c where it reaches x.
GapMetrics gap_metrics(const std::vector<OperatingPoint>& curve, double weak, double strong);

// Indices of the points no other point beats on both cost (lower) and
// accuracy (higher), sorted by cost.
std::vector<size_t> pareto_front(const std::vector<OperatingPoint>& points);

// Held-out pass predictions for the learned router: k folds by problem
// (seeded shuffle); each problem's P(pass) per tier comes from a model trained
// on the other folds.
std::vector<std::vector<double>> cross_validated_predictions(const std::vector<ProblemRecord>& problems,
                                                             const std::vector<std::string>& tiers, int folds,
                                                             uint64_t seed);

}  // namespace lcte::route
