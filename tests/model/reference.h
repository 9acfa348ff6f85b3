// The reference outputs of llama.cpp in ../shared/data/reference/logits.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace lcte::testing {

struct ReferenceLogits {
  std::string model;  // file name under models/
  std::vector<int32_t> prompt_tokens;
  std::vector<std::vector<float>> prompt_logits;
  std::vector<int32_t> greedy;
  std::vector<std::vector<float>> greedy_logits;
};

inline ReferenceLogits load_reference(const std::string& path) {
  std::ifstream in(path);
  const nlohmann::json j = nlohmann::json::parse(in);
  ReferenceLogits r;
  r.model = j.at("model").get<std::string>();
  r.prompt_tokens = j.at("prompt_tokens").get<std::vector<int32_t>>();
  r.prompt_logits = j.at("prompt_logits").get<std::vector<std::vector<float>>>();
  r.greedy = j.at("greedy").get<std::vector<int32_t>>();
  r.greedy_logits = j.at("greedy_logits").get<std::vector<std::vector<float>>>();
  return r;
}

// max |a - b| / max |b| over one logit vector: robust to the overall scale
// and not blown up by logits near zero.
inline double rel_error(const float* a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  return den > 0 ? num / den : num;
}

inline int32_t argmax(const float* x, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return static_cast<int32_t>(best);
}

// top-1 minus top-2 of a logit vector.
inline double margin(const std::vector<float>& x) {
  float a = -INFINITY, b = -INFINITY;
  for (float v : x) {
    if (v > a) {
      b = a;
      a = v;
    } else if (v > b) {
      b = v;
    }
  }
  return static_cast<double>(a) - b;
}

}  // namespace lcte::testing
