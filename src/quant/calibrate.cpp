#include "quant/calibrate.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace lcte::quant {

Imatrix collect_imatrix(model::Context& ctx, std::span<const int32_t> tokens, const CalibrationOptions& o,
                        const CalibrationProgress& progress) {
  if (o.n_ctx < 16) fail("imatrix: context {} is too small (at least 16 tokens)", o.n_ctx);
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / o.n_ctx;
  if (n_chunks < 1)
    fail("imatrix: the calibration text has {} tokens, fewer than one context of {}", tokens.size(), o.n_ctx);
  if (o.max_chunks > 0) n_chunks = std::min(n_chunks, o.max_chunks);

  ImatrixCollector collector;
  // llama-imatrix skips products over fewer than 16 tokens (single-token
  // decode steps would otherwise dominate the counts) and, unless asked,
  // the output matrix, whose imatrix tends to hurt more than help.
  ctx.set_activation_observer([&](std::string_view name, const float* x, int64_t ntok, int64_t cols) {
    if (ntok < 16) return;
    if (!name.starts_with("blk.") && !(o.process_output && name == ctx.model().output().name)) return;
    collector.observe(name, x, ntok, cols);
  });
  struct Reset {
    model::Context& c;
    ~Reset() { c.set_activation_observer({}); }
  } reset{ctx};

  std::vector<float> logits;
  if (progress) progress(0, n_chunks);
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * o.n_ctx, tokens.begin() + (c + 1) * o.n_ctx);
    if (o.bos) chunk[0] = *o.bos;
    model::KvCache cache = ctx.new_cache(o.n_ctx);
    for (int64_t p0 = 0; p0 < o.n_ctx; p0 += ctx.max_batch()) {
      const int64_t p1 = std::min(o.n_ctx, p0 + ctx.max_batch());
      const std::span<const int32_t> part(chunk.data() + p0, static_cast<size_t>(p1 - p0));
      // Logits of every position only when the output matrix is recorded
      // (otherwise its product would see one token and be skipped anyway).
      ctx.eval(cache, part, o.process_output ? model::Logits::All : model::Logits::None, logits);
    }
    collector.end_chunk();
    if (progress) progress(c + 1, n_chunks);
  }
  return collector.result(o.dataset);
}

}  // namespace lcte::quant
