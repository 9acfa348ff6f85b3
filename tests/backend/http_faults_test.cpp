// The HTTP backend against a local fault server that drops connections,
// stalls, and answers 500, 429 and 400: retries as configured, then a clear
// error for that sample; an eval run through it goes on, keeps the finished
// samples, and a resume asks only for the ones that failed.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "backend/http_backend.h"
#include "common/test_data.h"
#include "eval/fake_executor.h"
#include "eval/run_database.h"
#include "eval/session.h"

namespace lcte::backend {
namespace {

using nlohmann::json;

// Answers /v1/completions according to a marker in the prompt:
//   DROP:  the first attempt's stream is cut off after one event;
//   STALL: the first attempt sends nothing for 1.5 s;
//   E500:  the first attempt gets 500; 429: the first gets 429 with Retry-After: 0;
//   ALWAYS: every attempt gets 503 (until `heal` is set);
//   E400:  400 with a message.
// Otherwise (and once recovered) it streams "  return 'PASS'\n" in pieces.
struct FaultServer {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mutex;
  std::map<std::string, int> attempts;  // per prompt
  std::atomic<bool> heal{false};

  static constexpr const char* kAnswer = "    return 'PASS'\n";

  FaultServer() {
    server.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FaultServer() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
  int attempts_of(const std::string& prompt) {
    std::lock_guard<std::mutex> lock(mutex);
    return attempts[prompt];
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body);
    std::string prompt = body["prompt"];
    int attempt;
    {
      std::lock_guard<std::mutex> lock(mutex);
      attempt = ++attempts[prompt];
    }
    auto has = [&](const char* marker) { return prompt.find(marker) != std::string::npos; };
    if (has("E400")) {
      res.status = 400;
      res.set_content(R"({"error":{"message":"prompt is too long for this model","type":"invalid_request_error"}})",
                      "application/json");
      return;
    }
    if ((has("ALWAYS") && !heal) || (has("E500") && attempt == 1)) {
      res.status = has("ALWAYS") ? 503 : 500;
      res.set_content(R"({"error":{"message":"backend overloaded"}})", "application/json");
      return;
    }
    if (has("E429") && attempt == 1) {
      res.status = 429;
      res.set_header("Retry-After", "0");
      res.set_content(R"({"error":{"message":"rate limited"}})", "application/json");
      return;
    }
    bool drop = has("DROP") && attempt == 1;
    bool stall = has("STALL") && attempt == 1;
    bool stream = body.value("stream", false);
    if (!stream) {
      if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      json out = {{"choices", {{{"index", 0}, {"text", kAnswer}, {"finish_reason", "stop"}}}},
                  {"usage", {{"prompt_tokens", 9}, {"completion_tokens", 5}}}};
      res.set_content(out.dump(), "application/json");
      return;
    }
    res.set_chunked_content_provider("text/event-stream", [drop, stall](size_t, httplib::DataSink& sink) {
      if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      auto event = [&](const json& j) {
        std::string e = "data: " + j.dump() + "\n\n";
        sink.write(e.data(), e.size());
      };
      event({{"choices", {{{"index", 0}, {"text", "    return "}, {"finish_reason", nullptr}}}}});
      if (drop) return false;  // closes the connection mid-stream
      event({{"choices", {{{"index", 0}, {"text", "'PASS'\n"}, {"finish_reason", "stop"}}}}});
      event({{"choices", json::array()}, {"usage", {{"prompt_tokens", 9}, {"completion_tokens", 5}}}});
      std::string done = "data: [DONE]\n\n";
      sink.write(done.data(), done.size());
      sink.done();
      return true;
    });
  }
};

HttpOptions fast_options(const FaultServer& s, int retries) {
  HttpOptions o;
  o.base_url = s.url();
  o.model = "fault";
  o.max_retries = retries;
  o.initial_backoff_s = 0.01;
  o.max_backoff_s = 0.02;
  o.stall_timeout_s = 0.5;
  o.request_timeout_s = 10;
  return o;
}

GenerationRequest request(const std::string& prompt) {
  GenerationRequest r;
  r.prompt = prompt;
  r.sampling.max_tokens = 16;
  return r;
}

TEST(HttpFaults, EachFaultIsRetriedAndTheSampleComesThrough) {
  FaultServer s;
  for (bool stream : {true, false}) {
    HttpOptions o = fast_options(s, 2);
    o.stream = stream;
    HttpBackend backend(o);
    for (std::string marker : {"DROP", "STALL", "E500", "E429"}) {
      if (marker == "DROP" && !stream) continue;  // a whole answer cannot be cut mid-stream here
      std::string prompt = marker + (stream ? " s" : " w");
      std::string streamed;
      std::vector<Generation> out =
          backend.generate(request(prompt), [&](int, std::string_view piece) { streamed += piece; });
      ASSERT_EQ(out.size(), 1u);
      // A retried stream is not shown twice (the cut-off one sent "    return ").
      if (stream) {
        EXPECT_EQ(streamed, FaultServer::kAnswer) << marker;
      }
      EXPECT_EQ(out[0].error, "") << marker;
      EXPECT_EQ(out[0].text, FaultServer::kAnswer) << marker;
      EXPECT_EQ(out[0].prompt_tokens, 9);
      EXPECT_EQ(out[0].completion_tokens, 5);
      EXPECT_EQ(s.attempts_of(prompt), 2) << marker;  // one failure, one success
    }
  }
}

TEST(HttpFaults, ExhaustedRetriesAndRefusalsAreClearPerSampleErrors) {
  FaultServer s;
  HttpBackend backend(fast_options(s, 2));
  GenerationRequest r = request("ALWAYS x");
  r.sample_indices = {0, 1};
  std::vector<Generation> out = backend.generate(r);
  ASSERT_EQ(out.size(), 2u);
  for (const Generation& g : out) {
    EXPECT_NE(g.error.find("gave up after 3 attempts"), std::string::npos) << g.error;
    EXPECT_NE(g.error.find("HTTP 503"), std::string::npos) << g.error;
    EXPECT_NE(g.error.find("backend overloaded"), std::string::npos) << g.error;
  }
  EXPECT_EQ(s.attempts_of("ALWAYS x"), 6);  // 2 samples x (1 + 2 retries)

  out = backend.generate(request("E400 y"));
  EXPECT_NE(out[0].error.find("HTTP 400"), std::string::npos) << out[0].error;
  EXPECT_NE(out[0].error.find("prompt is too long for this model"), std::string::npos) << out[0].error;
  EXPECT_EQ(s.attempts_of("E400 y"), 1);  // not retried

  // Nobody listening: connection refused, retried, then an error.
  HttpOptions o = fast_options(s, 1);
  o.base_url = "http://127.0.0.1:1";
  HttpBackend nowhere(o);
  out = nowhere.generate(request("x"));
  EXPECT_NE(out[0].error.find("gave up after 2 attempts"), std::string::npos) << out[0].error;
}

TEST(HttpFaults, EvalRunContinuesKeepsFinishedSamplesAndResumesTheFailedOnes) {
  FaultServer s;
  std::string dir = lcte::testing::temp_dir();
  std::string suite = dir + "/suite.jsonl";
  {
    std::ofstream out(suite);
    for (auto [id, marker] : std::vector<std::pair<const char*, const char*>>{
             {"t/ok", "fine"}, {"t/down", "ALWAYS"}, {"t/drop", "DROP"}, {"t/busy", "E429"}})
      out << json{{"task_id", id},
                  {"prompt", std::string("# ") + marker + "\ndef f():\n"},
                  {"tests", "assert f()\n"},
                  {"entry_point", "f"},
                  {"reference", "    return 1\n"}}
                 .dump()
          << "\n";
  }
  eval::EvalConfig c;
  c.suite = suite;
  c.backend = "http";
  c.base_url = s.url();
  c.model = "fault";
  c.n = 2;
  c.temperature = 0.5;
  eval::SessionOptions o;
  o.out_dir = dir + "/runs";
  o.run_id = "faulty";
  o.workers = 2;
  eval::testing::FakeExecutor executor;
  o.executor = &executor;
  o.http = fast_options(s, 2);
  eval::SessionResult first = eval::run_eval(c, o);
  ASSERT_EQ(first.failures.size(), 2u);
  EXPECT_EQ(first.failures[0].task_id, "t/down");
  EXPECT_EQ(first.failures[0].sample_index, 0);
  EXPECT_EQ(first.failures[1].sample_index, 1);
  EXPECT_NE(first.failures[0].message.find("HTTP 503"), std::string::npos);
  EXPECT_FALSE(first.summary["complete"].get<bool>());
  EXPECT_EQ(first.summary["generation_failures"].size(), 2u);
  EXPECT_EQ(first.summary["samples"], 6);
  EXPECT_EQ(executor.calls(), 6);
  for (const auto& row : eval::RunDatabase::open(first.run_dir).rows()) {
    EXPECT_NE(row.task_id, "t/down");
    EXPECT_EQ(row.completion, FaultServer::kAnswer);
    EXPECT_EQ(row.status, "passed");
  }

  s.heal = true;
  eval::SessionResult resumed = eval::resume_eval(first.run_dir, json::object(), o);
  EXPECT_TRUE(resumed.failures.empty());
  EXPECT_TRUE(resumed.summary["complete"].get<bool>());
  EXPECT_EQ(executor.calls(), 8);  // only the two failed samples were asked again
  EXPECT_EQ(eval::RunDatabase::open(first.run_dir).count(), 8u);
}

}  // namespace
}  // namespace lcte::backend
