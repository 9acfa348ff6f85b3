#include "backend/generation.h"

#include <cmath>

#include "core/random.h"

namespace lcte::backend {
uint64_t sample_seed(uint64_t seed, const std::string& task_id, int index) {
  if (task_id.empty() && index == 0) return seed;
  return splitmix64(seed ^ splitmix64(fnv1a64(task_id) ^ splitmix64(static_cast<uint64_t>(index))));
}

std::string cut_at_stops(const std::string& text, const std::vector<std::string>& stops) {
  size_t cut = text.size();
  for (const std::string& stop : stops) {
    if (stop.empty()) continue;
    size_t at = text.find(stop);
    if (at != std::string::npos && at < cut) cut = at;
  }
  return text.substr(0, cut);
}

double time_per_output_token(double latency_s, double ttft_s, int completion_tokens) {
  if (completion_tokens < 2 || !std::isfinite(latency_s) || !std::isfinite(ttft_s) || ttft_s < 0) return kUnknown;
  return (latency_s - ttft_s) / (completion_tokens - 1);
}

}  // namespace lcte::backend
