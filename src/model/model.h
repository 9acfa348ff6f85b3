// A decoder-only transformer of the Llama family loaded from a GGUF file:
// architectures `llama` (Llama 2/3.x, CodeLlama, TinyLlama, Mistral,
// DeepSeek-Coder) and `qwen2` (Qwen2.5-Coder). The weight matrices stay in
// their file type inside the mapping; only the small vectors (norms, biases,
// RoPE factors) are copied out as F32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/ggml_type.h"

namespace lcte::model {

enum class Arch { Llama, Qwen2 };

// How RoPE pairs the dimensions of a head. Normal rotates adjacent pairs
// (2i, 2i+1): llama.cpp's converter permutes Llama's Q/K rows into that
// order. NeoX rotates (i, i + n/2): Qwen2 keeps the Hugging Face order.
enum class RopeStyle { Normal, Neox };

struct Config {
  Arch arch = Arch::Llama;
  std::string arch_name;  // general.architecture
  std::string name;       // general.name, for reports
  int64_t n_vocab = 0;
  int64_t dim = 0;  // embedding_length
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn_dim = 0;
  int64_t n_ctx_train = 0;  // context_length
  float norm_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::Normal;
  int64_t rope_dims = 0;  // leading dimensions of each head that rotate
  float rope_base = 10000.0f;
  float rope_freq_scale = 1.0f;          // linear position scaling (1/factor)
  std::vector<float> rope_freq_factors;  // rope_dims/2 divisors of the frequencies, or empty

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

// The hyper-parameters of a llama or qwen2 GGUF, read and checked in one
// place for the engine and for training: every metadata key, the vocabulary
// (the rows of token_embd.weight) and the RoPE frequency factors (tensor
// rope_freqs.weight, or computed from llama3 scaling keys). Throws
// lcte::Error naming the file and key for an unsupported architecture, a
// missing key or a value out of range.
Config read_config(const gguf::File& f);

// One weight matrix of `rows` rows of `cols` elements each (ggml ne[0] = cols),
// in its file type, straight from the mapping.
struct Matrix {
  std::string name;
  GgmlType type = GgmlType::F32;
  int64_t cols = 0;
  int64_t rows = 0;
  size_t row_stride = 0;  // bytes between rows
  const uint8_t* data = nullptr;

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_stride; }
  size_t bytes() const { return static_cast<size_t>(rows) * row_stride; }
};

struct Layer {
  std::vector<float> attn_norm;
  Matrix wq, wk, wv, wo;
  std::vector<float> bq, bk, bv;  // empty for llama
  std::vector<float> ffn_norm;
  Matrix w_gate, w_up, w_down;
};

class Model {
 public:
  // Maps and checks the file. Throws lcte::Error naming the file and the key or
  // tensor at fault for an unsupported architecture or type, a missing tensor
  // or a shape that does not match the hyper-parameters.
  static std::unique_ptr<Model> load(const std::string& path);
  // The same for a file already parsed (tests build small models in memory).
  static std::unique_ptr<Model> from_file(gguf::File file);

  const Config& config() const { return config_; }
  const gguf::File& file() const { return file_; }
  const std::string& path() const { return file_.path(); }

  const Matrix& token_embd() const { return token_embd_; }
  const Matrix& output() const { return output_; }  // token_embd when tied
  bool tied_embeddings() const { return tied_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const std::vector<Layer>& layers() const { return layers_; }

  // Bytes of weight data one decode step reads (every matrix once, plus one
  // embedding row): the numerator of the memory-bandwidth bound.
  size_t weight_bytes_per_token() const;
  // Bytes of all tensors in the file.
  size_t tensor_bytes() const;
  int64_t n_params() const;
  // "Q4_K - mixed" style summary of the matrix types, for reports.
  std::string type_summary() const;

  // Copies embedding row `token` into out[0..dim). Throws for a bad id.
  void embed(int32_t token, float* out) const;

 private:
  explicit Model(gguf::File file) : file_(std::move(file)) {}
  void load_weights();

  gguf::File file_;
  Config config_;
  Matrix token_embd_, output_;
  bool tied_ = false;
  std::vector<float> output_norm_;
  std::vector<Layer> layers_;
};

// Llama 3.1's RoPE frequency factors (what llama.cpp's converter stores in
// rope_freqs.weight), from the rope-scaling parameters of the original config.
std::vector<float> llama3_rope_factors(int64_t rope_dims, float base, float factor, float low_freq_factor,
                                       float high_freq_factor, int64_t original_context);

}  // namespace lcte::model
