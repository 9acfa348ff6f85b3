#include "demo/synthetic_model.h"

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "demo/vocab.h"
#include "gguf/gguf.h"

namespace lcte::demo {

uint64_t write_synthetic_model(const SyntheticModelSpec& spec, const std::string& path) {
  if (spec.dim % spec.n_heads != 0 || spec.n_heads % spec.n_kv_heads != 0)
    fail("synthetic model: dim {} must divide into {} heads, and heads into {} KV heads", spec.dim, spec.n_heads,
         spec.n_kv_heads);
  const Vocab vocab = spec.vocab.empty() ? fixed_vocab() : spec.vocab;
  const int n_vocab = static_cast<int>(vocab.tokens.size());
  const int head_dim = spec.dim / spec.n_heads;
  const int kv_dim = head_dim * spec.n_kv_heads;

  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("general.name", gguf::Value::string(spec.name));
  w.set("general.file_type", gguf::Value::u32(0));
  w.set("llama.context_length", gguf::Value::u32(spec.context_length));
  w.set("llama.embedding_length", gguf::Value::u32(spec.dim));
  w.set("llama.block_count", gguf::Value::u32(spec.n_layers));
  w.set("llama.feed_forward_length", gguf::Value::u32(spec.ffn_dim));
  w.set("llama.rope.dimension_count", gguf::Value::u32(head_dim));
  w.set("llama.attention.head_count", gguf::Value::u32(spec.n_heads));
  w.set("llama.attention.head_count_kv", gguf::Value::u32(spec.n_kv_heads));
  w.set("llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f));
  w.set("llama.rope.freq_base", gguf::Value::f32(spec.rope_freq_base));
  w.set("tokenizer.ggml.model", gguf::Value::string("llama"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(vocab.tokens));
  w.set("tokenizer.ggml.scores", gguf::Value::f32_array(vocab.scores));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32_array(vocab.types));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", gguf::Value::u32(0));
  w.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(true));

  SplitMix64 rng(spec.seed);
  std::vector<std::vector<float>> storage;
  uint64_t n_params = 0;
  // Weights ~ N(0, 1/sqrt(fan_in)) keep activations of order one; norms are 1.
  auto add = [&](const std::string& name, std::vector<int64_t> ne, bool ones) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::vector<float> data(static_cast<size_t>(n), 1.f);
    if (!ones) {
      const double stddev = 1.0 / std::sqrt(static_cast<double>(ne[0]));
      for (float& x : data) x = static_cast<float>(stddev * rng.normal());
    }
    n_params += static_cast<uint64_t>(n);
    storage.push_back(std::move(data));
    w.add_tensor(name, GgmlType::F32, std::move(ne), storage.back().data());
  };
  storage.reserve(static_cast<size_t>(3 + 9 * spec.n_layers));
  add("token_embd.weight", {spec.dim, n_vocab}, false);
  for (int l = 0; l < spec.n_layers; ++l) {
    std::string p = fmt::format("blk.{}.", l);
    add(p + "attn_norm.weight", {spec.dim}, true);
    add(p + "attn_q.weight", {spec.dim, spec.dim}, false);
    add(p + "attn_k.weight", {spec.dim, kv_dim}, false);
    add(p + "attn_v.weight", {spec.dim, kv_dim}, false);
    add(p + "attn_output.weight", {spec.dim, spec.dim}, false);
    add(p + "ffn_norm.weight", {spec.dim}, true);
    add(p + "ffn_gate.weight", {spec.dim, spec.ffn_dim}, false);
    add(p + "ffn_up.weight", {spec.dim, spec.ffn_dim}, false);
    add(p + "ffn_down.weight", {spec.ffn_dim, spec.dim}, false);
  }
  add("output_norm.weight", {spec.dim}, true);
  add("output.weight", {spec.dim, n_vocab}, false);
  w.write(path);
  return n_params;
}

}  // namespace lcte::demo
