// Quantizing a whole GGUF model file: `lcte quantize`.
//
// Streams tensor by tensor: the source stays in its read-only mapping (and
// each tensor's pages are dropped from this process once it is done), one
// F32 copy of the current tensor is made when it is not F32 already, and
// one output buffer holds its quantized bytes until they are written. Peak
// memory is therefore about one tensor in F32 plus its quantized form,
// whatever the model's size. Rows are split across threads.
//
// The output is written to "<out>.tmp" and renamed when complete, so a
// failure (bad input, full disk, an imatrix that does not fit) never leaves
// a partial file under the output name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "quant/imatrix.h"
#include "quant/mix.h"

namespace lcte::quant {

struct QuantizeOptions {
  std::string input, output;
  FileType ftype = FileType::Q4_K_M;
  bool pure = false;
  bool keep_output = false;
  const Imatrix* imatrix = nullptr;  // importance weights, or none
  int threads = 0;                   // 0: all hardware threads
};

struct TensorReport {
  TensorPlan plan;
  uint64_t bytes_in = 0, bytes_out = 0;
  bool used_imatrix = false;
};

struct QuantizeResult {
  std::vector<TensorReport> tensors;
  uint64_t tensor_bytes_in = 0, tensor_bytes_out = 0;
  uint64_t file_bytes_out = 0;
  int64_t n_params = 0;
  int n_fallback = 0;
  bool requantized = false;  // the source held quantized tensors
  double seconds = 0;
  double bits_per_weight() const { return n_params > 0 ? 8.0 * tensor_bytes_out / n_params : 0.0; }
};

// Once before the first tensor, then after each: which one, and how far the file is in source tensor
// bytes (the measure of the work left). The CLI draws the progress.
struct QuantizeTick {
  size_t index = 0, count = 0;  // the tensor just written, of how many
  uint64_t bytes_done = 0, bytes_total = 0;
  const TensorReport* tensor = nullptr;  // null in the first call, made before any tensor
};
using QuantizeProgress = std::function<void(const QuantizeTick&)>;

// Throws lcte::Error (naming the file and tensor) for unreadable input, an
// unsupported source type, an imatrix entry of the wrong size, or a write
// failure; the output path is then left untouched.
QuantizeResult quantize_model(const QuantizeOptions& options, const QuantizeProgress& progress = {});

}  // namespace lcte::quant
