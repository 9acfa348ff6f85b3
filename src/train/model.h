// A LLaMA-architecture transformer for training, in the style of llm.c: all
// parameters in one flat buffer, all gradients in a second of the same layout,
// all activations of a forward pass in a third, each located by a layout
// struct. Templated on the float type: float to train, double for the
// finite-difference gradient checks.
//
// forward(tokens) -> logits; a loss (losses.h) turns logits into dlogits;
// backward(dlogits) accumulates into the gradients. Nothing else is hidden.
//
// LoRA mode (enable_lora): the model's own parameters are frozen and rank-r
// adapters y += (alpha/r) B (A x) sit beside the chosen projections. Then the
// trainable buffer is the adapter buffer; see trainable().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf_names.h"

namespace lcte::train {

struct ModelConfig {
  int vocab = 0;
  int dim = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int ffn_dim = 0;
  int context = 2048;  // longest sequence the model may be trained on
  double rope_base = 10000.0;
  double norm_eps = 1e-5;
  bool tied_output = false;  // logits use token_embd (no output.weight)

  int head_dim() const { return dim / n_heads; }
  int kv_dim() const { return head_dim() * n_kv_heads; }
  // Throws lcte::Error (prefixed by `what`) for an impossible or absurd shape.
  void validate(std::string_view what = "model config") const;
  bool operator==(const ModelConfig&) const = default;
};

// What a parameter tensor is, for weight decay and for LoRA.
enum class ParamKind { Embedding, Norm, Matrix };

struct ParamTensor {
  std::string name;         // GGUF name, e.g. "blk.0.attn_q.weight"
  std::vector<int64_t> ne;  // GGUF order: ne[0] = row length (in)
  size_t offset = 0;        // into the flat buffer, in elements
  size_t size = 0;          // elements
  ParamKind kind = ParamKind::Matrix;
};

// The seven projections of a block, in the order of LayerOffsets::proj.
using model::gguf_names::kGate, model::gguf_names::kUp, model::gguf_names::kDown, model::gguf_names::kNumProj;
using model::gguf_names::kQ, model::gguf_names::kK, model::gguf_names::kV, model::gguf_names::kO;
using model::gguf_names::Proj;
std::string_view proj_gguf_name(int p);   // "attn_q", ..., "ffn_down"
std::string_view proj_short_name(int p);  // "q", "k", "v", "o", "gate", "up", "down"

struct LayerOffsets {
  size_t attn_norm = 0, ffn_norm = 0;
  std::array<size_t, kNumProj> proj{};  // [out][in] matrices
  std::array<int, kNumProj> in{}, out{};
};

struct ParamLayout {
  std::vector<ParamTensor> tensors;
  size_t token_embd = 0, output_norm = 0, output = 0;  // output == token_embd when tied
  std::vector<LayerOffsets> layers;
  size_t total = 0;

  static ParamLayout llama(const ModelConfig& cfg);
  const ParamTensor* find(std::string_view name) const;
};

// The activations one forward pass keeps for the backward, for B x T tokens.
struct ActLayout {
  struct Layer {
    size_t x_in, rstd1, xn1, q, k, v, att, atty, x_mid, rstd2, xn2, g, u, h;
  };
  std::vector<Layer> layers;
  size_t x_out = 0, rstdf = 0, xf = 0, logits = 0;
  size_t total = 0;
  // Scratch for the backward (gradients of activations), reused per layer.
  size_t scratch_total = 0;

  static ActLayout llama(const ModelConfig& cfg, int B, int T);
};

struct LoraConfig {
  int rank = 8;
  double alpha = 16.0;  // scale = alpha / rank
  std::array<bool, kNumProj> targets{true, true, true, true, true, true, true};
  void validate() const;
  // "q,k,v,o,gate,up,down" (any subset); "all"; "attn" = q,k,v,o.
  static std::array<bool, kNumProj> parse_targets(std::string_view list);
};

// Where the adapters of each layer's projections lie in the adapter buffer.
struct LoraLayout {
  struct Slot {
    bool on = false;
    size_t a = 0, b = 0;  // A: [r][in], B: [out][r]
  };
  std::vector<std::array<Slot, kNumProj>> layers;
  size_t total = 0;
  static LoraLayout make(const ModelConfig& cfg, const LoraConfig& lc);
};

// A stretch of a flat trainable buffer and whether it takes weight decay.
struct Segment {
  size_t offset = 0, size = 0;
  bool decay = false;
};

// Bytes of everything a training run holds, stated before it starts.
struct MemoryPlan {
  size_t weights = 0, gradients = 0, optimizer = 0, activations = 0, logits_grad = 0;
  size_t total() const { return weights + gradients + optimizer + activations + logits_grad; }
};
MemoryPlan plan_memory(const ModelConfig& cfg, int B, int T, const LoraConfig* lora, size_t elem_bytes = 4);

template <class T>
class Model {
 public:
  // with_grads = false leaves out the gradient buffer: a teacher, or a LoRA
  // base whose weights stay frozen (enable_lora needs none either).
  explicit Model(const ModelConfig& cfg, bool with_grads = true);

  const ModelConfig& config() const { return cfg_; }
  const ParamLayout& layout() const { return layout_; }
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  std::vector<T>& grads() { return grads_; }
  T* param(std::string_view name);  // throws if absent
  const T* param(std::string_view name) const;

  // Seeded init: matrices ~ N(0, 0.02), the residual outputs (attn_output,
  // ffn_down) scaled by 1/sqrt(2 n_layers) as in GPT-2; norms 1.
  void init_random(uint64_t seed);

  // tokens: [B][T] ids in [0, vocab). Returns logits [B][T][vocab], valid
  // until the next forward. Keeps what backward needs.
  const T* forward(const int32_t* tokens, int B, int Tn);
  // Zeroes the gradients of the trainable buffer.
  void zero_grad();
  // Accumulates d(loss)/d(params) for the last forward given dlogits.
  void backward(const T* dlogits);

  // LoRA: freeze the model, add adapters (A ~ N(0, 1/sqrt(in)) from `seed`, B = 0).
  void enable_lora(const LoraConfig& lc, uint64_t seed);
  bool lora_enabled() const { return lora_on_; }
  const LoraConfig& lora_config() const { return lora_cfg_; }
  const LoraLayout& lora_layout() const { return lora_layout_; }
  std::vector<T>& lora_params() { return lora_params_; }
  const std::vector<T>& lora_params() const { return lora_params_; }
  std::vector<T>& lora_grads() { return lora_grads_; }
  // W += (alpha/r) B A for every adapted projection (the export path).
  void merge_lora_into(std::vector<T>& weights) const;

  // The buffer the optimiser updates: the parameters, or the adapters in LoRA
  // mode; segments() says which stretches of it take weight decay.
  T* trainable() { return lora_on_ ? lora_params_.data() : params_.data(); }
  T* trainable_grads() { return lora_on_ ? lora_grads_.data() : grads_.data(); }
  size_t trainable_size() const { return lora_on_ ? lora_params_.size() : params_.size(); }
  std::vector<Segment> segments() const;

  const ActLayout& act_layout() const { return acts_layout_; }
  int batch() const { return B_; }
  int seq() const { return T_; }

 private:
  void ensure_acts(int B, int Tn);
  void linear_forward(int l, int p, T* out, const T* inp, int N);
  void linear_backward(int l, int p, T* dinp, const T* dout, const T* inp, int N);

  ModelConfig cfg_;
  ParamLayout layout_;
  std::vector<T> params_, grads_;
  bool lora_on_ = false;
  LoraConfig lora_cfg_;
  LoraLayout lora_layout_;
  std::vector<T> lora_params_, lora_grads_;
  std::vector<T> lora_acts_;     // A x per layer and projection: [L][7][N][r]
  std::vector<T> lora_scratch_;  // [N][r] + [N][max out]

  int B_ = 0, T_ = 0;
  ActLayout acts_layout_;
  std::vector<T> acts_, scratch_, rope_;
  std::vector<int32_t> tokens_;
};

extern template class Model<float>;
extern template class Model<double>;

}  // namespace lcte::train
