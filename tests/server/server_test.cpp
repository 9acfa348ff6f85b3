// lcte serve in-process on a loopback port: answers checked against llama2.c's
// documented greedy story, streamed and whole answers agree, the router seam,
// and every kind of bad request gets OpenAI's error object with the right
// status while the server keeps serving.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "backend/http_backend.h"
#include "backend/openai_client.h"
#include "backend/sse.h"
#include "core/error.h"
#include "server/api.h"
#include "server_fixture.h"

namespace lcte::server {
namespace {

using nlohmann::json;
using testing::Answer;
using testing::LiveServer;
using testing::load_engine;

std::string story() {
  std::ifstream in(lcte::testing::data_path("models/stories260K.greedy256.expected.txt"));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<backend::EngineBackend> engine_f32(const std::string& name = "stories") {
  backend::EngineOptions o;
  o.path = lcte::testing::data_path(testing::kModelFile);
  o.name = name;
  o.threads = 1;
  o.n_ctx = 512;
  o.kv_type = "f32";
  return std::make_shared<backend::EngineBackend>(o);
}

json completion(const std::string& prompt, int max_tokens) {
  return {{"model", "stories"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

// The text of an SSE answer, per choice, and whether it ended with [DONE].
struct Streamed {
  std::map<int, std::string> text;
  std::map<int, std::string> finish;
  bool done = false;
  json usage;
  int chunks = 0;         // data events other than [DONE]
  int usage_fields = 0;   // chunks that carry "usage" (null or not)
  int usage_objects = 0;  // chunks whose "usage" is an object
  std::vector<json> errors;
};

Streamed parse_stream(const std::string& body, bool chat) {
  Streamed out;
  backend::SseParser parser([&](const std::string& data) {
    if (data == "[DONE]") {
      out.done = true;
      return;
    }
    json j = json::parse(data);
    if (j.contains("error")) out.errors.push_back(j);
    ++out.chunks;
    if (j.contains("usage")) ++out.usage_fields;
    if (j.contains("usage") && !j["usage"].is_null()) {
      out.usage = j["usage"];
      ++out.usage_objects;
    }
    for (const json& c : j.value("choices", json::array())) {
      int i = c["index"];
      if (chat && c["delta"].contains("content")) out.text[i] += c["delta"]["content"].get<std::string>();
      if (!chat) out.text[i] += c["text"].get<std::string>();
      if (c["finish_reason"].is_string()) out.finish[i] = c["finish_reason"];
    }
  });
  parser.feed(body);
  parser.finish();
  return out;
}

TEST(Serve, CompletionEqualsLlama2cGreedyStoryStreamedOrNot) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  LCTE_REQUIRE_DATA("models/stories260K.greedy256.expected.txt");
  LiveServer s({{"stories", engine_f32()}}, {});
  Answer a = post(s, "/v1/completions", completion("Once upon a time", 40).dump());
  ASSERT_EQ(a.status, 200) << a.text;
  const std::string text = a.body["choices"][0]["text"];
  ASSERT_FALSE(text.empty());
  EXPECT_EQ("Once upon a time" + text, story().substr(0, 16 + text.size()));
  EXPECT_EQ(a.body["object"], "text_completion");
  EXPECT_EQ(a.body["model"], "stories");
  EXPECT_EQ(a.body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(a.body["usage"]["completion_tokens"], 40);
  EXPECT_EQ(a.body["usage"]["prompt_tokens"], 5);  // BOS + "Once upon a time" (403 407 261 378)

  json streamed = completion("Once upon a time", 40);
  streamed["stream"] = true;
  streamed["stream_options"] = {{"include_usage", true}};
  Answer b = post(s, "/v1/completions", streamed.dump());
  ASSERT_EQ(b.status, 200);
  Streamed st = parse_stream(b.text, false);
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.text[0], text);
  EXPECT_EQ(st.finish[0], "length");
  EXPECT_EQ(st.usage["completion_tokens"], 40);
  // As OpenAI streams with include_usage: every chunk has "usage", null but in the last.
  EXPECT_GT(st.chunks, 2);
  EXPECT_EQ(st.usage_fields, st.chunks);
  EXPECT_EQ(st.usage_objects, 1);
}

TEST(Serve, StopSequencesNAndChat) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  LiveServer s({{"stories", engine_f32()}}, {});
  json r = completion("Once upon a time", 100);
  r["stop"] = "Lily";
  r["n"] = 3;
  Answer a = post(s, "/v1/completions", r.dump());
  ASSERT_EQ(a.status, 200) << a.text;
  ASSERT_EQ(a.body["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {  // greedy: three equal choices
    EXPECT_EQ(a.body["choices"][i]["text"], ", there was a little girl named ");
    EXPECT_EQ(a.body["choices"][i]["finish_reason"], "stop");
    EXPECT_EQ(a.body["choices"][i]["index"], i);
  }

  // Chat on a base model: the Plain template renders the message text alone,
  // so the answer continues it like the completion does.
  json chat = {{"model", "stories"},
               {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
               {"max_tokens", 12},
               {"temperature", 0}};
  Answer c = post(s, "/v1/chat/completions", chat.dump());
  ASSERT_EQ(c.status, 200) << c.text;
  EXPECT_EQ(c.body["object"], "chat.completion");
  EXPECT_EQ(c.body["choices"][0]["message"]["role"], "assistant");
  const std::string reply = c.body["choices"][0]["message"]["content"];
  EXPECT_EQ("Once upon a time" + reply, story().substr(0, 16 + reply.size()));
  chat["stream"] = true;
  Answer d = post(s, "/v1/chat/completions", chat.dump());
  ASSERT_EQ(d.status, 200);
  Streamed sd = parse_stream(d.text, true);
  EXPECT_EQ(sd.text[0], reply);
  EXPECT_EQ(sd.usage_fields, 0);  // no include_usage: no usage field at all
}

TEST(Serve, SeededSamplingIsReproducibleAndEqualsTheEngine) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  auto engine = engine_f32();
  LiveServer s({{"stories", engine}}, {});
  json r = {{"model", "stories"}, {"prompt", "Once upon a time"},
            {"max_tokens", 24},   {"temperature", 1.0},
            {"seed", 1234},       {"n", 2}};
  Answer a = post(s, "/v1/completions", r.dump());
  Answer b = post(s, "/v1/completions", r.dump());
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["choices"], b.body["choices"]);
  EXPECT_NE(a.body["choices"][0]["text"], a.body["choices"][1]["text"]);
  // Choice 1 asked alone, with its own seed, is the same sample (sample_seed).
  r["n"] = 1;
  r["seed"] = backend::sample_seed(1234, "", 1);
  Answer one = post(s, "/v1/completions", r.dump());
  EXPECT_EQ(one.body["choices"][0]["text"], a.body["choices"][1]["text"]);
}

TEST(EngineBackend, CancelledRequestStopsAtTheNextPiece) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  auto engine = engine_f32();
  backend::GenerationRequest r;
  r.prompt = "Once upon a time";
  r.sampling.max_tokens = 200;
  r.sample_indices = {0, 1};
  int pieces = 0;
  r.cancelled = [&pieces] { return pieces >= 3; };
  auto out = engine->generate(r, [&](int, std::string_view) { pieces++; });
  EXPECT_EQ(pieces, 3);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].finish_reason, "cancelled");
  EXPECT_EQ(out[1].sample_index, 1);
  // Not cancelled: the whole 200 tokens (the story has no end-of-text by then).
  r.cancelled = [] { return false; };
  out = engine->generate(r);
  EXPECT_EQ(out[0].completion_tokens, 200);
  EXPECT_EQ(out[0].finish_reason, "length");
}

TEST(Serve, ClientThatHangsUpMidStreamIsCountedAndTheServerGoesOn) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  ServerOptions o;
  o.limits.max_tokens = 480;
  LiveServer s({{"stories", engine_f32()}}, o);
  {
    httplib::Client c = s.client();
    json r = completion("Once upon a time", 480);
    r["stream"] = true;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = r.dump();
    req.set_header("Content-Type", "application/json");
    size_t received = 0;
    req.content_receiver = [&](const char*, size_t n, uint64_t, uint64_t) {
      received += n;
      return false;  // hang up after the first piece
    };
    c.send(req);
    EXPECT_GT(received, 0u);
  }
  for (int i = 0; i < 2000 && s.server->metrics().errors("stories") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(s.server->metrics().errors("stories"), 1u);
  EXPECT_NE(s.server->metrics().prometheus().find("type=\"client_disconnected\""), std::string::npos);
  Answer ok = post(s, "/v1/completions", completion("Once upon a time", 4).dump());
  EXPECT_EQ(ok.status, 200);
}

TEST(Serve, RouterChoosesTheTierAndExplains) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  auto small = engine_f32("small");
  auto large = engine_f32("large");
  route::RouterConfig rc;
  rc.tiers = {"small", "large"};
  route::TokenCounter count{"stories", [small](std::string_view t) { return small->count_tokens(std::string(t)); }};
  // Filled on the server's worker threads, read here.
  std::mutex decided_mutex;
  std::vector<std::string> decided;
  RouteFn router = make_route_fn(std::make_shared<const route::Router>(rc, count),
                                 [&](const route::RouteResult& r, const std::string&) {
                                   std::lock_guard<std::mutex> lock(decided_mutex);
                                   decided.push_back(r.tier);
                                 });
  LiveServer s({{"small", small}, {"large", large}}, {}, router);
  json r = {{"model", "router"}, {"prompt", "Once upon a time"}, {"max_tokens", 4}, {"temperature", 0}};
  Answer a = post(s, "/v1/completions", r.dump());
  ASSERT_EQ(a.status, 200) << a.text;
  EXPECT_EQ(a.body["model"], "small");
  EXPECT_EQ(a.body["routing"]["model"], "small");
  EXPECT_EQ(a.body["routing"]["n_tokens"], 4);  // "Once upon a time": 4 tokens without BOS
  EXPECT_EQ(a.body["routing"]["tokenizer"], "stories");
  EXPECT_EQ(a.body["routing"]["score"], 1);
  std::string long_prompt;
  for (int i = 0; i < 60; ++i) long_prompt += "Once upon a time ";  // 240 tokens: score 7
  r["prompt"] = long_prompt;
  r["model"] = "auto";
  a = post(s, "/v1/completions", r.dump());
  ASSERT_EQ(a.status, 200) << a.text;
  EXPECT_EQ(a.body["model"], "large");
  EXPECT_EQ(a.body["routing"]["score"], 7);
  Answer models = get(s, "/v1/models");
  ASSERT_EQ(models.status, 200);
  std::vector<std::string> ids;
  for (const json& m : models.body["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"small", "large", "router"}));
  std::lock_guard<std::mutex> lock(decided_mutex);
  EXPECT_EQ(decided, (std::vector<std::string>{"small", "large"}));  // every decision heard
}

void expect_error(const Answer& a, int status, const std::string& param, const std::string& code = "") {
  EXPECT_EQ(a.status, status) << a.text;
  ASSERT_TRUE(a.body.is_object()) << a.text;
  ASSERT_TRUE(a.body.contains("error")) << a.text;
  const json& e = a.body["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << a.text;
  EXPECT_TRUE(e["type"].is_string()) << a.text;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << a.text;
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << a.text;
  }
  if (!code.empty()) {
    EXPECT_EQ(e["code"], code) << a.text;
  }
}

TEST(Serve, BadRequestsGetTheErrorObjectAndTheServerKeepsServing) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  ServerOptions o;
  o.http.max_body_bytes = 4096;
  o.limits.max_n = 4;
  o.limits.max_tokens = 64;
  LiveServer s({{"stories", engine_f32()}}, o);
  auto with = [](std::function<void(json&)> change) {
    json r = completion("Once upon a time", 4);
    change(r);
    return r.dump();
  };
  expect_error(post(s, "/v1/completions", "{\"model\": \"stories\", \"prompt\": "), 400, "", "invalid_json");
  expect_error(post(s, "/v1/completions", "[1, 2]"), 400, "", "invalid_json");
  expect_error(post(s, "/v1/completions", ""), 400, "", "invalid_json");
  expect_error(post(s, "/v1/completions", with([](json& r) { r.erase("model"); })), 400, "model");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["model"] = 7; })), 400, "model", "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["model"] = "gpt-4"; })), 404, "model",
               "model_not_found");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["model"] = "router"; })), 404, "model",
               "model_not_found");
  expect_error(post(s, "/v1/completions", with([](json& r) { r.erase("prompt"); })), 400, "prompt");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["prompt"] = {1, 2, 3}; })), 400, "prompt");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["temperature"] = "hot"; })), 400, "temperature",
               "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["temperature"] = 3; })), 400, "temperature");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["top_p"] = 0; })), 400, "top_p");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["max_tokens"] = -5; })), 400, "max_tokens");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["max_tokens"] = 1.5; })), 400, "max_tokens",
               "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["max_tokens"] = 65; })), 400, "max_tokens");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["n"] = 5; })), 400, "n");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["n"] = 0; })), 400, "n");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["stream"] = "yes"; })), 400, "stream", "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["stop"] = {"a", 5}; })), 400, "stop", "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["stop"] = ""; })), 400, "stop");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["seed"] = "x"; })), 400, "seed", "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["logprobs"] = 21; })), 400, "logprobs");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["logprobs"] = "5"; })), 400, "logprobs", "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["echo"] = true; })), 400, "echo",
               "unsupported_parameter");
  expect_error(post(s, "/v1/completions", with([](json& r) {
                      r["logit_bias"] = {{"50256", -100}};
                    })),
               400, "logit_bias", "unsupported_parameter");
  expect_error(post(s, "/v1/completions", with([](json& r) {
                      r["response_format"] = {{"type", "json_object"}};
                    })),
               400, "response_format", "unsupported_parameter");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["response_format"] = "json"; })), 400, "response_format",
               "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["top_k"] = 2.5; })), 400, "top_k", "invalid_type");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["min_p"] = 1.5; })), 400, "min_p");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["presence_penalty"] = 3; })), 400, "presence_penalty");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["frequency_penalty"] = -2.5; })), 400,
               "frequency_penalty");
  expect_error(post(s, "/v1/completions", with([](json& r) { r["repetition_penalty"] = 0; })), 400,
               "repetition_penalty");
  expect_error(post(s, "/v1/completions", with([](json& r) {
                      r["tools"] = {{{"type", "function"}}};
                    })),
               400, "tools", "unsupported_parameter");
  expect_error(post(s, "/v1/completions", with([](json& r) {
                      r["stream_options"] = {{"include_usage", true}};
                    })),
               400, "stream_options");
  json chat = {{"model", "stories"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  auto chat_with = [&](std::function<void(json&)> change) {
    json r = chat;
    change(r);
    return r.dump();
  };
  expect_error(post(s, "/v1/chat/completions", chat_with([](json& r) { r["messages"] = json::array(); })), 400,
               "messages");
  expect_error(post(s, "/v1/chat/completions", chat_with([](json& r) { r["messages"] = "hi"; })), 400, "messages");
  expect_error(post(s, "/v1/chat/completions", chat_with([](json& r) { r["messages"][0]["role"] = "wizard"; })), 400,
               "messages[0].role");
  expect_error(post(s, "/v1/chat/completions", chat_with([](json& r) { r["messages"][0].erase("content"); })), 400,
               "messages[0].content");
  expect_error(post(s, "/v1/chat/completions", chat_with([](json& r) { r["messages"][0] = 3; })), 400, "messages[0]");
  expect_error(post(s, "/v1/chat/completions", chat_with([](json& r) { r["top_logprobs"] = 2; })), 400, "top_logprobs");
  expect_error(post(s, "/v1/chat/completions", chat_with([](json& r) {
                      r["logprobs"] = true;
                      r["top_logprobs"] = 21;
                    })),
               400, "top_logprobs");
  expect_error(post(s, "/v1/chat/completions", chat_with([](json& r) {
                      r["messages"][0]["tool_calls"] = {{{"id", "1"}}};
                    })),
               400, "messages[0].tool_calls", "unsupported_parameter");
  // The body limit, an unknown route, a known route with the wrong method.
  expect_error(post(s, "/v1/completions", with([](json& r) { r["prompt"] = std::string(5000, 'a'); })), 413, "",
               "request_too_large");
  expect_error(post(s, "/v1/nothing", "{}"), 404, "", "unknown_url");
  expect_error(get(s, "/v1/completions"), 404, "", "unknown_url");
  // A prompt longer than the context: the engine refuses it, the server answers 400.
  expect_error(post(s, "/v1/completions", with([](json& r) { r["prompt"] = std::string(3000, 'x'); })), 400, "");
  // A raw garbage request line.
  {
    httplib::Client c = s.client();
    auto res = c.Get("/%zz");
    ASSERT_TRUE(res);
    EXPECT_GE(res->status, 400);
  }

  // Still serving, and the metrics counted the errors.
  Answer ok = post(s, "/v1/completions", completion("Once upon a time", 4).dump());
  EXPECT_EQ(ok.status, 200) << ok.text;
  Answer health = get(s, "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body["status"], "ok");
  Answer metrics = get(s, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.text.find("lcte_requests_total{model=\"stories\",status=\"200\"} 1"), std::string::npos)
      << metrics.text;
  EXPECT_NE(metrics.text.find("lcte_errors_total{model=\"-\",type=\"model_not_found\"} 2"), std::string::npos)
      << metrics.text;
  EXPECT_NE(metrics.text.find("lcte_completion_tokens_total{model=\"stories\"} 4"), std::string::npos) << metrics.text;
  EXPECT_NE(metrics.text.find("lcte_request_duration_seconds_count{model=\"stories\"} 1"), std::string::npos);
}

// llama.cpp's logits for the story prompt and its 32 greedy tokens
// (shared data, reference/logits): log-softmax by hand is what the server
// must report for each token and its likeliest alternatives.
TEST(Serve, LogprobsEqualLlamaCppsLogSoftmax) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  const char* kRef = "reference/logits/stories260K-f32.story.json";
  LCTE_REQUIRE_DATA(kRef);
  json ref = json::parse(std::ifstream(lcte::testing::data_path(kRef)));
  LiveServer s({{"stories", engine_f32()}}, {});
  json r = {{"model", "stories"}, {"prompt", ref["prompt"]}, {"max_tokens", 32}, {"temperature", 0}, {"logprobs", 5}};
  Answer a = post(s, "/v1/completions", r.dump());
  ASSERT_EQ(a.status, 200) << a.text;
  EXPECT_EQ(a.body["usage"]["prompt_tokens"], ref["prompt_tokens"].size());
  const json& lp = a.body["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 32u) << lp.dump();
  std::string joined;
  for (size_t j = 0; j < 32; ++j) {
    const json& row = j == 0 ? ref["prompt_logits"].back() : ref["greedy_logits"][j - 1];
    std::vector<double> logits = row.get<std::vector<double>>();
    double max = *std::max_element(logits.begin(), logits.end()), sum = 0;
    for (double x : logits) sum += std::exp(x - max);
    const double lse = max + std::log(sum);
    const int chosen = ref["greedy"][j];
    EXPECT_NEAR(lp["token_logprobs"][j].get<double>(), logits[static_cast<size_t>(chosen)] - lse, 2e-3)
        << "token " << j;
    // The five likeliest by hand, against the answer's alternatives (a map, so by value).
    std::vector<double> best = logits;
    std::sort(best.begin(), best.end(), std::greater<double>());
    std::vector<double> got;
    for (const auto& [tok, v] : lp["top_logprobs"][j].items()) got.push_back(v.get<double>());
    std::sort(got.begin(), got.end(), std::greater<double>());
    ASSERT_GE(got.size(), 4u) << lp["top_logprobs"][j].dump();  // two alternatives may share a text
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(got[k], best[k] - lse, 2e-3) << "token " << j << " rank " << k;
    EXPECT_EQ(lp["text_offset"][j], joined.size());
    joined += lp["tokens"][j].get<std::string>();
  }
  EXPECT_EQ(joined, a.body["choices"][0]["text"]);

  // Chat: {content: [{token, logprob, bytes, top_logprobs}]}; greedy picks the best alternative.
  json chat = {
      {"model", "stories"},
      {"messages", {{{"role", "developer"}, {"content", "Once upon"}}, {{"role", "user"}, {"content", "a time"}}}},
      {"max_tokens", 8},
      {"temperature", 0},
      {"logprobs", true},
      {"top_logprobs", 2},
      {"stop", "Lily"}};
  Answer c = post(s, "/v1/chat/completions", chat.dump());
  ASSERT_EQ(c.status, 200) << c.text;
  const json& content = c.body["choices"][0]["logprobs"]["content"];
  ASSERT_FALSE(content.empty());
  std::string text;
  for (const json& t : content) {
    const std::string tok = t["token"];
    std::string bytes;
    for (int b : t["bytes"]) bytes += static_cast<char>(b);
    EXPECT_EQ(bytes, tok);
    ASSERT_EQ(t["top_logprobs"].size(), 2u);
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    EXPECT_NEAR(t["logprob"].get<double>(), t["top_logprobs"][0]["logprob"].get<double>(), 1e-9);
    EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["top_logprobs"][1]["logprob"].get<double>());
    text += tok;
  }
  EXPECT_EQ(text.substr(0, c.body["choices"][0]["message"]["content"].get<std::string>().size()),
            c.body["choices"][0]["message"]["content"].get<std::string>());
  // Streamed: each choice opens with its role, and its last chunk carries the log probabilities.
  chat["stream"] = true;
  chat["n"] = 2;
  Answer d = post(s, "/v1/chat/completions", chat.dump());
  ASSERT_EQ(d.status, 200);
  std::map<int, json> first, last;
  backend::SseParser parser([&](const std::string& data) {
    if (data == "[DONE]") return;
    json j = json::parse(data);
    for (const json& ch : j["choices"]) {
      int i = ch["index"];
      if (!first.count(i)) first[i] = ch;
      last[i] = ch;
    }
  });
  parser.feed(d.text);
  parser.finish();
  ASSERT_EQ(first.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(first[i]["delta"], json({{"role", "assistant"}, {"content", ""}})) << first[i].dump();
    EXPECT_EQ(last[i]["finish_reason"], "stop");
    EXPECT_EQ(last[i]["logprobs"]["content"], content) << last[i].dump();
  }
}

// OpenAI's newer roles on a ChatML-rendered model: `developer` is the system
// turn and a `tool` result a user turn, so each conversation renders to the
// same prompt (same token count) and greedy answer as its rewritten twin;
// the role words differ in length, so a wrong mapping changes the count.
TEST(Serve, DeveloperAndToolRolesRenderAsSystemAndUser) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  backend::EngineOptions o;
  o.path = lcte::testing::data_path(testing::kModelFile);
  o.name = "stories";
  o.threads = 1;
  o.n_ctx = 512;
  o.kv_type = "f32";
  o.chat_template = "chatml";
  LiveServer s({{"stories", std::make_shared<backend::EngineBackend>(o)}}, {});
  auto ask = [&](const json& messages) {
    json r = {{"model", "stories"},
              {"messages", messages},
              {"max_tokens", 8},
              {"temperature", 0},
              {"response_format", {{"type", "text"}}}};  // the one format honoured: plain text
    Answer a = post(s, "/v1/chat/completions", r.dump());
    EXPECT_EQ(a.status, 200) << a.text;
    return std::make_pair(a.body["usage"]["prompt_tokens"].get<int>(),
                          a.body["choices"][0]["message"]["content"].get<std::string>());
  };
  auto turn = [](const char* role, const char* text) { return json{{"role", role}, {"content", text}}; };
  const auto developer = ask({turn("developer", "Tell a story."), turn("user", "Once upon a time")});
  const auto system = ask({turn("system", "Tell a story."), turn("user", "Once upon a time")});
  const auto as_user = ask({turn("user", "Tell a story."), turn("user", "Once upon a time")});
  EXPECT_EQ(developer, system);
  EXPECT_NE(developer.first, as_user.first);  // "system" and "user" render to different token counts

  const auto tool = ask({turn("user", "Once upon"), turn("assistant", "a time"),
                         json{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "there was a girl"}}});
  const auto user = ask({turn("user", "Once upon"), turn("assistant", "a time"), turn("user", "there was a girl")});
  const auto sys = ask({turn("user", "Once upon"), turn("assistant", "a time"), turn("system", "there was a girl")});
  EXPECT_EQ(tool, user);
  EXPECT_NE(tool.first, sys.first);
}

TEST(Serve, TopKMinPPenaltiesAndLogprobsAreHonouredLocallyAndThroughAProxy) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  auto engine = engine_f32();
  LiveServer s({{"stories", engine}}, {});
  auto text = [&](const LiveServer& server, const json& extra) {
    json r = completion("Once upon a time", 30);
    r.update(extra);
    Answer a = post(server, "/v1/completions", r.dump());
    EXPECT_EQ(a.status, 200) << a.text;
    return a.body["choices"][0].value("text", std::string());
  };
  const std::string greedy = text(s, json::object());
  // top_k 1 and min_p 1 keep only the likeliest token: sampling hot is then greedy.
  EXPECT_EQ(text(s, {{"temperature", 1.8}, {"top_k", 1}, {"seed", 7}}), greedy);
  EXPECT_EQ(text(s, {{"temperature", 1.8}, {"min_p", 1.0}, {"seed", 7}}), greedy);
  EXPECT_NE(text(s, {{"temperature", 1.8}, {"seed", 7}}), greedy);
  // The greedy story repeats words; a penalty on repeats changes it.
  const std::string penalised = text(s, {{"frequency_penalty", 2.0}});
  EXPECT_NE(penalised, greedy);
  EXPECT_NE(text(s, {{"presence_penalty", 2.0}}), greedy);
  EXPECT_NE(text(s, {{"repetition_penalty", 1.5}}), greedy);

  // Through a server proxying this one: the settings reach it.
  backend::HttpOptions h;
  h.base_url = s.url();
  h.model = "stories";
  h.max_retries = 0;
  LiveServer proxy({{"remote", std::make_shared<backend::HttpBackend>(h)}}, {});
  json remote = {{"model", "remote"}};
  EXPECT_EQ(text(proxy, {{"model", "remote"}, {"frequency_penalty", 2.0}}), penalised);
  EXPECT_EQ(text(proxy, {{"model", "remote"}, {"temperature", 1.8}, {"top_k", 1}, {"seed", 7}}), greedy);
  // Log probabilities are read back from the endpoint: the same as asked directly.
  json r = completion("Once upon a time", 12);
  r["logprobs"] = 3;
  Answer direct = post(s, "/v1/completions", r.dump());
  r["model"] = "remote";
  Answer proxied = post(proxy, "/v1/completions", r.dump());
  ASSERT_EQ(direct.status, 200) << direct.text;
  ASSERT_EQ(proxied.status, 200) << proxied.text;
  const json& dl = direct.body["choices"][0]["logprobs"];
  const json& pl = proxied.body["choices"][0]["logprobs"];
  ASSERT_EQ(dl["tokens"].size(), 12u);
  EXPECT_EQ(pl["tokens"], dl["tokens"]);
  EXPECT_EQ(pl["token_logprobs"], dl["token_logprobs"]);
  EXPECT_EQ(pl["text_offset"], dl["text_offset"]);
  EXPECT_EQ(pl["top_logprobs"], dl["top_logprobs"]);
  json chat = {{"model", "stories"}, {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
               {"max_tokens", 10},   {"temperature", 0},
               {"logprobs", true},   {"top_logprobs", 2},
               {"stop", "Lily"}};
  Answer chat_direct = post(s, "/v1/chat/completions", chat.dump());
  chat["model"] = "remote";
  chat["stream"] = true;  // the proxy reads the finishing chunk's log probabilities
  Answer chat_proxied = post(proxy, "/v1/chat/completions", chat.dump());
  ASSERT_EQ(chat_direct.status, 200) << chat_direct.text;
  ASSERT_EQ(chat_proxied.status, 200) << chat_proxied.text;
  json streamed_content = json::array();
  backend::SseParser parser([&](const std::string& data) {
    if (data == "[DONE]") return;
    const json j = json::parse(data);
    for (const json& c : j["choices"])
      if (c["logprobs"].is_object())
        for (const json& t : c["logprobs"]["content"]) streamed_content.push_back(t);
  });
  parser.feed(chat_proxied.text);
  parser.finish();
  const json& chat_content = chat_direct.body["choices"][0]["logprobs"]["content"];
  ASSERT_FALSE(chat_content.empty());
  EXPECT_EQ(streamed_content, chat_content);
}

// A backend that honours nothing beyond the basics (as suite-bound ones do):
// it answers "ok" and records how many requests reached it.
class BasicBackend final : public backend::Backend {
 public:
  std::string name() const override { return "basic"; }
  std::string model() const override { return "basic"; }
  std::vector<backend::Generation> generate(const backend::GenerationRequest& request,
                                            const backend::StreamFn&) override {
    ++calls;
    std::vector<backend::Generation> out;
    for (int i : request.sample_indices) {
      backend::Generation g;
      g.sample_index = i;
      g.text = "ok";
      g.finish_reason = "stop";
      out.push_back(std::move(g));
    }
    return out;
  }
  std::atomic<int> calls{0};
};

TEST(Serve, OptionsTheBackendCannotHonourAreRefusedNamingTheField) {
  auto basic = std::make_shared<BasicBackend>();
  LiveServer s({{"basic", basic}}, {});
  const json plain = {{"model", "basic"}, {"prompt", "hi"}};
  Answer ok = post(s, "/v1/completions", plain.dump());
  ASSERT_EQ(ok.status, 200) << ok.text;
  EXPECT_EQ(ok.body["choices"][0]["text"], "ok");
  ASSERT_EQ(basic->calls, 1);
  const std::vector<std::pair<std::string, json>> refused = {{"top_k", 5},
                                                             {"min_p", 0.1},
                                                             {"presence_penalty", 0.5},
                                                             {"frequency_penalty", -0.5},
                                                             {"repetition_penalty", 1.1},
                                                             {"logprobs", 0}};
  for (const auto& [field, value] : refused) {
    json r = plain;
    r[field] = value;
    Answer a = post(s, "/v1/completions", r.dump());
    expect_error(a, 400, field, "unsupported_parameter");
    EXPECT_EQ(a.body["error"]["type"], "invalid_request_error") << field;
    EXPECT_NE(a.body["error"]["message"].get<std::string>().find(field), std::string::npos) << a.text;
  }
  json chat = {{"model", "basic"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"logprobs", true}};
  expect_error(post(s, "/v1/chat/completions", chat.dump()), 400, "logprobs", "unsupported_parameter");
  // The neutral values ask for nothing and pass: top_k 0/-1, min_p 0, penalties 0 and 1, logprobs false.
  json neutral = plain;
  neutral.update({{"top_k", -1},
                  {"min_p", 0},
                  {"presence_penalty", 0},
                  {"frequency_penalty", 0},
                  {"repetition_penalty", 1},
                  {"logprobs", false}});
  EXPECT_EQ(post(s, "/v1/completions", neutral.dump()).status, 200);
  EXPECT_EQ(basic->calls, 2);  // no refused request reached the backend
}

TEST(Serve, ApiKeyIsRequiredOnEveryRouteWhenSet) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  ServerOptions o;
  o.api_key = "sk-lcte-test";
  LiveServer s({{"stories", engine_f32()}}, o);
  std::string body = completion("Once upon a time", 2).dump();
  expect_error(post(s, "/v1/completions", body), 401, "", "invalid_api_key");
  expect_error(post(s, "/v1/completions", body, {{"Authorization", "Bearer sk-lcte-wrong"}}), 401, "",
               "invalid_api_key");
  expect_error(post(s, "/v1/completions", body, {{"Authorization", "sk-lcte-test"}}), 401, "", "invalid_api_key");
  expect_error(get(s, "/v1/models"), 401, "", "invalid_api_key");
  expect_error(get(s, "/nowhere"), 401, "", "invalid_api_key");
  // Health checks and scrapers need no key unless the server says so.
  EXPECT_EQ(get(s, "/health").status, 200);
  EXPECT_EQ(get(s, "/metrics").status, 200);
  Answer ok = post(s, "/v1/completions", body, {{"Authorization", "Bearer sk-lcte-test"}});
  EXPECT_EQ(ok.status, 200) << ok.text;
  o.key_for_health = true;
  LiveServer closed({{"stories", engine_f32()}}, o);
  expect_error(get(closed, "/health"), 401, "", "invalid_api_key");
  expect_error(get(closed, "/metrics"), 401, "", "invalid_api_key");
  EXPECT_EQ(get(closed, "/health", {{"Authorization", "Bearer sk-lcte-test"}}).status, 200);

  // The HTTP client sends the key from its variable.
  setenv("LCTE_SERVE_TEST_KEY", "sk-lcte-test", 1);
  backend::HttpOptions h;
  h.base_url = s.url() + "/v1";
  h.model = "stories";
  h.api_key_env = "LCTE_SERVE_TEST_KEY";
  backend::OpenAIClient client(h);
  EXPECT_EQ(client.list_models(), std::vector<std::string>{"stories"});
}

TEST(Serve, NonLoopbackNeedsAKeyAndBindErrorsAreClear) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  auto engine = engine_f32();
  ServerOptions o;
  o.host = "0.0.0.0";
  EXPECT_THROW(Server({{"stories", engine}}, o), Error);
  o.host = "127.0.0.1.rebind.example";  // a name, not a loopback address
  EXPECT_THROW(Server({{"stories", engine}}, o), Error);
  EXPECT_THROW(Server({}, ServerOptions{}), Error);
  EXPECT_THROW(Server({{"router", engine}}, ServerOptions{}), Error);
  EXPECT_THROW(Server({{"a", engine}, {"a", engine}}, ServerOptions{}), Error);
  LiveServer first({{"stories", engine}}, {});
  ServerOptions same;
  same.port = first.port;
  Server second({{"stories", engine}}, same);
  EXPECT_THROW(second.start(), Error);
}

TEST(Serve, MountHookAddsRoutesBehindTheSameKey) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  ServerOptions o;
  o.port = 0;
  o.api_key = "k";
  Server server({{"stories", engine_f32()}}, o);
  server.mount([](httplib::Server& h) {
    h.Get("/dashboard",
          [](const httplib::Request&, httplib::Response& res) { res.set_content("<html>", "text/html"); });
  });
  int port = server.start();
  httplib::Client c("127.0.0.1", port);
  auto denied = c.Get("/dashboard");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto res = c.Get("/dashboard", {{"Authorization", "Bearer k"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "<html>");
  server.stop();
  server.stop();  // idempotent
}

}  // namespace
}  // namespace lcte::server
