// The optimiser side of training: AdamW with decoupled weight decay, the
// learning-rate schedule (linear warm-up, then cosine decay), and global-norm
// gradient clipping. All on flat F32 buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "train/model.h"

namespace lcte::train {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;  // decoupled: p -= lr * wd * p, on decay segments only
  void validate() const;
};

// lr(step), step counted from 0:
//   step < warmup:  max_lr * (step + 1) / warmup
//   after:          min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2,
//                   progress = (step - warmup) / max(1, total - warmup), capped at 1
struct LrSchedule {
  double max_lr = 1e-3;
  double min_lr = 1e-4;
  int64_t warmup = 0;
  int64_t total = 1000;
  double at(int64_t step) const;
  void validate() const;
};

class AdamW {
 public:
  AdamW(size_t n, const AdamWConfig& cfg);
  // One update with bias-corrected moments:
  //   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  t += 1
  //   p -= lr * ( m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps)  +  wd * p [decay segments] )
  void step(float* params, const float* grads, const std::vector<Segment>& segments, double lr);

  const AdamWConfig& config() const { return cfg_; }
  int64_t t = 0;
  std::vector<float> m, v;

 private:
  AdamWConfig cfg_;
};

// L2 norm of the whole gradient, summed in double in a fixed order (so that it
// does not depend on the thread count).
double grad_norm(const float* g, size_t n);
// Scales g so that its norm is at most max_norm (max_norm <= 0: no clipping).
// Returns the norm before clipping.
double clip_grad_norm(float* g, size_t n, double max_norm);

}  // namespace lcte::train
