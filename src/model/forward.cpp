#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "model/attention.h"
#include "model/ops.h"
#include "model/vec.h"

namespace lcte::model {
namespace {

// Below this many multiply-adds a region runs on the calling thread alone:
// waking the other threads and waiting for them costs about as much.
constexpr int64_t kMinParallelWork = 1 << 15;
// Rows per chunk are a multiple of this (kernels tile rows by a few at a time).
constexpr int64_t kRowAlign = 8;

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Bytes of weight rows per slab when a product is done token by token: the
// slab stays in L2 while every token reads it, and few kernel calls.
constexpr size_t kSlabBytes = 128 << 10;

// How many of `remaining` prompt tokens the next forward of eval() takes, at
// most `limit`. A forward of one token takes other arithmetic than a longer
// one (the attention's V sum, F32/F16 weights), so a split never leaves the
// last token a forward of its own: where it would, this piece ends 8 tokens
// earlier when the limit is a multiple of 8 from 16 on (pieces stay
// multiples of 8, so the token-lane tiles get whole 8-token groups), else 1.
// So a prompt's tokens get the bits they get in one forward whatever
// max_batch is (see "Exact across prompt splits" in docs/parts/engine.md).
int64_t batch_piece(int64_t remaining, int64_t limit) {
  if (remaining <= limit) return remaining;
  if (remaining - limit != 1 || limit < 3) return limit;
  return limit >= 16 && limit % 8 == 0 ? limit - 8 : limit - 1;
}

std::vector<const Matrix*> all_matrices(const Model& m) {
  std::vector<const Matrix*> out{&m.output()};
  for (const Layer& l : m.layers())
    for (const Matrix* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) out.push_back(w);
  return out;
}

}  // namespace

Context::Context(const Model& model, ThreadPool& pool, int64_t max_batch)
    : model_(model), pool_(pool), max_batch_(max_batch), isa_(kernels::best_isa()) {
  if (max_batch < 1 || max_batch > (1 << 16)) fail("batch size {} is out of range (1..65536)", max_batch);
  const Config& c = model.config();
  const auto B = static_cast<size_t>(max_batch);
  x_.resize(B * c.dim);
  xb_.resize(B * std::max(c.dim, c.q_dim()));
  xb2_.resize(B * c.dim);
  q_.resize(B * c.q_dim());
  k_.resize(B * c.kv_dim());
  v_.resize(B * c.kv_dim());
  att_.resize(B * c.q_dim());
  hb_.resize(B * c.ffn_dim);
  hb2_.resize(B * c.ffn_dim);
  rope_.resize(B * std::max<int64_t>(c.rope_dims, 1));
  // Quantized activations only for quantized weights: F32/F16/BF16 weights
  // take the F32 rows as they are.
  size_t act_row = 0;
  for (const Matrix* w : all_matrices(model))
    if (kernels::activation_type(w->type) != GgmlType::F32)
      act_row = std::max(act_row, kernels::activation_row_bytes(w->type, w->cols));
  acts_.resize(kMaxJobs);
  for (ActBuffer& a : acts_) a.bytes.resize(act_row * B);
}

void Context::eval(KvCache& cache, std::span<const int32_t> tokens, Logits which, std::vector<float>& logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t V = n_vocab();
  logits.assign(which == Logits::All    ? static_cast<size_t>(n * V)
                : which == Logits::Last ? static_cast<size_t>(V)
                                        : 0,
                0.0f);
  if (n == 0) {
    if (which == Logits::Last) fail("eval: no tokens to compute logits for");
    return;
  }
  for (int32_t t : tokens)
    if (t < 0 || t >= V) fail("token id {} is out of range (vocabulary of {})", t, V);
  const int64_t start = cache.size();
  std::vector<Entry> batch;
  try {
    for (int64_t b0 = 0, b1 = 0; b0 < n; b0 = b1) {
      b1 = b0 + batch_piece(n - b0, max_batch_);
      const int64_t pos0 = cache.size();
      cache.append(b1 - b0);
      batch.clear();
      for (int64_t i = b0; i < b1; ++i)
        batch.push_back({&cache, tokens[static_cast<size_t>(i)], pos0 + (i - b0),
                         which == Logits::All || (which == Logits::Last && i == n - 1)});
      float* out = which == Logits::All ? logits.data() + b0 * V : logits.data();
      forward(batch, out);
    }
  } catch (...) {
    cache.truncate(start);  // leave the sequence as it was
    throw;
  }
}

void Context::eval_step(std::span<KvCache* const> caches, std::span<const int32_t> tokens, std::vector<float>& logits) {
  if (caches.size() != tokens.size()) fail("eval_step: {} sequences but {} tokens", caches.size(), tokens.size());
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab()) fail("token id {} is out of range (vocabulary of {})", t, n_vocab());
  size_t appended = 0;
  try {
    for (; appended < caches.size(); ++appended) caches[appended]->append(1);
  } catch (...) {
    // Leave every sequence as it was (a cache listed twice is cut back twice).
    for (size_t i = appended; i-- > 0;) caches[i]->truncate(caches[i]->size() - 1);
    throw;
  }
  eval_appended(caches, tokens, logits);
}

void Context::eval_appended(std::span<KvCache* const> caches, std::span<const int32_t> tokens,
                            std::vector<float>& logits) {
  if (caches.size() != tokens.size()) fail("eval_step: {} sequences but {} tokens", caches.size(), tokens.size());
  const int64_t n = static_cast<int64_t>(tokens.size());
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab()) fail("token id {} is out of range (vocabulary of {})", t, n_vocab());
  // Positions: a cache listed k times holds its k tokens at its last k positions, in list order.
  std::vector<int64_t> pos(static_cast<size_t>(n));
  for (size_t i = static_cast<size_t>(n); i-- > 0;) {
    int64_t later = 0;
    for (size_t j = i + 1; j < static_cast<size_t>(n); ++j) later += caches[j] == caches[i];
    pos[i] = caches[i]->size() - 1 - later;
    if (pos[i] < 0) fail("eval_step: a sequence has no appended position for its token");
  }
  logits.assign(static_cast<size_t>(n * n_vocab()), 0.0f);
  std::vector<Entry> batch;
  for (int64_t b0 = 0; b0 < n; b0 += max_batch_) {
    const int64_t b1 = std::min(n, b0 + max_batch_);
    batch.clear();
    for (int64_t i = b0; i < b1; ++i)
      batch.push_back(
          {caches[static_cast<size_t>(i)], tokens[static_cast<size_t>(i)], pos[static_cast<size_t>(i)], true});
    forward(batch, logits.data() + b0 * n_vocab());
  }
}

template <class F>
void Context::for_tokens(int64_t ntok, int64_t work_per_token, F&& fn) {
  if (pool_.size() == 1 || ntok * work_per_token < kMinParallelWork) {
    for (int64_t t = 0; t < ntok; ++t) fn(t);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, ntok / (4 * pool_.size()));
  pool_.parallel_for(ntok, grain, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) fn(t);
  });
}

bool same_order_at_any_batch(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16; }

bool Context::distinct_sequences(std::span<const Entry> batch) {
  if (batch.size() < 2) return false;
  for (size_t i = 0; i < batch.size(); ++i)
    for (size_t j = i + 1; j < batch.size(); ++j)
      if (batch[i].cache == batch[j].cache) return false;
  return true;
}

void Context::forward(std::span<const Entry> batch, float* logits_out) {
  const Config& c = model_.config();
  const int64_t ntok = static_cast<int64_t>(batch.size());
  one_per_sequence_ = distinct_sequences(batch);
  for (int64_t t = 0; t < ntok; ++t) {
    const Entry& e = batch[static_cast<size_t>(t)];
    model_.embed(e.token, x_.data() + t * c.dim);
    ops::rope_angles(e.pos, c.rope_dims, c.rope_base, c.rope_freq_scale,
                     c.rope_freq_factors.empty() ? nullptr : c.rope_freq_factors.data(),
                     rope_.data() + t * c.rope_dims);
  }

  // Rows of x_ that hold the entries wanting logits, in batch order.
  out_rows_.clear();
  for (int64_t t = 0; t < ntok; ++t)
    if (batch[static_cast<size_t>(t)].logits) out_rows_.push_back(t);
  const int64_t nl = static_cast<int64_t>(out_rows_.size());
  for (int64_t il = 0; il < c.n_layers; ++il) {
    const Layer& layer = model_.layers()[static_cast<size_t>(il)];
    attention_block(layer, il, batch);
    if (il + 1 < c.n_layers || nl == ntok || observer_) {
      ffn_block(layer, ntok);
      continue;
    }
    if (nl == 0) return;
    // The last layer's K and V are stored; past this point only the rows
    // whose logits are read matter, so its FFN runs on them alone, as
    // llama.cpp's graph does (its inp_out_ids). A prompt fed for its last
    // logits skips 1/n_layers of its FFN work. The kept rows are one batch
    // of their own: one row, or one per sequence, gets the one-token
    // arithmetic it gets in llama.cpp, where n_outputs = 1 bypasses sgemm.
    // An activation observer (lcte imatrix) sees every row, as before.
    std::vector<Entry> kept;
    for (int64_t i = 0; i < nl; ++i) {
      const int64_t t = out_rows_[static_cast<size_t>(i)];
      if (t != i) std::copy_n(x_.data() + t * c.dim, c.dim, x_.data() + i * c.dim);  // i < t: no overlap
      out_rows_[static_cast<size_t>(i)] = i;
      kept.push_back(batch[static_cast<size_t>(t)]);
    }
    one_per_sequence_ = distinct_sequences(kept);
    ffn_block(layer, nl);
  }

  // Final norm and the output matrix, for the entries that want logits.
  if (nl == 0) return;
  for (int64_t i = 0; i < nl; ++i)
    ops::rmsnorm(x_.data() + out_rows_[static_cast<size_t>(i)] * c.dim, model_.output_norm().data(),
                 xb_.data() + i * c.dim, c.dim, c.norm_eps);
  const MatJob job{&model_.output(), logits_out, nullptr, nullptr};
  matmuls({&job, 1}, xb_.data(), nl);
}

void Context::attention_block(const Layer& layer, int64_t il, std::span<const Entry> batch) {
  const Config& c = model_.config();
  const int64_t ntok = static_cast<int64_t>(batch.size());
  for_tokens(ntok, c.dim, [&](int64_t t) {
    ops::rmsnorm(x_.data() + t * c.dim, layer.attn_norm.data(), xb_.data() + t * c.dim, c.dim, c.norm_eps);
  });

  const MatJob qkv[3] = {
      {&layer.wq, q_.data(), layer.bq.empty() ? nullptr : layer.bq.data(), nullptr},
      {&layer.wk, k_.data(), layer.bk.empty() ? nullptr : layer.bk.data(), nullptr},
      {&layer.wv, v_.data(), layer.bv.empty() ? nullptr : layer.bv.data(), nullptr},
  };
  matmuls(qkv, xb_.data(), ntok);

  for_tokens(ntok, c.q_dim() + c.kv_dim(), [&](int64_t t) {
    const Entry& e = batch[static_cast<size_t>(t)];
    float* q = q_.data() + t * c.q_dim();
    float* k = k_.data() + t * c.kv_dim();
    const float* cs = rope_.data() + t * c.rope_dims;
    if (c.rope_style == RopeStyle::Normal) {
      ops::rope_normal(q, c.n_heads, c.head_dim, c.rope_dims, cs);
      ops::rope_normal(k, c.n_kv_heads, c.head_dim, c.rope_dims, cs);
    } else {
      ops::rope_neox(q, c.n_heads, c.head_dim, c.rope_dims, cs);
      ops::rope_neox(k, c.n_kv_heads, c.head_dim, c.rope_dims, cs);
    }
    store_kv(*e.cache, il, e.pos, k, v_.data() + t * c.kv_dim());
  });

  // One work item per (token, KV head): the query heads of a group read each
  // K and V row once between them.
  int64_t max_pos = 0, work = 0;
  for (const Entry& e : batch) {
    max_pos = std::max(max_pos, e.pos + 1);
    work += (e.pos + 1) * c.head_dim * 2 * c.n_heads;
  }
  const int nthreads = pool_.size();
  const int64_t group = c.n_heads / c.n_kv_heads;
  scores_.resize(static_cast<size_t>(nthreads * group * max_pos));
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  auto item = [&](int64_t i, int thread) {
    const int64_t t = i / c.n_kv_heads, kvh = i % c.n_kv_heads;
    const Entry& e = batch[static_cast<size_t>(t)];
    const int64_t off = t * c.q_dim() + kvh * group * c.head_dim;
    // The V sum in the order of a one-token batch when the entry is its
    // sequence's only token, whatever else the batch holds.
    attend(*e.cache, il, kvh, c.head_dim, group, q_.data() + off, e.pos + 1, scale, ntok > 1 && !one_per_sequence_,
           scores_.data() + static_cast<size_t>(thread * group * max_pos), att_.data() + off);
  };
  const int64_t n_items = ntok * c.n_kv_heads;
  if (nthreads == 1 || work < kMinParallelWork) {
    for (int64_t i = 0; i < n_items; ++i) item(i, 0);
  } else {
    const int64_t grain = std::max<int64_t>(1, n_items / (8 * nthreads));
    pool_.parallel_for(n_items, grain, [&](int64_t i0, int64_t i1, int thread) {
      for (int64_t i = i0; i < i1; ++i) item(i, thread);
    });
  }

  const MatJob wo{&layer.wo, xb2_.data(), nullptr, x_.data()};
  matmuls({&wo, 1}, att_.data(), ntok);
}

void Context::ffn_block(const Layer& layer, int64_t ntok) {
  const Config& c = model_.config();
  for_tokens(ntok, c.dim, [&](int64_t t) {
    ops::rmsnorm(x_.data() + t * c.dim, layer.ffn_norm.data(), xb_.data() + t * c.dim, c.dim, c.norm_eps);
  });
  gate_up(layer, ntok);
  const MatJob down{&layer.w_down, xb2_.data(), nullptr, x_.data()};
  matmuls({&down, 1}, hb_.data(), ntok);
}

Context::Acts Context::activations(const Matrix& w, const float* x, int64_t ntok) {
  if (observer_) observer_(w.name, x, ntok, w.cols);
  const GgmlType at = kernels::activation_type(w.type);
  const int64_t n = w.cols;
  const size_t group = ntok >= 8 && !token_by_token(w, ntok) ? kernels::packed_group_bytes(w.type, n, isa_) : 0;
  if (at == GgmlType::F32 && group == 0)
    return {reinterpret_cast<const uint8_t*>(x), static_cast<size_t>(n) * sizeof(float), nullptr};
  ActBuffer* slot = nullptr;
  for (ActBuffer& a : acts_)
    if (a.src == x && a.type == at) slot = &a;
  if (slot == nullptr) {
    for (ActBuffer& a : acts_)
      if (a.src == nullptr) slot = &a;
    if (slot == nullptr) fail("internal: more than {} activation formats in one product", acts_.size());
    slot->src = x;
    slot->type = at;
    slot->packed_ready = false;
    if (at != GgmlType::F32) {
      uint8_t* dst = slot->bytes.data();
      const size_t st = kernels::activation_row_bytes(w.type, n);
      for_tokens(ntok, n, [&](int64_t t) {
        kernels::quantize_activations(at, x + t * n, dst + static_cast<size_t>(t) * st, n, isa_);
      });
    }
  }
  // F32 activations are used in place; quantized ones from the buffer.
  const uint8_t* rows = at == GgmlType::F32 ? reinterpret_cast<const uint8_t*>(x) : slot->bytes.data();
  const size_t st =
      at == GgmlType::F32 ? static_cast<size_t>(n) * sizeof(float) : kernels::activation_row_bytes(w.type, n);
  if (group == 0) return {rows, st, nullptr};
  // Weight types with the same activation format share the packed form. The
  // buffer grows to the largest prompt seen (one more copy of the batch's
  // activations: 10/8 bytes per element and token for the 32-blocks, 4 for
  // float weights).
  if (!slot->packed_ready) {
    const int64_t ngroups = ntok / 8;
    if (slot->packed.size() < group * static_cast<size_t>(ngroups))
      slot->packed.resize(group * static_cast<size_t>(ngroups));
    uint8_t* packed = slot->packed.data();
    for_tokens(ngroups, 8 * n, [&](int64_t g) {
      kernels::pack_activation_group(w.type, n, rows + static_cast<size_t>(8 * g) * st, st,
                                     packed + static_cast<size_t>(g) * group, isa_);
    });
    slot->packed_ready = true;
  }
  return {rows, st, slot->packed.data()};
}

bool Context::token_by_token(const Matrix& w, int64_t ntok) const {
  return ntok > 1 && one_per_sequence_ && !same_order_at_any_batch(w.type);
}

void Context::mat_rows(const Matrix& w, int64_t r0, int64_t r1, const Acts& act, int64_t ntok, float* out,
                       size_t out_stride) const {
  if (token_by_token(w, ntok)) {
    // One-token products over slabs of rows: each token gets the arithmetic
    // it gets alone, and the slab is read from memory once for all tokens.
    const int64_t slab =
        std::max<int64_t>(kRowAlign, static_cast<int64_t>(kSlabBytes / w.row_stride) / kRowAlign * kRowAlign);
    for (int64_t s0 = r0; s0 < r1; s0 += slab) {
      const int64_t s1 = std::min(r1, s0 + slab);
      for (int64_t t = 0; t < ntok; ++t)
        kernels::matmul(w.type, w.cols, w.row(s0), w.row_stride, s1 - s0,
                        act.rows + static_cast<size_t>(t) * act.stride, act.stride, 1,
                        out + static_cast<size_t>(t) * out_stride + s0, out_stride, isa_);
    }
    return;
  }
  if (w.type == GgmlType::Q4_0 && w.rows % 8 != 0)  // llama.cpp would not repack it: its plain order
    kernels::matmul_unrepacked(w.type, w.cols, w.row(r0), w.row_stride, r1 - r0, act.rows, act.stride, ntok, out + r0,
                               out_stride, isa_);
  else if (act.packed == nullptr)
    kernels::matmul(w.type, w.cols, w.row(r0), w.row_stride, r1 - r0, act.rows, act.stride, ntok, out + r0, out_stride,
                    isa_);
  else
    kernels::matmul_packed(w.type, w.cols, w.row(r0), w.row_stride, r1 - r0, act.rows, act.stride, act.packed, ntok,
                           out + r0, out_stride, isa_);
}

void Context::plan_chunks(std::span<const Matrix* const> mats, int64_t ntok) {
  int64_t rows = 0, work = 0;
  for (const Matrix* m : mats) {
    rows += m->rows;
    work += m->rows * m->cols * ntok;
  }
  chunks_.clear();
  // Enough chunks that a thread held up by another process does not hold the
  // rest up, each big enough to amortise taking it.
  int64_t chunk_rows = rows;
  if (pool_.size() > 1 && work >= kMinParallelWork)
    chunk_rows = std::max<int64_t>(kRowAlign, round_up(rows / (8 * pool_.size()), kRowAlign));
  for (size_t j = 0; j < mats.size(); ++j)
    for (int64_t r0 = 0; r0 < mats[j]->rows; r0 += chunk_rows)
      chunks_.push_back({static_cast<int>(j), r0, std::min(mats[j]->rows, r0 + chunk_rows)});
}

void Context::matmuls(std::span<const MatJob> jobs, const float* x, int64_t ntok) {
  if (jobs.size() > kMaxJobs) fail("internal: {} products in one region", jobs.size());
  const Matrix* mats[kMaxJobs];
  Acts act[kMaxJobs];
  for (size_t j = 0; j < jobs.size(); ++j) {
    mats[j] = jobs[j].w;
    act[j] = activations(*jobs[j].w, x, ntok);
  }
  for (ActBuffer& a : acts_) a.src = nullptr;  // the input changes after this region
  plan_chunks({mats, jobs.size()}, ntok);
  pool_.parallel_for(static_cast<int64_t>(chunks_.size()), 1, [&](int64_t c0, int64_t c1, int) {
    for (int64_t ci = c0; ci < c1; ++ci) {
      const Chunk& ch = chunks_[static_cast<size_t>(ci)];
      const MatJob& job = jobs[static_cast<size_t>(ch.job)];
      const int64_t R = job.w->rows;
      mat_rows(*job.w, ch.r0, ch.r1, act[ch.job], ntok, job.out, static_cast<size_t>(R));
      for (int64_t t = 0; t < ntok; ++t) {
        float* o = job.out + t * R;
        if (job.bias != nullptr)
          for (int64_t r = ch.r0; r < ch.r1; ++r) o[r] += job.bias[r];
        if (job.residual != nullptr)
          for (int64_t r = ch.r0; r < ch.r1; ++r) job.residual[t * R + r] += o[r];
      }
    }
  });
}

void Context::gate_up(const Layer& layer, int64_t ntok) {
  const int64_t F = layer.w_gate.rows;
  const Acts ga = activations(layer.w_gate, xb_.data(), ntok);
  const Acts ua = activations(layer.w_up, xb_.data(), ntok);
  for (ActBuffer& a : acts_) a.src = nullptr;
  // Chunks over the FFN rows; each computes the same rows of gate and up, so
  // the SwiGLU of those rows can follow at once.
  const Matrix* both[2] = {&layer.w_gate, &layer.w_up};
  plan_chunks({both, 1}, ntok * 2);
  pool_.parallel_for(static_cast<int64_t>(chunks_.size()), 1, [&](int64_t c0, int64_t c1, int) {
    for (int64_t ci = c0; ci < c1; ++ci) {
      const Chunk& ch = chunks_[static_cast<size_t>(ci)];
      mat_rows(layer.w_gate, ch.r0, ch.r1, ga, ntok, hb_.data(), static_cast<size_t>(F));
      mat_rows(layer.w_up, ch.r0, ch.r1, ua, ntok, hb2_.data(), static_cast<size_t>(F));
      // Rows below F16 are in whole 16-lane vectors of ggml's SiLU.
      const int64_t n_vec = std::clamp<int64_t>(F / 16 * 16 - ch.r0, 0, ch.r1 - ch.r0);
      for (int64_t t = 0; t < ntok; ++t)
        vec::swiglu(hb_.data() + t * F + ch.r0, hb2_.data() + t * F + ch.r0, ch.r1 - ch.r0, n_vec);
    }
  });
}

}  // namespace lcte::model
