#include "train/losses.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace lcte::train {

void TeacherSignal::resize(size_t n, int k_) {
  k = k_;
  ids.assign(n * k_, 0);
  logprobs.assign(n * k_, 0.f);
  rest.assign(n, 0.f);
}

void teacher_topk_from_logits(const float* logits, int V, int k, TeacherSignal& out, size_t n) {
  if (k < 1 || k > V) fail("teacher top-k: k = {} must be in [1, vocab {}]", k, V);
  double maxv = -INFINITY;
  for (int j = 0; j < V; ++j) maxv = std::max(maxv, (double)logits[j]);
  double sum = 0;
  for (int j = 0; j < V; ++j) sum += std::exp(logits[j] - maxv);
  const double lse = maxv + std::log(sum);

  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int32_t a, int32_t b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; });
  double rest = 0;
  for (int j = k; j < V; ++j) rest += std::exp(logits[order[j]] - lse);
  for (int i = 0; i < k; ++i) {
    out.ids[n * k + i] = order[i];
    out.logprobs[n * k + i] = static_cast<float>(logits[order[i]] - lse);
  }
  out.rest[n] = static_cast<float>(rest);
}

TeacherSignal teacher_topk_from_logits(const float* logits, size_t N, int V, int k) {
  TeacherSignal t;
  t.resize(N, k);
  for (size_t n = 0; n < N; ++n) teacher_topk_from_logits(logits + n * V, V, k, t, n);
  return t;
}

void validate_teacher(TeacherSignal& t, int V, std::string_view what) {
  const size_t N = t.positions();
  if (t.k < 1) fail("{}: teacher top-k is {}, must be at least 1", what, t.k);
  if (t.ids.size() != N * t.k || t.logprobs.size() != N * t.k)
    fail("{}: teacher arrays hold {} ids and {} logprobs for {} positions of k = {}", what, t.ids.size(),
         t.logprobs.size(), N, t.k);
  std::vector<uint8_t> seen(V, 0);
  for (size_t n = 0; n < N; ++n) {
    for (int i = 0; i < t.k; ++i) {
      int32_t id = t.ids[n * t.k + i];
      float lp = t.logprobs[n * t.k + i];
      if (id < 0 || id >= V) fail("{}: position {}: teacher id {} outside the vocabulary [0, {})", what, n, id, V);
      if (seen[id]) fail("{}: position {}: teacher id {} appears twice in the top-k", what, n, id);
      seen[id] = 1;
      if (!std::isfinite(lp) || lp > 1e-4f)
        fail("{}: position {}: teacher log-probability {} of id {} is not a finite value <= 0", what, n, lp, id);
    }
    for (int i = 0; i < t.k; ++i) seen[t.ids[n * t.k + i]] = 0;
    float& r = t.rest[n];
    if (!std::isfinite(r) || r < -1e-4f || r > 1.f + 1e-4f)
      fail("{}: position {}: teacher rest mass {} is outside [0, 1]", what, n, r);
    r = std::clamp(r, 0.f, 1.f);
  }
}

Divergence divergence_from_name(std::string_view name) {
  if (name == "fkl" || name == "kl" || name == "forward-kl") return Divergence::ForwardKL;
  if (name == "rkl" || name == "reverse-kl") return Divergence::ReverseKL;
  if (name == "jsd") return Divergence::JSD;
  fail("unknown divergence '{}' (expected fkl, rkl or jsd)", name);
}

std::string_view divergence_name(Divergence d) {
  switch (d) {
    case Divergence::ForwardKL: return "fkl";
    case Divergence::ReverseKL: return "rkl";
    case Divergence::JSD: return "jsd";
  }
  return "?";
}

void LossConfig::validate() const {
  if (!(temperature > 0) || !std::isfinite(temperature)) fail("loss: temperature {} must be > 0", temperature);
  if (!(alpha >= 0 && alpha <= 1)) fail("loss: alpha {} must be in [0, 1]", alpha);
  if (divergence == Divergence::JSD && !(beta > 0 && beta < 1)) fail("loss: JSD beta {} must be in (0, 1)", beta);
}

namespace {

constexpr double kRestFloor = 1e-30;
constexpr double kLogTeacherFloor = -27.631021115928547;  // log(1e-12)

// The divergence between the k+1 teacher and student buckets at one position;
// writes the tau-softmax q into `q` and the per-bucket factors the gradient
// needs: g[b] = q_b h_b for the k top buckets, h_rest, and E = sum_b q_b h_b.
struct Buckets {
  double D = 0, h_rest = 0, E = 0;
};

template <class T>
Buckets kd_position(const T* z, int V, const TeacherTopK& t, const LossConfig& cfg, std::vector<T>& q,
                    std::vector<uint8_t>& mark, std::vector<double>& g) {
  const double tau = cfg.temperature;
  // student: q = softmax(z / tau); the V exponentials in T precision (the
  // costly part), their sum in double
  const T inv_tau = static_cast<T>(1.0 / tau);
  T maxz = z[0];
  for (int j = 1; j < V; ++j) maxz = std::max(maxz, z[j]);
  const T maxv = maxz * inv_tau;
  double sum = 0;
  for (int j = 0; j < V; ++j) {
    q[j] = std::exp(z[j] * inv_tau - maxv);
    sum += q[j];
  }
  const double lse = maxv + std::log(sum);
  const T inv_sum = static_cast<T>(1.0 / sum);
  for (int j = 0; j < V; ++j) q[j] *= inv_sum;
  for (int i = 0; i < t.k; ++i) mark[t.ids[i]] = 1;
  double q_rest = 0;
  for (int j = 0; j < V; ++j)
    if (!mark[j]) q_rest += q[j];
  for (int i = 0; i < t.k; ++i) mark[t.ids[i]] = 0;
  q_rest = std::max(q_rest, kRestFloor);
  const double log_q_rest = std::log(q_rest);

  // teacher: p_b proportional to exp(logprob_b / tau), rest^(1/tau)
  double pmax = t.rest > 0 ? std::log((double)t.rest) / tau : -INFINITY;
  for (int i = 0; i < t.k; ++i) pmax = std::max(pmax, (double)t.logprobs[i] / tau);
  double psum = t.rest > 0 ? std::exp(std::log((double)t.rest) / tau - pmax) : 0.0;
  for (int i = 0; i < t.k; ++i) psum += std::exp((double)t.logprobs[i] / tau - pmax);
  const double plse = pmax + std::log(psum);
  const double log_p_rest = t.rest > 0 ? std::log((double)t.rest) / tau - plse : -INFINITY;

  Buckets r;
  for (int i = 0; i <= t.k; ++i) {
    const bool is_rest = i == t.k;
    const double log_p = is_rest ? log_p_rest : (double)t.logprobs[i] / tau - plse;
    const double p = std::exp(log_p);
    const double log_q = is_rest ? log_q_rest : (double)(z[t.ids[i]] * inv_tau) - lse;
    const double qb = std::exp(log_q);
    double D = 0, gb = 0, h = 0;
    switch (cfg.divergence) {
      case Divergence::ForwardKL:
        D = p > 0 ? p * (log_p - log_q) : 0.0;
        gb = -p;
        h = -p / qb;
        break;
      case Divergence::ReverseKL: {
        const double lp = std::max(log_p, kLogTeacherFloor);
        D = qb * (log_q - lp);
        h = log_q - lp + 1.0;
        gb = qb * h;
        break;
      }
      case Divergence::JSD: {
        const double beta = cfg.beta;
        const double m = beta * p + (1 - beta) * qb;
        if (m <= 0) break;  // both zero: the bucket adds nothing
        const double log_m = std::log(m);
        D = (p > 0 ? beta * p * (log_p - log_m) : 0.0) + (qb > 0 ? (1 - beta) * qb * (log_q - log_m) : 0.0);
        h = (1 - beta) * (log_q - log_m);
        gb = qb > 0 ? qb * h : 0.0;
        break;
      }
    }
    r.D += D;
    r.E += gb;
    if (is_rest)
      r.h_rest = h;
    else
      g[i] = gb;
  }
  return r;
}

}  // namespace

template <class T>
LossStats loss_forward_backward(const T* logits, size_t N, int V, const int32_t* targets, const TeacherSignal* teacher,
                                const LossConfig& cfg, T* dlogits, double grad_scale) {
  cfg.validate();
  const double alpha = teacher != nullptr ? cfg.alpha : 1.0;
  const double tau = cfg.temperature;
  if (teacher != nullptr && teacher->positions() != N)
    fail("loss: teacher signal has {} positions, logits {}", teacher->positions(), N);
  for (size_t n = 0; n < N; ++n)
    if (targets[n] >= V) fail("loss: position {}: target {} outside the vocabulary [0, {})", n, targets[n], V);

  int64_t count = 0;
  for (size_t n = 0; n < N; ++n) count += targets[n] >= 0;
  std::vector<double> ce(N, 0.0), kd(N, 0.0);
  const double scale = count > 0 ? grad_scale / (double)count : 0.0;
  const int64_t NN = static_cast<int64_t>(N);

#pragma omp parallel if (N * (size_t)V > (1u << 15))
  {
    std::vector<T> q(V);
    std::vector<uint8_t> mark(V, 0);
    std::vector<double> g(teacher != nullptr ? teacher->k : 0);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < NN; ++n) {
      const T* z = logits + (size_t)n * V;
      T* dz = dlogits != nullptr ? dlogits + (size_t)n * V : nullptr;
      if (dz != nullptr) std::fill(dz, dz + V, T(0));
      const int32_t y = targets[n];
      if (y < 0) continue;
      if (alpha > 0) {
        // CE = lse(z) - z_y;  dCE/dz = softmax(z) - onehot(y)
        T maxv = z[0];
        for (int j = 1; j < V; ++j) maxv = std::max(maxv, z[j]);
        double sum = 0;
        for (int j = 0; j < V; ++j) {
          q[j] = std::exp(z[j] - maxv);
          sum += q[j];
        }
        ce[n] = maxv + std::log(sum) - z[y];
        if (dz != nullptr) {
          const T c = static_cast<T>(scale * alpha / sum);
          for (int j = 0; j < V; ++j) dz[j] = c * q[j];
          dz[y] -= static_cast<T>(scale * alpha);
        }
      }
      if (alpha < 1) {
        const TeacherTopK t = teacher->at(n);
        Buckets b = kd_position(z, V, t, cfg, q, mark, g);
        kd[n] = b.D;
        if (dz != nullptr) {
          // dD/dz_l = (q_l / tau)(h_b(l) - E), times (1 - alpha) tau^2
          const double c = scale * (1 - alpha) * tau;
          for (int j = 0; j < V; ++j) dz[j] += static_cast<T>(c * q[j] * (b.h_rest - b.E));
          // top-k tokens: replace the rest-bucket term by their own, (g_l - q_l E)
          for (int i = 0; i < t.k; ++i) {
            const int32_t id = t.ids[i];
            dz[id] += static_cast<T>(c * (g[i] - (double)q[id] * b.h_rest));
          }
        }
      }
    }
  }

  LossStats s;
  s.positions = count;
  if (count == 0) return s;
  for (size_t n = 0; n < N; ++n) {
    s.ce += ce[n];
    s.kd += kd[n];
  }
  s.ce /= count;
  s.kd /= count;
  s.loss = alpha * s.ce + (1 - alpha) * tau * tau * s.kd;
  return s;
}

template LossStats loss_forward_backward<float>(const float*, size_t, int, const int32_t*, const TeacherSignal*,
                                                const LossConfig&, float*, double);
template LossStats loss_forward_backward<double>(const double*, size_t, int, const int32_t*, const TeacherSignal*,
                                                 const LossConfig&, double*, double);

}  // namespace lcte::train
