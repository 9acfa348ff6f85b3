// Small LLaMA-architecture GGUF models with seeded random weights and a
// SentencePiece-style vocabulary, made on the spot. The demo and the tests use
// them where no real model file is at hand; they exercise every part of the
// pipeline (reader, tokenizer, engine, quantizer) but know no language until
// lcte trains them (the demo starts from them).
#pragma once

#include <cstdint>
#include <string>

#include "demo/vocab.h"

namespace lcte::demo {

struct SyntheticModelSpec {
  std::string name = "lcte-synthetic";
  int dim = 64;
  int n_layers = 2;
  int n_heads = 4;
  int n_kv_heads = 2;
  int ffn_dim = 192;
  int context_length = 512;
  float rope_freq_base = 10000.f;
  uint64_t seed = 1;
  Vocab vocab;  // empty: fixed_vocab()
};

// Writes the model to `path` (F32 weights). Returns the number of parameters.
uint64_t write_synthetic_model(const SyntheticModelSpec& spec, const std::string& path);

}  // namespace lcte::demo
