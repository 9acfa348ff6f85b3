// Counters and latency histograms per model, in Prometheus' text exposition
// format (GET /metrics): requests by outcome, prompt and completion tokens,
// end-to-end latency and time to first token, errors by type.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/http_front.h"

namespace lcte::server {

// The HTTP front's connection counters in the same format.
std::string front_prometheus(const FrontStats& s);

class Metrics {
 public:
  // A request answered (status 200) for `model`; ttft < 0 or NaN when unknown.
  void record_success(const std::string& model, int prompt_tokens, int completion_tokens, double latency_s,
                      double ttft_s);
  // A request that ended in an error answer; model "" when none was resolved.
  void record_error(const std::string& model, int status, const std::string& type);
  void in_flight(int delta);

  std::string prometheus() const;

  // For tests and the benchmark.
  uint64_t requests(const std::string& model) const;
  uint64_t errors(const std::string& model) const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket (cumulative when printed)
    double sum = 0;
    uint64_t count = 0;
    void observe(double v);
  };
  struct PerModel {
    uint64_t ok = 0;
    std::map<std::pair<int, std::string>, uint64_t> errors;  // (status, type) -> count
    uint64_t prompt_tokens = 0, completion_tokens = 0;
    Histogram latency, ttft;
  };
  PerModel& of(const std::string& model);

  mutable std::mutex mutex_;
  std::map<std::string, PerModel> models_;
  int in_flight_ = 0;
};

}  // namespace lcte::server
