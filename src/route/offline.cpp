#include "route/offline.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/random.h"
#include "route/features.h"
#include "route/learned.h"

namespace lcte::route {

size_t check_records(const std::vector<ProblemRecord>& problems) {
  if (problems.empty()) fail("routing evaluation: no problems");
  size_t n = problems.front().pass.size();
  if (n < 2) fail("routing evaluation: need at least two tiers, have {}", n);
  for (const ProblemRecord& p : problems) {
    if (p.pass.size() != n || p.cost.size() != n)
      fail("routing evaluation: problem {} has results for {} tiers, expected {}", p.task_id, p.pass.size(), n);
  }
  return n;
}

OperatingPoint evaluate_assignment(const std::vector<ProblemRecord>& problems, const std::vector<size_t>& tier,
                                   const std::string& policy, double parameter) {
  size_t n_tiers = check_records(problems);
  if (tier.size() != problems.size())
    fail("routing evaluation: {} decisions for {} problems", tier.size(), problems.size());
  OperatingPoint pt{policy, parameter, 0, 0, 0, std::vector<double>(n_tiers, 0)};
  const double n = static_cast<double>(problems.size());
  for (size_t i = 0; i < problems.size(); ++i) {
    size_t t = tier[i];
    if (t >= n_tiers) fail("routing evaluation: tier {} out of range", t);
    pt.accuracy += problems[i].pass[t] / n;
    pt.cost += problems[i].cost[t] / n;
    pt.tier_share[t] += 1 / n;
  }
  pt.strong_share = pt.tier_share.back();
  return pt;
}

std::vector<OperatingPoint> priority_curve(const std::vector<ProblemRecord>& problems,
                                           const std::vector<double>& priority, const std::string& policy) {
  size_t n_tiers = check_records(problems);
  if (priority.size() != problems.size())
    fail("routing evaluation: {} priorities for {} problems", priority.size(), problems.size());
  std::vector<size_t> order(problems.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return priority[a] > priority[b]; });
  std::vector<size_t> tier(problems.size(), 0);
  std::vector<OperatingPoint> curve;
  curve.push_back(evaluate_assignment(problems, tier, policy, priority.empty() ? 0 : priority[order[0]] + 1));
  for (size_t k = 0; k < order.size();) {
    size_t end = k;
    while (end < order.size() && priority[order[end]] == priority[order[k]]) tier[order[end++]] = n_tiers - 1;
    curve.push_back(evaluate_assignment(problems, tier, policy, priority[order[k]]));
    k = end;
  }
  return curve;
}

OperatingPoint oracle_point(const std::vector<ProblemRecord>& problems) {
  check_records(problems);
  std::vector<size_t> tier;
  for (const ProblemRecord& p : problems) {
    double best = *std::max_element(p.pass.begin(), p.pass.end());
    size_t t = 0;
    while (p.pass[t] < best) ++t;
    tier.push_back(t);
  }
  return evaluate_assignment(problems, tier, "oracle", 0);
}

OperatingPoint cascade_point(const std::vector<ProblemRecord>& problems) {
  size_t n_tiers = check_records(problems);
  OperatingPoint pt{"cascade", 0, 0, 0, 0, std::vector<double>(n_tiers, 0)};
  const double n = static_cast<double>(problems.size());
  for (const ProblemRecord& p : problems) {
    if (p.visible_pass.size() != n_tiers)
      fail("cascade: problem {} lacks the visible-example checks of every tier", p.task_id);
    size_t t = 0;
    double cost = p.cost[0];
    while (t + 1 < n_tiers) {
      if (!p.visible_pass[t].has_value())
        fail("cascade: problem {} has no visible-example check for tier {}", p.task_id, t);
      if (*p.visible_pass[t]) break;
      ++t;
      cost += p.cost[t];
    }
    pt.accuracy += p.pass[t] / n;
    pt.cost += cost / n;
    pt.tier_share[t] += 1 / n;
  }
  pt.strong_share = pt.tier_share.back();
  return pt;
}

GapMetrics gap_metrics(const std::vector<OperatingPoint>& curve, double weak, double strong) {
  GapMetrics g;
  g.weak = weak;
  g.strong = strong;
  if (strong - weak <= 1e-12) return g;        // nothing to recover
  std::vector<std::pair<double, double>> pts;  // (share, pgr)
  pts.emplace_back(0.0, 0.0);                  // all weak is always possible
  for (const OperatingPoint& p : curve) pts.emplace_back(p.strong_share, (p.accuracy - weak) / (strong - weak));
  std::sort(pts.begin(), pts.end());
  // Step envelope: the best PGR at a share no larger than c.
  double area = 0, best = 0, at = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    double share = std::clamp(pts[i].first, 0.0, 1.0);
    area += best * (share - at);
    at = share;
    if (pts[i].second > best) {
      best = pts[i].second;
      if (!g.cpt50 && best >= 0.5 - 1e-12) g.cpt50 = share;
      if (!g.cpt80 && best >= 0.8 - 1e-12) g.cpt80 = share;
    }
  }
  area += best * (1.0 - at);
  g.apgr = area;
  return g;
}

std::vector<size_t> pareto_front(const std::vector<OperatingPoint>& points) {
  std::vector<size_t> idx(points.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    if (points[a].cost != points[b].cost) return points[a].cost < points[b].cost;
    return points[a].accuracy > points[b].accuracy;
  });
  std::vector<size_t> front;
  double best = -1;
  for (size_t i : idx) {
    if (points[i].accuracy > best + 1e-12) {
      front.push_back(i);
      best = points[i].accuracy;
    }
  }
  return front;
}

std::vector<std::vector<double>> cross_validated_predictions(const std::vector<ProblemRecord>& problems,
                                                             const std::vector<std::string>& tiers, int folds,
                                                             uint64_t seed) {
  check_records(problems);
  if (folds < 2) fail("cross-validation needs at least 2 folds, got {}", folds);
  if (static_cast<size_t>(folds) > problems.size())
    fail("cross-validation: {} folds for {} problems", folds, problems.size());
  std::vector<size_t> order(problems.size());
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(seed);
  shuffle(order, rng);
  std::vector<int> fold_of(problems.size());
  for (size_t i = 0; i < order.size(); ++i) fold_of[order[i]] = static_cast<int>(i % folds);
  std::vector<std::vector<double>> out(problems.size());
  for (int f = 0; f < folds; ++f) {
    std::vector<TrainingExample> train;
    for (size_t i = 0; i < problems.size(); ++i)
      if (fold_of[i] != f)
        train.push_back({extract_features(problems[i].query, problems[i].n_tokens).values, problems[i].pass});
    PassPredictor model = PassPredictor::train(tiers, train);
    for (size_t i = 0; i < problems.size(); ++i)
      if (fold_of[i] == f) out[i] = model.predict(extract_features(problems[i].query, problems[i].n_tokens).values);
  }
  return out;
}

}  // namespace lcte::route
