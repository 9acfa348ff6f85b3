// Two small open-addressing hash tables for the tokenizer's hot lookups:
// text -> id (vocabulary pieces; looked up with string_views into the input,
// so no std::string is built per lookup) and (id, id) -> merge.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::tokenizer {

inline uint64_t hash_bytes(std::string_view s) {
  // FNV-1a, then a final mix so that the low bits used for the slot are good.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

inline uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

// Maps distinct byte strings to dense ids 0, 1, 2... in insertion order. Owns
// a copy of every string, so it stays valid when moved.
class TextIndex {
 public:
  // The id of `s`, inserting it with the next id if absent.
  int32_t intern(std::string_view s) {
    if ((size() + 1) * 2 > slots_.size()) grow();
    uint64_t h = hash_bytes(s);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      int32_t id = slots_[i];
      if (id < 0) {
        id = static_cast<int32_t>(size());
        offsets_.push_back(static_cast<uint32_t>(blob_.size()));
        blob_.append(s);
        hashes_.push_back(h);
        slots_[i] = id;
        return id;
      }
      if (hashes_[id] == h && text(id) == s) return id;
    }
  }
  // The id of `s`, or -1.
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    uint64_t h = hash_bytes(s);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      int32_t id = slots_[i];
      if (id < 0) return -1;
      if (hashes_[id] == h && text(id) == s) return id;
    }
  }
  std::string_view text(int32_t id) const {
    size_t b = offsets_[id];
    size_t e = size_t(id) + 1 < offsets_.size() ? offsets_[id + 1] : blob_.size();
    return std::string_view(blob_).substr(b, e - b);
  }
  size_t size() const { return offsets_.size(); }

 private:
  void grow() {
    std::vector<int32_t> slots(slots_.empty() ? 64 : slots_.size() * 2, -1);
    size_t mask = slots.size() - 1;
    for (int32_t id = 0; id < static_cast<int32_t>(size()); ++id) {
      size_t i = hashes_[id] & mask;
      while (slots[i] >= 0) i = (i + 1) & mask;
      slots[i] = id;
    }
    slots_ = std::move(slots);
  }

  std::string blob_;
  std::vector<uint32_t> offsets_;
  std::vector<uint64_t> hashes_;
  std::vector<int32_t> slots_;
};

// (left, right) symbol pair -> the merge that joins them.
struct Merge {
  int32_t rank = -1;    // lower merges first
  int32_t result = -1;  // symbol id of the joined text
};

class PairIndex {
 public:
  // Keeps the first merge given for a pair (llama.cpp's emplace semantics).
  void insert(int32_t left, int32_t right, Merge m) {
    if ((count_ + 1) * 2 > keys_.size()) grow();
    uint64_t k = key(left, right);
    size_t mask = keys_.size() - 1;
    for (size_t i = hash_u64(k) & mask;; i = (i + 1) & mask) {
      if (keys_[i] == kEmpty) {
        keys_[i] = k;
        vals_[i] = m;
        ++count_;
        return;
      }
      if (keys_[i] == k) return;
    }
  }
  Merge find(int32_t left, int32_t right) const {
    if (keys_.empty()) return {};
    uint64_t k = key(left, right);
    size_t mask = keys_.size() - 1;
    for (size_t i = hash_u64(k) & mask;; i = (i + 1) & mask) {
      if (keys_[i] == k) return vals_[i];
      if (keys_[i] == kEmpty) return {};
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t key(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  void grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<Merge> old_vals = std::move(vals_);
    size_t n = old_keys.empty() ? 64 : old_keys.size() * 2;
    keys_.assign(n, kEmpty);
    vals_.assign(n, Merge{});
    count_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != kEmpty) insert(int32_t(old_keys[i] >> 32), int32_t(uint32_t(old_keys[i])), old_vals[i]);
  }

  std::vector<uint64_t> keys_;
  std::vector<Merge> vals_;
  size_t count_ = 0;
};

}  // namespace lcte::tokenizer
