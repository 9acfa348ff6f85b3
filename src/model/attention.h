// Causal self-attention of the query heads that share one KV head, over a
// sequence's KV cache. attend_scalar is the reference the tests compare with;
// attend runs an AVX2 version when the CPU has it, one function with its inner
// loops inlined, because with head sizes of 8 to 128 a call per position
// would cost more than the arithmetic. Each K and V row is read once for all
// the query heads of its group.
#pragma once

#include <cstdint>

#include "model/kv_cache.h"

namespace lcte::model {

// Writes one position's K and V rows (kv_dim floats each) into the cache at
// (layer, pos), converting to the cache's element type.
void store_kv(KvCache& cache, int64_t layer, int64_t pos, const float* k, const float* v);

// For the n_group query heads q[g*head_dim ..] that share KV head kv_head:
//   out[g] = softmax(q_g . K[t] * scale, t < n_pos) . V
// over the first n_pos positions of the cache. scores holds n_group * n_pos floats.
// The arithmetic is llama.cpp's, in its order (see attention.cpp); batched
// (more than one token in the forward batch) selects the order llama.cpp uses
// for the weighted sum of V in a batch of several tokens.
void attend(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t head_dim, int64_t n_group, const float* q,
            int64_t n_pos, float scale, bool batched, float* scores, float* out);
void attend_scalar(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t head_dim, int64_t n_group,
                   const float* q, int64_t n_pos, float scale, bool batched, float* scores, float* out);

}  // namespace lcte::model
