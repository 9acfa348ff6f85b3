// Training losses on the student's logits, each returning the loss and its
// gradient with respect to the logits (hand-derived; checked against finite
// differences in tests/train/losses_test.cpp).
//
// Hard labels: cross-entropy -log softmax(z)[y].
//
// Distillation from a SPARSE teacher. Per position the teacher gives its top-k
// token ids with their log-probabilities (full softmax at temperature 1) and
// `rest` = 1 - sum of the top-k probabilities. Both distributions are reduced
// to k+1 buckets: the k teacher tokens and one "rest" bucket holding every
// other token.
//   student, at temperature tau:  q = softmax(z / tau) over the full vocabulary;
//     q_b = q[id_b] for the k buckets; q_rest = sum of q over all other ids
//     (summed directly, not as 1 - sum, so that a small rest stays accurate).
//   teacher, at temperature tau:  p_b proportional to exp(logprob_b / tau) for
//     the k buckets and to rest^(1/tau) for the rest bucket, normalised over
//     the k+1 buckets. At tau = 1 this is exact. At tau != 1 the true tempered
//     tail mass is sum_j p_j^(1/tau) over the unseen tail, which the sparse
//     form cannot know: the tail is treated as ONE token of probability rest
//     (for tau > 1 this understates the tempered tail mass).
// Divergences on the k+1 buckets:
//   forward KL  KL(p||q) = sum_b p_b log(p_b / q_b)                (default)
//   reverse KL  KL(q||p) = sum_b q_b log(q_b / p_b)
//   JSD(beta)   beta KL(p||m) + (1-beta) KL(q||m),  m = beta p + (1-beta) q
// The distillation term is multiplied by tau^2 (so that its gradient keeps
// its size as tau changes), and mixed with the hard-label term:
//   loss = alpha * CE + (1 - alpha) * tau^2 * D
// Numerical guards: q_rest is floored at 1e-30 before its log; in reverse KL,
// log p_b is floored at log(1e-12) (a teacher bucket of probability 0 would
// otherwise make the loss infinite). Both floors are part of the loss
// definition, so the gradient stays exact for the loss as computed.
//
// Gradient, with h_b = dD/dq_b and E = sum_b q_b h_b, by the softmax chain rule
// through the buckets (each token l lies in exactly one bucket b(l)):
//   dD/dz_l = (q_l / tau) * (h_b(l) - E)
//   forward KL: q_b h_b = -p_b;  reverse KL: h_b = log(q_b/p_b) + 1;
//   JSD: h_b = (1-beta) log(q_b / m_b).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::train {

// One position's teacher signal: a view into a TeacherSignal.
struct TeacherTopK {
  int k = 0;
  const int32_t* ids = nullptr;     // k distinct token ids
  const float* logprobs = nullptr;  // log p_teacher(id), temperature 1
  float rest = 0;                   // 1 - sum_i exp(logprobs[i]), in [0, 1]
};

// The teacher signal of N positions, flat: position n's ids and logprobs are
// at [n*k, n*k + k).
struct TeacherSignal {
  int k = 0;
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
  std::vector<float> rest;

  size_t positions() const { return rest.size(); }
  TeacherTopK at(size_t n) const { return {k, ids.data() + n * k, logprobs.data() + n * k, rest[n]}; }
  void resize(size_t n, int k_);
};

// Fills position n of `out` with the top-k of softmax(logits) (vocab V):
// exact log-probabilities, rest summed over the other V-k tokens. Ties are
// broken by the smaller token id so that the result is deterministic.
void teacher_topk_from_logits(const float* logits, int V, int k, TeacherSignal& out, size_t n);
// All N positions of a [N][V] logit buffer.
TeacherSignal teacher_topk_from_logits(const float* logits, size_t N, int V, int k);

// Checks ids in [0, V) and distinct, logprobs finite and <= 0 (within 1e-4),
// rest in [0, 1] (within 1e-4; clamped there). Throws lcte::Error naming the
// position and field, which `what` prefixes.
void validate_teacher(TeacherSignal& t, int V, std::string_view what);

enum class Divergence { ForwardKL, ReverseKL, JSD };
Divergence divergence_from_name(std::string_view name);  // "fkl", "rkl", "jsd"
std::string_view divergence_name(Divergence d);

struct LossConfig {
  Divergence divergence = Divergence::ForwardKL;
  double beta = 0.5;         // JSD only, in (0, 1)
  double temperature = 1.0;  // tau > 0
  double alpha = 0.5;        // weight of hard-label CE; 1 = no distillation
  void validate() const;
};

struct LossStats {
  double loss = 0;  // mean over counted positions
  double ce = 0;    // mean hard-label CE (at temperature 1)
  double kd = 0;    // mean divergence D (without the tau^2 factor)
  int64_t positions = 0;
};

// Losses over N positions of [N][V] logits. targets[n] < 0 masks position n
// (no loss, zero gradient). teacher may be null (then alpha is taken as 1);
// otherwise it must hold N positions (validated by the caller).
// dlogits (may be null) is OVERWRITTEN with grad_scale * d(mean loss)/dlogits.
template <class T>
LossStats loss_forward_backward(const T* logits, size_t N, int V, const int32_t* targets, const TeacherSignal* teacher,
                                const LossConfig& cfg, T* dlogits, double grad_scale = 1.0);

}  // namespace lcte::train
