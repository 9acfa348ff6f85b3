#include "model/kv_cache.h"

#include <cstring>

#include "core/error.h"

namespace lcte::model {

const char* kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : "f32"; }

KvType kv_type_from_name(const std::string& name) {
  if (name == "f16") return KvType::F16;
  if (name == "f32") return KvType::F32;
  fail("KV cache type '{}' is not f16 or f32", name);
}

KvCache::KvCache(const Config& config, int64_t n_ctx, KvType type, std::shared_ptr<KvBudget> budget)
    : type_(type), n_layers_(config.n_layers), kv_dim_(config.kv_dim()), n_ctx_(n_ctx), budget_(std::move(budget)) {
  if (n_ctx < 1) fail("KV cache: context size {} must be positive", n_ctx);
}

void KvCache::truncate(int64_t n) {
  if (n < 0 || n > size_) fail("KV cache: cannot truncate {} positions to {}", size_, n);
  size_ = n;
  blocks_.resize(static_cast<size_t>((n + kBlock - 1) / kBlock));
}

std::shared_ptr<uint8_t[]> KvCache::new_block() const {
  const size_t bytes = block_bytes();
  if (budget_ == nullptr) return std::shared_ptr<uint8_t[]>(new uint8_t[bytes]);
  if (budget_->used_.fetch_add(1) >= budget_->max_blocks_) {
    budget_->used_.fetch_sub(1);
    fail("KV cache full: all {} blocks of {} positions ({:.1f} MiB) are held by the sequences being decoded",
         budget_->max_blocks_, kBlock, static_cast<double>(budget_->max_blocks_ * bytes) / (1 << 20));
  }
  // The block gives its place in the budget back when its last sharer drops it.
  return std::shared_ptr<uint8_t[]>(new uint8_t[bytes], [budget = budget_](uint8_t* p) {
    delete[] p;
    budget->used_.fetch_sub(1);
  });
}

void KvCache::append(int64_t n) {
  if (n < 0 || size_ + n > n_ctx_)
    fail("context full: {} positions + {} new tokens exceed the context size {} (raise --ctx)", size_, n, n_ctx_);
  const int64_t first = size_ / kBlock;
  const int64_t last = (size_ + n + kBlock - 1) / kBlock;  // one past the last block touched
  const size_t bytes = block_bytes();
  const size_t had = blocks_.size();
  try {
    for (int64_t b = first; b < last; ++b) {
      if (static_cast<size_t>(b) >= blocks_.size()) {
        blocks_.push_back(new_block());
      } else if (blocks_[static_cast<size_t>(b)].use_count() > 1) {
        // Shared with another sequence and about to be written: take a private copy.
        std::shared_ptr<uint8_t[]> copy = new_block();
        std::memcpy(copy.get(), blocks_[static_cast<size_t>(b)].get(), bytes);
        blocks_[static_cast<size_t>(b)] = std::move(copy);
      }
    }
  } catch (...) {
    blocks_.resize(had);  // blocks un-shared so far stay private copies of the same data
    throw;
  }
  size_ += n;
}

size_t KvCache::bytes() const { return blocks_.size() * block_bytes(); }

size_t KvCache::bytes_for(const Config& config, int64_t n_positions, KvType type) {
  const size_t elem = type == KvType::F16 ? 2 : 4;
  return static_cast<size_t>(config.n_layers) * 2 * static_cast<size_t>(n_positions) *
         static_cast<size_t>(config.kv_dim()) * elem;
}

}  // namespace lcte::model
