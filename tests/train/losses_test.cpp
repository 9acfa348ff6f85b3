// The losses: values against hand computation and direct full-vocabulary
// formulas, gradients against central finite differences in double.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "train/losses.h"

namespace lcte::train {
namespace {

using testing::expect_gradient;
using testing::random_vector;
using Vd = std::vector<double>;

std::vector<float> to_float(const Vd& v) { return std::vector<float>(v.begin(), v.end()); }

std::vector<double> softmax(const double* z, int V, double tau) {
  double m = -INFINITY;
  for (int j = 0; j < V; ++j) m = std::max(m, z[j] / tau);
  std::vector<double> p(V);
  double s = 0;
  for (int j = 0; j < V; ++j) s += p[j] = std::exp(z[j] / tau - m);
  for (double& x : p) x /= s;
  return p;
}

TEST(TrainLosses, CrossEntropyValueAndGradient) {
  const int N = 3, V = 5;
  Vd z = random_vector(N * V, 1, 2.0);
  std::vector<int32_t> y = {4, -1, 0};  // the middle position is masked
  LossConfig cfg;
  Vd dz(N * V);
  LossStats s = loss_forward_backward(z.data(), N, V, y.data(), nullptr, cfg, dz.data());
  EXPECT_EQ(s.positions, 2);
  const double ce0 = -std::log(softmax(&z[0], V, 1)[4]), ce2 = -std::log(softmax(&z[2 * V], V, 1)[0]);
  EXPECT_NEAR(s.loss, (ce0 + ce2) / 2, 1e-12);
  for (int j = 0; j < V; ++j) EXPECT_EQ(dz[V + j], 0.0);  // masked: zero gradient
  expect_gradient("ce", z, dz, [&] {
    return loss_forward_backward(z.data(), N, V, y.data(), nullptr, cfg, static_cast<double*>(nullptr)).loss;
  });
}

TEST(TrainLosses, TopKFromLogitsIsExact) {
  const int V = 9, k = 3;
  std::vector<float> z = {0.5f, 2.f, -1.f, 2.f, 0.f, 3.f, -2.f, 1.f, 0.25f};
  TeacherSignal t = teacher_topk_from_logits(z.data(), 1, V, k);
  // Sorted by logit, the tie 2.0 (ids 1 and 3) broken by the smaller id.
  EXPECT_EQ(t.ids, (std::vector<int32_t>{5, 1, 3}));
  Vd zd(z.begin(), z.end());
  Vd p = softmax(zd.data(), V, 1);
  double top = 0;
  for (int i = 0; i < k; ++i) {
    EXPECT_NEAR(t.logprobs[i], std::log(p[t.ids[i]]), 1e-6);
    top += p[t.ids[i]];
  }
  EXPECT_NEAR(t.rest[0], 1 - top, 1e-7);
}

TEST(TrainLosses, BucketDivergencesByHand) {
  // V = 3, teacher top-1 = token 0 with p = 0.5, rest 0.5; student logits 0
  // give q = 1/3 each, so the student's rest bucket holds 2/3.
  const int V = 3;
  TeacherSignal t;
  t.resize(1, 1);
  t.ids[0] = 0;
  t.logprobs[0] = std::log(0.5f);
  t.rest[0] = 0.5f;
  Vd z = {0, 0, 0};
  std::vector<int32_t> y = {1};
  const double a = 1.0 / 3, b = 2.0 / 3;
  auto run = [&](Divergence d, double beta, double tau) {
    LossConfig cfg;
    cfg.divergence = d;
    cfg.beta = beta;
    cfg.temperature = tau;
    cfg.alpha = 0;
    return loss_forward_backward(z.data(), 1, V, y.data(), &t, cfg, static_cast<double*>(nullptr));
  };
  EXPECT_NEAR(run(Divergence::ForwardKL, 0, 1).kd, 0.5 * std::log(0.5 / a) + 0.5 * std::log(0.5 / b), 1e-7);
  EXPECT_NEAR(run(Divergence::ReverseKL, 0, 1).kd, a * std::log(a / 0.5) + b * std::log(b / 0.5), 1e-7);
  const double m0 = (0.5 + a) / 2, m1 = (0.5 + b) / 2;
  const double jsd =
      0.5 * (0.5 * std::log(0.5 / m0) + 0.5 * std::log(0.5 / m1)) + 0.5 * (a * std::log(a / m0) + b * std::log(b / m1));
  EXPECT_NEAR(run(Divergence::JSD, 0.5, 1).kd, jsd, 1e-7);
  // tau = 2: teacher buckets 0.5^(1/2) and 0.5^(1/2) -> (1/2, 1/2); student
  // logits 0 stay uniform. The loss carries tau^2 = 4.
  LossStats s = run(Divergence::ForwardKL, 0, 2);
  EXPECT_NEAR(s.kd, 0.5 * std::log(0.5 / a) + 0.5 * std::log(0.5 / b), 1e-7);
  EXPECT_NEAR(s.loss, 4 * s.kd, 1e-12);
}

TEST(TrainLosses, FullSupportEqualsFullKL) {
  // k = V leaves no rest: the bucketed KL is the exact KL of the tempered
  // distributions, at any temperature.
  const int V = 6;
  Vd zt = random_vector(V, 2, 2.0), zs = random_vector(V, 3, 2.0);
  std::vector<float> zt_f = to_float(zt);
  TeacherSignal t = teacher_topk_from_logits(zt_f.data(), 1, V, V);
  std::vector<int32_t> y = {0};
  for (double tau : {1.0, 2.0, 0.7}) {
    Vd p = softmax(zt.data(), V, tau), q = softmax(zs.data(), V, tau);
    double fkl = 0, rkl = 0;
    for (int j = 0; j < V; ++j) {
      fkl += p[j] * std::log(p[j] / q[j]);
      rkl += q[j] * std::log(q[j] / p[j]);
    }
    LossConfig cfg;
    cfg.alpha = 0;
    cfg.temperature = tau;
    EXPECT_NEAR(loss_forward_backward(zs.data(), 1, V, y.data(), &t, cfg, static_cast<double*>(nullptr)).kd, fkl, 1e-6)
        << tau;
    cfg.divergence = Divergence::ReverseKL;
    EXPECT_NEAR(loss_forward_backward(zs.data(), 1, V, y.data(), &t, cfg, static_cast<double*>(nullptr)).kd, rkl, 1e-6)
        << tau;
  }
}

TEST(TrainLosses, StudentEqualToTeacherHasZeroDivergence) {
  const int V = 12, k = 4;
  Vd z = random_vector(V, 4, 3.0);
  std::vector<float> zf = to_float(z);
  TeacherSignal t = teacher_topk_from_logits(zf.data(), 1, V, k);
  std::vector<int32_t> y = {2};
  for (Divergence d : {Divergence::ForwardKL, Divergence::ReverseKL, Divergence::JSD}) {
    LossConfig cfg;
    cfg.alpha = 0;
    cfg.divergence = d;
    Vd dz(V);
    LossStats s = loss_forward_backward(z.data(), 1, V, y.data(), &t, cfg, dz.data());
    EXPECT_NEAR(s.kd, 0.0, 1e-6) << divergence_name(d);
    for (double g : dz) EXPECT_NEAR(g, 0.0, 1e-6) << divergence_name(d);
  }
}

struct KdCase {
  Divergence d;
  double beta, tau, alpha;
};

class TrainLossGradient : public ::testing::TestWithParam<KdCase> {};

TEST_P(TrainLossGradient, MatchesFiniteDifferences) {
  const KdCase c = GetParam();
  const int N = 4, V = 10, k = 4;
  Vd z = random_vector(N * V, 5, 2.0);
  std::vector<float> teacher_logits = to_float(random_vector(N * V, 6, 2.5));
  TeacherSignal t = teacher_topk_from_logits(teacher_logits.data(), N, V, k);
  validate_teacher(t, V, "test");
  std::vector<int32_t> y = {3, -1, 7, 0};
  LossConfig cfg;
  cfg.divergence = c.d;
  cfg.beta = c.beta;
  cfg.temperature = c.tau;
  cfg.alpha = c.alpha;
  Vd dz(N * V);
  const double grad_scale = 0.5;  // as with two accumulation steps
  LossStats s = loss_forward_backward(z.data(), N, V, y.data(), &t, cfg, dz.data(), grad_scale);
  EXPECT_GT(s.kd, 0);
  EXPECT_NEAR(s.loss, c.alpha * s.ce + (1 - c.alpha) * c.tau * c.tau * s.kd, 1e-12);
  expect_gradient("kd", z, dz, [&] {
    return grad_scale * loss_forward_backward(z.data(), N, V, y.data(), &t, cfg, static_cast<double*>(nullptr)).loss;
  });
  // The float path computes the same gradient to float accuracy.
  std::vector<float> zf = to_float(z), dzf(N * V);
  LossStats sf = loss_forward_backward(zf.data(), N, V, y.data(), &t, cfg, dzf.data(), grad_scale);
  EXPECT_NEAR(sf.loss, s.loss, 1e-5 * (1 + s.loss));
  for (int i = 0; i < N * V; ++i) EXPECT_NEAR(dzf[i], dz[i], 1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    AllDivergences, TrainLossGradient,
    ::testing::Values(KdCase{Divergence::ForwardKL, 0, 1, 0}, KdCase{Divergence::ForwardKL, 0, 2.5, 0},
                      KdCase{Divergence::ForwardKL, 0, 2, 0.3}, KdCase{Divergence::ReverseKL, 0, 1, 0},
                      KdCase{Divergence::ReverseKL, 0, 0.5, 0.7}, KdCase{Divergence::JSD, 0.1, 1, 0},
                      KdCase{Divergence::JSD, 0.5, 1, 0}, KdCase{Divergence::JSD, 0.9, 1, 0},
                      KdCase{Divergence::JSD, 0.5, 3, 0.5}, KdCase{Divergence::JSD, 0.9, 2, 0.2}));

TEST(TrainLosses, BadTeacherSignalIsRefused) {
  const int V = 5;
  auto make = [] {
    TeacherSignal t;
    t.resize(2, 2);
    t.ids = {0, 1, 2, 3};
    t.logprobs = {-1, -2, -1, -2};
    t.rest = {0.5f, 0.5f};
    return t;
  };
  TeacherSignal ok = make();
  EXPECT_NO_THROW(validate_teacher(ok, V, "cache"));
  auto expect_error = [&](TeacherSignal t, const std::string& needle) {
    try {
      validate_teacher(t, V, "cache.bin");
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("cache.bin"), std::string::npos) << e.what();
    }
  };
  TeacherSignal t = make();
  t.ids[3] = 2;
  expect_error(t, "position 1: teacher id 2 appears twice");
  t = make();
  t.ids[0] = 5;
  expect_error(t, "position 0: teacher id 5 outside");
  t = make();
  t.logprobs[1] = 0.5f;
  expect_error(t, "log-probability");
  t = make();
  t.logprobs[1] = NAN;
  expect_error(t, "log-probability");
  t = make();
  t.rest[1] = 1.5f;
  expect_error(t, "rest mass");
  LossConfig cfg;
  cfg.temperature = 0;
  EXPECT_THROW(cfg.validate(), Error);
  cfg = {};
  cfg.divergence = Divergence::JSD;
  cfg.beta = 1;
  EXPECT_THROW(cfg.validate(), Error);
  EXPECT_THROW(divergence_from_name("kld"), Error);
}

}  // namespace
}  // namespace lcte::train
