#include "server/metrics.h"

#include <cmath>

#include <fmt/format.h>

namespace lcte::server {
namespace {

// Seconds; wide enough for a tiny local model and a 32B one behind a queue.
const std::vector<double>& buckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return b;
}

// Label values escape backslash, quote and newline.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Metrics::Histogram::observe(double v) {
  if (!std::isfinite(v) || v < 0) return;
  if (counts.empty()) counts.assign(buckets().size(), 0);
  for (size_t i = 0; i < buckets().size(); ++i)
    if (v <= buckets()[i]) {
      counts[i]++;
      break;
    }
  sum += v;
  count++;
}

Metrics::PerModel& Metrics::of(const std::string& model) { return models_[model.empty() ? "-" : model]; }

void Metrics::record_success(const std::string& model, int prompt_tokens, int completion_tokens, double latency_s,
                             double ttft_s) {
  std::lock_guard<std::mutex> lock(mutex_);
  PerModel& m = of(model);
  m.ok++;
  if (prompt_tokens > 0) m.prompt_tokens += static_cast<uint64_t>(prompt_tokens);
  if (completion_tokens > 0) m.completion_tokens += static_cast<uint64_t>(completion_tokens);
  m.latency.observe(latency_s);
  m.ttft.observe(ttft_s);
}

void Metrics::record_error(const std::string& model, int status, const std::string& type) {
  std::lock_guard<std::mutex> lock(mutex_);
  of(model).errors[{status, type}]++;
}

void Metrics::in_flight(int delta) {
  std::lock_guard<std::mutex> lock(mutex_);
  in_flight_ += delta;
}

uint64_t Metrics::requests(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = models_.find(model.empty() ? "-" : model);
  if (it == models_.end()) return 0;
  uint64_t n = it->second.ok;
  for (const auto& [k, v] : it->second.errors) n += v;
  return n;
}

uint64_t Metrics::errors(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = models_.find(model.empty() ? "-" : model);
  uint64_t n = 0;
  if (it != models_.end())
    for (const auto& [k, v] : it->second.errors) n += v;
  return n;
}

std::string Metrics::prometheus() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  out += "# HELP lcte_requests_total Completion requests answered, by model and HTTP status.\n";
  out += "# TYPE lcte_requests_total counter\n";
  for (const auto& [name, m] : models_) {
    if (m.ok) out += fmt::format("lcte_requests_total{{model=\"{}\",status=\"200\"}} {}\n", label(name), m.ok);
    std::map<int, uint64_t> by_status;
    for (const auto& [k, v] : m.errors) by_status[k.first] += v;
    for (const auto& [status, v] : by_status)
      out += fmt::format("lcte_requests_total{{model=\"{}\",status=\"{}\"}} {}\n", label(name), status, v);
  }
  out += "# HELP lcte_errors_total Requests that ended in an error, by model and error type.\n";
  out += "# TYPE lcte_errors_total counter\n";
  for (const auto& [name, m] : models_) {
    std::map<std::string, uint64_t> by_type;
    for (const auto& [k, v] : m.errors) by_type[k.second] += v;
    for (const auto& [type, v] : by_type)
      out += fmt::format("lcte_errors_total{{model=\"{}\",type=\"{}\"}} {}\n", label(name), label(type), v);
  }
  out += "# HELP lcte_prompt_tokens_total Prompt tokens processed.\n# TYPE lcte_prompt_tokens_total counter\n";
  for (const auto& [name, m] : models_)
    out += fmt::format("lcte_prompt_tokens_total{{model=\"{}\"}} {}\n", label(name), m.prompt_tokens);
  out += "# HELP lcte_completion_tokens_total Tokens generated.\n# TYPE lcte_completion_tokens_total counter\n";
  for (const auto& [name, m] : models_)
    out += fmt::format("lcte_completion_tokens_total{{model=\"{}\"}} {}\n", label(name), m.completion_tokens);
  auto histogram = [&](const char* metric, const char* help, const Histogram PerModel::*h) {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", metric, help, metric);
    for (const auto& [name, m] : models_) {
      const Histogram& hist = m.*h;
      uint64_t cumulative = 0;
      for (size_t i = 0; i < buckets().size(); ++i) {
        cumulative += hist.counts.empty() ? 0 : hist.counts[i];
        out += fmt::format("{}_bucket{{model=\"{}\",le=\"{}\"}} {}\n", metric, label(name), buckets()[i], cumulative);
      }
      out += fmt::format("{}_bucket{{model=\"{}\",le=\"+Inf\"}} {}\n", metric, label(name), hist.count);
      out += fmt::format("{}_sum{{model=\"{}\"}} {}\n", metric, label(name), hist.sum);
      out += fmt::format("{}_count{{model=\"{}\"}} {}\n", metric, label(name), hist.count);
    }
  };
  histogram("lcte_request_duration_seconds", "End-to-end latency of answered requests.", &PerModel::latency);
  histogram("lcte_time_to_first_token_seconds", "Time to the first generated text.", &PerModel::ttft);
  out += "# HELP lcte_requests_in_flight Completion requests being served.\n# TYPE lcte_requests_in_flight gauge\n";
  out += fmt::format("lcte_requests_in_flight {}\n", in_flight_);
  return out;
}

std::string front_prometheus(const FrontStats& s) {
  std::string out;
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  gauge("lcte_http_connections_open", "Client connections open now (slow and idle ones included).", s.connections_open);
  gauge("lcte_http_requests_queued", "Requests read and waiting for a worker.", s.queued);
  gauge("lcte_http_workers_busy", "Workers handling a request.", s.busy_workers);
  out += "# HELP lcte_http_connections_total Connections accepted.\n# TYPE lcte_http_connections_total counter\n";
  out += fmt::format("lcte_http_connections_total {}\n", s.accepted);
  out += "# HELP lcte_http_refused_total Connections and requests the front answered itself, by reason.\n";
  out += "# TYPE lcte_http_refused_total counter\n";
  const std::pair<const char*, int64_t> reasons[] = {{"too_many_connections", s.refused_connections},
                                                     {"queue_full", s.refused_queue_full},
                                                     {"header_timeout", s.header_timeouts},
                                                     {"headers_too_large", s.headers_too_large},
                                                     {"bad_head", s.refused_head},
                                                     {"body_failed", s.body_failures}};
  for (const auto& [reason, v] : reasons)
    out += fmt::format("lcte_http_refused_total{{reason=\"{}\"}} {}\n", reason, v);
  return out;
}

}  // namespace lcte::server
