// The transformer forward pass over a batch of tokens.
//
// A batch is a list of (sequence, token) entries; each entry goes to the next
// position of its sequence's KV cache. Prompt processing feeds many tokens of
// one sequence (every weight matrix is applied to all of them at once, a
// matrix-matrix product); n-sample decoding feeds one token for each of n
// sequences forked from one prompt (the weights are read once per step for
// all of them). Entries attend to their own sequence only, causally.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/kernels.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/thread_pool.h"

namespace lcte::model {

enum class Logits { None, Last, All };

// Whether the kernels compute a token's outputs with weights of type t in the
// same order whatever the number of tokens in the product. The block formats
// do (one order at every batch size, as llama.cpp's); F32, F16 and BF16 take
// ggml_vec_dot's order for one token and tinyBLAS's for several.
bool same_order_at_any_batch(GgmlType t);

// Sees the input of every matrix product of a forward pass, before it is
// quantized for the dot products: (weight name, ntok rows of cols floats,
// ntok, cols). Used to collect importance matrices (lcte imatrix). Called on
// the thread that runs eval, once per matrix per forward call.
using ActivationObserver = std::function<void(std::string_view weight, const float* x, int64_t ntok, int64_t cols)>;

class Context {
 public:
  // max_batch: the most tokens one forward call processes; longer inputs are
  // split, never into a last forward of one token (whose arithmetic differs).
  // Scratch memory grows with it (about max_batch x (4 dim + 3 ffn) floats).
  Context(const Model& model, ThreadPool& pool, int64_t max_batch = 512);

  const Model& model() const { return model_; }
  ThreadPool& pool() { return pool_; }
  int64_t max_batch() const { return max_batch_; }
  int64_t n_vocab() const { return model_.config().n_vocab; }

  // A new empty sequence for this model.
  KvCache new_cache(int64_t n_ctx, KvType type = KvType::F16, std::shared_ptr<KvBudget> budget = nullptr) const {
    return KvCache(model_.config(), n_ctx, type, std::move(budget));
  }

  // Feeds tokens at positions cache.size() onwards. `logits` receives n_vocab
  // floats per position (All), for the last position only (Last) or nothing.
  void eval(KvCache& cache, std::span<const int32_t> tokens, Logits which, std::vector<float>& logits);

  // One token for each sequence in one batch; logits gets one row per sequence.
  // A cache listed twice gets its tokens at consecutive positions. When every
  // cache is listed once, each sequence's logits are bit for bit those of
  // eval() of its token alone (see "Continuous batching" in docs/parts/engine.md).
  void eval_step(std::span<KvCache* const> caches, std::span<const int32_t> tokens, std::vector<float>& logits);
  // eval_step for caches whose position for the token is already appended
  // (the caller did cache.append(1), so it can tell which sequence lacked
  // room): each token goes to position size() - 1 of its cache.
  void eval_appended(std::span<KvCache* const> caches, std::span<const int32_t> tokens, std::vector<float>& logits);

  // Installs (or, with an empty function, removes) the activation observer.
  void set_activation_observer(ActivationObserver observer) { observer_ = std::move(observer); }

 private:
  struct Entry {
    KvCache* cache;
    int32_t token;
    int64_t pos;
    bool logits;
  };
  static constexpr int kMaxJobs = 3;  // Q, K, V share one region
  struct MatJob {
    const Matrix* w;
    float* out;         // [ntok][w->rows]
    const float* bias;  // added to each output row, or null
    float* residual;    // out is added into it ([ntok][w->rows]), or null
  };
  struct Chunk {
    int job;
    int64_t r0, r1;
  };

  // Whether the batch holds several entries and no two of the same sequence.
  static bool distinct_sequences(std::span<const Entry> batch);
  // Runs the batch and writes n_vocab logits for each entry with logits set, in order.
  void forward(std::span<const Entry> batch, float* logits_out);
  void attention_block(const Layer& layer, int64_t il, std::span<const Entry> batch);
  void ffn_block(const Layer& layer, int64_t ntok);

  // Activation rows for a product: `rows` apart by `stride`, and, where the
  // kernels have a packed form for the weight type (8-token groups, for the
  // 32-block and float formats), the packed groups (else null).
  struct Acts {
    const uint8_t* rows;
    size_t stride;
    const uint8_t* packed;
  };
  // x ([ntok][n] floats) in the activation format of w.
  Acts activations(const Matrix& w, const float* x, int64_t ntok);
  // The products of several matrices with the same input, in one parallel region.
  void matmuls(std::span<const MatJob> jobs, const float* x, int64_t ntok);
  // silu(gate x) * (up x) into hb_, in one region.
  void gate_up(const Layer& layer, int64_t ntok);
  void mat_rows(const Matrix& w, int64_t r0, int64_t r1, const Acts& act, int64_t ntok, float* out,
                size_t out_stride) const;
  // Whether w's product is computed token by token (one-token arithmetic) in this batch.
  bool token_by_token(const Matrix& w, int64_t ntok) const;
  // Chunks of rows for a region over the given matrices.
  void plan_chunks(std::span<const Matrix* const> mats, int64_t ntok);
  // Runs fn(t) for each token, in parallel when there is enough work.
  template <class F>
  void for_tokens(int64_t ntok, int64_t work_per_token, F&& fn);

  const Model& model_;
  ThreadPool& pool_;
  int64_t max_batch_;
  kernels::Isa isa_;
  // The batch holds one token of each of several sequences: every token's
  // arithmetic must be what it would be alone (set by forward()).
  bool one_per_sequence_ = false;

  // Scratch, [max_batch][width] floats each.
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, att_, hb_, hb2_, rope_;
  std::vector<float> scores_;      // [threads][group][n_pos]
  std::vector<int64_t> out_rows_;  // rows of x_ whose logits a forward writes
  // Quantized activations, one buffer per activation type in use at a time.
  struct ActBuffer {
    GgmlType type;
    const float* src = nullptr;  // which input it holds, for reuse
    std::vector<uint8_t> bytes;
    // The same rows packed once for all threads' chunks (the kernels would
    // otherwise pack them again in every chunk: ~12 % of the work with 2
    // threads); packed_ready says whether it holds src.
    std::vector<uint8_t> packed;
    bool packed_ready = false;
  };
  std::vector<ActBuffer> acts_;
  std::vector<Chunk> chunks_;
  ActivationObserver observer_;
};

}  // namespace lcte::model
