// Time per sampled token for a Qwen-sized vocabulary (151936 entries) under
// the sampler settings lcte uses, on two logit shapes:
//   peaked: N(0, 2^2) plus a handful of tokens 8..12 above (a confident model),
//   flat:   N(0, 1) (an unsure model: the top-p nucleus is thousands of tokens).
// Prints a table of microseconds per call of Sampler::sample: the median and
// minimum of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which a machine
// shared with other builds disturbs far less than wall time, and the median
// wall time.
//
// usage: bench_sampling [samples per row, default 300]
#include <time.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace {

using lcte::sampling::Sampler;
using lcte::sampling::SamplingParams;

constexpr size_t kVocab = 151936;

std::vector<float> make_logits(bool peaked, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, peaked ? 2.0f : 1.0f);
  std::vector<float> v(kVocab);
  for (float& x : v) x = normal(rng);
  if (peaked)
    for (int i = 0; i < 5; ++i) v[rng() % kVocab] = 8.0f + static_cast<float>(i);
  return v;
}

struct Row {
  const char* name;
  SamplingParams params;
};

SamplingParams make(float t, int k, float p, float min_p, float repeat = 1.0f) {
  SamplingParams s;
  s.temperature = t;
  s.top_k = k;
  s.top_p = p;
  s.min_p = min_p;
  s.repeat_penalty = repeat;
  s.repeat_last_n = 64;
  s.seed = 1;
  return s;
}

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

void run_row(const Row& row, const std::vector<float>& logits, const std::vector<int32_t>& history, int samples,
             const char* shape) {
  Sampler s(row.params);
  std::vector<double> cpu, wall;
  volatile int32_t sink = 0;
  for (int i = 0; i < samples; ++i) {
    const auto w0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_us();
    sink = s.sample(logits, history);
    const double c1 = thread_cpu_us();
    const auto w1 = std::chrono::steady_clock::now();
    cpu.push_back(c1 - c0);
    wall.push_back(std::chrono::duration<double, std::micro>(w1 - w0).count());
  }
  (void)sink;
  std::printf("| %-6s | %-50s | %8.1f | %8.1f | %8.1f |\n", shape, row.name, median(cpu),
              *std::min_element(cpu.begin(), cpu.end()), median(wall));
}

}  // namespace

int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::max(1, std::atoi(argv[1])) : 300;
  const std::vector<Row> rows{
      {"greedy (T=0)", make(0.0f, 40, 0.95f, 0.05f)},
      {"top-k 40, top-p 0.95, T 0.8", make(0.8f, 40, 0.95f, 0.0f)},
      {"top-k 40, top-p 0.95, min-p 0.05, T 0.8 (default)", make(0.8f, 40, 0.95f, 0.05f)},
      {"  same + repeat penalty 1.1 over 64 tokens", make(0.8f, 40, 0.95f, 0.05f, 1.1f)},
      {"top-p 0.95 only (no top-k), T 0.8", make(0.8f, 0, 0.95f, 0.0f)},
      {"full softmax draw (no truncation), T 1", make(1.0f, 0, 1.0f, 0.0f)},
  };
  std::vector<int32_t> history;
  for (int i = 0; i < 64; ++i) history.push_back((i * 2654435761u) % kVocab);
  std::printf("vocabulary %zu, %d samples per row, microseconds per Sampler::sample call\n\n", kVocab, samples);
  std::printf("| logits | settings                                           | cpu med  | cpu min  | wall med |\n");
  std::printf("|--------|----------------------------------------------------|----------|----------|----------|\n");
  for (bool peaked : {true, false}) {
    const std::vector<float> logits = make_logits(peaked, 42);
    for (const Row& row : rows) run_row(row, logits, history, samples, peaked ? "peaked" : "flat");
  }
  return 0;
}
