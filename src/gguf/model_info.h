// A summary of what a GGUF file holds, for `lcte inspect` and run records.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace lcte::gguf {

// llama.cpp's general.file_type ("ftype") names, e.g. 15 -> "Q4_K_M".
std::string file_type_name(uint64_t ftype);

struct ModelSummary {
  std::string architecture;                                           // general.architecture, "" for vocab-only files
  std::string name;                                                   // general.name
  std::string file_type;                                              // from general.file_type, or "" when absent
  std::vector<std::pair<std::string, std::string>> hyper_parameters;  // "<arch>.*" keys
  std::string tokenizer_model;                                        // tokenizer.ggml.model
  std::string tokenizer_pre;                                          // tokenizer.ggml.pre
  uint64_t vocab_size = 0;
  uint64_t n_parameters = 0;
  uint64_t tensor_bytes = 0;
  uint64_t file_bytes = 0;
  double bits_per_weight = 0;                                 // tensor bits / parameters
  std::vector<std::pair<std::string, uint64_t>> type_counts;  // tensor type -> number of tensors
};

ModelSummary summarize(const File& file);
std::string summary_to_text(const ModelSummary& s, const File& file, bool all_metadata);
nlohmann::json summary_to_json(const ModelSummary& s, const File& file);

}  // namespace lcte::gguf
