// How far a compressed model's next-token distributions are from its base
// model's over a text, scored like llama.cpp's llama-perplexity
// --kl-divergence so the numbers compare: the tokens are cut into chunks of
// n_ctx; each chunk starts with BOS (replacing its first token) and is
// evaluated from an empty cache; only the predictions of the second half of
// each chunk are scored (positions n_ctx/2 .. n_ctx-2 predicting the next
// token), so every scored token has at least n_ctx/2 tokens of context.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "model/forward.h"

namespace lcte::model {

struct KldOptions {
  int64_t n_ctx = 512;
  std::optional<int32_t> bos;  // the first token of every chunk, if the vocabulary adds one
  KvType kv_type = KvType::F16;
  // Called with (0, chunks) before the first chunk, then (chunks done, chunks)
  // after each, for a caller's progress display.
  std::function<void(int64_t, int64_t)> on_chunk;
};

struct KldReport {
  int64_t n_chunks = 0;
  int64_t n_scored = 0;
  double ppl_base = 0, ppl_other = 0;  // exp(mean negative log-likelihood)
  // KL(base || other) per scored token, in nats; percentiles by nearest rank.
  double kld_mean = 0, kld_median = 0, kld_p90 = 0, kld_p99 = 0, kld_max = 0;
  double top1_agreement = 0;  // fraction where both argmaxes are the same token
  double top5_agreement = 0;  // fraction where base's argmax is in other's top 5
};

// The statistics of one position: base and other logits (n_vocab each) and
// the token that came next.
struct PositionStats {
  double nll_base, nll_other, kld;
  bool top1, top5;
};
PositionStats compare_position(std::span<const float> base, std::span<const float> other, int32_t next);

// The running sums over scored positions, and the report they give. For
// callers that produce the logits themselves (quant-report computes the
// base's once for every file); compare_models is this over both contexts.
struct KldTally {
  std::vector<double> klds;
  double nll_base = 0, nll_other = 0;
  int64_t top1 = 0, top5 = 0;
  void add(const PositionStats& s);
  KldReport report(int64_t n_chunks);  // sorts klds
};

// Both contexts must have the same vocabulary size. Throws lcte::Error when
// there are fewer than n_ctx tokens or n_ctx < 4.
KldReport compare_models(Context& base, Context& other, std::span<const int32_t> tokens, const KldOptions& options);

// Nearest-rank percentile (p in [0, 100]) of sorted values.
double percentile(const std::vector<double>& sorted, double p);

}  // namespace lcte::model
