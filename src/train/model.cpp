#include "train/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/random.h"
#include "train/ops.h"

namespace lcte::train {

// ---------------------------------------------------------------- config and layouts

void ModelConfig::validate(std::string_view what) const {
  auto positive = [&](int v, std::string_view field, int max) {
    if (v <= 0 || v > max) fail("{}: {} = {} must be in [1, {}]", what, field, v, max);
  };
  // The caps refuse absurd shapes (a corrupt file) before anything allocates.
  positive(vocab, "vocab", 1 << 22);
  positive(dim, "dim", 1 << 16);
  positive(n_layers, "n_layers", 1024);
  positive(n_heads, "n_heads", 1024);
  positive(n_kv_heads, "n_kv_heads", 1024);
  positive(ffn_dim, "ffn_dim", 1 << 18);
  positive(context, "context", 1 << 20);
  if (dim % n_heads != 0) fail("{}: dim {} is not a multiple of n_heads {}", what, dim, n_heads);
  if (n_heads % n_kv_heads != 0) fail("{}: n_heads {} is not a multiple of n_kv_heads {}", what, n_heads, n_kv_heads);
  if (head_dim() % 2 != 0) fail("{}: head_dim {} must be even for RoPE", what, head_dim());
  if (!(rope_base > 1) || !std::isfinite(rope_base)) fail("{}: rope_base {} must be > 1", what, rope_base);
  if (!(norm_eps > 0) || norm_eps > 1) fail("{}: norm_eps {} must be in (0, 1]", what, norm_eps);
}

std::string_view proj_gguf_name(int p) { return model::gguf_names::kProj[p]; }

std::string_view proj_short_name(int p) {
  static constexpr std::string_view names[kNumProj] = {"q", "k", "v", "o", "gate", "up", "down"};
  return names[p];
}

ParamLayout ParamLayout::llama(const ModelConfig& cfg) {
  cfg.validate();
  ParamLayout L;
  auto add = [&](std::string name, std::vector<int64_t> ne, ParamKind kind) {
    size_t size = 1;
    for (int64_t d : ne) size *= static_cast<size_t>(d);
    L.tensors.push_back({std::move(name), std::move(ne), L.total, size, kind});
    L.total += size;
    return L.tensors.back().offset;
  };
  const int D = cfg.dim, KV = cfg.kv_dim(), F = cfg.ffn_dim;
  namespace names = model::gguf_names;
  L.token_embd = add(std::string(names::kTokenEmbd), {D, cfg.vocab}, ParamKind::Embedding);
  const std::array<int, kNumProj> in = {D, D, D, D, D, D, F}, out = {D, KV, KV, D, F, F, D};
  for (int l = 0; l < cfg.n_layers; ++l) {
    LayerOffsets lo;
    lo.attn_norm = add(names::block(l, names::kAttnNorm), {D}, ParamKind::Norm);
    for (int j = kQ; j <= kO; ++j)
      lo.proj[j] = add(names::block(l, names::kProj[j]), {in[j], out[j]}, ParamKind::Matrix);
    lo.ffn_norm = add(names::block(l, names::kFfnNorm), {D}, ParamKind::Norm);
    for (int j = kGate; j <= kDown; ++j)
      lo.proj[j] = add(names::block(l, names::kProj[j]), {in[j], out[j]}, ParamKind::Matrix);
    lo.in = in;
    lo.out = out;
    L.layers.push_back(lo);
  }
  L.output_norm = add(std::string(names::kOutputNorm), {D}, ParamKind::Norm);
  L.output = cfg.tied_output ? L.token_embd : add(std::string(names::kOutput), {D, cfg.vocab}, ParamKind::Matrix);
  return L;
}

const ParamTensor* ParamLayout::find(std::string_view name) const {
  for (const ParamTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

ActLayout ActLayout::llama(const ModelConfig& cfg, int B, int T) {
  const size_t N = (size_t)B * T, D = cfg.dim, KV = cfg.kv_dim(), F = cfg.ffn_dim, H = cfg.n_heads;
  ActLayout a;
  size_t at = 0;
  auto take = [&](size_t n) {
    size_t o = at;
    at += n;
    return o;
  };
  for (int l = 0; l < cfg.n_layers; ++l) {
    Layer L;
    L.x_in = take(N * D);
    L.rstd1 = take(N);
    L.xn1 = take(N * D);
    L.q = take(N * D);
    L.k = take(N * KV);
    L.v = take(N * KV);
    L.att = take((size_t)B * H * T * T);
    L.atty = take(N * D);
    L.x_mid = take(N * D);
    L.rstd2 = take(N);
    L.xn2 = take(N * D);
    L.g = take(N * F);
    L.u = take(N * F);
    L.h = take(N * F);
    a.layers.push_back(L);
  }
  a.x_out = take(N * D);
  a.rstdf = take(N);
  a.xf = take(N * D);
  a.logits = take(N * cfg.vocab);
  a.total = at;
  // dresid, dxn, dq, datty: N x D; dk, dv: N x KV; dg, du, dh: N x F
  a.scratch_total = N * (4 * D + 2 * KV + 3 * F);
  return a;
}

void LoraConfig::validate() const {
  if (rank < 1 || rank > 4096) fail("lora: rank {} must be in [1, 4096]", rank);
  if (!(alpha > 0) || !std::isfinite(alpha)) fail("lora: alpha {} must be > 0", alpha);
  if (std::none_of(targets.begin(), targets.end(), [](bool b) { return b; })) fail("lora: no target projection chosen");
}

std::array<bool, kNumProj> LoraConfig::parse_targets(std::string_view list) {
  std::array<bool, kNumProj> t{};
  if (list == "all") return {true, true, true, true, true, true, true};
  if (list == "attn") return {true, true, true, true, false, false, false};
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(start, end - start);
    bool found = false;
    for (int p = 0; p < kNumProj; ++p) {
      if (item == proj_short_name(p)) {
        t[p] = true;
        found = true;
      }
    }
    if (!found) fail("lora: unknown target '{}' in '{}' (expected q,k,v,o,gate,up,down, all or attn)", item, list);
    start = end + 1;
  }
  return t;
}

LoraLayout LoraLayout::make(const ModelConfig& cfg, const LoraConfig& lc) {
  lc.validate();
  ParamLayout pl = ParamLayout::llama(cfg);
  LoraLayout L;
  for (int l = 0; l < cfg.n_layers; ++l) {
    std::array<Slot, kNumProj> slots{};
    for (int p = 0; p < kNumProj; ++p) {
      if (!lc.targets[p]) continue;
      slots[p].on = true;
      slots[p].a = L.total;
      L.total += (size_t)lc.rank * pl.layers[l].in[p];
      slots[p].b = L.total;
      L.total += (size_t)pl.layers[l].out[p] * lc.rank;
    }
    L.layers.push_back(slots);
  }
  return L;
}

MemoryPlan plan_memory(const ModelConfig& cfg, int B, int T, const LoraConfig* lora, size_t elem_bytes) {
  const ParamLayout pl = ParamLayout::llama(cfg);
  const ActLayout al = ActLayout::llama(cfg, B, T);
  const size_t N = (size_t)B * T;
  MemoryPlan m;
  size_t trainable = pl.total;
  size_t lora_acts = 0;
  m.weights = pl.total * elem_bytes;
  if (lora != nullptr) {
    const LoraLayout ll = LoraLayout::make(cfg, *lora);
    trainable = ll.total;
    m.weights += ll.total * elem_bytes;
    lora_acts =
        (size_t)cfg.n_layers * kNumProj * N * lora->rank + N * (lora->rank + std::max<size_t>(cfg.dim, cfg.ffn_dim));
  }
  m.gradients = trainable * elem_bytes;
  m.optimizer = 2 * trainable * sizeof(float);
  m.activations = (al.total + al.scratch_total + lora_acts) * elem_bytes;
  m.logits_grad = N * cfg.vocab * elem_bytes;
  return m;
}

// ---------------------------------------------------------------- model

template <class T>
Model<T>::Model(const ModelConfig& cfg, bool with_grads) : cfg_(cfg), layout_(ParamLayout::llama(cfg)) {
  params_.assign(layout_.total, T(0));
  if (with_grads) grads_.assign(layout_.total, T(0));
}

template <class T>
T* Model<T>::param(std::string_view name) {
  const ParamTensor* t = layout_.find(name);
  if (t == nullptr) fail("model has no tensor {}", name);
  return params_.data() + t->offset;
}

template <class T>
const T* Model<T>::param(std::string_view name) const {
  return const_cast<Model*>(this)->param(name);
}

template <class T>
void Model<T>::init_random(uint64_t seed) {
  SplitMix64 rng(seed);
  const double resid_scale = 1.0 / std::sqrt(2.0 * cfg_.n_layers);
  for (const ParamTensor& t : layout_.tensors) {
    T* p = params_.data() + t.offset;
    if (t.kind == ParamKind::Norm) {
      std::fill(p, p + t.size, T(1));
      continue;
    }
    const bool residual_out =
        t.name.find("attn_output") != std::string::npos || t.name.find("ffn_down") != std::string::npos;
    const double stddev = 0.02 * (residual_out ? resid_scale : 1.0);
    for (size_t i = 0; i < t.size; ++i) p[i] = static_cast<T>(stddev * rng.normal());
  }
}

template <class T>
void Model<T>::enable_lora(const LoraConfig& lc, uint64_t seed) {
  lora_cfg_ = lc;
  lora_layout_ = LoraLayout::make(cfg_, lc);
  lora_params_.assign(lora_layout_.total, T(0));
  lora_grads_.assign(lora_layout_.total, T(0));
  lora_on_ = true;
  // A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's default), B = 0: the adapted model
  // starts equal to the base.
  SplitMix64 rng(seed);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      const LoraLayout::Slot& s = lora_layout_.layers[l][p];
      if (!s.on) continue;
      const int in = layout_.layers[l].in[p];
      const double bound = 1.0 / std::sqrt((double)in);
      T* A = lora_params_.data() + s.a;
      for (size_t i = 0; i < (size_t)lc.rank * in; ++i) A[i] = static_cast<T>(bound * (2 * rng.uniform() - 1));
    }
  }
  grads_.clear();
  grads_.shrink_to_fit();
  B_ = T_ = 0;  // activations are re-planned with the adapters
}

template <class T>
void Model<T>::merge_lora_into(std::vector<T>& weights) const {
  if (!lora_on_) return;
  const int r = lora_cfg_.rank;
  const double s = lora_cfg_.alpha / r;
  for (int l = 0; l < cfg_.n_layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      const LoraLayout::Slot& slot = lora_layout_.layers[l][p];
      if (!slot.on) continue;
      const int in = layout_.layers[l].in[p], out = layout_.layers[l].out[p];
      const T* A = lora_params_.data() + slot.a;
      const T* Bm = lora_params_.data() + slot.b;
      T* W = weights.data() + layout_.layers[l].proj[p];
      for (int o = 0; o < out; ++o) {
        for (int i = 0; i < in; ++i) {
          double sum = 0;
          for (int k = 0; k < r; ++k) sum += (double)Bm[(size_t)o * r + k] * A[(size_t)k * in + i];
          W[(size_t)o * in + i] += static_cast<T>(s * sum);
        }
      }
    }
  }
}

template <class T>
std::vector<Segment> Model<T>::segments() const {
  std::vector<Segment> segs;
  if (lora_on_) {
    // Adapters are matrices: all take weight decay.
    segs.push_back({0, lora_params_.size(), true});
    return segs;
  }
  // Weight decay on the projection and output matrices only; none on norms
  // (a decayed gain pulls toward 0, not toward the identity 1) and none on the
  // token embedding (rows of rare tokens would shrink for lack of gradient).
  for (const ParamTensor& t : layout_.tensors) segs.push_back({t.offset, t.size, t.kind == ParamKind::Matrix});
  return segs;
}

template <class T>
void Model<T>::ensure_acts(int B, int Tn) {
  if (B <= 0 || Tn <= 0) fail("forward: batch {} x seq {} must be positive", B, Tn);
  if (Tn > cfg_.context) fail("forward: sequence length {} exceeds the model's context {}", Tn, cfg_.context);
  if (B == B_ && Tn == T_) return;
  B_ = B;
  T_ = Tn;
  acts_layout_ = ActLayout::llama(cfg_, B, Tn);
  acts_.assign(acts_layout_.total, T(0));
  scratch_.assign(acts_layout_.scratch_total, T(0));
  rope_.assign((size_t)Tn * cfg_.head_dim(), T(0));
  ops::rope_table(rope_.data(), Tn, cfg_.head_dim(), cfg_.rope_base);
  const size_t N = (size_t)B * Tn;
  if (lora_on_) {
    lora_acts_.assign((size_t)cfg_.n_layers * kNumProj * N * lora_cfg_.rank, T(0));
    lora_scratch_.assign(N * (lora_cfg_.rank + std::max(cfg_.dim, cfg_.ffn_dim)), T(0));
  }
}

template <class T>
void Model<T>::linear_forward(int l, int p, T* out, const T* inp, int N) {
  const LayerOffsets& lo = layout_.layers[l];
  const int in = lo.in[p], outd = lo.out[p];
  ops::matmul_forward(out, inp, params_.data() + lo.proj[p], N, in, outd);
  if (!lora_on_ || !lora_layout_.layers[l][p].on) return;
  // y += s B (A x)
  const LoraLayout::Slot& s = lora_layout_.layers[l][p];
  const int r = lora_cfg_.rank;
  const T scale = static_cast<T>(lora_cfg_.alpha / r);
  T* ax = lora_acts_.data() + ((size_t)l * kNumProj + p) * N * r;
  T* tmp = lora_scratch_.data() + (size_t)N * r;
  ops::matmul_forward(ax, inp, lora_params_.data() + s.a, N, in, r);
  ops::matmul_forward(tmp, ax, lora_params_.data() + s.b, N, r, outd);
  for (size_t i = 0; i < (size_t)N * outd; ++i) out[i] += scale * tmp[i];
}

template <class T>
void Model<T>::linear_backward(int l, int p, T* dinp, const T* dout, const T* inp, int N) {
  const LayerOffsets& lo = layout_.layers[l];
  const int in = lo.in[p], outd = lo.out[p];
  T* dw = lora_on_ ? nullptr : grads_.data() + lo.proj[p];
  ops::matmul_backward(dinp, dw, dout, inp, params_.data() + lo.proj[p], N, in, outd);
  if (!lora_on_ || !lora_layout_.layers[l][p].on) return;
  // y += s B u, u = A x:  du = s dout B, dB += s dout^T u;  dx += du A, dA += du^T x
  const LoraLayout::Slot& s = lora_layout_.layers[l][p];
  const int r = lora_cfg_.rank;
  const T scale = static_cast<T>(lora_cfg_.alpha / r);
  const T* ax = lora_acts_.data() + ((size_t)l * kNumProj + p) * N * r;
  T* du = lora_scratch_.data();
  T* sdout = lora_scratch_.data() + (size_t)N * r;
  for (size_t i = 0; i < (size_t)N * outd; ++i) sdout[i] = scale * dout[i];
  std::fill(du, du + (size_t)N * r, T(0));
  ops::matmul_backward(du, lora_grads_.data() + s.b, sdout, ax, lora_params_.data() + s.b, N, r, outd);
  ops::matmul_backward(dinp, lora_grads_.data() + s.a, du, inp, lora_params_.data() + s.a, N, in, r);
}

template <class T>
const T* Model<T>::forward(const int32_t* tokens, int B, int Tn) {
  ensure_acts(B, Tn);
  const int N = B * Tn, D = cfg_.dim, F = cfg_.ffn_dim, V = cfg_.vocab;
  const int H = cfg_.n_heads, KVH = cfg_.n_kv_heads, hd = cfg_.head_dim();
  for (int n = 0; n < N; ++n)
    if (tokens[n] < 0 || tokens[n] >= V) fail("forward: token {} at position {} outside the vocabulary", tokens[n], n);
  tokens_.assign(tokens, tokens + N);
  T* a = acts_.data();
  const T* w = params_.data();
  const ActLayout& AL = acts_layout_;

  ops::embedding_forward(a + AL.layers[0].x_in, tokens, w + layout_.token_embd, N, D);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const ActLayout::Layer& L = AL.layers[l];
    const LayerOffsets& lo = layout_.layers[l];
    T* next = a + (l + 1 < cfg_.n_layers ? AL.layers[l + 1].x_in : AL.x_out);
    // attention sub-block
    ops::rmsnorm_forward(a + L.xn1, a + L.rstd1, a + L.x_in, w + lo.attn_norm, N, D, cfg_.norm_eps);
    linear_forward(l, kQ, a + L.q, a + L.xn1, N);
    linear_forward(l, kK, a + L.k, a + L.xn1, N);
    linear_forward(l, kV, a + L.v, a + L.xn1, N);
    ops::rope_forward(a + L.q, rope_.data(), B, Tn, H, hd);
    ops::rope_forward(a + L.k, rope_.data(), B, Tn, KVH, hd);
    ops::attention_forward(a + L.atty, a + L.att, a + L.q, a + L.k, a + L.v, B, Tn, H, KVH, hd);
    linear_forward(l, kO, a + L.x_mid, a + L.atty, N);
    ops::residual_forward(a + L.x_mid, a + L.x_in, (size_t)N * D);
    // feed-forward sub-block
    ops::rmsnorm_forward(a + L.xn2, a + L.rstd2, a + L.x_mid, w + lo.ffn_norm, N, D, cfg_.norm_eps);
    linear_forward(l, kGate, a + L.g, a + L.xn2, N);
    linear_forward(l, kUp, a + L.u, a + L.xn2, N);
    ops::swiglu_forward(a + L.h, a + L.g, a + L.u, (size_t)N * F);
    linear_forward(l, kDown, next, a + L.h, N);
    ops::residual_forward(next, a + L.x_mid, (size_t)N * D);
  }
  ops::rmsnorm_forward(a + AL.xf, a + AL.rstdf, a + AL.x_out, w + layout_.output_norm, N, D, cfg_.norm_eps);
  ops::matmul_forward(a + AL.logits, a + AL.xf, w + layout_.output, N, D, V);
  return a + AL.logits;
}

template <class T>
void Model<T>::zero_grad() {
  if (lora_on_)
    std::fill(lora_grads_.begin(), lora_grads_.end(), T(0));
  else
    std::fill(grads_.begin(), grads_.end(), T(0));
}

template <class T>
void Model<T>::backward(const T* dlogits) {
  if (B_ == 0) fail("backward called before forward");
  if (!lora_on_ && grads_.size() != params_.size()) fail("backward on a model made without gradients");
  const int B = B_, Tn = T_, N = B * Tn, D = cfg_.dim, KV = cfg_.kv_dim(), F = cfg_.ffn_dim, V = cfg_.vocab;
  const int H = cfg_.n_heads, KVH = cfg_.n_kv_heads, hd = cfg_.head_dim();
  const T* a = acts_.data();
  const T* w = params_.data();
  const ActLayout& AL = acts_layout_;
  // Frozen (LoRA) parameters get no gradient: null pointers skip that work.
  auto g = [&](size_t offset) -> T* { return lora_on_ ? nullptr : grads_.data() + offset; };

  std::fill(scratch_.begin(), scratch_.end(), T(0));
  T* dresid = scratch_.data();
  T* dxn = dresid + (size_t)N * D;
  T* dq = dxn + (size_t)N * D;
  T* datty = dq + (size_t)N * D;
  T* dk = datty + (size_t)N * D;
  T* dv = dk + (size_t)N * KV;
  T* dg = dv + (size_t)N * KV;
  T* du = dg + (size_t)N * F;
  T* dh = du + (size_t)N * F;
  auto zero = [](T* p, size_t n) { std::fill(p, p + n, T(0)); };

  // logits = xf Wout^T;  xf = rmsnorm(x_out)
  ops::matmul_backward(dxn, g(layout_.output), dlogits, a + AL.xf, w + layout_.output, N, D, V);
  ops::rmsnorm_backward(dresid, g(layout_.output_norm), dxn, a + AL.x_out, w + layout_.output_norm, a + AL.rstdf, N, D);
  for (int l = cfg_.n_layers - 1; l >= 0; --l) {
    const ActLayout::Layer& L = AL.layers[l];
    const LayerOffsets& lo = layout_.layers[l];
    zero(dxn, (size_t)N * D);
    zero(dq, (size_t)N * D);
    zero(datty, (size_t)N * D);
    zero(dk, (size_t)N * KV);
    zero(dv, (size_t)N * KV);
    zero(dg, (size_t)N * F);
    zero(du, (size_t)N * F);
    zero(dh, (size_t)N * F);
    // x_out = x_mid + down(swiglu(gate(xn2), up(xn2))), xn2 = rmsnorm(x_mid);
    // dresid holds dL/dx_out and, through the residual, part of dL/dx_mid.
    linear_backward(l, kDown, dh, dresid, a + L.h, N);
    ops::swiglu_backward(dg, du, dh, a + L.g, a + L.u, (size_t)N * F);
    linear_backward(l, kGate, dxn, dg, a + L.xn2, N);
    linear_backward(l, kUp, dxn, du, a + L.xn2, N);
    ops::rmsnorm_backward(dresid, g(lo.ffn_norm), dxn, a + L.x_mid, w + lo.ffn_norm, a + L.rstd2, N, D);
    // x_mid = x_in + o(attention(rope(q(xn1)), rope(k(xn1)), v(xn1))), xn1 = rmsnorm(x_in)
    zero(dxn, (size_t)N * D);
    linear_backward(l, kO, datty, dresid, a + L.atty, N);
    ops::attention_backward(dq, dk, dv, datty, a + L.att, a + L.q, a + L.k, a + L.v, B, Tn, H, KVH, hd);
    ops::rope_backward(dq, rope_.data(), B, Tn, H, hd);
    ops::rope_backward(dk, rope_.data(), B, Tn, KVH, hd);
    linear_backward(l, kQ, dxn, dq, a + L.xn1, N);
    linear_backward(l, kK, dxn, dk, a + L.xn1, N);
    linear_backward(l, kV, dxn, dv, a + L.xn1, N);
    ops::rmsnorm_backward(dresid, g(lo.attn_norm), dxn, a + L.x_in, w + lo.attn_norm, a + L.rstd1, N, D);
  }
  if (!lora_on_) ops::embedding_backward(grads_.data() + layout_.token_embd, dresid, tokens_.data(), N, D);
}

template class Model<float>;
template class Model<double>;

}  // namespace lcte::train
