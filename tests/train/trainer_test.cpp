// The optimiser, schedule, data order and training loop: values by hand,
// falling and overfitting losses on tiny models, gradient accumulation, and
// bit-identical resume from a checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "common/test_data.h"
#include "core/error.h"
#include "core/random.h"
#include "train/trainer.h"

namespace lcte::train {
namespace {

TEST(TrainOptim, ScheduleWarmsUpThenFollowsCosine) {
  LrSchedule s{1.0, 0.1, 4, 14};
  EXPECT_DOUBLE_EQ(s.at(0), 0.25);
  EXPECT_DOUBLE_EQ(s.at(3), 1.0);
  EXPECT_DOUBLE_EQ(s.at(4), 1.0);                // cosine starts at the top
  EXPECT_NEAR(s.at(9), 0.1 + 0.9 * 0.5, 1e-12);  // halfway: cos(pi/2) = 0
  EXPECT_NEAR(s.at(14), 0.1, 1e-12);
  EXPECT_NEAR(s.at(100), 0.1, 1e-12);  // stays at the floor
  LrSchedule bad{1.0, 2.0, 0, 10};
  EXPECT_THROW(bad.validate(), Error);
}

TEST(TrainOptim, AdamWMatchesDoubleReference) {
  // Three steps of AdamW on 4 parameters, two decayed, against the update
  // written out in double.
  AdamWConfig cfg;
  cfg.weight_decay = 0.1;
  AdamW opt(4, cfg);
  std::vector<float> p = {1.f, -2.f, 0.5f, 3.f};
  std::vector<double> pd(p.begin(), p.end()), m(4, 0), v(4, 0);
  const std::vector<Segment> segs = {{0, 2, true}, {2, 2, false}};
  const double lr = 0.01;
  for (int t = 1; t <= 3; ++t) {
    std::vector<float> g = {0.5f * t, -0.25f, 1.5f / t, 0.f};
    opt.step(p.data(), g.data(), segs, lr);
    for (int i = 0; i < 4; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
      const double mhat = m[i] / (1 - std::pow(0.9, t)), vhat = v[i] / (1 - std::pow(0.95, t));
      const double wd = i < 2 ? lr * 0.1 * pd[i] : 0.0;
      pd[i] -= lr * mhat / (std::sqrt(vhat) + 1e-8) + wd;
    }
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(p[i], pd[i], 1e-6) << i;
  EXPECT_FLOAT_EQ(p[3], 3.f);  // zero gradient, no decay: unchanged
  EXPECT_EQ(opt.t, 3);
}

TEST(TrainOptim, ClipScalesToTheGlobalNorm) {
  std::vector<float> g = {3.f, 4.f};
  EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 1.0), 5.0);
  EXPECT_FLOAT_EQ(g[0], 0.6f);
  EXPECT_FLOAT_EQ(g[1], 0.8f);
  std::vector<float> small = {0.3f, 0.4f};
  clip_grad_norm(small.data(), 2, 1.0);
  EXPECT_FLOAT_EQ(small[0], 0.3f);  // under the limit: untouched
}

TEST(TrainData, RowsShiftTargetsAndRespectMasks) {
  Batch b;
  b.B = 1;
  b.T = 5;
  b.tokens.resize(5);
  b.targets.resize(5);
  fill_row(b, 0, Example{{7, 8, 9, 10}, {0, 0, 1, 1}}, 0);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{7, 8, 9, 10, 0}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{-1, 9, 10, -1, -1}));
  auto chunks = chunk_stream({1, 2, 3, 4, 5, 6, 7}, 3);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].tokens, (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(chunks[1].tokens, (std::vector<int32_t>{4, 5, 6, 7}));
}

std::vector<Example> numbered_examples(int n) {
  std::vector<Example> ex;
  for (int i = 0; i < n; ++i) ex.push_back({{i, i + 1}, {}});
  return ex;
}

TEST(TrainData, SeededOrderCoversEveryExampleOncePerEpoch) {
  DataLoader a(numbered_examples(10), 5, 1, 42), b(numbered_examples(10), 5, 1, 42), c(numbered_examples(10), 5, 1, 7);
  std::vector<int64_t> seen_a, seen_b, seen_c;
  for (int i = 0; i < 4; ++i) {  // two epochs
    for (int64_t r : a.next().rows) seen_a.push_back(r);
    for (int64_t r : b.next().rows) seen_b.push_back(r);
    for (int64_t r : c.next().rows) seen_c.push_back(r);
  }
  EXPECT_EQ(seen_a, seen_b);
  EXPECT_NE(seen_a, seen_c);
  std::set<int64_t> first(seen_a.begin(), seen_a.begin() + 10), second(seen_a.begin() + 10, seen_a.end());
  EXPECT_EQ(first.size(), 10u);
  EXPECT_EQ(second.size(), 10u);
  EXPECT_NE(std::vector<int64_t>(seen_a.begin(), seen_a.begin() + 10),
            std::vector<int64_t>(seen_a.begin() + 10, seen_a.end()));  // reshuffled
  // Restoring a saved position continues identically.
  DataLoader d(numbered_examples(10), 3, 1, 42);
  d.next();
  d.next();
  DataLoader::State s = d.state();
  auto expect = d.next().rows;
  DataLoader e(numbered_examples(10), 3, 1, 42);
  e.restore(s);
  EXPECT_EQ(e.next().rows, expect);
  Split sp = seeded_split(974, 800, 100, 74, 1);
  std::set<int64_t> all(sp.train.begin(), sp.train.end());
  all.insert(sp.valid.begin(), sp.valid.end());
  all.insert(sp.test.begin(), sp.test.end());
  EXPECT_EQ(all.size(), 974u);
  EXPECT_THROW(seeded_split(10, 8, 2, 1, 1), Error);
}

TEST(TrainData, TokenJsonlFormsAndErrors) {
  const std::string dir = testing::temp_dir();
  const std::string path = dir + "/data.jsonl";
  std::ofstream(path) << "{\"tokens\": [1, 2, 3]}\n"
                         "\n"
                         "{\"tokens\": [4, 5, 6], \"mask\": [0, 0, 1]}\n"
                         "{\"prompt\": [7, 8], \"completion\": [9]}\n";
  auto ex = read_token_jsonl(path, 10);
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_TRUE(ex[0].mask.empty());
  EXPECT_EQ(ex[1].mask, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(ex[2].tokens, (std::vector<int32_t>{7, 8, 9}));
  EXPECT_EQ(ex[2].mask, (std::vector<uint8_t>{0, 0, 1}));
  auto expect_error = [&](const std::string& text, const std::string& needle) {
    std::ofstream(path) << "{\"tokens\": [1, 2]}\n" << text << "\n";
    try {
      read_token_jsonl(path, 10);
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("{\"tokens\": [1, 12]}", "data.jsonl:2: tokens[1] = 12 is outside the vocabulary");
  expect_error("{\"tokens\": [1, 2", "data.jsonl:2: not a JSON object");
  expect_error("{\"tokens\": [1, 2], \"mask\": [1]}", "data.jsonl:2: \"mask\" must be an array as long");
  expect_error("{\"prompt\": [1]}", "data.jsonl:2: missing field \"completion\"");
  expect_error("{\"tokens\": [1, \"a\"]}", "tokens[1] is not an integer");
  expect_error("{\"tokens\": [1]}", "at least 2 tokens");
}

TEST(TrainData, MbppInChatForm) {
  LCTE_REQUIRE_DATA("mbpp/mbpp.jsonl");
  auto pairs = read_mbpp_chat(testing::data_path("mbpp/mbpp.jsonl"));
  ASSERT_EQ(pairs.size(), 974u);
  EXPECT_EQ(pairs[1].id, 2);
  EXPECT_EQ(pairs[1].user,
            "Write a function to find the similar elements from the given two tuple lists.\n"
            "Your code should pass these tests:\n"
            "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"
            "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)\n"
            "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)\n");
  EXPECT_EQ(
      pairs[1].assistant,
      "def similar_elements(test_tup1, test_tup2):\n  res = tuple(set(test_tup1) & set(test_tup2))\n  return (res) ");
  for (const ChatPair& p : pairs) EXPECT_EQ(p.assistant.find('\r'), std::string::npos);
  Split s = mbpp_split(pairs.size(), 1), again = mbpp_split(pairs.size(), 1), other = mbpp_split(pairs.size(), 2);
  EXPECT_EQ(s.train.size(), 800u);
  EXPECT_EQ(s.valid.size(), 100u);
  EXPECT_EQ(s.test.size(), 74u);
  EXPECT_EQ(s.train, again.train);
  EXPECT_NE(s.train, other.train);
}

ModelConfig small_config(int vocab = 32) {
  ModelConfig c;
  c.vocab = vocab;
  c.dim = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 64;
  c.context = 64;
  return c;
}

// Sequences with structure a model can learn: an arithmetic progression mod
// vocab with a per-sequence start and stride.
std::vector<Example> progressions(int n, int len, int vocab, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<Example> ex;
  for (int i = 0; i < n; ++i) {
    int start = static_cast<int>(rng.below(vocab)), stride = 1 + static_cast<int>(rng.below(3));
    Example e;
    for (int t = 0; t < len; ++t) e.tokens.push_back((start + stride * t) % vocab);
    ex.push_back(e);
  }
  return ex;
}

TrainConfig small_train(int steps) {
  TrainConfig tc;
  tc.batch = 4;
  tc.seq = 16;
  tc.steps = steps;
  tc.lr = {3e-3, 3e-4, 5, steps};
  tc.adamw.weight_decay = 0.0;
  return tc;
}

TEST(TrainLoop, SamplingIsSeededAndFollowsTheModel) {
  Model<float> m(small_config());
  m.init_random(6);
  auto a = sample_sequences(m, 3, 6, 1, 1.0, 42), b = sample_sequences(m, 3, 6, 1, 1.0, 42);
  ASSERT_EQ(a.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    ASSERT_EQ(a[i].tokens.size(), 6u);
    EXPECT_EQ(a[i].tokens[0], 1);
    for (int32_t t : a[i].tokens) EXPECT_TRUE(t >= 0 && t < 32);
  }
  // At a very low temperature sampling is greedy: compare with the argmax.
  auto g = sample_sequences(m, 1, 4, 1, 1e-4, 7);
  std::vector<int32_t> prefix = {g[0].tokens[0], g[0].tokens[1], g[0].tokens[2]};
  const float* logits = m.forward(prefix.data(), 1, 3);
  int best = 0;
  for (int j = 1; j < 32; ++j)
    if (logits[2 * 32 + j] > logits[2 * 32 + best]) best = j;
  EXPECT_EQ(g[0].tokens[3], best);
}

TEST(TrainLoop, LossFallsOnLearnableSequences) {
  Model<float> m(small_config());
  m.init_random(1);
  DataLoader data(progressions(64, 17, 32, 3), 4, 16, 5);
  TrainConfig tc = small_train(60);
  Trainer tr(m, data, tc);
  double first = 0, last = 0;
  for (int s = 0; s < tc.steps; ++s) {
    StepStats st = tr.step();
    EXPECT_TRUE(std::isfinite(st.loss));
    if (s < 5) first += st.loss / 5;
    if (s >= tc.steps - 5) last += st.loss / 5;
  }
  std::printf("CE: first 5 steps %.3f, last 5 steps %.3f\n", first, last);
  EXPECT_NEAR(first, std::log(32.0), 0.3);  // starts near uniform
  EXPECT_LT(last, 0.6 * first) << "first " << first << " last " << last;
}

TEST(TrainLoop, OverfitsAHandfulOfSequences) {
  Model<float> m(small_config());
  m.init_random(2);
  SplitMix64 rng(9);
  std::vector<Example> ex;
  for (int i = 0; i < 4; ++i) {  // random tokens: only memorisation helps
    Example e;
    for (int t = 0; t < 17; ++t) e.tokens.push_back(static_cast<int32_t>(rng.below(32)));
    ex.push_back(e);
  }
  DataLoader data(ex, 4, 16, 1);
  TrainConfig tc = small_train(150);
  tc.lr = {1e-2, 1e-3, 10, 150};
  Trainer tr(m, data, tc);
  StepStats st;
  for (int s = 0; s < tc.steps; ++s) st = tr.step();
  std::printf("overfit: final loss %.4f\n", st.loss);
  EXPECT_LT(st.loss, 0.05) << "final loss " << st.loss;
}

TEST(TrainLoop, AccumulationEqualsTheLargerBatch) {
  ModelConfig c = small_config();
  Model<float> a(c), b(c);
  a.init_random(3);
  b.init_random(3);
  auto ex = progressions(16, 17, 32, 4);
  DataLoader da(ex, 4, 16, 11), db(ex, 2, 16, 11);
  TrainConfig ta = small_train(1), tb = small_train(1);
  ta.clip = tb.clip = 0;
  tb.batch = 2;
  tb.accum = 2;
  Trainer tra(a, da, ta), trb(b, db, tb);
  StepStats sa = tra.step(), sb = trb.step();
  EXPECT_NEAR(sa.loss, sb.loss, 1e-5);
  double max_diff = 0, max_g = 0;
  for (size_t i = 0; i < a.grads().size(); ++i) {
    max_diff = std::max(max_diff, (double)std::fabs(a.grads()[i] - b.grads()[i]));
    max_g = std::max(max_g, (double)std::fabs(a.grads()[i]));
  }
  EXPECT_LT(max_diff, 1e-5 * max_g);
  EXPECT_GT(max_g, 0);
}

TEST(TrainLoop, DistillationMovesTheStudentTowardTheTeacher) {
  // The teacher is trained briefly on the progressions; a fresh student then
  // learns from its top-k alone (alpha = 0), and its KL to the teacher falls.
  ModelConfig c = small_config();
  Model<float> teacher(c);
  teacher.init_random(4);
  {
    DataLoader data(progressions(64, 17, 32, 3), 4, 16, 5);
    Trainer tr(teacher, data, small_train(40));
    for (int s = 0; s < 40; ++s) tr.step();
  }
  ModelConfig sc = c;
  sc.n_layers = 1;
  Model<float> student(sc);
  student.init_random(5);
  DataLoader data(progressions(64, 17, 32, 3), 4, 16, 6);
  TrainConfig tc = small_train(40);
  tc.loss.alpha = 0;
  tc.loss.temperature = 2;
  Trainer tr(student, data, tc, model_teacher(teacher, 8));
  double first = 0, last = 0;
  for (int s = 0; s < 40; ++s) {
    StepStats st = tr.step();
    EXPECT_NEAR(st.loss, 4 * st.kd, 1e-9);
    if (s < 3) first += st.kd / 3;
    if (s >= 37) last += st.kd / 3;
  }
  std::printf("KD (forward KL, T=2): first 3 steps %.4f, last 3 steps %.4f\n", first, last);
  EXPECT_LT(last, 0.5 * first) << "KD first " << first << " last " << last;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// 2N steps in one run against N steps, a checkpoint, a fresh process state
// (new model, loader and trainer) that loads it, and N more.
void expect_bit_identical_resume(bool lora, bool distill) {
  const int N = 6;
  ModelConfig c = small_config();
  auto ex = progressions(40, 17, 32, 8);
  TrainConfig tc = small_train(2 * N);
  tc.accum = 2;
  tc.adamw.weight_decay = 0.1;
  tc.loss.alpha = 0.3;
  tc.loss.divergence = Divergence::JSD;
  Model<float> teacher(c);
  teacher.init_random(99);
  auto make_model = [&] {
    Model<float> m(c);
    m.init_random(1);
    if (lora) {
      LoraConfig lc;
      lc.rank = 4;
      m.enable_lora(lc, 2);
    }
    return m;
  };
  TeacherFn tf = distill ? model_teacher(teacher, 6) : TeacherFn{};

  Model<float> straight = make_model();
  DataLoader d1(ex, 4, 16, 21);
  Trainer t1(straight, d1, tc, tf);
  for (int s = 0; s < 2 * N; ++s) t1.step();

  const std::string ckpt = testing::temp_dir() + "/ckpt.gguf";
  {
    Model<float> first = make_model();
    DataLoader d2(ex, 4, 16, 21);
    Trainer t2(first, d2, tc, tf);
    for (int s = 0; s < N; ++s) t2.step();
    t2.save_checkpoint(ckpt);
  }
  Model<float> resumed(c);  // a different init: everything must come from the file
  resumed.init_random(12345);
  if (lora) {
    LoraConfig lc;
    lc.rank = 4;
    resumed.enable_lora(lc, 77);
  }
  DataLoader d3(ex, 4, 16, 999);
  Trainer t3(resumed, d3, tc, tf);
  t3.load_checkpoint(ckpt);
  EXPECT_EQ(t3.steps_done(), N);
  for (int s = 0; s < N; ++s) t3.step();

  EXPECT_TRUE(same_bits(resumed.params(), straight.params()));
  if (lora) {
    EXPECT_TRUE(same_bits(resumed.lora_params(), straight.lora_params()));
  }
  EXPECT_TRUE(same_bits(t3.optimizer().m, t1.optimizer().m));
  EXPECT_TRUE(same_bits(t3.optimizer().v, t1.optimizer().v));
  EXPECT_EQ(d3.state(), d1.state());
}

TEST(TrainLoop, ResumeIsBitIdentical) { expect_bit_identical_resume(false, false); }
TEST(TrainLoop, ResumeIsBitIdenticalWithLoraAndTeacher) { expect_bit_identical_resume(true, true); }

TEST(TrainLoop, EvaluateCountsEveryExampleOnce) {
  Model<float> m(small_config());
  m.init_random(8);
  auto ex = progressions(5, 17, 32, 12);
  DataLoader d(ex, 4, 16, 1);
  Trainer tr(m, d, small_train(1));
  LossStats s = tr.evaluate(ex);
  EXPECT_EQ(s.positions, 5 * 16);
  // The same mean computed one sequence at a time.
  double sum = 0;
  for (const Example& e : ex) {
    const float* logits = m.forward(e.tokens.data(), 1, 16);
    for (int t = 0; t < 16; ++t) {
      const float* z = logits + t * 32;
      double mx = z[0], se = 0;
      for (int j = 1; j < 32; ++j) mx = std::max(mx, (double)z[j]);
      for (int j = 0; j < 32; ++j) se += std::exp(z[j] - mx);
      sum += mx + std::log(se) - z[e.tokens[t + 1]];
    }
  }
  EXPECT_NEAR(s.loss, sum / (5 * 16), 1e-4);
  EXPECT_EQ(tr.evaluate(ex, 2).positions, 2 * 16);
}

TEST(TrainLoop, CheckpointOfAnotherShapeIsRefused) {
  auto ex = progressions(8, 17, 32, 8);
  Model<float> m(small_config());
  DataLoader d(ex, 4, 16, 1);
  Trainer t(m, d, small_train(2));
  const std::string ckpt = testing::temp_dir() + "/ckpt.gguf";
  t.save_checkpoint(ckpt);
  ModelConfig other = small_config();
  other.ffn_dim = 48;
  Model<float> m2(other);
  Trainer t2(m2, d, small_train(2));
  EXPECT_THROW(t2.load_checkpoint(ckpt), Error);
}

TEST(TrainLoop, MemoryPlanRefusesWhatDoesNotFit) {
  MemoryPlan p = plan_memory(small_config(), 4, 16, nullptr);
  EXPECT_NO_THROW(require_memory(p, p.total(), "run"));
  try {
    require_memory(p, p.total() - 1, "run");
    FAIL() << "accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("weights"), std::string::npos) << msg;
    EXPECT_NE(msg.find("optimiser state"), std::string::npos) << msg;
  }
  EXPECT_GT(available_memory_bytes(), 0u);
}

}  // namespace
}  // namespace lcte::train
