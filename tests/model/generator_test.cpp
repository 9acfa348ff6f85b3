// The generation loop: greedy and seeded sampling, n sequences sharing a
// prompt, stop strings, end-of-generation tokens, streaming, limits.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "common/test_data.h"
#include "core/error.h"
#include "model/generator.h"

namespace lcte::model {
namespace {

// Token text straight from the GGUF vocabulary (SentencePiece pieces of the
// tok512 vocabulary): enough to test the loop without the tokenizer library.
class VocabText : public TokenText {
 public:
  explicit VocabText(const gguf::File& f) : pieces_(f.get_string_array("tokenizer.ggml.tokens")) {}
  std::string piece(int32_t t) const override {
    const std::string& p = pieces_.at(static_cast<size_t>(t));
    if (p.size() == 6 && p.rfind("<0x", 0) == 0)
      return std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
    std::string out;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p.compare(i, 3, "\xe2\x96\x81") == 0) {
        out += ' ';
        i += 2;
      } else {
        out += p[i];
      }
    }
    return out;
  }
  bool is_eog(int32_t t) const override { return t == 2 || eog_.count(t) > 0; }
  std::set<int32_t> eog_;

 private:
  std::vector<std::string> pieces_;
};

class Generate : public ::testing::Test {
 protected:
  void SetUp() override {
    LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
    LCTE_REQUIRE_DATA("models/stories260K.greedy256.expected.tokens.txt");
    model_ = Model::load(lcte::testing::data_path("models/stories260K-f32.gguf"));
    text_ = std::make_unique<VocabText>(model_->file());
    std::ifstream in(lcte::testing::data_path("models/stories260K.greedy256.expected.tokens.txt"));
    for (int32_t t; in >> t;) expected_.push_back(t);
  }
  GenerateOptions greedy(int64_t max_tokens) const {
    GenerateOptions o;
    o.max_tokens = max_tokens;
    o.sampling.temperature = 0;
    o.kv_type = KvType::F32;
    o.n_ctx = 512;
    return o;
  }
  std::string text_of(std::span<const int32_t> ids) const {
    std::string s;
    for (int32_t t : ids) s += text_->piece(t);
    return s;
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<VocabText> text_;
  std::vector<int32_t> expected_;
  ThreadPool pool_{2};
  const std::vector<int32_t> bos_{1};
};

TEST_F(Generate, GreedyMatchesLlama2cAndStreamsItsText) {
  Context ctx(*model_, pool_);
  Generator gen(ctx, *text_);
  std::string streamed;
  GenerateStats stats;
  const auto out = gen.generate(
      bos_, greedy(256),
      [&](int seq, std::string_view s) {
        EXPECT_EQ(seq, 0);
        streamed += s;
      },
      &stats);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tokens, expected_);
  EXPECT_EQ(out[0].finish, Finish::Length);
  EXPECT_EQ(out[0].text, text_of(expected_));
  EXPECT_EQ(streamed, out[0].text);
  EXPECT_EQ(stats.generated_tokens, 256);
  EXPECT_EQ(stats.prompt_tokens, 1);
}

TEST_F(Generate, SequencesShareThePromptAndStayIndependent) {
  Context ctx(*model_, pool_);
  Generator gen(ctx, *text_);
  GenerateOptions o = greedy(40);
  o.n_sequences = 4;
  const auto g = gen.generate(bos_, o);
  for (const auto& c : g) EXPECT_EQ(c.tokens, std::vector<int32_t>(expected_.begin(), expected_.begin() + 40));

  // Sampling: the same seed gives the same samples; the samples differ from
  // one another; sequence 0 of a batch is the single-sequence run.
  o.sampling = sampling::SamplingParams{};
  o.sampling.temperature = 1.0f;
  o.sampling.seed = 99;
  GenerateStats stats;
  const auto a = gen.generate(bos_, o, {}, &stats);
  const auto b = gen.generate(bos_, o);
  o.n_sequences = 1;
  const auto one = gen.generate(bos_, o);
  ASSERT_EQ(a.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens);
  EXPECT_EQ(a[0].tokens, one[0].tokens);
  std::set<std::vector<int32_t>> distinct;
  for (const auto& c : a) distinct.insert(c.tokens);
  EXPECT_GE(distinct.size(), 3u);
  // Four sequences of 1 + 40 positions hold one shared prompt block... each
  // copies the partial block when it first writes: 4 private blocks in all.
  EXPECT_EQ(stats.kv_bytes, 4 * KvCache(model_->config(), 512, KvType::F32).block_bytes());
}

TEST_F(Generate, StopStringCutsTheText) {
  Context ctx(*model_, pool_);
  Generator gen(ctx, *text_);
  const std::string full = text_of(expected_);
  const std::string stop = "Lily";
  const size_t at = full.find(stop);
  ASSERT_NE(at, std::string::npos);
  GenerateOptions o = greedy(256);
  o.stop = {"no such text", stop};
  std::string streamed;
  const auto out = gen.generate(bos_, o, [&](int, std::string_view s) { streamed += s; });
  EXPECT_EQ(out[0].finish, Finish::Stop);
  EXPECT_EQ(out[0].stop_index, 1);
  EXPECT_EQ(out[0].text, full.substr(0, at));
  EXPECT_EQ(streamed, out[0].text);
  EXPECT_LT(out[0].tokens.size(), 256u);
}

TEST_F(Generate, EndOfGenerationTokenEndsWithoutIt) {
  Context ctx(*model_, pool_);
  text_->eog_.insert(expected_[5]);
  Generator gen(ctx, *text_);
  const auto out = gen.generate(bos_, greedy(256));
  EXPECT_EQ(out[0].finish, Finish::EndOfGeneration);
  EXPECT_EQ(out[0].tokens, std::vector<int32_t>(expected_.begin(), expected_.begin() + 5));
}

TEST_F(Generate, ContextAndArgumentLimits) {
  Context ctx(*model_, pool_);
  Generator gen(ctx, *text_);
  GenerateOptions o = greedy(256);
  o.n_ctx = 10;
  const auto out = gen.generate(bos_, o);
  EXPECT_EQ(out[0].finish, Finish::ContextFull);
  EXPECT_EQ(out[0].tokens.size(), 10u);  // positions 1..9 fed, the 10th token had nowhere to go
  EXPECT_THROW(gen.generate({}, greedy(5)), Error);
  const std::vector<int32_t> long_prompt(10, 1);
  EXPECT_THROW(gen.generate(long_prompt, o), Error);
  o.n_sequences = 0;
  EXPECT_THROW(gen.generate(bos_, o), Error);
  EXPECT_EQ(gen.generate(bos_, greedy(0))[0].tokens.size(), 0u);
}

// Continuous batching: requests added at different steps, with different
// prompts, sampling, stops and lengths, each give what they give alone.
class Batch : public Generate {
 protected:
  // prompt = BOS and the greedy story (repeated beyond its 256 tokens), `len` tokens in all.
  std::vector<int32_t> prompt(size_t len) const {
    std::vector<int32_t> p = bos_;
    for (size_t i = 0; i + 1 < len; ++i) p.push_back(expected_[i % expected_.size()]);
    return p;
  }
  GenerateOptions sampled(int64_t max_tokens, int n, uint64_t seed) const {
    GenerateOptions o = greedy(max_tokens);
    o.n_sequences = n;
    o.sampling.temperature = 0.9f;
    o.sampling.top_k = 40;
    o.sampling.seed = seed;
    return o;
  }
  struct Job {
    std::vector<int32_t> prompt;
    GenerateOptions options;
    int add_at_step;
  };
  // Runs the jobs through one decoder (each added at its step); returns the
  // Done of each job by job index, and the most sequences active in a step.
  std::vector<BatchDecoder::Done> run(Context& ctx, const std::vector<Job>& jobs, int max_sequences,
                                      std::vector<std::string>* streamed = nullptr,
                                      std::map<size_t, int>* cancel_at = nullptr, int* most = nullptr,
                                      int64_t prefill_chunk = 256) {
    BatchDecoder d(ctx, *text_, {max_sequences, nullptr, prefill_chunk});
    std::map<int64_t, size_t> job_of;
    std::vector<BatchDecoder::Done> out(jobs.size());
    if (streamed != nullptr) streamed->assign(jobs.size(), "");
    size_t added = 0, finished = 0;
    for (int step = 0; finished < jobs.size(); ++step) {
      for (size_t j = 0; j < jobs.size(); ++j)
        if (jobs[j].add_at_step == step) {
          StreamFn fn;
          if (streamed != nullptr) fn = [streamed, j](int, std::string_view s) { (*streamed)[j] += s; };
          job_of[d.add(jobs[j].prompt, jobs[j].options, fn)] = j;
          ++added;
        }
      if (cancel_at != nullptr)
        for (const auto& [j, at] : *cancel_at)
          if (at == step)
            for (const auto& [id, jj] : job_of)
              if (jj == j) d.cancel(id);
      if (!d.empty()) d.step();
      if (most != nullptr) *most = std::max(*most, d.active_sequences());
      for (BatchDecoder::Done& done : d.take_done()) {
        out[job_of.at(done.id)] = std::move(done);
        ++finished;
      }
      if (step > 10000) ADD_FAILURE() << "the decoder does not end";
      if (step > 10000) break;
    }
    EXPECT_EQ(added, jobs.size());
    return out;
  }
  void requests_joining_at_different_steps(int64_t chunk);
};

TEST_F(Batch, RequestsJoiningAtDifferentStepsGiveWhatTheyGiveAlone) {
  for (int64_t chunk : {256, 7, 0}) {  // prompts in one step, in chunks over several, in add()
    SCOPED_TRACE("prefill chunk " + std::to_string(chunk));
    requests_joining_at_different_steps(chunk);
  }
}

void Batch::requests_joining_at_different_steps(int64_t chunk) {
  Context ctx(*model_, pool_);
  Generator alone(ctx, *text_);
  GenerateOptions stopped = greedy(200);
  stopped.stop = {"Lily"};  // ends early while the others go on
  std::vector<Job> jobs = {
      {prompt(1), greedy(60), 0},         {prompt(9), sampled(40, 3, 7), 0},  // three seeded samples of one prompt
      {prompt(4), greedy(3), 2},                                              // hits max tokens while the others go on
      {prompt(20), sampled(50, 2, 8), 5}, {prompt(2), stopped, 9},
      {prompt(30), greedy(0), 11},  // no tokens at all
  };
  std::vector<std::string> streamed;
  int most = 0;
  const auto got = run(ctx, jobs, 64, &streamed, nullptr, &most, chunk);
  EXPECT_GE(most, 6);
  for (size_t j = 0; j < jobs.size(); ++j) {
    std::string alone_stream;
    GenerateStats stats;
    const auto want = alone.generate(
        jobs[j].prompt, jobs[j].options, [&](int, std::string_view s) { alone_stream += s; }, &stats);
    ASSERT_EQ(got[j].completions.size(), want.size()) << "job " << j;
    EXPECT_TRUE(got[j].error.empty()) << got[j].error;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[j].completions[i].tokens, want[i].tokens) << "job " << j << " sequence " << i;
      EXPECT_EQ(got[j].completions[i].text, want[i].text) << "job " << j << " sequence " << i;
      EXPECT_EQ(got[j].completions[i].finish, want[i].finish) << "job " << j << " sequence " << i;
    }
    if (jobs[j].options.n_sequences == 1) {
      EXPECT_EQ(streamed[j], alone_stream) << "job " << j;
    }
    EXPECT_EQ(got[j].stats.generated_tokens, stats.generated_tokens) << "job " << j;
  }
  EXPECT_EQ(got[2].completions[0].tokens.size(), 3u);
  EXPECT_EQ(got[4].completions[0].finish, Finish::Stop);
  // Sampled sequences differ from one another (the seeds are per sequence).
  EXPECT_NE(got[1].completions[0].tokens, got[1].completions[1].tokens);
}

TEST_F(Batch, FewerSlotsThanSequencesQueueThemAndChangeNothing) {
  Context ctx(*model_, pool_);
  std::vector<Job> jobs = {
      {prompt(1), sampled(30, 5, 3), 0}, {prompt(6), greedy(25), 0}, {prompt(3), sampled(20, 2, 4), 1}};
  int most = 0;
  const auto wide = run(ctx, jobs, 64);
  const auto narrow = run(ctx, jobs, 2, nullptr, nullptr, &most);
  EXPECT_LE(most, 2);
  const auto one = run(ctx, jobs, 1);
  for (size_t j = 0; j < jobs.size(); ++j)
    for (size_t i = 0; i < wide[j].completions.size(); ++i) {
      EXPECT_EQ(narrow[j].completions[i].tokens, wide[j].completions[i].tokens) << "job " << j << " seq " << i;
      EXPECT_EQ(one[j].completions[i].tokens, wide[j].completions[i].tokens) << "job " << j << " seq " << i;
    }
}

TEST_F(Batch, CancelledRequestLeavesAndTheOthersGoOn) {
  Context ctx(*model_, pool_);
  std::vector<Job> jobs = {{prompt(1), greedy(40), 0}, {prompt(5), sampled(40, 2, 5), 0}, {prompt(2), greedy(40), 1}};
  std::map<size_t, int> cancel_at = {{1, 6}};  // job 1 at step 6
  std::vector<std::string> streamed;
  const auto got = run(ctx, jobs, 64, &streamed, &cancel_at);
  ASSERT_EQ(got[1].completions.size(), 2u);
  for (const Completion& c : got[1].completions) {
    EXPECT_EQ(c.finish, Finish::Cancelled);
    EXPECT_EQ(c.tokens.size(), 6u);  // six steps sampled before the cancel
  }
  EXPECT_TRUE(got[1].error.empty());
  Generator alone(ctx, *text_);
  for (size_t j : {size_t{0}, size_t{2}}) {
    const auto want = alone.generate(jobs[j].prompt, jobs[j].options);
    EXPECT_EQ(got[j].completions[0].tokens, want[0].tokens) << "job " << j;
    EXPECT_EQ(got[j].completions[0].finish, Finish::Length);
  }
  // The cancelled samples are the first six tokens of the uncancelled ones.
  const auto full = alone.generate(jobs[1].prompt, jobs[1].options);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(got[1].completions[i].tokens, std::vector<int32_t>(full[i].tokens.begin(), full[i].tokens.begin() + 6));
}

TEST_F(Batch, SpentKvBudgetFailsOnlyTheRequestThatNeedsMore) {
  Context ctx(*model_, pool_);
  const size_t block = KvCache(model_->config(), 512, KvType::F32).block_bytes();
  auto budget = std::make_shared<KvBudget>(2);
  BatchDecoder d(ctx, *text_, {64, budget, /*prefill_chunk=*/0});  // prompts prefilled in add()
  // Both need a second block (position 256); the longer prompt gets there
  // first and finds both blocks taken. Its blocks then go back, and the
  // other request finds room.
  GenerateOptions o = greedy(270);
  const auto a_prompt = prompt(40), b_prompt = prompt(1);
  const int64_t a = d.add(a_prompt, o);
  const int64_t b = d.add(b_prompt, o);
  EXPECT_EQ(budget->used(), 2);
  // A third prompt finds no block at all: refused at once, nothing added.
  try {
    d.add(prompt(3), o);
    ADD_FAILURE() << "a prompt beyond the budget was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KV cache full: all 2 blocks of 256 positions"), std::string::npos)
        << e.what();
  }
  std::map<int64_t, BatchDecoder::Done> done;
  while (!d.empty()) {
    d.step();
    for (auto& x : d.take_done()) done[x.id] = std::move(x);
  }
  ASSERT_EQ(done.size(), 2u);
  EXPECT_NE(done[a].error.find("KV cache full"), std::string::npos) << done[a].error;
  EXPECT_EQ(done[a].completions[0].tokens.size(), static_cast<size_t>(256 - 40 + 1));  // sampled up to the full block
  EXPECT_TRUE(done[b].error.empty()) << done[b].error;
  Generator alone(ctx, *text_);
  EXPECT_EQ(done[b].completions[0].tokens, alone.generate(b_prompt, o)[0].tokens);
  EXPECT_EQ(done[b].stats.kv_bytes, 2 * block);
  EXPECT_EQ(budget->used(), 0);  // every block given back
}

// Chunked prefill: a long prompt added while another request decodes is
// prefilled ceil(len / chunk) steps long, and the running sequence gets a
// token at every one of those steps.
TEST_F(Batch, LongPromptIsPrefilledInChunksWhileARunningSequenceGetsATokenEveryStep) {
  Context ctx(*model_, pool_);
  const int64_t chunk = 64;
  BatchDecoder d(ctx, *text_, {64, nullptr, chunk});
  int pieces_a = 0;
  const int64_t a = d.add(bos_, greedy(40), [&](int, std::string_view) { ++pieces_a; });
  for (int s = 0; s < 5; ++s) d.step();
  ASSERT_EQ(pieces_a, 5);  // every piece of this story is one ASCII token: one piece per token
  const std::vector<int32_t> long_prompt = prompt(230);
  int pieces_b = 0;
  const int64_t b = d.add(long_prompt, greedy(10), [&](int, std::string_view) { ++pieces_b; });
  const int prefill_steps = (230 + chunk - 1) / chunk;  // 4: 64 + 64 + 64 + 38
  for (int s = 1; s <= prefill_steps; ++s) {
    EXPECT_EQ(d.prefilling_requests(), 1) << "step " << s;
    d.step();
    EXPECT_EQ(pieces_a, 5 + s) << "the running sequence lost a token at prefill step " << s;
    // b samples its first token in the step that prefills its last chunk.
    EXPECT_EQ(pieces_b, s == prefill_steps ? 1 : 0) << "step " << s;
  }
  EXPECT_EQ(d.prefilling_requests(), 0);
  EXPECT_EQ(d.active_sequences(), 2);
  std::map<int64_t, BatchDecoder::Done> done;
  while (!d.empty()) {
    d.step();
    for (auto& x : d.take_done()) done[x.id] = std::move(x);
  }
  Generator alone(ctx, *text_);
  EXPECT_EQ(done[a].completions[0].tokens, alone.generate(bos_, greedy(40))[0].tokens);
  EXPECT_EQ(done[b].completions[0].tokens, alone.generate(long_prompt, greedy(10))[0].tokens);
  EXPECT_EQ(done[b].stats.prompt_tokens, 230);
}

TEST_F(Batch, CancelDuringPrefillEndsTheRequestAndGivesItsBlocksBack) {
  Context ctx(*model_, pool_);
  auto budget = std::make_shared<KvBudget>(8);
  BatchDecoder d(ctx, *text_, {64, budget, 64});
  const int64_t a = d.add(bos_, greedy(30));
  const int64_t b = d.add(prompt(250), sampled(20, 3, 11));
  EXPECT_EQ(budget->used(), 0);  // nothing is prefilled before a step
  d.step();                      // a's prompt (1 token) and nothing of b's: its chunk would pass the allowance
  d.step();                      // b: 64 tokens
  d.step();                      // b: 128
  EXPECT_EQ(d.prefilling_requests(), 1);
  EXPECT_EQ(budget->used(), 2);  // a's block and b's first
  d.cancel(b);
  EXPECT_EQ(d.prefilling_requests(), 0);
  EXPECT_EQ(budget->used(), 1);
  std::vector<BatchDecoder::Done> done = d.take_done();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].id, b);
  EXPECT_TRUE(done[0].error.empty()) << done[0].error;
  ASSERT_EQ(done[0].completions.size(), 3u);
  for (const Completion& c : done[0].completions) {
    EXPECT_EQ(c.finish, Finish::Cancelled);
    EXPECT_TRUE(c.tokens.empty());
  }
  while (!d.empty()) {
    d.step();
    for (auto& x : d.take_done()) done.push_back(std::move(x));
  }
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1].id, a);
  EXPECT_EQ(done[1].completions[0].tokens, Generator(ctx, *text_).generate(bos_, greedy(30))[0].tokens);
  EXPECT_EQ(budget->used(), 0);
}

TEST_F(Batch, KvBudgetSpentDuringAChunkedPrefillFailsOnlyThatRequest) {
  Context ctx(*model_, pool_);
  auto budget = std::make_shared<KvBudget>(3);
  BatchDecoder d(ctx, *text_, {64, budget, 64});
  // Each prompt needs 2 blocks and finds 3 free when added; b's prefill
  // comes first (chunks of 64, 44 left for the fifth step), so c gets the
  // third block for its positions 0..255 and finds none for 256.
  const auto b_prompt = prompt(300), c_prompt = prompt(280);
  const int64_t b = d.add(b_prompt, greedy(20));
  const int64_t c = d.add(c_prompt, greedy(20));
  // A prompt that needs more blocks than are free is refused at once.
  try {
    GenerateOptions wide = greedy(1);
    wide.n_ctx = 2048;
    d.add(std::vector<int32_t>(4 * 256, 1), wide);
    ADD_FAILURE() << "a prompt of 4 blocks was accepted with 3 free";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("need 4 blocks of 256 positions; 3 of all 3 are free"), std::string::npos)
        << e.what();
  }
  std::map<int64_t, BatchDecoder::Done> done;
  int steps = 0, c_failed_at = -1;
  while (!d.empty()) {
    d.step();
    ++steps;
    for (auto& x : d.take_done()) {
      if (x.id == c) c_failed_at = steps;
      done[x.id] = std::move(x);
    }
  }
  ASSERT_EQ(done.size(), 2u);
  EXPECT_NE(done[c].error.find("KV cache full"), std::string::npos) << done[c].error;
  EXPECT_EQ(c_failed_at, 10);  // b: steps 1-5; c: 4 x 64 in steps 6-9, its fifth chunk (step 10) fails
  for (const Completion& x : done[c].completions) EXPECT_EQ(x.finish, Finish::Cancelled);
  EXPECT_TRUE(done[b].error.empty()) << done[b].error;
  EXPECT_EQ(done[b].completions[0].tokens, Generator(ctx, *text_).generate(b_prompt, greedy(20))[0].tokens);
  EXPECT_EQ(budget->used(), 0);
}

TEST_F(Batch, BadPrefillChunkAndTokenIdsAreRefused) {
  Context ctx(*model_, pool_);
  const BatchDecoder::Options negative{8, nullptr, -1};
  EXPECT_THROW(BatchDecoder x(ctx, *text_, negative), Error);
  try {
    BatchDecoder one(ctx, *text_, {8, nullptr, 1});
    ADD_FAILURE() << "a prefill chunk of 1 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prefill chunk 1 is out of range"), std::string::npos) << e.what();
  }
  BatchDecoder d(ctx, *text_, {8, nullptr, 2});
  const std::vector<int32_t> bad = {1, static_cast<int32_t>(ctx.n_vocab())};
  EXPECT_THROW(d.add(bad, greedy(3)), Error);  // refused in add(), not at its chunk
  EXPECT_TRUE(d.empty());
}

// A request's completions do not depend on the prefill chunk: with chunks of
// 7, 64 and 256 tokens, and the whole prompt at once, in a decoder where
// another request decodes meanwhile, they are those of Generator::generate of
// the request alone, bit for bit (Context::eval gives a prompt's tokens the
// bits of one forward however it is split, chunks never leave a token to a
// forward of its own). Prompt lengths: 15 = 2 x 7 + 1, 257 = 256 + 1 = 4 x 64
// + 1 (the tails that would be one token), 300.
class ChunkedPrefill : public ::testing::TestWithParam<std::string> {};

TEST_P(ChunkedPrefill, CompletionsDoNotDependOnTheChunk) {
  const std::string rel = "models/" + GetParam() + ".gguf";
  if (!lcte::testing::data_exists(rel)) GTEST_SKIP() << "data file absent: " << rel;
  const auto model = Model::load(lcte::testing::data_path(rel));
  const VocabText text(model->file());
  ThreadPool pool(2);
  Context ctx(*model, pool);
  const int32_t V = static_cast<int32_t>(ctx.n_vocab());
  auto prompt = [&](int len) {
    std::vector<int32_t> p = {1};
    for (int i = 1; i < len; ++i) p.push_back(3 + (i * 37 + i * i * 11) % (V - 3));
    return p;
  };
  GenerateOptions o;
  o.max_tokens = 24;
  o.n_sequences = 2;
  o.n_ctx = 512;
  o.kv_type = KvType::F32;
  o.sampling.temperature = 0.8f;
  o.sampling.seed = 5;
  GenerateOptions g = o;
  g.n_sequences = 1;
  g.sampling.temperature = 0;
  Generator alone(ctx, text);
  for (int len : {15, 257, 300}) {
    const std::vector<int32_t> p = prompt(len);
    const auto want_sampled = alone.generate(p, o);
    const auto want_greedy = alone.generate(p, g);
    for (int64_t chunk : {7, 64, 256, 0}) {
      BatchDecoder d(ctx, text, {64, nullptr, chunk});
      const int64_t other = d.add(prompt(5), g);  // decodes while the prompts are prefilled
      d.step();
      const int64_t s = d.add(p, o), gr = d.add(p, g);
      std::map<int64_t, BatchDecoder::Done> done;
      while (!d.empty()) {
        d.step();
        for (auto& x : d.take_done()) done[x.id] = std::move(x);
      }
      ASSERT_EQ(done.size(), 3u);
      EXPECT_TRUE(done[other].error.empty());
      for (size_t i = 0; i < 2; ++i)
        EXPECT_EQ(done[s].completions[i].tokens, want_sampled[i].tokens)
            << "prompt " << len << ", chunk " << chunk << ", sample " << i;
      EXPECT_EQ(done[gr].completions[0].tokens, want_greedy[0].tokens) << "prompt " << len << ", chunk " << chunk;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ChunkedPrefill,
                         ::testing::Values("stories260K-f32", "stories260K-f16", "stories260K-q8_0", "stories260K-q4_0",
                                           "stories260K-q4_k_m"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace lcte::model
