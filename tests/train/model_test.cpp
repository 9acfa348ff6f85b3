// The whole model's gradient against central finite differences in double
// precision: every parameter, with untied and tied output heads, with a
// distillation loss, and for LoRA adapters over a frozen base.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "train/losses.h"
#include "train/model.h"

namespace lcte::train {
namespace {

using testing::expect_gradient;
using testing::random_vector;

ModelConfig tiny_config(bool tied) {
  ModelConfig c;
  c.vocab = 11;
  c.dim = 8;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 12;
  c.context = 16;
  c.tied_output = tied;
  return c;
}

struct Batch {
  int B = 2, T = 5;
  std::vector<int32_t> tokens, targets;
};

Batch tiny_batch(int vocab) {
  Batch b;
  SplitMix64 rng(77);
  for (int i = 0; i < b.B * b.T; ++i) {
    b.tokens.push_back(static_cast<int32_t>(rng.below(vocab)));
    b.targets.push_back(static_cast<int32_t>(rng.below(vocab)));
  }
  b.targets[3] = -1;  // a masked position
  return b;
}

// Makes the randomly initialised weights larger so that every path (attention
// scores, SwiGLU curvature) contributes visibly to the gradient.
void scale_up(Model<double>& m) {
  SplitMix64 rng(5);
  for (const ParamTensor& t : m.layout().tensors) {
    double* p = m.params().data() + t.offset;
    for (size_t i = 0; i < t.size; ++i)
      p[i] = t.kind == ParamKind::Norm ? 1.0 + 0.3 * rng.normal() : 0.5 * rng.normal();
  }
}

void check_model(Model<double>& m, const Batch& b, const TeacherSignal* teacher, const LossConfig& cfg,
                 const std::string& what) {
  const int V = m.config().vocab;
  const size_t N = (size_t)b.B * b.T;
  auto loss = [&] {
    const double* logits = m.forward(b.tokens.data(), b.B, b.T);
    return loss_forward_backward(logits, N, V, b.targets.data(), teacher, cfg, static_cast<double*>(nullptr)).loss;
  };
  const double* logits = m.forward(b.tokens.data(), b.B, b.T);
  std::vector<double> dlogits(N * V);
  loss_forward_backward(logits, N, V, b.targets.data(), teacher, cfg, dlogits.data());
  m.zero_grad();
  m.backward(dlogits.data());
  std::vector<double> analytic(m.trainable_grads(), m.trainable_grads() + m.trainable_size());
  std::vector<double>& x = m.lora_enabled() ? m.lora_params() : m.params();
  expect_gradient(what, x, analytic, loss, 1e-5, 1e-9);
}

TEST(TrainModel, GradientMatchesFiniteDifferences) {
  Model<double> m(tiny_config(false));
  m.init_random(1);
  scale_up(m);
  check_model(m, tiny_batch(11), nullptr, LossConfig{}, "model (untied, CE)");
}

TEST(TrainModel, TiedOutputGradientMatchesFiniteDifferences) {
  Model<double> m(tiny_config(true));
  EXPECT_EQ(m.layout().output, m.layout().token_embd);
  EXPECT_EQ(m.layout().find("output.weight"), nullptr);
  m.init_random(2);
  scale_up(m);
  check_model(m, tiny_batch(11), nullptr, LossConfig{}, "model (tied, CE)");
}

TEST(TrainModel, DistillationGradientMatchesFiniteDifferences) {
  Model<double> m(tiny_config(false));
  m.init_random(3);
  scale_up(m);
  Batch b = tiny_batch(11);
  std::vector<float> teacher_logits(b.tokens.size() * 11);
  SplitMix64 rng(9);
  for (float& z : teacher_logits) z = static_cast<float>(2 * rng.normal());
  TeacherSignal t = teacher_topk_from_logits(teacher_logits.data(), b.tokens.size(), 11, 4);
  LossConfig cfg;
  cfg.divergence = Divergence::JSD;
  cfg.beta = 0.3;
  cfg.temperature = 2;
  cfg.alpha = 0.25;
  check_model(m, b, &t, cfg, "model (JSD, T=2, alpha=0.25)");
}

TEST(TrainModel, LoraGradientMatchesFiniteDifferences) {
  Model<double> m(tiny_config(false));
  m.init_random(4);
  scale_up(m);
  LoraConfig lc;
  lc.rank = 2;
  lc.alpha = 3;
  m.enable_lora(lc, 11);
  // B starts at zero (no gradient reaches A then); give it values for the check.
  SplitMix64 rng(12);
  for (double& p : m.lora_params()) p += 0.3 * rng.normal();
  const std::vector<double> base = m.params();
  check_model(m, tiny_batch(11), nullptr, LossConfig{}, "lora adapters");
  EXPECT_EQ(m.params(), base);  // the base stays frozen
}

TEST(TrainModel, LoraStartsEqualToBaseAndMergeReproducesIt) {
  Model<double> m(tiny_config(false));
  m.init_random(5);
  scale_up(m);
  Batch b = tiny_batch(11);
  const size_t n = b.tokens.size() * 11;
  std::vector<double> before(m.forward(b.tokens.data(), b.B, b.T), m.forward(b.tokens.data(), b.B, b.T) + n);
  LoraConfig lc;
  lc.rank = 3;
  lc.targets = LoraConfig::parse_targets("q,v,down");
  m.enable_lora(lc, 1);
  const double* with_zero_b = m.forward(b.tokens.data(), b.B, b.T);
  for (size_t i = 0; i < n; ++i) EXPECT_DOUBLE_EQ(with_zero_b[i], before[i]);
  // After a change to B, the merged plain model computes the adapted logits.
  SplitMix64 rng(3);
  for (double& p : m.lora_params()) p += 0.2 * rng.normal();
  std::vector<double> adapted(m.forward(b.tokens.data(), b.B, b.T), m.forward(b.tokens.data(), b.B, b.T) + n);
  Model<double> merged(tiny_config(false));
  merged.params() = m.params();
  m.merge_lora_into(merged.params());
  const double* ml = merged.forward(b.tokens.data(), b.B, b.T);
  double max_diff = 0, max_change = 0;
  for (size_t i = 0; i < n; ++i) {
    max_diff = std::max(max_diff, std::fabs(ml[i] - adapted[i]));
    max_change = std::max(max_change, std::fabs(adapted[i] - before[i]));
  }
  EXPECT_LT(max_diff, 1e-12);
  EXPECT_GT(max_change, 1e-3);
}

TEST(TrainModel, BadShapesAndTokensAreRefused) {
  ModelConfig c = tiny_config(false);
  c.n_heads = 3;
  EXPECT_THROW(c.validate(), Error);
  c = tiny_config(false);
  c.n_kv_heads = 3;
  EXPECT_THROW(c.validate(), Error);
  c = tiny_config(false);
  c.vocab = -1;
  EXPECT_THROW(c.validate(), Error);
  Model<float> m(tiny_config(false));
  std::vector<int32_t> bad = {1, 2, 11};
  EXPECT_THROW(m.forward(bad.data(), 1, 3), Error);
  std::vector<int32_t> long_seq(17, 0);
  EXPECT_THROW(m.forward(long_seq.data(), 1, 17), Error);
  EXPECT_THROW(LoraConfig::parse_targets("q,x"), Error);
  // A model made without gradients (a teacher) runs forward but refuses backward.
  Model<float> frozen(tiny_config(false), /*with_grads=*/false);
  EXPECT_TRUE(frozen.grads().empty());
  std::vector<int32_t> ok = {1, 2, 3};
  frozen.forward(ok.data(), 1, 3);
  std::vector<float> dlogits(3 * 11, 0.f);
  EXPECT_THROW(frozen.backward(dlogits.data()), Error);
}

TEST(TrainModel, MemoryPlanCountsEveryBuffer) {
  ModelConfig c = tiny_config(false);
  const int B = 2, T = 5;
  MemoryPlan p = plan_memory(c, B, T, nullptr);
  Model<float> m(c);
  EXPECT_EQ(p.weights, m.params().size() * 4);
  EXPECT_EQ(p.gradients, m.grads().size() * 4);
  EXPECT_EQ(p.optimizer, 2 * m.params().size() * 4);
  EXPECT_EQ(p.logits_grad, (size_t)B * T * c.vocab * 4);
  std::vector<int32_t> tokens(B * T, 1);
  m.forward(tokens.data(), B, T);
  EXPECT_EQ(p.activations, (m.act_layout().total + m.act_layout().scratch_total) * 4);
  LoraConfig lc;
  lc.rank = 1;  // on this 8-wide model a larger rank would outweigh the base
  MemoryPlan pl = plan_memory(c, B, T, &lc);
  EXPECT_LT(pl.gradients, p.gradients);
  EXPECT_EQ(pl.gradients, LoraLayout::make(c, lc).total * 4);
}

}  // namespace
}  // namespace lcte::train
