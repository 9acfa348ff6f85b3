#include "demo/synthetic_model.h"

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"

namespace lcte::demo {
namespace {

// Token types as llama.cpp numbers them.
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6;

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  void add(std::string t, float score, int32_t type) {
    tokens.push_back(std::move(t));
    scores.push_back(score);
    types.push_back(type);
  }
};

// <unk>, <s>, </s>, the 256 byte-fallback tokens, then printable ASCII with
// U+2581 standing for a space, and a few common English and Python pieces.
Vocab make_vocab() {
  Vocab v;
  v.add("<unk>", 0, kUnknown);
  v.add("<s>", 0, kControl);
  v.add("</s>", 0, kControl);
  for (int b = 0; b < 256; ++b) v.add(fmt::format("<0x{:02X}>", b), 0, kByte);
  const std::string space = "\xe2\x96\x81";
  float score = -1.f;
  for (char c = 33; c < 127; ++c) v.add(std::string(1, c), score -= 0.01f, kNormal);
  v.add(space, score -= 0.01f, kNormal);
  for (const char* piece : {"th", "he", "in", "er", "an", "re", "on", "at", "en", "nd", "de", "ef", "def",
                            "return", "self", "if", "for", "in", "or"}) {
    v.add(piece, score -= 0.01f, kNormal);
    v.add(space + piece, score -= 0.01f, kNormal);
  }
  // SentencePiece vocabularies hold each piece once.
  Vocab unique;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    bool seen = false;
    for (const std::string& t : unique.tokens) seen = seen || t == v.tokens[i];
    if (!seen) unique.add(v.tokens[i], v.scores[i], v.types[i]);
  }
  return unique;
}

}  // namespace

uint64_t write_synthetic_model(const SyntheticModelSpec& spec, const std::string& path) {
  if (spec.dim % spec.n_heads != 0 || spec.n_heads % spec.n_kv_heads != 0)
    fail("synthetic model: dim {} must divide into {} heads, and heads into {} KV heads", spec.dim, spec.n_heads,
         spec.n_kv_heads);
  Vocab vocab = make_vocab();
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

  std::mt19937_64 rng(spec.seed);
  std::vector<std::vector<float>> storage;
  uint64_t n_params = 0;
  // Weights ~ N(0, 1/sqrt(fan_in)) keep activations of order one; norms are 1.
  auto add = [&](const std::string& name, std::vector<int64_t> ne, bool ones) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::vector<float> data(static_cast<size_t>(n), 1.f);
    if (!ones) {
      std::normal_distribution<float> normal(0.f, 1.f / std::sqrt(static_cast<float>(ne[0])));
      for (float& x : data) x = normal(rng);
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
