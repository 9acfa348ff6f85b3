// Collecting an importance matrix: run a model over a calibration text and
// record, for every weight matrix, the mean squared value of each input
// column (lcte imatrix). Done the way llama-imatrix does it, so the files
// compare: the tokens are cut into chunks of n_ctx, each chunk starts with
// BOS (replacing its first token) and runs from an empty cache, and a matrix
// product counts only when it sees at least 16 tokens at once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "model/forward.h"
#include "quant/imatrix.h"

namespace lcte::quant {

struct CalibrationOptions {
  int64_t n_ctx = 512;
  int64_t max_chunks = 0;       // 0: every whole chunk of the text
  bool process_output = false;  // also record output.weight (llama.cpp's --process-output)
  std::optional<int32_t> bos;   // first token of every chunk, if the vocabulary adds one
  std::string dataset;          // stored in the file: the calibration text's name
};

// Called with (0, chunks in all) before the first chunk, then after each:
// (chunks done, chunks in all).
using CalibrationProgress = std::function<void(int64_t, int64_t)>;

// Throws lcte::Error if the text holds fewer tokens than one chunk.
Imatrix collect_imatrix(model::Context& ctx, std::span<const int32_t> tokens, const CalibrationOptions& options,
                        const CalibrationProgress& progress = {});

}  // namespace lcte::quant
