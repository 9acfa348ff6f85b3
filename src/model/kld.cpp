#include "model/kld.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lcte::model {
namespace {

// log-softmax of x into out, in double.
void log_softmax(std::span<const float> x, std::vector<double>& out) {
  out.resize(x.size());
  const double mx = *std::max_element(x.begin(), x.end());
  double sum = 0;
  for (float v : x) sum += std::exp(static_cast<double>(v) - mx);
  const double lse = mx + std::log(sum);
  for (size_t i = 0; i < x.size(); ++i) out[i] = static_cast<double>(x[i]) - lse;
}

size_t argmax(std::span<const float> x) {
  return static_cast<size_t>(std::max_element(x.begin(), x.end()) - x.begin());
}

}  // namespace

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t i = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(sorted.size()))) - 1;
  return sorted[i];
}

PositionStats compare_position(std::span<const float> base, std::span<const float> other, int32_t next) {
  std::vector<double> lb, lo;
  log_softmax(base, lb);
  log_softmax(other, lo);
  PositionStats s{};
  s.nll_base = -lb[static_cast<size_t>(next)];
  s.nll_other = -lo[static_cast<size_t>(next)];
  double kl = 0;
  for (size_t i = 0; i < lb.size(); ++i) kl += std::exp(lb[i]) * (lb[i] - lo[i]);
  s.kld = std::max(0.0, kl);  // rounding can leave -1e-17 where the distributions agree
  const size_t top = argmax(base);
  s.top1 = top == argmax(other);
  // base's argmax is in other's top 5 when fewer than 5 tokens beat it there.
  int better = 0;
  for (size_t i = 0; i < other.size(); ++i)
    if (other[i] > other[top] || (other[i] == other[top] && i < top)) ++better;
  s.top5 = better < 5;
  return s;
}

void KldTally::add(const PositionStats& s) {
  nll_base += s.nll_base;
  nll_other += s.nll_other;
  klds.push_back(s.kld);
  top1 += s.top1;
  top5 += s.top5;
}

KldReport KldTally::report(int64_t n_chunks) {
  KldReport r;
  r.n_chunks = n_chunks;
  r.n_scored = static_cast<int64_t>(klds.size());
  const double n = static_cast<double>(klds.size());
  r.ppl_base = std::exp(nll_base / n);
  r.ppl_other = std::exp(nll_other / n);
  double sum = 0;
  for (double k : klds) sum += k;
  r.kld_mean = sum / n;
  std::sort(klds.begin(), klds.end());
  r.kld_median = percentile(klds, 50);
  r.kld_p90 = percentile(klds, 90);
  r.kld_p99 = percentile(klds, 99);
  r.kld_max = klds.back();
  r.top1_agreement = static_cast<double>(top1) / n;
  r.top5_agreement = static_cast<double>(top5) / n;
  return r;
}

KldReport compare_models(Context& base, Context& other, std::span<const int32_t> tokens, const KldOptions& o) {
  const int64_t V = base.n_vocab();
  if (other.n_vocab() != V) fail("kld: the models' vocabularies differ ({} and {} tokens)", V, other.n_vocab());
  if (o.n_ctx < 4) fail("kld: context {} is too small (at least 4)", o.n_ctx);
  const int64_t n_chunks = static_cast<int64_t>(tokens.size()) / o.n_ctx;
  if (n_chunks < 1) fail("kld: the text has {} tokens, fewer than one context of {}", tokens.size(), o.n_ctx);

  // Logits come in pieces small enough that two pieces stay under ~128 MiB.
  const int64_t piece = std::clamp<int64_t>((16 << 20) / V, 1, std::min(base.max_batch(), other.max_batch()));
  const int64_t first = o.n_ctx / 2;
  KldTally tally;
  std::vector<float> lb, lo;
  if (o.on_chunk) o.on_chunk(0, n_chunks);
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * o.n_ctx, tokens.begin() + (c + 1) * o.n_ctx);
    if (o.bos) chunk[0] = *o.bos;
    KvCache cb = base.new_cache(o.n_ctx, o.kv_type), co = other.new_cache(o.n_ctx, o.kv_type);
    for (int64_t p0 = 0; p0 < o.n_ctx; p0 += piece) {
      const int64_t p1 = std::min(o.n_ctx, p0 + piece);
      const std::span<const int32_t> part(chunk.data() + p0, static_cast<size_t>(p1 - p0));
      const bool scored = p1 > first;
      base.eval(cb, part, scored ? Logits::All : Logits::None, lb);
      other.eval(co, part, scored ? Logits::All : Logits::None, lo);
      if (!scored) continue;
      for (int64_t j = std::max(p0, first); j < std::min(p1, o.n_ctx - 1); ++j) {
        const size_t off = static_cast<size_t>((j - p0) * V);
        tally.add(compare_position({lb.data() + off, static_cast<size_t>(V)}, {lo.data() + off, static_cast<size_t>(V)},
                                   chunk[static_cast<size_t>(j + 1)]));
      }
    }
    if (o.on_chunk) o.on_chunk(c + 1, n_chunks);
  }
  return tally.report(n_chunks);
}

}  // namespace lcte::model
