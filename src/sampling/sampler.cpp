#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace lcte::sampling {

namespace {

bool finite(float x) { return std::isfinite(x); }

// How many of the most recent history entries the penalties look at.
size_t penalty_window(size_t history_size, int32_t repeat_last_n) {
  if (repeat_last_n < 0) return history_size;
  return std::min(history_size, static_cast<size_t>(repeat_last_n));
}

double max_logit(std::span<const Candidate> cands) {
  float m = -std::numeric_limits<float>::infinity();
  for (const Candidate& c : cands) m = std::max(m, c.logit);
  return m;
}

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The logits must be usable by softmax: no NaN, no +inf, not all -inf.
// One branch-free pass in the common case; a second pass only to name the
// culprit in the error.
void check_logits(std::span<const float> logits) {
  if (logits.empty()) fail("sampler: empty logits (vocabulary size 0)");
  constexpr float inf = std::numeric_limits<float>::infinity();
  bool ok = true;
  float m = -inf;
  for (float x : logits) {
    ok &= x < inf;  // false for NaN and +inf
    m = std::max(m, x);
  }
  if (!ok) {
    for (size_t i = 0; i < logits.size(); ++i)
      if (!(logits[i] < inf)) fail("sampler: logit of token {} is {}", i, logits[i]);
  }
  if (m == -inf) fail("sampler: all {} logits are -inf", logits.size());
}

}  // namespace

void SamplingParams::validate() const {
  if (!finite(temperature)) fail("sampling: temperature must be a finite number, got {}", temperature);
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail("sampling: top_p must be in (0, 1], got {}", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) fail("sampling: min_p must be in [0, 1], got {}", min_p);
  if (!(finite(repeat_penalty) && repeat_penalty > 0.0f))
    fail("sampling: repeat_penalty must be a finite number > 0, got {}", repeat_penalty);
  if (repeat_last_n < -1)
    fail("sampling: repeat_last_n must be -1 (whole history), 0 (off) or positive, got {}",
         repeat_last_n);
  if (!finite(presence_penalty))
    fail("sampling: presence_penalty must be a finite number, got {}", presence_penalty);
  if (!finite(frequency_penalty))
    fail("sampling: frequency_penalty must be a finite number, got {}", frequency_penalty);
}

void apply_penalties(std::span<float> logits, std::span<const int32_t> history,
                     const SamplingParams& params) {
  const bool neutral = params.repeat_penalty == 1.0f && params.presence_penalty == 0.0f &&
                       params.frequency_penalty == 0.0f;
  const size_t n = penalty_window(history.size(), params.repeat_last_n);
  if (neutral || n == 0) return;

  const size_t first = history.size() - n;
  std::vector<int32_t> ids(history.begin() + static_cast<std::ptrdiff_t>(first), history.end());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= logits.size())
      fail("sampler: history token {} at position {} is outside the vocabulary of {}", ids[i],
           first + i, logits.size());
  }
  // Sorting groups equal ids, so each distinct token is penalised once with its count.
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    const float count = static_cast<float>(j - i);
    float& logit = logits[static_cast<size_t>(ids[i])];
    logit = logit > 0.0f ? logit / params.repeat_penalty : logit * params.repeat_penalty;
    logit -= count * params.frequency_penalty + params.presence_penalty;
    i = j;
  }
}

int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

bool better(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

void select_top_k(std::span<const float> logits, int32_t k, std::vector<Candidate>& out) {
  const size_t n = logits.size();
  out.clear();
  if (k <= 0 || static_cast<size_t>(k) >= n) {
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back({static_cast<int32_t>(i), logits[i]});
    std::sort(out.begin(), out.end(), better);
    return;
  }
  // A heap whose front is the worst of the k best seen so far: a new token
  // enters only if it beats that one, which after the first few thousand
  // tokens of a 150k vocabulary almost never happens.
  const size_t kk = static_cast<size_t>(k);
  out.reserve(kk);
  for (size_t i = 0; i < kk; ++i) out.push_back({static_cast<int32_t>(i), logits[i]});
  std::make_heap(out.begin(), out.end(), better);
  for (size_t i = kk; i < n; ++i) {
    const Candidate c{static_cast<int32_t>(i), logits[i]};
    if (better(c, out.front())) {
      std::pop_heap(out.begin(), out.end(), better);
      out.back() = c;
      std::push_heap(out.begin(), out.end(), better);
    }
  }
  std::sort_heap(out.begin(), out.end(), better);
}

void apply_top_p(std::vector<Candidate>& cands, float p, bool sorted) {
  if (p >= 1.0f || cands.size() <= 1) return;
  const double m = max_logit(cands);
  double total = 0.0;
  for (const Candidate& c : cands) total += std::exp(static_cast<double>(c.logit) - m);
  const double target = static_cast<double>(p) * total;

  // Sort a growing best-first prefix until it holds mass p: with a peaked
  // distribution the nucleus is a few dozen tokens, so a full sort of the
  // vocabulary is rarely needed.
  size_t prefix = cands.size();
  if (!sorted) {
    prefix = std::min<size_t>(cands.size(), 64);
    for (;;) {
      std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(prefix),
                        cands.end(), better);
      double mass = 0.0;
      for (size_t i = 0; i < prefix; ++i) mass += std::exp(static_cast<double>(cands[i].logit) - m);
      if (mass >= target || prefix == cands.size()) break;
      prefix = std::min(cands.size(), prefix * 4);
    }
  }
  double cum = 0.0;
  for (size_t i = 0; i < prefix; ++i) {
    cum += std::exp(static_cast<double>(cands[i].logit) - m);
    if (cum >= target) {
      cands.resize(i + 1);
      return;
    }
  }
  // Rounding left the sum a hair under p * total: everything sorted stays.
  cands.resize(prefix);
}

void apply_min_p(std::vector<Candidate>& cands, float min_p) {
  if (min_p <= 0.0f || cands.empty()) return;
  // p_i >= min_p * p_max  <=>  logit_i - max_logit >= ln(min_p): no softmax needed.
  const double threshold = max_logit(cands) + std::log(static_cast<double>(min_p));
  std::erase_if(cands, [&](const Candidate& c) { return static_cast<double>(c.logit) < threshold; });
}

int32_t draw(std::span<const Candidate> cands, float temperature, double u) {
  if (cands.empty()) fail("sampler: nothing left to draw from");
  if (temperature <= 0.0f) return std::min_element(cands.begin(), cands.end(), better)->id;
  const double m = max_logit(cands);
  if (m == -std::numeric_limits<double>::infinity()) fail("sampler: every candidate logit is -inf");
  const double t = temperature;
  double total = 0.0;
  for (const Candidate& c : cands) total += std::exp((static_cast<double>(c.logit) - m) / t);
  const double target = u * total;
  double cum = 0.0;
  for (const Candidate& c : cands) {
    cum += std::exp((static_cast<double>(c.logit) - m) / t);
    if (target < cum) return c.id;
  }
  return cands.back().id;  // u * total rounded up to the full sum
}

double uniform_from_bits(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

uint64_t sequence_seed(uint64_t seed, uint64_t index) { return splitmix64(seed ^ splitmix64(index)); }

Sampler::Sampler(const SamplingParams& params, uint64_t sequence_index)
    : params_(params), rng_(sequence_seed(params.seed, sequence_index)) {
  params_.validate();
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  check_logits(logits);
  work_.assign(logits.begin(), logits.end());
  apply_penalties(work_, history, params_);
  if (params_.temperature <= 0.0f) return argmax(work_);

  const bool use_top_k = params_.top_k > 0 && static_cast<size_t>(params_.top_k) < work_.size();
  if (use_top_k) {
    select_top_k(work_, params_.top_k, cands_);
  } else {
    cands_.resize(work_.size());
    for (size_t i = 0; i < work_.size(); ++i) cands_[i] = {static_cast<int32_t>(i), work_[i]};
  }
  apply_top_p(cands_, params_.top_p, use_top_k);
  apply_min_p(cands_, params_.min_p);
  return draw(cands_, params_.temperature, next_uniform());
}

}  // namespace lcte::sampling
