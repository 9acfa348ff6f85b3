// Properties of the forward pass that must hold whatever the weights: a batch
// gives what token-by-token decoding gives, threads and batch splits do not
// change results, forked sequences behave like independent ones.
#include <gtest/gtest.h>

#include <fstream>

#include "common/test_data.h"
#include "core/error.h"
#include "model/forward.h"
#include "reference.h"

namespace lcte::model {
namespace {

using testing::rel_error;

const std::vector<int32_t> kPrompt = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426};

double max_rel(const std::vector<float>& a, const std::vector<float>& b, size_t V) {
  double worst = 0;
  for (size_t i = 0; i + V <= b.size(); i += V) {
    std::vector<float> row(b.begin() + static_cast<std::ptrdiff_t>(i), b.begin() + static_cast<std::ptrdiff_t>(i + V));
    worst = std::max(worst, rel_error(a.data() + i, row));
  }
  return worst;
}

class Forward : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string rel = "models/" + GetParam() + ".gguf";
    if (!lcte::testing::data_exists(rel)) GTEST_SKIP() << "data file absent: " << rel;
    model_ = Model::load(lcte::testing::data_path(rel));
  }
  std::unique_ptr<Model> model_;
};

TEST_P(Forward, BatchEqualsOneTokenAtATime) {
  ThreadPool pool(1);
  Context ctx(*model_, pool);
  const size_t V = static_cast<size_t>(ctx.n_vocab());
  std::vector<float> batched, one, steps;
  KvCache a = ctx.new_cache(64, KvType::F32);
  ctx.eval(a, kPrompt, Logits::All, batched);
  KvCache b = ctx.new_cache(64, KvType::F32);
  for (int32_t t : kPrompt) {
    ctx.eval(b, std::span<const int32_t>(&t, 1), Logits::Last, one);
    steps.insert(steps.end(), one.begin(), one.end());
  }
  EXPECT_LE(max_rel(steps, batched, V), 1e-5);
}

TEST_P(Forward, ThreadsAndBatchSplitsGiveTheSameLogits) {
  ThreadPool pool1(1), pool2(2), pool3(3);
  Context c1(*model_, pool1), c2(*model_, pool2), c3(*model_, pool3, /*max_batch=*/5);
  std::vector<float> l1, l2, l3;
  KvCache k1 = c1.new_cache(64), k2 = c2.new_cache(64);
  c1.eval(k1, kPrompt, Logits::All, l1);
  c2.eval(k2, kPrompt, Logits::All, l2);
  EXPECT_EQ(l1, l2);  // each output is computed by one thread the same way, whichever
  // Batches of 5: the kernels' tail tiles sum in another order (last-bit
  // differences), so compare with an F32 cache, where such differences stay
  // small; with F16 they can cross a rounding boundary of the cache.
  KvCache k32 = c1.new_cache(64, KvType::F32), k3 = c3.new_cache(64, KvType::F32);
  c1.eval(k32, kPrompt, Logits::All, l1);
  c3.eval(k3, kPrompt, Logits::All, l3);  // 16 tokens in batches of 5
  EXPECT_LE(max_rel(l3, l1, static_cast<size_t>(c1.n_vocab())), 1e-5);
}

TEST_P(Forward, ForkedSequencesDecodeLikeIndependentOnes) {
  ThreadPool pool(2);
  Context ctx(*model_, pool);
  const size_t V = static_cast<size_t>(ctx.n_vocab());
  std::vector<float> logits;
  KvCache prompt = ctx.new_cache(64);
  ctx.eval(prompt, kPrompt, Logits::Last, logits);
  // Three samples continue the prompt with different tokens, in one batch.
  KvCache s0 = prompt.fork(), s1 = prompt.fork(), s2 = prompt.fork();
  KvCache* seqs[3] = {&s0, &s1, &s2};
  const int32_t next[3][2] = {{300, 301}, {17, 400}, {300, 5}};
  std::vector<float> step;
  for (int j = 0; j < 2; ++j) {
    const int32_t toks[3] = {next[0][j], next[1][j], next[2][j]};
    ctx.eval_step(seqs, toks, step);
  }
  // Each must equal a fresh sequence fed prompt + its two tokens.
  for (int s = 0; s < 3; ++s) {
    KvCache fresh = ctx.new_cache(64);
    std::vector<int32_t> all = kPrompt;
    all.push_back(next[s][0]);
    all.push_back(next[s][1]);
    std::vector<float> want;
    ctx.eval(fresh, all, Logits::Last, want);
    std::vector<float> got(step.begin() + static_cast<std::ptrdiff_t>(s * V),
                           step.begin() + static_cast<std::ptrdiff_t>((s + 1) * V));
    EXPECT_LE(rel_error(got.data(), want), 1e-5) << "sequence " << s;
  }
  EXPECT_EQ(prompt.size(), static_cast<int64_t>(kPrompt.size()));  // the parent is untouched
}

TEST_P(Forward, F16CacheStaysCloseToF32) {
  ThreadPool pool(1);
  Context ctx(*model_, pool);
  std::vector<float> l16, l32;
  KvCache a = ctx.new_cache(64, KvType::F16), b = ctx.new_cache(64, KvType::F32);
  ctx.eval(a, kPrompt, Logits::All, l16);
  ctx.eval(b, kPrompt, Logits::All, l32);
  const double e = max_rel(l16, l32, static_cast<size_t>(ctx.n_vocab()));
  // K and V rounded to 11 significant bits: a few 1e-4 after a few layers.
  EXPECT_LE(e, 5e-3);
  EXPECT_GT(e, 0.0);  // the F16 cache really is in use
}

TEST_P(Forward, BadTokensAndFullContextAreErrors) {
  ThreadPool pool(1);
  Context ctx(*model_, pool);
  std::vector<float> logits;
  KvCache c = ctx.new_cache(8);
  const std::vector<int32_t> bad = {1, 2, static_cast<int32_t>(ctx.n_vocab())};
  EXPECT_THROW(ctx.eval(c, bad, Logits::Last, logits), Error);
  EXPECT_EQ(c.size(), 0);
  ctx.eval(c, std::span<const int32_t>(kPrompt.data(), 6), Logits::Last, logits);
  EXPECT_THROW(ctx.eval(c, std::span<const int32_t>(kPrompt.data(), 3), Logits::Last, logits), Error);
  EXPECT_EQ(c.size(), 6);
}

TEST(Greedy, Stories260KWritesLlama2cStory) {
  // 256 greedy tokens from BOS, as llama2.c's run.c produces them (an
  // independent implementation, on the original llama2.c weights).
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  LCTE_REQUIRE_DATA("models/stories260K.greedy256.expected.tokens.txt");
  std::ifstream in(lcte::testing::data_path("models/stories260K.greedy256.expected.tokens.txt"));
  std::vector<int32_t> want;
  for (int32_t t; in >> t;) want.push_back(t);
  ASSERT_EQ(want.size(), 256u);
  const auto m = Model::load(lcte::testing::data_path("models/stories260K-f32.gguf"));
  ThreadPool pool(2);
  Context ctx(*m, pool);
  KvCache cache = ctx.new_cache(512, KvType::F32);
  std::vector<float> logits;
  int32_t tok = 1;
  std::vector<int32_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    ctx.eval(cache, std::span<const int32_t>(&tok, 1), Logits::Last, logits);
    tok = testing::argmax(logits.data(), logits.size());
    got.push_back(tok);
  }
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Models, Forward,
                         ::testing::Values("stories260K-f32", "rand-qwen2-d256-f32", "rand-llama3-d256-f32"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace lcte::model
