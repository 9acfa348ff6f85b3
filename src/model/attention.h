// Causal self-attention of one query head over a sequence's KV cache, and the
// small vector kernels it needs (dot products and axpy against F32 or F16
// rows). Each kernel has a scalar reference (the *_scalar functions, which the
// tests compare against) and an AVX2 version chosen at run time.
#pragma once

#include <cstdint>

#include "model/kv_cache.h"

namespace lcte::model {

namespace attn {

uint16_t fp32_to_fp16(float f);  // round to nearest even, as F16C does
float fp16_to_fp32(uint16_t h);

float dot_f32_scalar(const float* a, const float* b, int64_t n);
float dot_f16_scalar(const float* a, const uint16_t* b, int64_t n);
void axpy_f32_scalar(float* y, float a, const float* x, int64_t n);
void axpy_f16_scalar(float* y, float a, const uint16_t* x, int64_t n);
void to_f16_scalar(const float* x, uint16_t* y, int64_t n);

// Dispatching versions: AVX2+FMA+F16C when the CPU has them.
bool simd_available();
float dot_f32(const float* a, const float* b, int64_t n);
float dot_f16(const float* a, const uint16_t* b, int64_t n);
void axpy_f32(float* y, float a, const float* x, int64_t n);
void axpy_f16(float* y, float a, const uint16_t* x, int64_t n);
void to_f16(const float* x, uint16_t* y, int64_t n);

}  // namespace attn

// Writes one position's K and V rows (kv_dim floats each) into the cache at
// (layer, pos), converting to the cache's element type.
void store_kv(KvCache& cache, int64_t layer, int64_t pos, const float* k, const float* v);

// out[0..head_dim) = softmax(q . K[t] * scale for t < n_pos) . V over the first
// n_pos positions of the cache, for KV head kv_head. scores holds n_pos floats.
void attend(const KvCache& cache, int64_t layer, int64_t kv_head, int64_t head_dim, const float* q,
            int64_t n_pos, float scale, float* scores, float* out);

}  // namespace lcte::model
