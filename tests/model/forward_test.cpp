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

// A test name from a model file name: its non-alphanumerics as '_'.
std::string model_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

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
  // Each must equal a fresh sequence fed the prompt, then its two tokens one
  // at a time, bit for bit (a decode batch keeps each token's one-token
  // arithmetic).
  for (int s = 0; s < 3; ++s) {
    KvCache fresh = ctx.new_cache(64);
    std::vector<float> want;
    ctx.eval(fresh, kPrompt, Logits::Last, want);
    for (int j = 0; j < 2; ++j) ctx.eval(fresh, std::span<const int32_t>(&next[s][j], 1), Logits::Last, want);
    std::vector<float> got(step.begin() + static_cast<std::ptrdiff_t>(s * V),
                           step.begin() + static_cast<std::ptrdiff_t>((s + 1) * V));
    EXPECT_EQ(got, want) << "sequence " << s;
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

// Continuous batching's guarantee: a sequence decoded in a batch with other
// sequences (of other prompt lengths, joining and leaving at other steps)
// gets bit for bit the logits it gets decoded alone, one token per forward.
class BatchedDecode : public ::testing::TestWithParam<std::tuple<std::string, KvType>> {};

TEST_P(BatchedDecode, EachSequenceGetsTheLogitsItGetsAlone) {
  const std::string rel = "models/" + std::get<0>(GetParam()) + ".gguf";
  if (!lcte::testing::data_exists(rel)) GTEST_SKIP() << "data file absent: " << rel;
  const auto model = Model::load(lcte::testing::data_path(rel));
  const KvType kv = std::get<1>(GetParam());
  ThreadPool pool(2);
  Context ctx(*model, pool);
  const int64_t V = ctx.n_vocab();
  // Sequence s: a prompt of prompt_len[s] tokens, joins the batch at step
  // join[s], decodes steps[s] tokens, then leaves.
  const int n_seq = 5;
  const int prompt_len[n_seq] = {3, 16, 1, 9, 12};
  const int join[n_seq] = {0, 0, 2, 5, 6};
  const int steps[n_seq] = {12, 4, 9, 7, 3};
  auto token = [&](int s, int j) { return static_cast<int32_t>((37 * s + 11 * j + 5) % (V - 3) + 3); };
  std::vector<KvCache> caches;
  std::vector<float> logits;
  for (int s = 0; s < n_seq; ++s) {
    caches.push_back(ctx.new_cache(64, kv));
    ctx.eval(caches.back(), std::span<const int32_t>(kPrompt.data(), static_cast<size_t>(prompt_len[s])), Logits::Last,
             logits);
  }
  std::vector<std::vector<float>> batched(n_seq);  // each sequence's rows, in its order
  int most_at_once = 0;
  for (int step = 0; step < 20; ++step) {
    std::vector<KvCache*> in;
    std::vector<int32_t> toks;
    std::vector<int> who;
    for (int s = 0; s < n_seq; ++s)
      if (step >= join[s] && step < join[s] + steps[s]) {
        in.push_back(&caches[static_cast<size_t>(s)]);
        toks.push_back(token(s, step - join[s]));
        who.push_back(s);
      }
    if (in.empty()) continue;
    most_at_once = std::max(most_at_once, static_cast<int>(in.size()));
    ctx.eval_step(in, toks, logits);
    for (size_t k = 0; k < who.size(); ++k)
      batched[static_cast<size_t>(who[k])].insert(batched[static_cast<size_t>(who[k])].end(),
                                                  logits.begin() + static_cast<std::ptrdiff_t>(k * V),
                                                  logits.begin() + static_cast<std::ptrdiff_t>((k + 1) * V));
  }
  ASSERT_GE(most_at_once, 4);
  for (int s = 0; s < n_seq; ++s) {
    KvCache alone = ctx.new_cache(64, kv);
    ctx.eval(alone, std::span<const int32_t>(kPrompt.data(), static_cast<size_t>(prompt_len[s])), Logits::Last, logits);
    std::vector<float> rows;
    for (int j = 0; j < steps[s]; ++j) {
      const int32_t t = token(s, j);
      ctx.eval(alone, std::span<const int32_t>(&t, 1), Logits::Last, logits);
      rows.insert(rows.end(), logits.begin(), logits.end());
    }
    ASSERT_EQ(rows.size(), batched[static_cast<size_t>(s)].size());
    size_t differing = 0;
    for (size_t i = 0; i < rows.size(); ++i) differing += rows[i] != batched[static_cast<size_t>(s)][i];
    EXPECT_EQ(differing, 0u) << "sequence " << s << ": " << differing << " of " << rows.size()
                             << " logits differ from the sequence decoded alone (max rel "
                             << max_rel(batched[static_cast<size_t>(s)], rows, static_cast<size_t>(V)) << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, BatchedDecode,
    ::testing::Combine(::testing::Values("stories260K-f32", "rand-llama-d256-f32", "rand-llama-d256-f16",
                                         "rand-llama-d256-bf16", "rand-llama-d256-q8_0", "rand-llama-d256-q4_0",
                                         "rand-llama-d256-q4_k_m", "rand-llama-d256-q6_k", "rand-llama-d256-q2_k",
                                         "rand-llama3-d256-q8_0", "rand-qwen2-d256-q4_k_m"),
                       ::testing::Values(KvType::F32, KvType::F16)),
    [](const auto& info) {
      std::string s = std::get<0>(info.param) + "_" + kv_type_name(std::get<1>(info.param));
      for (char& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

// A prompt fed for its last logits runs the last layer's FFN on the last row
// alone (as llama.cpp does with one output). Where that FFN and the output
// matrix are quantized, whose kernels sum in the same order for one token or
// many, those logits are the bits of the last row of Logits::All; float
// weights take the one-token order there, so they are close, not equal. The
// prompt's K and V are untouched: the tokens decoded after it get the same
// bits either way. A split prompt skips the FFN in every piece but the last.
class LastLogits : public Forward {};

TEST_P(LastLogits, TheLastLayersFfnRunsOnTheLastRowAlone) {
  ThreadPool pool(2);
  Context ctx(*model_, pool), small(*model_, pool, /*max_batch=*/8);
  const size_t V = static_cast<size_t>(ctx.n_vocab());
  const Layer& last = model_->layers().back();
  bool same_order = true;
  for (const Matrix* w : {&last.w_gate, &last.w_up, &last.w_down, &model_->output()})
    same_order = same_order && same_order_at_any_batch(w->type);

  KvCache a = ctx.new_cache(64, KvType::F32), b = ctx.new_cache(64, KvType::F32), c = small.new_cache(64, KvType::F32);
  std::vector<float> all, last_only, split;
  ctx.eval(a, kPrompt, Logits::All, all);
  ctx.eval(b, kPrompt, Logits::Last, last_only);
  small.eval(c, kPrompt, Logits::Last, split);  // forwards of 8 and 8
  const std::vector<float> all_last(all.end() - static_cast<std::ptrdiff_t>(V), all.end());
  ASSERT_EQ(last_only.size(), V);
  if (same_order)
    EXPECT_EQ(last_only, all_last);
  else
    EXPECT_LE(rel_error(last_only.data(), all_last), 1e-5);
  EXPECT_EQ(split, last_only);

  const int32_t next = static_cast<int32_t>(V / 2);
  std::vector<float> after_all, after_last;
  ctx.eval(a, std::span<const int32_t>(&next, 1), Logits::Last, after_all);
  ctx.eval(b, std::span<const int32_t>(&next, 1), Logits::Last, after_last);
  EXPECT_EQ(after_last, after_all);
}

TEST_P(LastLogits, AnActivationObserverSeesEveryRowOfTheLastLayer) {
  ThreadPool pool(1);
  Context ctx(*model_, pool);
  const std::string down = model_->layers().back().w_down.name;
  int64_t rows = -1;
  ctx.set_activation_observer([&](std::string_view w, const float*, int64_t ntok, int64_t) {
    if (w == down) rows = ntok;
  });
  KvCache cache = ctx.new_cache(64);
  std::vector<float> logits;
  ctx.eval(cache, kPrompt, Logits::Last, logits);
  EXPECT_EQ(rows, static_cast<int64_t>(kPrompt.size()));
}

INSTANTIATE_TEST_SUITE_P(Models, LastLogits,
                         ::testing::Values("stories260K-f32", "rand-llama-d256-f16", "rand-llama-d256-bf16",
                                           "rand-llama-d256-q8_0", "rand-llama-d256-q4_0", "rand-llama-d256-q4_k_m",
                                           "rand-llama-d256-q6_k", "rand-qwen2-d256-q4_k_m"),
                         model_param_name);

// A prompt evaluated in pieces (Context::eval's split at max_batch, or one
// eval call per piece, as chunked prefill does) gets the bits of one forward:
// every piece is a forward of at least 2 tokens, and the kernels' order does
// not depend on how many tokens a forward has beyond that. Checked on the
// logits of every prompt position
// and of two tokens decoded after it (which read every position's K and V).
class PromptSplit : public ::testing::TestWithParam<std::tuple<std::string, KvType>> {};

TEST_P(PromptSplit, PiecesGiveTheBitsOfOneForward) {
  const std::string name = std::get<0>(GetParam());
  const std::string rel = "models/" + name + ".gguf";
  if (!lcte::testing::data_exists(rel)) GTEST_SKIP() << "data file absent: " << rel;
  const auto model = Model::load(lcte::testing::data_path(rel));
  const KvType kv = std::get<1>(GetParam());
  ThreadPool pool(2);
  Context whole(*model, pool), small(*model, pool, /*max_batch=*/16);
  const int64_t V = whole.n_vocab();
  std::vector<int32_t> prompt;
  for (int i = 0; i < 33; ++i) prompt.push_back(static_cast<int32_t>((i * 53 + i * i * 7 + 1) % (V - 3) + 3));
  const int32_t next[2] = {static_cast<int32_t>(V / 2), static_cast<int32_t>(V / 3)};
  // Prompt rows, then the two decoded tokens' rows.
  auto run = [&](Context& ctx, const std::vector<int64_t>& pieces) {
    KvCache cache = ctx.new_cache(64, kv);
    std::vector<float> rows, logits;
    size_t at = 0;
    for (int64_t n : pieces) {
      ctx.eval(cache, std::span<const int32_t>(prompt.data() + at, static_cast<size_t>(n)), Logits::All, logits);
      rows.insert(rows.end(), logits.begin(), logits.end());
      at += static_cast<size_t>(n);
    }
    EXPECT_EQ(at, prompt.size());
    for (int32_t t : next) {
      ctx.eval(cache, std::span<const int32_t>(&t, 1), Logits::Last, logits);
      rows.insert(rows.end(), logits.begin(), logits.end());
    }
    return rows;
  };
  const std::vector<float> want = run(whole, {33});
  auto expect_same = [&](const std::vector<float>& got, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    size_t differing = 0;
    for (size_t i = 0; i < got.size(); ++i) differing += got[i] != want[i];
    EXPECT_EQ(differing, 0u) << what << ": " << differing << " of " << got.size()
                             << " logits differ from one forward (max rel "
                             << max_rel(got, want, static_cast<size_t>(V)) << ")";
  };
  expect_same(run(small, {33}), "max_batch 16 (forwards of 16, 8 and 9)");
  expect_same(run(whole, {16, 8, 9}), "eval calls of 16, 8, 9");
  expect_same(run(whole, {24, 9}), "eval calls of 24, 9");
  expect_same(run(whole, {8, 16, 2, 7}), "eval calls of 8, 16, 2, 7");
  expect_same(run(whole, {7, 7, 7, 7, 5}), "eval calls of 7 x 4 and 5");
  expect_same(run(whole, {2, 3, 5, 11, 12}), "eval calls of 2, 3, 5, 11, 12");
}

INSTANTIATE_TEST_SUITE_P(
    Models, PromptSplit,
    ::testing::Combine(::testing::Values("stories260K-f32", "rand-llama-d256-f32", "rand-llama-d256-f16",
                                         "rand-llama-d256-bf16", "rand-llama-d256-q8_0", "rand-llama-d256-q4_0",
                                         "rand-llama-d256-q4_1", "rand-llama-d256-q5_0", "rand-llama-d256-q5_1",
                                         "rand-llama-d256-q2_k", "rand-llama-d256-q3_k_m", "rand-llama-d256-q4_k_m",
                                         "rand-llama-d256-q5_k_m", "rand-llama-d256-q6_k", "rand-qwen2-d256-q4_k_m",
                                         "rand-llama3-d256-q8_0"),
                       ::testing::Values(KvType::F32, KvType::F16)),
    [](const auto& info) {
      std::string s = std::get<0>(info.param) + "_" + kv_type_name(std::get<1>(info.param));
      for (char& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

TEST(EvalStep, FullCacheLeavesEverySequenceAsItWas) {
  const std::string rel = "models/stories260K-f32.gguf";
  if (!lcte::testing::data_exists(rel)) GTEST_SKIP() << "data file absent: " << rel;
  const auto model = Model::load(lcte::testing::data_path(rel));
  ThreadPool pool(1);
  Context ctx(*model, pool);
  std::vector<float> logits;
  KvCache a = ctx.new_cache(64), b = ctx.new_cache(4);
  ctx.eval(a, std::span<const int32_t>(kPrompt.data(), 4), Logits::Last, logits);
  ctx.eval(b, std::span<const int32_t>(kPrompt.data(), 4), Logits::Last, logits);
  KvCache* both[2] = {&a, &b};
  const int32_t toks[2] = {5, 6};
  EXPECT_THROW(ctx.eval_step(both, toks, logits), Error);  // b is full
  EXPECT_EQ(a.size(), 4);
  EXPECT_EQ(b.size(), 4);
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
                         model_param_name);

}  // namespace
}  // namespace lcte::model
