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
    if (p.size() == 6 && p.rfind("<0x", 0) == 0) return std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
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
  const auto out = gen.generate(bos_, greedy(256), [&](int seq, std::string_view s) {
    EXPECT_EQ(seq, 0);
    streamed += s;
  }, &stats);
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

}  // namespace
}  // namespace lcte::model
