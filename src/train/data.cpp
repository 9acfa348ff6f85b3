#include "train/data.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "train/rng.h"

namespace lcte::train {
namespace {

uint64_t mix(uint64_t seed, int64_t epoch) {
  Rng r(seed ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(epoch + 1)));
  return r.next_u64();
}

void shuffle(std::vector<int64_t>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace

std::vector<Example> chunk_stream(const std::vector<int32_t>& stream, int T) {
  if (T < 1) fail("chunk_stream: sequence length {} must be >= 1", T);
  std::vector<Example> out;
  for (size_t start = 0; start + 1 < stream.size(); start += T) {
    const size_t end = std::min(stream.size(), start + T + 1);
    out.push_back({std::vector<int32_t>(stream.begin() + start, stream.begin() + end), {}});
  }
  return out;
}

void fill_row(Batch& batch, int b, const Example& ex, int32_t pad_id) {
  const int T = batch.T;
  int32_t* tok = batch.tokens.data() + (size_t)b * T;
  int32_t* tgt = batch.targets.data() + (size_t)b * T;
  const int n = static_cast<int>(std::min<size_t>(ex.tokens.size(), (size_t)T + 1));
  for (int t = 0; t < T; ++t) {
    tok[t] = t < n ? ex.tokens[t] : pad_id;
    const bool is_target = t + 1 < n && (ex.mask.empty() || ex.mask[t + 1] != 0);
    tgt[t] = is_target ? ex.tokens[t + 1] : -1;
  }
}

DataLoader::DataLoader(std::vector<Example> examples, int B, int T, uint64_t seed, int32_t pad_id)
    : examples_(std::move(examples)), B_(B), T_(T), pad_(pad_id) {
  if (examples_.empty()) fail("data: no training examples");
  if (B < 1 || T < 1) fail("data: batch {} and sequence {} must be >= 1", B, T);
  for (size_t i = 0; i < examples_.size(); ++i) {
    const Example& e = examples_[i];
    if (!e.mask.empty() && e.mask.size() != e.tokens.size())
      fail("data: example {} has {} tokens but a mask of {}", i, e.tokens.size(), e.mask.size());
  }
  state_.seed = seed;
  shuffle_epoch();
}

void DataLoader::shuffle_epoch() {
  order_.resize(examples_.size());
  std::iota(order_.begin(), order_.end(), 0);
  Rng rng(mix(state_.seed, state_.epoch));
  shuffle(order_, rng);
}

void DataLoader::restore(const State& s) {
  if (s.cursor < 0 || s.cursor > (int64_t)examples_.size() || s.epoch < 0)
    fail("data: cannot restore position epoch {} cursor {} in {} examples", s.epoch, s.cursor, examples_.size());
  state_ = s;
  shuffle_epoch();
}

Batch DataLoader::next() {
  Batch batch;
  batch.B = B_;
  batch.T = T_;
  batch.tokens.assign((size_t)B_ * T_, pad_);
  batch.targets.assign((size_t)B_ * T_, -1);
  for (int b = 0; b < B_; ++b) {
    if (state_.cursor >= (int64_t)order_.size()) {
      state_.epoch += 1;
      state_.cursor = 0;
      shuffle_epoch();
    }
    const int64_t idx = order_[state_.cursor++];
    fill_row(batch, b, examples_[idx], pad_);
    batch.rows.push_back(idx);
  }
  return batch;
}

Split seeded_split(size_t n, size_t n_train, size_t n_valid, size_t n_test, uint64_t seed) {
  if (n_train + n_valid + n_test > n)
    fail("split: {} + {} + {} items asked for, only {} available", n_train, n_valid, n_test, n);
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  Rng rng(seed);
  shuffle(idx, rng);
  Split s;
  s.train.assign(idx.begin(), idx.begin() + n_train);
  s.valid.assign(idx.begin() + n_train, idx.begin() + n_train + n_valid);
  s.test.assign(idx.begin() + n_train + n_valid, idx.begin() + n_train + n_valid + n_test);
  return s;
}

}  // namespace lcte::train
