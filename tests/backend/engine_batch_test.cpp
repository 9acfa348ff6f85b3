// The engine backend under concurrent callers: their requests are decoded
// together (continuous batching) and each gets what it gets served alone.
#include <gtest/gtest.h>

#include <thread>

#include "backend/engine_backend.h"
#include "common/test_data.h"
#include "core/error.h"

namespace lcte::backend {
namespace {

const char* kModel = "models/stories260K-f32.gguf";

std::unique_ptr<EngineBackend> engine(int max_sequences, int64_t kv_budget_mib = 0, int64_t prefill_chunk = 256) {
  EngineOptions o;
  o.path = lcte::testing::data_path(kModel);
  o.threads = 2;
  o.n_ctx = 512;
  o.max_sequences = max_sequences;
  o.kv_budget_mib = kv_budget_mib;
  o.prefill_chunk = prefill_chunk;
  return std::make_unique<EngineBackend>(o);
}

GenerationRequest request(int i) {
  static const char* prompts[] = {"Once upon a time",  "Lily",    "The dog ran",
                                  "One day, a little", "Tom and", "She was happy"};
  GenerationRequest r;
  r.task_id = "task" + std::to_string(i);
  r.prompt = prompts[i % 6];
  r.sampling.temperature = i % 3 == 0 ? 0.0 : 0.8;
  r.sampling.max_tokens = 20 + 7 * i;
  r.sampling.seed = 100 + static_cast<uint64_t>(i);
  r.sample_indices = {0};
  for (int k = 1; k < 1 + i % 3; ++k) r.sample_indices.push_back(k);
  if (i == 4) r.stops = {"."};
  return r;
}

class EngineBatchChunk : public ::testing::TestWithParam<int64_t> {};

// Prompts of these requests are 3-6 tokens: chunks of 2 prefill them over
// two or three steps while the others decode; 256 in one step.
TEST_P(EngineBatchChunk, ConcurrentRequestsGetWhatTheyGetOneSequenceAtATime) {
  LCTE_REQUIRE_DATA(kModel);
  const int n = 8;
  // One sequence at a time, one request after another, each prompt at once.
  auto serial = engine(1, 0, /*prefill_chunk=*/0);
  std::vector<std::vector<Generation>> want;
  for (int i = 0; i < n; ++i) want.push_back(serial->generate(request(i)));
  // All at once, from as many threads, decoded together.
  auto batched = engine(32, 0, GetParam());
  std::vector<std::vector<Generation>> got(n);
  std::vector<std::string> streamed(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      got[static_cast<size_t>(i)] = batched->generate(request(i), [&, i](int sample, std::string_view s) {
        if (sample == 0) streamed[static_cast<size_t>(i)] += s;
      });
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(got[static_cast<size_t>(i)].size(), want[static_cast<size_t>(i)].size()) << "request " << i;
    for (size_t k = 0; k < want[static_cast<size_t>(i)].size(); ++k) {
      const Generation& g = got[static_cast<size_t>(i)][k];
      const Generation& w = want[static_cast<size_t>(i)][k];
      EXPECT_EQ(g.sample_index, w.sample_index);
      EXPECT_EQ(g.text, w.text) << "request " << i << " sample " << k;
      EXPECT_EQ(g.completion_tokens, w.completion_tokens) << "request " << i << " sample " << k;
      EXPECT_EQ(g.finish_reason, w.finish_reason) << "request " << i << " sample " << k;
    }
    EXPECT_EQ(streamed[static_cast<size_t>(i)], got[static_cast<size_t>(i)][0].text) << "request " << i;
  }
  EXPECT_EQ(got[4][0].finish_reason, "stop");
}

INSTANTIATE_TEST_SUITE_P(Chunks, EngineBatchChunk, ::testing::Values(256, 2));

TEST(EngineBatch, BadPrefillChunkIsRefusedBeforeTheModelIsRead) {
  for (int64_t chunk : {-1, 1}) {
    EngineOptions o;
    o.path = "no-such-model.gguf";
    o.prefill_chunk = chunk;
    try {
      EngineBackend e(o);
      ADD_FAILURE() << "prefill chunk " << chunk << " accepted";
    } catch (const Error& x) {
      EXPECT_NE(std::string(x.what()).find("engine: prefill chunk " + std::to_string(chunk) + " is out of range"),
                std::string::npos)
          << x.what();
    }
  }
}

TEST(EngineBatch, SpentKvBudgetFailsThatRequestOnly) {
  LCTE_REQUIRE_DATA(kModel);
  auto e = engine(32, /*kv_budget_mib=*/1);
  // Twenty samples each copy the prompt's block when they first write:
  // more blocks than 1 MiB holds for this model.
  GenerationRequest big = request(1);
  big.sample_indices.clear();
  for (int k = 0; k < 20; ++k) big.sample_indices.push_back(k);
  std::string error;
  std::vector<Generation> small;
  std::thread t([&] {
    try {
      e->generate(big);
    } catch (const Error& x) {
      error = x.what();
    }
  });
  small = e->generate(request(0));
  t.join();
  EXPECT_NE(error.find("KV cache full"), std::string::npos) << error;
  ASSERT_EQ(small.size(), 1u);
  EXPECT_EQ(small[0].text, engine(1)->generate(request(0))[0].text);
  // The engine goes on serving after the failure.
  EXPECT_EQ(e->generate(request(0))[0].text, small[0].text);
}

}  // namespace
}  // namespace lcte::backend
