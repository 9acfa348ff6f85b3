// The HTTP backend against a local OpenAI-compatible test server that can be
// told to fail in each of the ways real fleets fail.
#include "backend/openai_client.h"
#include "backend/http_backend.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"

namespace lcte::backend {
namespace {

using nlohmann::json;

struct TestServer {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::atomic<int> requests{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::string last_auth;
  json last_body;
  std::mutex mutex;

  TestServer() = default;
  void start() {
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestServer() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  // Records the request and returns its attempt number (1-based).
  int enter(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mutex);
    last_auth = req.get_header_value("Authorization");
    last_body = json::parse(req.body, nullptr, false);
    return ++requests;
  }
};

HttpOptions options_for(const TestServer& s, bool stream) {
  HttpOptions o;
  o.base_url = s.url() + "/v1/";
  o.model = "test-model";
  o.stream = stream;
  o.initial_backoff_s = 0.01;
  o.max_backoff_s = 0.05;
  o.max_retries = 3;
  o.request_timeout_s = 10;
  o.stall_timeout_s = 5;
  return o;
}

std::string sse(const json& j) { return "data: " + j.dump() + "\n\n"; }

json chunk(const std::string& text, const char* finish = nullptr) {
  json c = {{"index", 0}, {"delta", {{"content", text}}}};
  c["finish_reason"] = finish ? json(finish) : json(nullptr);
  return {{"choices", {c}}};
}

TEST(OpenAIClient, NonStreamingCompletionWithUsage) {
  TestServer s;
  s.server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    s.enter(req);
    json out = {{"choices",
                 {{{"index", 0}, {"text", "  return a + b\n"}, {"finish_reason", "stop"}},
                  {{"index", 1}, {"text", "  return b + a\n"}, {"finish_reason", "length"}}}},
                {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 14}}}};
    res.set_content(out.dump(), "application/json");
  });
  s.start();
  OpenAIClient client(options_for(s, false));
  CompletionRequest r;
  r.prompt = "def add(a, b):\n";
  r.n = 2;
  r.stop = {"\ndef "};
  r.seed = 42;
  CompletionResult out = client.complete(r);
  ASSERT_EQ(out.texts.size(), 2u);
  EXPECT_EQ(out.texts[0], "  return a + b\n");
  EXPECT_EQ(out.finish_reasons[1], "length");
  EXPECT_EQ(out.prompt_tokens, 12);
  EXPECT_EQ(out.completion_tokens, 14);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(s.last_body["model"], "test-model");
  EXPECT_EQ(s.last_body["prompt"], "def add(a, b):\n");
  EXPECT_EQ(s.last_body["stop"][0], "\ndef ");
  EXPECT_EQ(s.last_body["seed"], 42);
  EXPECT_EQ(s.last_body["n"], 2);
  EXPECT_FALSE(s.last_body.contains("stream"));
}

// Log probabilities in both of OpenAI's formats: the completions map (here
// listing the chosen token beyond the two asked for, keys not in order) comes
// back best first and cut to two; chat's per-chunk lists, as OpenAI streams
// them, are joined.
TEST(OpenAIClient, LogprobsAreAskedForAndReadInBothFormats) {
  TestServer s;
  s.server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    s.enter(req);
    json lp = {{"tokens", {"a", "b"}},
               {"token_logprobs", {-0.5, -3.0}},
               {"top_logprobs", {{{"x", -1.5}, {"a", -0.5}}, {{"c", -0.25}, {"d", -2.0}, {"b", -3.0}}}},
               {"text_offset", {0, 1}}};
    json out = {{"choices", {{{"index", 0}, {"text", "ab"}, {"finish_reason", "stop"}, {"logprobs", lp}}}}};
    res.set_content(out.dump(), "application/json");
  });
  s.server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    s.enter(req);
    auto with_lp = [](json c, const std::string& token, double v) {
      c["choices"][0]["logprobs"] = {
          {"content", {{{"token", token}, {"logprob", v}, {"top_logprobs", {{{"token", token}, {"logprob", v}}}}}}}};
      return c;
    };
    res.set_content(sse(with_lp(chunk("Hi"), "Hi", -0.125)) + sse(with_lp(chunk(" you", "stop"), " you", -1.0)) +
                        "data: [DONE]\n\n",
                    "text/event-stream");
  });
  s.start();
  OpenAIClient plain(options_for(s, false));
  CompletionRequest r;
  r.prompt = "p";
  r.logprobs = 2;
  CompletionResult out = plain.complete(r);
  EXPECT_EQ(s.last_body["logprobs"], 2);
  ASSERT_EQ(out.logprobs.size(), 1u);
  ASSERT_EQ(out.logprobs[0].size(), 2u);
  EXPECT_EQ(out.logprobs[0][0].token, "a");
  EXPECT_EQ(out.logprobs[0][0].logprob, -0.5);
  ASSERT_EQ(out.logprobs[0][0].top.size(), 2u);
  EXPECT_EQ(out.logprobs[0][0].top[0].token, "a");
  EXPECT_EQ(out.logprobs[0][0].top[1].token, "x");
  ASSERT_EQ(out.logprobs[0][1].top.size(), 2u);  // the chosen "b" (-3) is not among the best two
  EXPECT_EQ(out.logprobs[0][1].top[0].token, "c");
  EXPECT_EQ(out.logprobs[0][1].top[1].logprob, -2.0);

  OpenAIClient streaming(options_for(s, true));
  CompletionRequest c;
  c.chat = true;
  c.messages = {{"user", "hi"}};
  c.logprobs = 1;
  CompletionResult chat = streaming.complete(c);
  EXPECT_EQ(s.last_body["logprobs"], true);
  EXPECT_EQ(s.last_body["top_logprobs"], 1);
  EXPECT_EQ(chat.texts[0], "Hi you");
  ASSERT_EQ(chat.logprobs.size(), 1u);
  ASSERT_EQ(chat.logprobs[0].size(), 2u);
  EXPECT_EQ(chat.logprobs[0][1].token, " you");
  EXPECT_EQ(chat.logprobs[0][1].logprob, -1.0);
  EXPECT_EQ(chat.logprobs[0][0].top.at(0).logprob, -0.125);

  // Not asked: nothing sent, nothing read.
  CompletionRequest none;
  none.prompt = "p";
  CompletionResult bare = plain.complete(none);
  EXPECT_FALSE(s.last_body.contains("logprobs"));
  EXPECT_TRUE(bare.logprobs.empty());
}

// A server that ignores the request for log probabilities: the sample fails
// with a message, it does not come back without them.
TEST(HttpBackend, ServerThatSendsNoLogprobsFailsTheSample) {
  TestServer s;
  s.server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    s.enter(req);
    json out = {{"choices", {{{"index", 0}, {"text", "ab"}, {"finish_reason", "stop"}, {"logprobs", nullptr}}}}};
    res.set_content(out.dump(), "application/json");
  });
  s.start();
  HttpBackend backend(options_for(s, false));
  GenerationRequest r;
  r.prompt = "p";
  r.logprobs = 0;
  std::vector<Generation> out = backend.generate(r);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].error.find("sent no log probabilities"), std::string::npos) << out[0].error;
  EXPECT_EQ(s.last_body["logprobs"], 0);
  r.logprobs = -1;
  out = backend.generate(r);
  EXPECT_TRUE(out[0].error.empty()) << out[0].error;
  EXPECT_EQ(out[0].text, "ab");
}

TEST(OpenAIClient, StreamingChatSplitAcrossChunksWithKeyAndUsage) {
  TestServer s;
  s.server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    s.enter(req);
    std::string body = sse(chunk("Hel")) + ": ping\n\n" + sse(chunk("lo, ")) + sse(chunk("world", "stop")) +
                       sse({{"choices", json::array()}, {"usage", {{"prompt_tokens", 5}, {"completion_tokens", 3}}}}) +
                       "data: [DONE]\n\n";
    res.set_chunked_content_provider("text/event-stream", [body](size_t, httplib::DataSink& sink) {
      // Seven-byte writes cut lines and JSON in the middle.
      for (size_t i = 0; i < body.size(); i += 7) sink.write(body.data() + i, std::min<size_t>(7, body.size() - i));
      sink.done();
      return true;
    });
  });
  s.start();
  setenv("LCTE_TEST_KEY", "sk-test-123", 1);
  HttpOptions o = options_for(s, true);
  o.api_key_env = "LCTE_TEST_KEY";
  OpenAIClient client(o);
  CompletionRequest r;
  r.chat = true;
  r.messages = {{"system", "Be brief."}, {"user", "Say hello."}};
  std::string streamed;
  CompletionResult out = client.complete(r, [&](int choice, std::string_view piece) {
    EXPECT_EQ(choice, 0);
    streamed += piece;
  });
  EXPECT_EQ(out.texts[0], "Hello, world");
  EXPECT_EQ(streamed, "Hello, world");
  EXPECT_EQ(out.finish_reasons[0], "stop");
  EXPECT_EQ(out.prompt_tokens, 5);
  EXPECT_EQ(out.completion_tokens, 3);
  EXPECT_GE(out.time_to_first_token_s, 0);
  EXPECT_LE(out.time_to_first_token_s, out.latency_s);
  EXPECT_GE(out.time_per_output_token_s, 0);
  EXPECT_EQ(s.last_auth, "Bearer sk-test-123");
  EXPECT_EQ(s.last_body["messages"][1]["content"], "Say hello.");
  EXPECT_EQ(s.last_body["stream"], true);
}

TEST(OpenAIClient, RetriesServerErrorsAndRateLimitsThenSucceeds) {
  TestServer s;
  s.server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    int n = s.enter(req);
    if (n == 1) {
      res.status = 500;
      res.set_content("{\"error\":{\"message\":\"boom\"}}", "application/json");
    } else if (n == 2) {
      res.status = 429;
      res.set_header("Retry-After", "0");
      res.set_content("{\"error\":\"slow down\"}", "application/json");
    } else {
      res.set_content(json({{"choices", {{{"index", 0}, {"text", "ok"}, {"finish_reason", "stop"}}}}}).dump(),
                      "application/json");
    }
  });
  s.start();
  OpenAIClient client(options_for(s, false));
  CompletionResult out = client.complete({});
  EXPECT_EQ(out.texts[0], "ok");
  EXPECT_EQ(out.attempts, 3);
  EXPECT_EQ(out.prompt_tokens, -1);  // no usage given
}

TEST(OpenAIClient, ClientErrorsAreNotRetriedAndCarryTheServersMessage) {
  TestServer s;
  s.server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    s.enter(req);
    res.status = 400;
    res.set_content("{\"error\":{\"message\":\"max_tokens is too large\",\"type\":\"invalid_request_error\"}}",
                    "application/json");
  });
  s.start();
  OpenAIClient client(options_for(s, false));
  try {
    client.complete({});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 400: max_tokens is too large"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s.requests.load(), 1);
}

TEST(OpenAIClient, ADroppedStreamIsAskedAgain) {
  TestServer s;
  s.server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    int n = s.enter(req);
    json part = {{"choices", {{{"index", 0}, {"text", "par"}}}}};
    json rest = {{"choices", {{{"index", 0}, {"text", "tial"}, {"finish_reason", "stop"}}}}};
    res.set_chunked_content_provider("text/event-stream", [n, part, rest](size_t, httplib::DataSink& sink) {
      std::string first = sse(part);
      sink.write(first.data(), first.size());
      if (n == 1) return false;  // the connection breaks off mid-stream
      std::string second = sse(rest) + "data: [DONE]\n\n";
      sink.write(second.data(), second.size());
      sink.done();
      return true;
    });
  });
  s.start();
  OpenAIClient client(options_for(s, true));
  CompletionResult out = client.complete({});
  EXPECT_EQ(out.texts[0], "partial");  // the first attempt's "par" was discarded
  EXPECT_EQ(out.attempts, 2);
}

TEST(OpenAIClient, AStalledServerTimesOutAndIsRetried) {
  TestServer s;
  s.server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    int n = s.enter(req);
    if (n == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    res.set_content(json({{"choices", {{{"index", 0}, {"text", "late"}, {"finish_reason", "stop"}}}}}).dump(),
                    "application/json");
  });
  s.start();
  HttpOptions o = options_for(s, false);
  o.stall_timeout_s = 0.3;
  OpenAIClient client(o);
  auto t0 = std::chrono::steady_clock::now();
  CompletionResult out = client.complete({});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(out.texts[0], "late");
  EXPECT_EQ(out.attempts, 2);
  EXPECT_LT(took, 1.4);  // it did not wait for the stalled answer
}

TEST(OpenAIClient, GivesUpWithTheLastReasonWhenNothingListens) {
  // A port that was free a moment ago and has no listener: connections are refused.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  HttpOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  o.model = "m";
  o.initial_backoff_s = 0.01;
  o.max_retries = 2;
  OpenAIClient client(o);
  try {
    client.complete({});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gave up after 3 attempts"), std::string::npos) << e.what();
  }
}

TEST(OpenAIClient, KeepsAtMostTheConfiguredRequestsInFlight) {
  TestServer s;
  s.server.new_task_queue = [] { return new httplib::ThreadPool(8); };
  s.server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    s.enter(req);
    int now = ++s.in_flight;
    int seen = s.max_in_flight.load();
    while (now > seen && !s.max_in_flight.compare_exchange_weak(seen, now)) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    --s.in_flight;
    res.set_content(json({{"choices", {{{"index", 0}, {"text", "x"}, {"finish_reason", "stop"}}}}}).dump(),
                    "application/json");
  });
  s.start();
  HttpOptions o = options_for(s, false);
  o.max_in_flight = 2;
  OpenAIClient client(o);
  std::vector<std::thread> callers;
  for (int i = 0; i < 6; ++i) callers.emplace_back([&] { client.complete({}); });
  for (auto& t : callers) t.join();
  EXPECT_EQ(s.requests.load(), 6);
  EXPECT_EQ(s.max_in_flight.load(), 2);
}

TEST(OpenAIClient, ConfigurationMistakesAreExplained) {
  HttpOptions o;
  o.base_url = "localhost:8000";
  EXPECT_THROW(OpenAIClient{o}, Error);
  o.base_url = "http://localhost:8000";
  o.api_key_env = "LCTE_SURELY_UNSET_VARIABLE";
  try {
    OpenAIClient c(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("LCTE_SURELY_UNSET_VARIABLE is not set"), std::string::npos);
  }
}

TEST(OpenAIClient, BackoffDoublesIsCappedAndHonoursRetryAfter) {
  HttpOptions o;
  o.initial_backoff_s = 0.5;
  o.max_backoff_s = 8;
  EXPECT_DOUBLE_EQ(backoff_seconds(o, 1, 1.0, std::nullopt), 0.5);
  EXPECT_DOUBLE_EQ(backoff_seconds(o, 3, 1.0, std::nullopt), 2.0);
  EXPECT_DOUBLE_EQ(backoff_seconds(o, 10, 1.0, std::nullopt), 8.0);
  EXPECT_DOUBLE_EQ(backoff_seconds(o, 3, 0.0, std::nullopt), 1.0);  // jitter halves at most
  EXPECT_DOUBLE_EQ(backoff_seconds(o, 1, 1.0, 5.0), 5.0);
}

}  // namespace
}  // namespace lcte::backend
