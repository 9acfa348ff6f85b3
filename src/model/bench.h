// Throughput measurement in the manner of llama.cpp's llama-bench, so that the
// numbers compare: pp<N> evaluates N random tokens as one prompt into an empty
// cache (logits of the last position only); tg<N> decodes N tokens one at a
// time from an empty cache (logits every step). One untimed warm-up run, then
// `reps` timed runs; tokens per second as mean and sample standard deviation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/forward.h"

namespace lcte::model {

struct BenchOptions {
  int64_t n_prompt = 512;  // 0: no pp test
  int64_t n_gen = 128;     // 0: no tg test
  int reps = 5;
  KvType kv_type = KvType::F16;
  uint64_t seed = 1234;  // for the random tokens
};

struct BenchResult {
  std::string test;  // "pp512", "tg128"
  int64_t n_tokens = 0;
  std::vector<double> tokens_per_second;  // one per timed run
  double mean = 0, stddev = 0;
};

std::vector<BenchResult> run_bench(Context& ctx, const BenchOptions& options);

// Mean and sample standard deviation (0 for fewer than two samples).
void mean_stddev(const std::vector<double>& xs, double* mean, double* stddev);

// Peak resident set size of this process so far, in bytes (getrusage).
size_t peak_rss_bytes();

}  // namespace lcte::model
