// The bridge from stored evaluation runs to the router's offline evaluation:
// each run is one tier (cheapest first), each problem the runs share becomes a
// route::ProblemRecord with its query (the prompt the models saw), its pass
// rate and cost per tier and, for the cascade, whether each tier's first
// answer passed the examples visible in the prompt.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/datasets.h"
#include "eval/executor.h"
#include "route/offline.h"
#include "route/router.h"
#include "store/store.h"

namespace lcte::experiment {

struct RoutingDataOptions {
  eval::DatasetLocations where = eval::default_dataset_locations();
  route::TokenCounter count_tokens;  // required: the routing tokenizer (route::TokenizerCache)
  // Cost of one query per tier: "latency" (the task's mean measured latency),
  // "tokens" (mean completion tokens), "energy" (the run's energy per problem),
  // "weights" (the fixed `weights`), or "auto": latency when every sample has
  // one, else weights.
  std::string cost = "auto";
  std::vector<double> weights;         // per tier; default 1, 2, 3, ...
  eval::Executor* executor = nullptr;  // runs the visible-example checks; null: no cascade
};

struct RoutingData {
  std::string suite;
  std::vector<std::string> tiers;  // the runs' model labels
  std::vector<std::string> run_ids;
  std::vector<route::ProblemRecord> problems;
  std::string cost_unit;           // e.g. "mean latency per query (s)"
  route::TokenCounter counter;     // what counted the problems' tokens (and counts for the rule)
  std::vector<std::string> notes;  // problems left out and why, estimates used
};

RoutingData load_routing_data(store::Store& store, const std::vector<std::string>& run_ids,
                              const RoutingDataOptions& options);

// The Python test that checks only what the prompt shows: the doctest
// examples in it (`>>>`), else its asserts, else nothing but that the code
// runs. Empty when the prompt shows nothing checkable.
std::string visible_tests(const std::string& prompt_text);

struct PolicyCurve {
  std::string policy;
  std::vector<route::OperatingPoint> points;
  route::GapMetrics gap;
};

// Where the configured threshold rule sends one problem, as the router decides it.
struct SplitRow {
  std::string task_id;
  int64_t n_tokens = 0;
  bool n_tokens_at_least = false;
  int score = 0;
  size_t tier = 0;
};

struct RouteEvaluation {
  double weak = 0, strong = 0;                // accuracy of the cheapest and the strongest tier alone
  std::vector<route::OperatingPoint> alone;   // each tier answering every problem, cheapest first
  std::vector<PolicyCurve> curves;            // threshold, learned, random (two-tier sweeps)
  std::vector<route::OperatingPoint> points;  // single points: oracle, cascade, always-*, default rule
  std::vector<route::OperatingPoint> all;     // every point, for the Pareto front
  std::vector<size_t> front;                  // indices into `all`
  // For each budget (share of queries to the strongest tier), the policy with
  // the best accuracy within it.
  std::vector<std::pair<double, std::string>> winners;
  // The threshold rule's split (when "threshold" is evaluated): every
  // problem's tier, decided by route::Router with the data's tokenizer.
  std::vector<SplitRow> split;
};

// policies: any of threshold, learned, random, cascade, oracle, always (all tiers).
// `rule` is the threshold rule evaluated as one point (its tiers are the data's).
RouteEvaluation evaluate_policies(const RoutingData& data, const std::vector<std::string>& policies,
                                  const route::RouterConfig& rule, int folds = 5, uint64_t seed = 0);

std::string points_csv(const RouteEvaluation& e);
// One row per problem: its tokens, score and tier under the threshold rule,
// and each tier's pass rate and cost on it.
std::string split_csv(const RoutingData& data, const RouteEvaluation& e);
nlohmann::json evaluation_json(const RoutingData& data, const RouteEvaluation& e);
std::string evaluation_svg(const RoutingData& data, const RouteEvaluation& e);

}  // namespace lcte::experiment
