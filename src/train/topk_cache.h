// The teacher top-k cache: every training (and validation) sequence scored
// once by the teacher, its top-k log-probabilities at each target position
// written to a file, so that the teacher is not in memory while the student
// trains and a rerun with the same teacher, data and k skips the scoring.
//
// The file also holds the token sequences themselves (with their loss masks),
// so that data the teacher generated (--teacher-generate) is reused as well.
// Format (little-endian, version 1): see docs/formats.md, "Teacher top-k cache".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/data.h"
#include "train/losses.h"
#include "train/trainer.h"

namespace lcte::train {

inline constexpr char kTopkCacheMagic[9] = "LCTETOPK";
inline constexpr uint32_t kTopkCacheVersion = 1;

// What a cache was made from. A cache is reused only when all three match.
struct TopkCacheKey {
  std::string teacher_sha256;  // 64 hex digits: the teacher GGUF's bytes
  std::string data_sha256;     // 64 hex digits: data_sha256() of the examples (and how they were made)
  int k = 0;
  bool operator==(const TopkCacheKey&) const = default;
};

struct TopkCache {
  TopkCacheKey key;
  int vocab = 0;
  int64_t n_train = 0;            // examples [0, n_train) are for training, the rest held out
  std::vector<Example> examples;  // tokens as trained on (cut at seq + 1); mask always set (1 = target)
  // Position offsets: example i's target positions are [pos_begin[i], pos_begin[i+1]) of `signal`.
  std::vector<uint64_t> pos_begin;
  TeacherSignal signal;

  // Target positions of an example as a batch row of any length >= its size
  // sees them: t in [0, n-1) where mask[t+1] is 1.
  static int64_t count_targets(const Example& e);
  // Appends an example and makes room for its positions (zeros; earlier
  // positions kept); returns its first position.
  uint64_t add_example(Example e);
};

// sha256 (hex) of the examples' tokens and masks and of `recipe` (a text
// saying how they were made, e.g. the teacher-generation settings).
std::string data_sha256(const std::vector<Example>& examples, const std::string& recipe);

// Writes the cache atomically (a temporary file renamed into place).
void write_topk_cache(const std::string& path, const TopkCache& cache);

// Reads and checks a cache: magic, version, sizes against the file length, a
// checksum of the payload, and every signal (ids in [0, vocab), distinct,
// log-probabilities <= 0, rest in [0, 1]). Throws lcte::Error naming the file
// and what is wrong: "not a teacher top-k cache", "version 7, this lcte reads
// 1", "truncated: ...", "checksum mismatch (corrupt file)", ...
TopkCache read_topk_cache(const std::string& path);

// Reads the cache and checks that it was made for `expected`; a mismatch
// names the field (teacher sha256, data sha256, k) with both values.
TopkCache read_topk_cache(const std::string& path, const TopkCacheKey& expected);

// The teacher function a Trainer calls: for each batch row, the cached
// signal of its example (rows index examples[base + row]); positions that are
// not targets get a placeholder the loss ignores.
TeacherFn cached_teacher(const TopkCache& cache, int64_t base);

// The signal for one batch, as cached_teacher fills it (for evaluation).
void fill_cached_signal(const TopkCache& cache, int64_t base, const Batch& batch, TeacherSignal& out);

}  // namespace lcte::train
