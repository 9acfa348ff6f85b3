// The learned router's model: for each tier, a logistic regression that
// predicts the chance the tier answers a query correctly from its features,
// trained on lcte's own stored results.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "route/features.h"

namespace lcte::route {

struct TrainingExample {
  std::vector<double> features;
  std::vector<double> passed;  // per tier, in [0, 1] (pass@1 estimate c/n)
};

struct LogisticOptions {
  double l2 = 1e-2;
  double learning_rate = 0.5;
  int iterations = 2000;
};

class PassPredictor {
 public:
  // Trains one regression per tier on standardised features. Deterministic.
  static PassPredictor train(const std::vector<std::string>& tiers, const std::vector<TrainingExample>& data,
                             const LogisticOptions& options = {});
  // P(tier passes) for every tier.
  std::vector<double> predict(const std::vector<double>& features) const;
  const std::vector<std::string>& tiers() const { return tiers_; }
  // The tokenizer whose counts made the token features ("" : not recorded).
  const std::string& tokenizer() const { return tokenizer_; }
  void set_tokenizer(std::string name) { tokenizer_ = std::move(name); }

  nlohmann::json to_json() const;
  static PassPredictor from_json(const nlohmann::json& j, const std::string& origin);  // throws lcte::Error
  void save(const std::string& path) const;
  static PassPredictor load(const std::string& path);

 private:
  std::vector<std::string> tiers_;
  std::string tokenizer_;
  std::vector<std::string> feature_names_;
  std::vector<double> mean_, scale_;
  std::vector<std::vector<double>> weights_;  // per tier, per feature
  std::vector<double> bias_;
};

}  // namespace lcte::route
