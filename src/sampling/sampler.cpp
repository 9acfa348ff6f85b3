#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/random.h"
#include "sampling/scan.h"

namespace lcte::sampling {

namespace {

bool finite(float x) { return std::isfinite(x); }

// How many of the most recent history entries the penalties look at.
size_t penalty_window(size_t history_size, int32_t repeat_last_n) {
  if (repeat_last_n < 0) return history_size;
  return std::min(history_size, static_cast<size_t>(repeat_last_n));
}

// Largest and smallest finite logit of the candidates (-inf entries are
// masks). Four running values, so the loop is not one long dependency chain.
struct LogitRange {
  double max;
  double min_finite;
};

LogitRange logit_range(std::span<const Candidate> cands) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  float hi[4] = {-inf, -inf, -inf, -inf};
  float lo[4] = {inf, inf, inf, inf};
  size_t i = 0;
  for (; i + 4 <= cands.size(); i += 4) {
    for (size_t j = 0; j < 4; ++j) {
      const float x = cands[i + j].logit;
      hi[j] = x > hi[j] ? x : hi[j];
      lo[j] = x < lo[j] && x > -inf ? x : lo[j];
    }
  }
  for (; i < cands.size(); ++i) {
    const float x = cands[i].logit;
    hi[0] = x > hi[0] ? x : hi[0];
    lo[0] = x < lo[0] && x > -inf ? x : lo[0];
  }
  for (size_t j = 1; j < 4; ++j) {
    hi[0] = hi[j] > hi[0] ? hi[j] : hi[0];
    lo[0] = lo[j] < lo[0] ? lo[j] : lo[0];
  }
  return {hi[0], lo[0]};
}

double max_logit(std::span<const Candidate> cands) { return logit_range(cands).max; }

// The logits must be usable by softmax: no NaN, no +inf, not all -inf.
// The first loop vectorises (no early exit); a second pass runs only to name
// the culprit in the error.
void check_logits(std::span<const float> logits) {
  if (logits.empty()) fail("sampler: empty logits (vocabulary size 0)");
  constexpr float inf = std::numeric_limits<float>::infinity();
  uint32_t bad = 0;
  for (float x : logits) bad |= !(x < inf);  // NaN and +inf fail x < inf
  if (bad != 0) {
    for (size_t i = 0; i < logits.size(); ++i)
      if (!(logits[i] < inf)) fail("sampler: logit of token {} is {}", i, logits[i]);
  }
  if (max_value(logits) == -inf) fail("sampler: all {} logits are -inf", logits.size());
}

bool has_penalties(const SamplingParams& p, std::span<const int32_t> history) {
  const bool neutral = p.repeat_penalty == 1.0f && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f;
  return !neutral && p.repeat_last_n != 0 && !history.empty();
}

// Top-p over unsorted candidates without sorting them: logits go into
// kBuckets equal-width buckets below the maximum; the bucket where the
// cumulative mass crosses p is the only one that needs sorting. Everything in
// higher buckets is kept as is (input order), then the boundary bucket's best
// entries up to the mass p. A full sort of a 150k vocabulary takes ~10 ms; this
// is three passes (range, bucket masses, partition) and a sort of the few
// hundred entries of one bucket.
void top_p_unsorted(std::vector<Candidate>& cands, float p) {
  constexpr int kBuckets = 1024;
  constexpr float inf = std::numeric_limits<float>::infinity();
  const LogitRange range = logit_range(cands);
  const double m = range.max;
  if (m == -inf) return;  // nothing has any mass
  const double scale = m > range.min_finite ? (kBuckets - 1) / (m - range.min_finite) : 0.0;
  auto bucket = [&](float logit) {
    if (logit == -inf) return kBuckets - 1;
    return std::min(kBuckets - 1, static_cast<int>((m - logit) * scale));
  };
  // One exp per candidate: the bucket masses, whose sum is the total.
  std::vector<double> mass(kBuckets, 0.0);
  for (const Candidate& c : cands) mass[static_cast<size_t>(bucket(c.logit))] += std::exp(c.logit - m);
  double total = 0.0;
  for (double x : mass) total += x;
  const double target = static_cast<double>(p) * total;

  int boundary = kBuckets - 1;
  double above = 0.0;  // mass of the buckets before the boundary
  for (int b = 0; b < kBuckets; ++b) {
    if (above + mass[static_cast<size_t>(b)] >= target) {
      boundary = b;
      break;
    }
    above += mass[static_cast<size_t>(b)];
  }

  std::vector<Candidate> edge;
  size_t kept = 0;
  for (const Candidate& c : cands) {
    const int b = bucket(c.logit);
    if (b < boundary)
      cands[kept++] = c;  // kept <= read position: in place is safe
    else if (b == boundary)
      edge.push_back(c);
  }
  std::sort(edge.begin(), edge.end(), better);
  cands.resize(kept);
  double cum = above;
  for (const Candidate& c : edge) {
    cands.push_back(c);
    cum += std::exp(c.logit - m);
    if (cum >= target) break;
  }
}

}  // namespace

void SamplingParams::validate() const {
  if (!finite(temperature)) fail("sampling: temperature must be a finite number, got {}", temperature);
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail("sampling: top_p must be in (0, 1], got {}", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) fail("sampling: min_p must be in [0, 1], got {}", min_p);
  if (!(finite(repeat_penalty) && repeat_penalty > 0.0f))
    fail("sampling: repeat_penalty must be a finite number > 0, got {}", repeat_penalty);
  if (repeat_last_n < -1)
    fail("sampling: repeat_last_n must be -1 (whole history), 0 (off) or positive, got {}", repeat_last_n);
  if (!finite(presence_penalty)) fail("sampling: presence_penalty must be a finite number, got {}", presence_penalty);
  if (!finite(frequency_penalty))
    fail("sampling: frequency_penalty must be a finite number, got {}", frequency_penalty);
}

void apply_penalties(std::span<float> logits, std::span<const int32_t> history, const SamplingParams& params) {
  const bool neutral =
      params.repeat_penalty == 1.0f && params.presence_penalty == 0.0f && params.frequency_penalty == 0.0f;
  const size_t n = penalty_window(history.size(), params.repeat_last_n);
  if (neutral || n == 0) return;

  const size_t first = history.size() - n;
  std::vector<int32_t> ids(history.begin() + static_cast<std::ptrdiff_t>(first), history.end());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= logits.size())
      fail("sampler: history token {} at position {} is outside the vocabulary of {}", ids[i], first + i,
           logits.size());
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
  // Two SIMD scans: the maximum, then its first position.
  const size_t i = first_at_least(logits, 0, max_value(logits));
  return i < logits.size() ? static_cast<int32_t>(i) : 0;  // 0: empty
}

bool better(const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

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
  // Scanning ids upwards, a token that ties the worst kept one loses (higher
  // id), so a strict > against its logit is the whole test.
  float worst = out.front().logit;
  for (size_t i = first_greater(logits, kk, worst); i < n; i = first_greater(logits, i + 1, worst)) {
    std::pop_heap(out.begin(), out.end(), better);
    out.back() = {static_cast<int32_t>(i), logits[i]};
    std::push_heap(out.begin(), out.end(), better);
    worst = out.front().logit;
  }
  std::sort_heap(out.begin(), out.end(), better);
}

void apply_top_p(std::vector<Candidate>& cands, float p, bool sorted) {
  if (p >= 1.0f || cands.size() <= 1) return;
  if (!sorted) {
    top_p_unsorted(cands, p);
    return;
  }
  const double m = cands[0].logit;
  if (m == -std::numeric_limits<double>::infinity()) return;
  double total = 0.0;
  for (const Candidate& c : cands) total += std::exp(static_cast<double>(c.logit) - m);
  const double target = static_cast<double>(p) * total;
  double cum = 0.0;
  for (size_t i = 0; i < cands.size(); ++i) {
    cum += std::exp(static_cast<double>(cands[i].logit) - m);
    if (cum >= target) {
      cands.resize(i + 1);
      return;
    }
  }
  // Rounding left the sum a hair under p * total: everything stays.
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
  std::span<const float> view = logits;
  if (has_penalties(params_, history)) {
    work_.assign(logits.begin(), logits.end());
    apply_penalties(work_, history, params_);
    view = work_;
  }
  if (params_.temperature <= 0.0f) return argmax(view);

  const bool use_top_k = params_.top_k > 0 && static_cast<size_t>(params_.top_k) < view.size();
  if (use_top_k) {
    select_top_k(view, params_.top_k, cands_);
  } else {
    cands_.resize(view.size());
    for (size_t i = 0; i < view.size(); ++i) cands_[i] = {static_cast<int32_t>(i), view[i]};
  }
  apply_top_p(cands_, params_.top_p, use_top_k);
  apply_min_p(cands_, params_.min_p);
  return draw(cands_, params_.temperature, next_uniform());
}

}  // namespace lcte::sampling
