#include "backend/generation.h"

#include <cmath>

namespace lcte::backend {
namespace {

uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

uint64_t sample_seed(uint64_t seed, const std::string& task_id, int index) {
  if (task_id.empty() && index == 0) return seed;
  return splitmix64(seed ^ splitmix64(fnv1a(task_id) ^ splitmix64(static_cast<uint64_t>(index))));
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
