// Importance matrices: the mean squared activation of every input column of
// every weight matrix over a calibration text. Quantizing with them
// (quant/quantize.h) spends the precision where activations are large.
//
// File format: llama.cpp's legacy .imatrix / imatrix.dat binary, so files
// move between lcte and llama.cpp (llama-imatrix writes it, llama-quantize
// --imatrix reads it), all little-endian:
//   int32 n_entries
//   n_entries x { int32 name_len, name bytes, int32 ncall, int32 nval,
//                 float values[nval] }
//   int32 last_call            (optional: the number of chunks)
//   int32 dataset_len, bytes   (optional: the calibration file's name)
// values[i] is the mean of x_i^2 times ncall (llama-imatrix stores sums as
// if every call had counted once), so readers divide by ncall.
// For a 3-D (expert) tensor nval = n_cols * n_expert.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::quant {

struct ImatrixEntry {
  int32_t ncall = 0;        // forward passes (chunks) that fed the matrix
  std::vector<float> mean;  // mean squared activation per input column
};

struct Imatrix {
  std::map<std::string, ImatrixEntry, std::less<>> entries;  // by weight name
  int32_t last_call = 0;                                     // chunks processed
  std::string dataset;                                       // calibration text's file name
  std::string path;                                          // the file it was read from, for messages

  // Mean squared activations of `weight_name`'s columns, or nullptr.
  const std::vector<float>* find(std::string_view weight_name) const;
};

// Throws lcte::Error naming the file, the entry and the field for a
// truncated file, a bad length, a count that does not fit the file, or a
// non-finite value.
Imatrix read_imatrix(const std::string& path);
// Written whole through core/file.h (a temporary file renamed into place).
void write_imatrix(const Imatrix& m, const std::string& path);

// Accumulates activations as the engine's forward pass reports them.
// Thread-compatible, not thread-safe: feed it from one thread.
class ImatrixCollector {
 public:
  // `x` holds n_tokens rows of n_cols activations, the input of matrix
  // `weight_name` in one forward pass. Throws if n_cols changes for a name.
  void observe(std::string_view weight_name, const float* x, int64_t n_tokens, int64_t n_cols);
  // Marks the end of one chunk of calibration text.
  void end_chunk() { ++chunks_; }
  int32_t chunks() const { return chunks_; }
  Imatrix result(std::string dataset) const;

 private:
  struct Sums {
    int32_t ncall = 0;
    int64_t count = 0;           // activation rows seen
    std::vector<double> sum_sq;  // per column
  };
  std::map<std::string, Sums, std::less<>> sums_;
  int32_t chunks_ = 0;
};

}  // namespace lcte::quant
