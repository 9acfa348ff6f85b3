// Two small open-addressing hash tables for the tokenizer's hot lookups:
// text -> id (vocabulary pieces; looked up with string_views into the input,
// so no std::string is built per lookup) and (id, id) -> merge.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.h"

namespace lcte::tokenizer {

inline uint64_t hash_bytes(std::string_view s) {
  // FNV-1a, then a final mix so that the low bits used for the slot are good.
  uint64_t h = fnv1a64(s);
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
// a copy of every string, so it stays valid when moved. A slot keeps 32 bits
// of the hash beside the id, so a probe touches one cache line and compares
// text only on a likely hit.
class TextIndex {
 public:
  // The id of `s`, inserting it with the next id if absent.
  int32_t intern(std::string_view s) {
    if ((size() + 1) * 2 > slots_.size()) grow();
    const uint64_t h = hash_bytes(s);
    const uint32_t tag = uint32_t(h >> 32);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot = {tag, int32_t(size())};
        offsets_.push_back(uint32_t(blob_.size()));
        hashes_.push_back(h);
        blob_.append(s);
        return slot.id;
      }
      if (slot.tag == tag && text(slot.id) == s) return slot.id;
    }
  }
  // The id of `s`, or -1.
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_bytes(s);
    const uint32_t tag = uint32_t(h >> 32);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (slot.tag == tag && text(slot.id) == s) return slot.id;
    }
  }
  // Room for n strings of about `bytes` bytes in all, without rehashing.
  void reserve(size_t n, size_t bytes) {
    offsets_.reserve(n);
    hashes_.reserve(n);
    blob_.reserve(bytes);
    while (n * 2 > slots_.size()) grow();
  }
  std::string_view text(int32_t id) const {
    size_t b = offsets_[id];
    size_t e = size_t(id) + 1 < offsets_.size() ? offsets_[id + 1] : blob_.size();
    return std::string_view(blob_).substr(b, e - b);
  }
  size_t size() const { return offsets_.size(); }

 private:
  struct Slot {
    uint32_t tag = 0;
    int32_t id = -1;
  };
  void grow() {
    std::vector<Slot> slots(slots_.empty() ? 64 : slots_.size() * 2);
    const size_t mask = slots.size() - 1;
    for (int32_t id = 0; id < int32_t(size()); ++id) {
      size_t i = hashes_[id] & mask;
      while (slots[i].id >= 0) i = (i + 1) & mask;
      slots[i] = {uint32_t(hashes_[id] >> 32), id};
    }
    slots_ = std::move(slots);
  }

  std::string blob_;
  std::vector<uint32_t> offsets_;
  std::vector<uint64_t> hashes_;  // only to rehash on growth
  std::vector<Slot> slots_;
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
    if ((count_ + 1) * 2 > slots_.size()) grow();
    const uint64_t k = key(left, right);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash_u64(k) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = {k, m};
        ++count_;
        return;
      }
      if (slots_[i].key == k) return;
    }
  }
  Merge find(int32_t left, int32_t right) const {
    if (slots_.empty()) return {};
    const uint64_t k = key(left, right);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash_u64(k) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == k) return slots_[i].merge;
      if (slots_[i].key == kEmpty) return {};
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  // Key and value side by side: one cache line per probe.
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge;
  };
  static uint64_t key(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    count_ = 0;
    for (const Slot& s : old)
      if (s.key != kEmpty) insert(int32_t(s.key >> 32), int32_t(uint32_t(s.key)), s.merge);
  }

  std::vector<Slot> slots_;
  size_t count_ = 0;
};

}  // namespace lcte::tokenizer
