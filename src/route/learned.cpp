#include "route/learned.h"

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/file.h"

namespace lcte::route {
namespace {

double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

}  // namespace

PassPredictor PassPredictor::train(const std::vector<std::string>& tiers, const std::vector<TrainingExample>& data,
                                   const LogisticOptions& options) {
  if (data.empty()) fail("learned router: no training examples");
  const size_t d = data.front().features.size();
  for (const TrainingExample& ex : data) {
    if (ex.features.size() != d) fail("learned router: examples have {} and {} features", d, ex.features.size());
    if (ex.passed.size() != tiers.size())
      fail("learned router: an example has {} tier outcomes, {} tiers configured", ex.passed.size(), tiers.size());
  }
  PassPredictor p;
  p.tiers_ = tiers;
  p.feature_names_ = Features::names();
  p.mean_.assign(d, 0);
  p.scale_.assign(d, 0);
  const double n = static_cast<double>(data.size());
  for (const TrainingExample& ex : data)
    for (size_t j = 0; j < d; ++j) p.mean_[j] += ex.features[j] / n;
  for (const TrainingExample& ex : data)
    for (size_t j = 0; j < d; ++j) p.scale_[j] += (ex.features[j] - p.mean_[j]) * (ex.features[j] - p.mean_[j]) / n;
  for (double& s : p.scale_) s = s > 1e-12 ? std::sqrt(s) : 1.0;  // constant features stay at zero

  std::vector<std::vector<double>> x(data.size(), std::vector<double>(d));
  for (size_t i = 0; i < data.size(); ++i)
    for (size_t j = 0; j < d; ++j) x[i][j] = (data[i].features[j] - p.mean_[j]) / p.scale_[j];

  // Full-batch gradient descent on the mean cross-entropy plus an L2 penalty:
  // the problem is convex and tiny, so plain descent converges reliably.
  for (size_t t = 0; t < tiers.size(); ++t) {
    std::vector<double> w(d, 0.0);
    double b = 0;
    for (int it = 0; it < options.iterations; ++it) {
      std::vector<double> gw(d, 0.0);
      double gb = 0;
      for (size_t i = 0; i < data.size(); ++i) {
        double z = b;
        for (size_t j = 0; j < d; ++j) z += w[j] * x[i][j];
        double err = sigmoid(z) - data[i].passed[t];
        for (size_t j = 0; j < d; ++j) gw[j] += err * x[i][j] / n;
        gb += err / n;
      }
      for (size_t j = 0; j < d; ++j) w[j] -= options.learning_rate * (gw[j] + options.l2 * w[j]);
      b -= options.learning_rate * gb;
    }
    p.weights_.push_back(std::move(w));
    p.bias_.push_back(b);
  }
  return p;
}

std::vector<double> PassPredictor::predict(const std::vector<double>& features) const {
  if (features.size() != mean_.size())
    fail("learned router: query has {} features, the model expects {}", features.size(), mean_.size());
  std::vector<double> out;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    double z = bias_[t];
    for (size_t j = 0; j < features.size(); ++j) z += weights_[t][j] * (features[j] - mean_[j]) / scale_[j];
    out.push_back(sigmoid(z));
  }
  return out;
}

nlohmann::json PassPredictor::to_json() const {
  nlohmann::json j;
  j["format"] = "lcte-learned-router";
  j["version"] = 1;
  j["tiers"] = tiers_;
  if (!tokenizer_.empty()) j["tokenizer"] = tokenizer_;
  j["features"] = feature_names_;
  j["mean"] = mean_;
  j["scale"] = scale_;
  j["weights"] = weights_;
  j["bias"] = bias_;
  return j;
}

PassPredictor PassPredictor::from_json(const nlohmann::json& j, const std::string& origin) {
  try {
    if (j.value("format", "") != "lcte-learned-router") fail("not an lcte learned-router file");
    if (j.at("version").get<int>() != 1) fail("unsupported version {}", j.at("version").get<int>());
    PassPredictor p;
    p.tiers_ = j.at("tiers").get<std::vector<std::string>>();
    p.tokenizer_ = j.value("tokenizer", "");
    p.feature_names_ = j.at("features").get<std::vector<std::string>>();
    p.mean_ = j.at("mean").get<std::vector<double>>();
    p.scale_ = j.at("scale").get<std::vector<double>>();
    p.weights_ = j.at("weights").get<std::vector<std::vector<double>>>();
    p.bias_ = j.at("bias").get<std::vector<double>>();
    if (p.feature_names_ != Features::names()) fail("its features differ from this lcte's; retrain it");
    const size_t d = p.feature_names_.size();
    if (p.mean_.size() != d || p.scale_.size() != d || p.weights_.size() != p.tiers_.size() ||
        p.bias_.size() != p.tiers_.size())
      fail("inconsistent sizes");
    for (const auto& w : p.weights_)
      if (w.size() != d) fail("inconsistent weight sizes");
    return p;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: {}", origin, e.what());
  } catch (const Error& e) {
    fail("{}: {}", origin, e.what());
  }
}

void PassPredictor::save(const std::string& path) const { write_file_atomic(path, to_json().dump(2) + "\n"); }

PassPredictor PassPredictor::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  return from_json(j, path);
}

}  // namespace lcte::route
