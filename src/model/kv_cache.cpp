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

KvCache::KvCache(const Config& config, int64_t n_ctx, KvType type)
    : type_(type), n_layers_(config.n_layers), kv_dim_(config.kv_dim()), n_ctx_(n_ctx) {
  if (n_ctx < 1) fail("KV cache: context size {} must be positive", n_ctx);
}

void KvCache::truncate(int64_t n) {
  if (n < 0 || n > size_) fail("KV cache: cannot truncate {} positions to {}", size_, n);
  size_ = n;
  blocks_.resize(static_cast<size_t>((n + kBlock - 1) / kBlock));
}

void KvCache::append(int64_t n) {
  if (n < 0 || size_ + n > n_ctx_)
    fail("context full: {} positions + {} new tokens exceed the context size {} (raise --ctx)", size_, n, n_ctx_);
  const int64_t first = size_ / kBlock;
  const int64_t last = (size_ + n + kBlock - 1) / kBlock;  // one past the last block touched
  const size_t bytes = block_bytes();
  for (int64_t b = first; b < last; ++b) {
    if (static_cast<size_t>(b) >= blocks_.size()) {
      blocks_.push_back(std::shared_ptr<uint8_t[]>(new uint8_t[bytes]));
    } else if (blocks_[static_cast<size_t>(b)].use_count() > 1) {
      // Shared with another sequence and about to be written: take a private copy.
      std::shared_ptr<uint8_t[]> copy(new uint8_t[bytes]);
      std::memcpy(copy.get(), blocks_[static_cast<size_t>(b)].get(), bytes);
      blocks_[static_cast<size_t>(b)] = std::move(copy);
    }
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
