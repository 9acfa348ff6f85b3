// Quantization mixes: which type each tensor of a model gets for a requested
// file type such as Q4_K_M, following llama-quantize's rules
// (llama_tensor_get_type in llama.cpp's src/llama-quant.cpp, as of commit
// c392e50), so a file lcte writes has the tensor types users expect from
// that name and llama.cpp, Ollama and LM Studio load it.
//
// What the _S/_M/_L mixes do (for the types lcte writes):
//   * output.weight (or token_embd.weight when the output is tied to it) is
//     Q6_K unless the file type is Q8_0; Q8_0 where its rows do not fit the
//     base type's block.
//   * attn_v.weight: Q2_K -> Q3_K (Q4_K when n_head/n_head_kv >= 4);
//     Q3_K_M -> Q5_K in the first two layers, Q4_K after; Q3_K_L -> Q5_K;
//     Q4_K_M/Q5_K_M -> Q6_K on the "more bits" layers; Q4_K_S -> Q5_K in the
//     first four layers; 70B-class Llama: Q3_K/Q4_K -> Q5_K; 8 experts: Q8_0.
//   * ffn_down: Q2_K -> Q3_K; Q3_K_M -> Q5_K below n_layer/16, else Q4_K;
//     Q3_K_L -> Q5_K; Q4_K_M and Q5_K_M -> Q6_K on the "more bits" layers;
//     Q4_K_S -> Q5_K below n_layer/8; with an imatrix, Q4_0/Q5_0 -> Q4_1/Q5_1
//     below n_layer/8.
//   * attn_output.weight: Q2_K -> Q3_K, Q3_K_M -> Q4_K, Q3_K_L -> Q5_K
//     (8 experts: Q5_K for Q2_K..Q4_K_M); attn_qkv.weight: Q3_K_M/L -> Q4_K,
//     Q4_K_M -> Q5_K, Q5_K_M -> Q6_K.
//   "More bits" layers: i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2.
//   Falcon has its own variants of the ffn_down / attn_output rules.
//
// Only weights are quantized: tensors named *weight with two or more
// dimensions, except norms, positional / token-type embeddings, expert
// gates (ffn_gate_inp), Mamba's ssm_conv1d, RWKV's time_mix_* and T5's
// attn_rel_b. Everything else (norms, biases, RoPE factors) keeps its type.
//
// Fallback (a row length that is not a multiple of the chosen type's block):
// llama.cpp uses IQ4_NL for Q2_K/Q3_K, which lcte cannot write, so lcte's
// table is
//   Q2_K, Q3_K -> Q4_0   (IQ4_NL's size: 4.5 bits, 32-blocks)
//   Q4_K -> Q5_0,  Q5_K -> Q5_1,  Q6_K -> Q8_0   (as llama.cpp)
//   Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 -> F16          (llama.cpp refuses these)
// and F16 when the fallback's block does not fit either. Unlike llama.cpp,
// lcte also applies the fallback with --pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/ggml_type.h"

namespace lcte::quant {

// llama.cpp's general.file_type values (enum llama_ftype) for the file types
// lcte writes.
enum class FileType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 7,
  Q5_0 = 8,
  Q5_1 = 9,
  Q2_K = 10,
  Q3_K_S = 11,
  Q3_K_M = 12,
  Q3_K_L = 13,
  Q4_K_S = 14,
  Q4_K_M = 15,
  Q5_K_S = 16,
  Q5_K_M = 17,
  Q6_K = 18,
  BF16 = 32,
};

// Every file type lcte writes, in llama-quantize's listing order.
const std::vector<FileType>& all_file_types();
// "Q4_K_M" etc. (F32, F16, BF16 as such).
std::string_view file_type_name(FileType t);
// Case-insensitive; also accepts Q3_K / Q4_K / Q5_K for their _M mix, as
// llama-quantize does. nullopt for an unknown name.
std::optional<FileType> parse_file_type(std::string_view name);
// The type most tensors get.
GgmlType base_type(FileType t);

// The facts about a model the rules look at, read from its metadata.
struct ModelFacts {
  std::string arch;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_embd = 0;
  int64_t n_expert = 0;
  bool has_output = false;  // an output.weight of its own (not tied)
  int n_attention_wv = 0;   // attn_v / attn_qkv / attn_kv_b tensors
  int64_t n_gqa() const { return n_head_kv > 0 ? n_head / n_head_kv : 0; }
};
ModelFacts model_facts(const gguf::File& file);

struct MixOptions {
  FileType ftype = FileType::Q4_K_M;
  bool pure = false;         // one type everywhere (fallbacks still apply)
  bool keep_output = false;  // leave output.weight in its source type
  bool has_imatrix = false;  // changes the Q4_0/Q5_0 ffn_down rule
};

// The decision for one tensor.
struct TensorPlan {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType from = GgmlType::F32;
  GgmlType to = GgmlType::F32;
  bool quantize = false;            // false: bytes copied unchanged (to == from)
  bool fallback = false;            // the rules' type did not fit the row length
  GgmlType wanted = GgmlType::F32;  // the rules' type before the fallback
};

// Whether llama-quantize would quantize a tensor of this name and rank.
bool is_quantizable(std::string_view name, size_t n_dims, bool keep_output);

// One plan per tensor of `file`, in llama-quantize's order: tensors outside
// the blocks first, then block by block, by name within each (that order
// also drives the per-layer counters of the rules).
std::vector<TensorPlan> plan_mix(const gguf::File& file, const MixOptions& options);

}  // namespace lcte::quant
