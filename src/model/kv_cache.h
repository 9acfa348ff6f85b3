// The keys and values of every layer for the positions a sequence has seen.
//
// Storage is paged: blocks of kBlock positions, each holding all layers'
// K and V rows for those positions, allocated as the sequence grows. fork()
// makes a new sequence that shares the parent's blocks; a block is copied
// only when one of its sharers writes into it (the partly filled last block
// of a prompt). So n samples of one prompt hold the prompt's KV once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace lcte::model {

enum class KvType { F16, F32 };
const char* kv_type_name(KvType t);
// "f16" or "f32"; throws lcte::Error naming the value otherwise.
KvType kv_type_from_name(const std::string& name);

// A limit on the KV blocks several sequences hold together (a block shared
// by forks counts once). Sequences given the same budget fail to grow with
// an lcte::Error once it is spent, instead of taking more memory.
class KvBudget {
 public:
  explicit KvBudget(int64_t max_blocks) : max_blocks_(max_blocks) {}
  int64_t max_blocks() const { return max_blocks_; }
  int64_t used() const { return used_.load(); }

 private:
  friend class KvCache;
  int64_t max_blocks_;
  std::atomic<int64_t> used_{0};
};

class KvCache {
 public:
  static constexpr int64_t kBlock = 256;

  // n_ctx: the most positions the sequence may reach. budget: shared with
  // other sequences, or null for none.
  KvCache(const Config& config, int64_t n_ctx, KvType type, std::shared_ptr<KvBudget> budget = nullptr);

  // A new sequence with this one's positions, sharing its blocks (copy on write).
  KvCache fork() const { return *this; }

  KvType type() const { return type_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t size() const { return size_; }  // positions filled; the next token goes here
  // Forgets positions >= n (n <= size()).
  void truncate(int64_t n);

  // Makes positions [size(), size()+n) writable (allocating or un-sharing
  // their blocks) and counts them as filled. Throws when n_ctx would be
  // passed or the budget is spent (then the size is unchanged).
  void append(int64_t n);

  size_t elem_bytes() const { return type_ == KvType::F16 ? 2 : 4; }
  size_t row_bytes() const { return static_cast<size_t>(kv_dim_) * elem_bytes(); }

  // Row of kv_dim elements (F16 bits or F32) for (layer, pos); the rows of
  // positions pos..(end of its block) follow at row_bytes() apart.
  uint8_t* k(int64_t layer, int64_t pos) { return row(layer, 0, pos); }
  uint8_t* v(int64_t layer, int64_t pos) { return row(layer, 1, pos); }
  const uint8_t* k(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->row(layer, 0, pos); }
  const uint8_t* v(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->row(layer, 1, pos); }

  // Bytes held by blocks this sequence references (shared ones included).
  size_t bytes() const;
  // Bytes of one full block.
  size_t block_bytes() const { return static_cast<size_t>(n_layers_) * 2 * kBlock * row_bytes(); }
  // Bytes of the KV of n positions, for reports.
  static size_t bytes_for(const Config& config, int64_t n_positions, KvType type);

 private:
  std::shared_ptr<uint8_t[]> new_block() const;
  uint8_t* row(int64_t layer, int kv, int64_t pos) {
    uint8_t* block = blocks_[static_cast<size_t>(pos / kBlock)].get();
    return block + ((static_cast<size_t>(layer) * 2 + kv) * kBlock + static_cast<size_t>(pos % kBlock)) * row_bytes();
  }

  KvType type_;
  int64_t n_layers_ = 0, kv_dim_ = 0, n_ctx_ = 0;
  int64_t size_ = 0;
  std::shared_ptr<KvBudget> budget_;
  std::vector<std::shared_ptr<uint8_t[]>> blocks_;
};

}  // namespace lcte::model
