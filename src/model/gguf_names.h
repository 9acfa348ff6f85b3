// The GGUF tensor names of a llama-family model, as llama.cpp's converter
// writes them. The engine's loader, the training model's layout and the
// training exporter all name tensors through this one table, so a file one
// writes is a file the other reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lcte::model::gguf_names {

inline constexpr std::string_view kTokenEmbd = "token_embd.weight";
inline constexpr std::string_view kOutputNorm = "output_norm.weight";
inline constexpr std::string_view kOutput = "output.weight";  // absent when tied to token_embd
inline constexpr std::string_view kRopeFreqs = "rope_freqs.weight";

// Per-block tensors, "blk.<layer>.<name>.<suffix>".
inline constexpr std::string_view kAttnNorm = "attn_norm";
inline constexpr std::string_view kFfnNorm = "ffn_norm";

// The seven projections of a block, in the training model's order.
enum Proj { kQ, kK, kV, kO, kGate, kUp, kDown, kNumProj };
inline constexpr std::string_view kProj[kNumProj] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                                     "ffn_gate", "ffn_up", "ffn_down"};

// "blk.3.attn_q.weight"
inline std::string block(int64_t layer, std::string_view name, std::string_view suffix = "weight") {
  std::string s = "blk." + std::to_string(layer) + ".";
  s.append(name);
  s += '.';
  s.append(suffix);
  return s;
}

}  // namespace lcte::model::gguf_names
