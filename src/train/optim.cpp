#include "train/optim.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lcte::train {

void AdamWConfig::validate() const {
  if (!(beta1 >= 0 && beta1 < 1)) fail("adamw: beta1 {} must be in [0, 1)", beta1);
  if (!(beta2 >= 0 && beta2 < 1)) fail("adamw: beta2 {} must be in [0, 1)", beta2);
  if (!(eps > 0)) fail("adamw: eps {} must be > 0", eps);
  if (!(weight_decay >= 0)) fail("adamw: weight decay {} must be >= 0", weight_decay);
}

double LrSchedule::at(int64_t step) const {
  if (step < warmup) return max_lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
  return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

void LrSchedule::validate() const {
  if (!(max_lr > 0) || !std::isfinite(max_lr)) fail("lr: max_lr {} must be > 0", max_lr);
  if (!(min_lr >= 0) || min_lr > max_lr) fail("lr: min_lr {} must be in [0, max_lr {}]", min_lr, max_lr);
  if (warmup < 0) fail("lr: warm-up {} must be >= 0", warmup);
  if (total < 1) fail("lr: total steps {} must be >= 1", total);
}

AdamW::AdamW(size_t n, const AdamWConfig& cfg) : m(n, 0.f), v(n, 0.f), cfg_(cfg) { cfg.validate(); }

void AdamW::step(float* params, const float* grads, const std::vector<Segment>& segments, double lr) {
  t += 1;
  const double b1 = cfg_.beta1, b2 = cfg_.beta2;
  const double c1 = 1.0 - std::pow(b1, (double)t), c2 = 1.0 - std::pow(b2, (double)t);
  for (const Segment& s : segments) {
    const float wd = s.decay ? static_cast<float>(lr * cfg_.weight_decay) : 0.f;
    const int64_t end = static_cast<int64_t>(s.offset + s.size);
#pragma omp parallel for if (s.size > (1u << 15))
    for (int64_t i = static_cast<int64_t>(s.offset); i < end; ++i) {
      const float g = grads[i];
      m[i] = static_cast<float>(b1 * m[i] + (1 - b1) * g);
      v[i] = static_cast<float>(b2 * v[i] + (1 - b2) * g * g);
      const double mhat = m[i] / c1, vhat = v[i] / c2;
      params[i] -= static_cast<float>(lr * mhat / (std::sqrt(vhat) + cfg_.eps)) + wd * params[i];
    }
  }
}

double grad_norm(const float* g, size_t n) {
  // Fixed 4096-element blocks, each summed in order, then the blocks in order.
  const size_t block = 4096, nb = (n + block - 1) / block;
  std::vector<double> partial(nb, 0.0);
#pragma omp parallel for if (n > (1u << 16))
  for (int64_t b = 0; b < (int64_t)nb; ++b) {
    double s = 0;
    for (size_t i = b * block; i < std::min(n, (b + 1) * block); ++i) s += (double)g[i] * g[i];
    partial[b] = s;
  }
  double sum = 0;
  for (double p : partial) sum += p;
  return std::sqrt(sum);
}

double clip_grad_norm(float* g, size_t n, double max_norm) {
  const double norm = grad_norm(g, n);
  if (max_norm > 0 && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
    for (size_t i = 0; i < n; ++i) g[i] *= scale;
  }
  return norm;
}

}  // namespace lcte::train
