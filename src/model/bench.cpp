#include "model/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace lcte::model {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Wall and CPU time over the same region (the evaluation only: the KV cache
// is made and freed outside it), so that their ratio means something.
double run_pp(Context& ctx, const std::vector<int32_t>& tokens, KvType kv, double* cpu) {
  KvCache cache = ctx.new_cache(static_cast<int64_t>(tokens.size()), kv);
  std::vector<float> logits;
  const double c0 = cpu_seconds();
  const auto t0 = Clock::now();
  ctx.eval(cache, tokens, Logits::Last, logits);
  const double wall = seconds_since(t0);
  *cpu = cpu_seconds() - c0;
  return wall;
}

double run_tg(Context& ctx, const std::vector<int32_t>& tokens, KvType kv, double* cpu) {
  KvCache cache = ctx.new_cache(static_cast<int64_t>(tokens.size()), kv);
  std::vector<float> logits;
  const double c0 = cpu_seconds();
  const auto t0 = Clock::now();
  for (const int32_t& t : tokens) ctx.eval(cache, std::span<const int32_t>(&t, 1), Logits::Last, logits);
  const double wall = seconds_since(t0);
  *cpu = cpu_seconds() - c0;
  return wall;
}

}  // namespace

void mean_stddev(const std::vector<double>& xs, double* mean, double* stddev) {
  double s = 0;
  for (double x : xs) s += x;
  *mean = xs.empty() ? 0 : s / static_cast<double>(xs.size());
  double v = 0;
  for (double x : xs) v += (x - *mean) * (x - *mean);
  *stddev = xs.size() < 2 ? 0 : std::sqrt(v / static_cast<double>(xs.size() - 1));
}

std::vector<BenchResult> run_bench(Context& ctx, const BenchOptions& o) {
  if (o.reps < 1) fail("bench: repetitions must be at least 1 (got {})", o.reps);
  if (o.n_prompt < 0 || o.n_gen < 0) fail("bench: token counts must not be negative");
  SplitMix64 rng(o.seed);
  std::vector<BenchResult> results;
  for (int kind = 0; kind < 2; ++kind) {
    const int64_t n = kind == 0 ? o.n_prompt : o.n_gen;
    if (n == 0) continue;
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(ctx.n_vocab())));
    BenchResult r;
    r.test = (kind == 0 ? "pp" : "tg") + std::to_string(n);
    r.n_tokens = n;
    double cpu = 0;
    for (int rep = -1; rep < o.reps; ++rep) {  // rep -1 is the warm-up
      double rep_cpu = 0;
      const double s = kind == 0 ? run_pp(ctx, tokens, o.kv_type, &rep_cpu) : run_tg(ctx, tokens, o.kv_type, &rep_cpu);
      if (rep < 0) continue;
      cpu += rep_cpu;
      r.tokens_per_second.push_back(static_cast<double>(n) / s);
    }
    r.cpu_tokens_per_second = static_cast<double>(n * o.reps) / std::max(cpu, 1e-9);
    mean_stddev(r.tokens_per_second, &r.mean, &r.stddev);
    results.push_back(std::move(r));
  }
  return results;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

size_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<size_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace lcte::model
