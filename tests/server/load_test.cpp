// Many streaming clients at once against lcte serve on loopback, for a
// bounded time: every answer is complete ([DONE]), has no error, and is the
// text its own prompt gives when asked alone (no answer mixed with another).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "backend/openai_client.h"
#include "server_fixture.h"

namespace lcte::server {
namespace {

TEST(ServeLoad, ConcurrentStreamingClientsGetTheirOwnAnswers) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  auto engine = testing::load_engine("stories");
  const std::vector<std::string> prompts = {
      "Once upon a time", "The cat", "Lily and Ben went", "One day, a big dog", "Tom had a red ball", "The sun was"};
  // What each prompt gives alone, straight from the engine.
  std::vector<std::string> expected;
  for (const std::string& p : prompts) {
    backend::GenerationRequest r;
    r.prompt = p;
    r.sampling.max_tokens = 20;
    expected.push_back(engine->generate(r).at(0).text);
  }
  std::set<std::string> distinct(expected.begin(), expected.end());
  ASSERT_EQ(distinct.size(), expected.size());  // a mix-up would be visible

  testing::LiveServer s({{"stories", engine}}, {});
  const int clients = 12;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::atomic<int> answered{0}, wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      backend::HttpOptions o;
      o.base_url = s.url();
      o.model = "stories";
      o.stream = true;
      o.max_retries = 0;  // a failure must show, not be retried away
      o.request_timeout_s = 60;
      backend::OpenAIClient client(o);
      for (int i = 0; i < 50 && (i < 2 || std::chrono::steady_clock::now() < deadline); ++i) {
        size_t k = static_cast<size_t>(c + i) % prompts.size();
        backend::CompletionRequest r;
        r.prompt = prompts[k];
        r.max_tokens = 20;
        std::string streamed;
        try {
          backend::CompletionResult out = client.complete(r, [&](int, std::string_view piece) { streamed += piece; });
          if (out.texts.at(0) != expected[k] || streamed != expected[k]) wrong++;
          answered++;
        } catch (const std::exception& e) {
          ADD_FAILURE() << "client " << c << ": " << e.what();
          failed++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GE(answered.load(), clients * 2);
  EXPECT_EQ(s.server->metrics().requests("stories"), static_cast<uint64_t>(answered.load()));
  EXPECT_EQ(s.server->metrics().errors("stories"), 0u);
}

}  // namespace
}  // namespace lcte::server
