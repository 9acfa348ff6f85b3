#include "backend/openai_client.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backend/sse.h"
#include "core/error.h"

namespace lcte::backend {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void ensure_curl() {
  static CurlGlobal once;  // curl_global_init is not thread-safe; do it once
  (void)once;
}

}  // namespace

double backoff_seconds(const HttpOptions& o, int attempt, double jitter01, std::optional<double> retry_after) {
  double b = std::min(o.max_backoff_s, o.initial_backoff_s * std::pow(2.0, attempt - 1));
  b *= 0.5 + 0.5 * std::clamp(jitter01, 0.0, 1.0);
  if (retry_after && *retry_after > b) b = std::min(*retry_after, 60.0);
  return b;
}

std::string request_body(const HttpOptions& o, const CompletionRequest& r) {
  json j;
  j["model"] = o.model;
  if (r.chat) {
    j["messages"] = json::array();
    for (const ChatMessage& m : r.messages) j["messages"].push_back({{"role", m.role}, {"content", m.content}});
  } else {
    j["prompt"] = r.prompt;
  }
  j["temperature"] = r.temperature;
  j["top_p"] = r.top_p;
  j["max_tokens"] = r.max_tokens;
  j["n"] = r.n;
  if (!r.stop.empty()) j["stop"] = r.stop;
  if (r.seed) j["seed"] = *r.seed;
  if (r.top_k > 0) j["top_k"] = r.top_k;
  if (r.min_p > 0) j["min_p"] = r.min_p;
  if (r.presence_penalty != 0) j["presence_penalty"] = r.presence_penalty;
  if (r.frequency_penalty != 0) j["frequency_penalty"] = r.frequency_penalty;
  if (r.repetition_penalty != 1) j["repetition_penalty"] = r.repetition_penalty;
  if (r.logprobs >= 0 && r.chat) {
    j["logprobs"] = true;
    j["top_logprobs"] = r.logprobs;
  } else if (r.logprobs >= 0) {
    j["logprobs"] = r.logprobs;
  }
  if (o.stream) {
    j["stream"] = true;
    j["stream_options"] = {{"include_usage", true}};
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

OpenAIClient::OpenAIClient(HttpOptions options) : options_(std::move(options)) {
  ensure_curl();
  if (options_.base_url.rfind("http://", 0) != 0 && options_.base_url.rfind("https://", 0) != 0)
    fail("base URL '{}' must start with http:// or https://", options_.base_url);
  while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
  if (options_.base_url.size() >= 3 && options_.base_url.compare(options_.base_url.size() - 3, 3, "/v1") == 0)
    options_.base_url.resize(options_.base_url.size() - 3);
  if (!options_.api_key_env.empty()) {
    const char* key = std::getenv(options_.api_key_env.c_str());
    if (key == nullptr || *key == '\0') fail("API key variable {} is not set", options_.api_key_env);
    api_key_ = key;
  }
  if (options_.max_in_flight < 1) fail("max in-flight requests must be at least 1, got {}", options_.max_in_flight);
}

OpenAIClient::~OpenAIClient() = default;

std::string OpenAIClient::url(std::string_view path) const { return options_.base_url + std::string(path); }

// One HTTP exchange and what came of it.
struct OpenAIClient::Attempt {
  Clock::time_point start;
  long status = 0;
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  std::string body;  // non-streamed body, or an error body
  std::optional<double> retry_after;
  bool retryable = false;
  std::string failure;  // empty on success
  CompletionResult result;
  bool got_first_token = false;
};

namespace {

struct StreamState {
  SseParser* parser;  // null when not streaming
  std::string raw;    // everything received, for error bodies
  long status = 0;
  CURL* curl = nullptr;
  Clock::time_point last_byte;
};

size_t header_cb(char* data, size_t size, size_t n, void* user) {
  auto* retry_after = static_cast<std::optional<double>*>(user);
  std::string line(data, size * n);
  std::string lower = line;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.rfind("retry-after:", 0) == 0) {
    try {
      *retry_after = std::stod(line.substr(12));
    } catch (...) {}
  }
  return size * n;
}

std::string error_message_of(const std::string& body) {
  try {
    json j = json::parse(body);
    if (j.contains("error")) {
      const json& e = j["error"];
      if (e.is_string()) return e.get<std::string>();
      if (e.is_object() && e.contains("message")) return e["message"].get<std::string>();
    }
    if (j.contains("message")) return j["message"].get<std::string>();
  } catch (...) {}
  return body.substr(0, 300);
}

double number_or(const json& j, double fallback) { return j.is_number() ? j.get<double>() : fallback; }

// Chat: {"content": [{token, logprob, top_logprobs: [{token, logprob}]}]}.
void read_chat_logprobs(const json& lp, std::vector<TokenLogprob>& out) {
  if (!lp.contains("content") || !lp["content"].is_array()) return;
  for (const json& t : lp["content"]) {
    if (!t.is_object() || !t.contains("token") || !t["token"].is_string()) continue;
    TokenLogprob tl{t["token"].get<std::string>(), number_or(t.value("logprob", json()), 0), {}};
    if (t.contains("top_logprobs") && t["top_logprobs"].is_array())
      for (const json& a : t["top_logprobs"])
        if (a.is_object() && a.contains("token") && a["token"].is_string())
          tl.top.push_back({a["token"].get<std::string>(), number_or(a.value("logprob", json()), 0)});
    out.push_back(std::move(tl));
  }
}

// Completions: {tokens, token_logprobs, top_logprobs: [{text: logprob}]}. The
// map may hold the chosen token beyond the N asked for; sorted best first and
// cut to N, it is dropped again unless it is among the N.
void read_completion_logprobs(const json& lp, size_t n_top, std::vector<TokenLogprob>& out) {
  if (!lp.contains("tokens") || !lp["tokens"].is_array()) return;
  const json& tokens = lp["tokens"];
  const json none = json::array();
  const json& values = lp.contains("token_logprobs") && lp["token_logprobs"].is_array() ? lp["token_logprobs"] : none;
  const json& tops = lp.contains("top_logprobs") && lp["top_logprobs"].is_array() ? lp["top_logprobs"] : none;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].is_string()) continue;
    TokenLogprob tl{tokens[i].get<std::string>(), i < values.size() ? number_or(values[i], 0) : 0, {}};
    if (i < tops.size() && tops[i].is_object())
      for (const auto& [text, v] : tops[i].items()) tl.top.push_back({text, number_or(v, 0)});
    std::stable_sort(tl.top.begin(), tl.top.end(), [](const auto& a, const auto& b) { return a.logprob > b.logprob; });
    if (tl.top.size() > n_top) tl.top.resize(n_top);
    out.push_back(std::move(tl));
  }
}

void apply_choice_delta(CompletionResult& r, const json& choice, bool chat, const TokenCallback& on_token, bool& first,
                        Clock::time_point start, int n_top) {
  int index = choice.value("index", 0);
  if (index < 0 || index > 1024) return;
  if (static_cast<size_t>(index) >= r.texts.size()) {
    r.texts.resize(index + 1);
    r.finish_reasons.resize(index + 1);
  }
  // Log probabilities, when asked: a stream may spread them over its chunks.
  if (n_top >= 0 && choice.contains("logprobs") && choice["logprobs"].is_object()) {
    if (r.logprobs.size() < r.texts.size()) r.logprobs.resize(r.texts.size());
    if (chat)
      read_chat_logprobs(choice["logprobs"], r.logprobs[index]);
    else
      read_completion_logprobs(choice["logprobs"], static_cast<size_t>(n_top), r.logprobs[index]);
  }
  std::string piece;
  if (chat) {
    if (choice.contains("delta") && choice["delta"].contains("content") && choice["delta"]["content"].is_string())
      piece = choice["delta"]["content"].get<std::string>();
  } else if (choice.contains("text") && choice["text"].is_string()) {
    piece = choice["text"].get<std::string>();
  }
  if (!piece.empty()) {
    if (!first) {
      first = true;
      r.time_to_first_token_s = since(start);
    }
    r.texts[index] += piece;
    if (on_token) on_token(index, piece);
  }
  if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
    r.finish_reasons[index] = choice["finish_reason"].get<std::string>();
}

void apply_usage(CompletionResult& r, const json& j) {
  if (j.contains("usage") && j["usage"].is_object()) {
    const json& u = j["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
      r.prompt_tokens = u["prompt_tokens"].get<int>();
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      r.completion_tokens = u["completion_tokens"].get<int>();
  }
}

size_t write_cb(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<StreamState*>(user);
  if (s->status == 0) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
  s->last_byte = Clock::now();
  std::string_view chunk(data, size * n);
  if (s->raw.size() < (1u << 20) || s->parser == nullptr) s->raw.append(chunk);
  if (s->parser != nullptr && s->status == 200) s->parser->feed(chunk);
  return size * n;
}

int progress_cb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* s = static_cast<std::pair<StreamState*, double>*>(user);
  // Abort a stalled connection: nothing received for stall_timeout seconds.
  return since(s->first->last_byte) > s->second ? 1 : 0;
}

}  // namespace

bool OpenAIClient::attempt(const CompletionRequest& request, const TokenCallback& on_token, Attempt& a) {
  a = Attempt{};
  a.start = Clock::now();
  a.result.texts.assign(static_cast<size_t>(std::max(1, request.n)), "");
  a.result.finish_reasons.assign(a.result.texts.size(), "");
  CURL* curl = curl_easy_init();
  if (curl == nullptr) fail("cannot initialise libcurl");
  std::string body = request_body(options_, request);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  if (!api_key_.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key_).c_str());

  bool chat = request.chat;
  bool& first = a.got_first_token;
  bool done = false;
  std::string stream_error;
  SseParser parser([&](const std::string& data) {
    if (data == "[DONE]") {
      done = true;
      return;
    }
    json j = json::parse(data, nullptr, false);
    if (j.is_discarded()) return;
    if (j.contains("error")) {
      stream_error = error_message_of(data);
      return;
    }
    if (j.contains("choices") && j["choices"].is_array())
      for (const json& c : j["choices"])
        apply_choice_delta(a.result, c, chat, on_token, first, a.start, request.logprobs);
    apply_usage(a.result, j);
  });
  StreamState state{options_.stream ? &parser : nullptr, {}, 0, curl, Clock::now()};
  std::pair<StreamState*, double> progress{&state, options_.stall_timeout_s};

  curl_easy_setopt(curl, CURLOPT_URL, url(chat ? "/v1/chat/completions" : "/v1/completions").c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a.retry_after);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_s * 1000));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_s * 1000));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &progress);
  a.curl_code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  if (a.curl_code != CURLE_OK) a.curl_error = curl_easy_strerror(a.curl_code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  a.body = std::move(state.raw);
  a.result.latency_s = since(a.start);

  if (a.curl_code != CURLE_OK) {
    a.retryable = true;  // connection refused, reset, timed out, stalled: the server may recover
    a.failure = a.curl_code == CURLE_ABORTED_BY_CALLBACK
                    ? fmt::format("no data for {} s (stalled connection)", options_.stall_timeout_s)
                    : a.curl_error;
    return false;
  }
  if (a.status == 429 || a.status >= 500) {
    a.retryable = true;
    a.failure = fmt::format("HTTP {}: {}", a.status, error_message_of(a.body));
    return false;
  }
  if (a.status != 200) {
    a.retryable = false;
    a.failure = fmt::format("HTTP {}: {}", a.status, error_message_of(a.body));
    return false;
  }
  if (options_.stream) {
    parser.finish();
    bool all_finished = std::all_of(a.result.finish_reasons.begin(), a.result.finish_reasons.end(),
                                    [](const std::string& f) { return !f.empty(); });
    if (!stream_error.empty() || !(done || all_finished)) {
      // The server broke off or reported a fault mid-stream: the partial text
      // is discarded and the request asked again.
      a.retryable = true;
      a.failure = stream_error.empty() ? "stream ended before [DONE]" : "error in stream: " + stream_error;
      return false;
    }
  } else {
    json j = json::parse(a.body, nullptr, false);
    if (j.is_discarded() || !j.contains("choices")) {
      a.retryable = true;
      a.failure = "malformed response body: " + a.body.substr(0, 200);
      return false;
    }
    for (json c : j["choices"]) {
      if (chat && c.contains("message")) c["delta"] = c["message"];
      apply_choice_delta(a.result, c, chat, on_token, first, a.start, request.logprobs);
    }
    apply_usage(a.result, j);
  }
  return true;
}

CompletionResult OpenAIClient::complete(const CompletionRequest& request, const TokenCallback& on_token) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    slot_free_.wait(lock, [this] { return in_flight_ < options_.max_in_flight; });
    ++in_flight_;
  }
  struct Release {
    OpenAIClient* c;
    ~Release() {
      {
        std::lock_guard<std::mutex> lock(c->mutex_);
        --c->in_flight_;
      }
      c->slot_free_.notify_one();
    }
  } release{this};

  std::mt19937_64 rng(std::hash<std::thread::id>{}(std::this_thread::get_id()) ^
                      static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  // A retried stream starts over. Pieces already passed on are not passed on
  // again: each attempt's text is compared with what was forwarded, and only
  // the part beyond it goes out. Should a retry's text differ (sampling
  // without a seed), that choice's stream stops; the returned text is exact.
  std::vector<std::string> forwarded, current;
  std::vector<bool> diverged;
  TokenCallback filtered;
  if (on_token) {
    filtered = [&](int index, std::string_view piece) {
      size_t k = static_cast<size_t>(index);
      if (k >= current.size()) {
        current.resize(k + 1);
        forwarded.resize(k + 1);
        diverged.resize(k + 1, false);
      }
      current[k].append(piece);
      if (diverged[k]) return;
      const std::string& now = current[k];
      std::string& sent = forwarded[k];
      size_t common = std::min(now.size(), sent.size());
      if (now.compare(0, common, sent, 0, common) != 0) {
        diverged[k] = true;
        return;
      }
      if (now.size() <= sent.size()) return;
      on_token(index, std::string_view(now).substr(sent.size()));
      sent = now;
    };
  }
  Attempt a;
  for (int n = 1;; ++n) {
    for (std::string& text : current) text.clear();
    bool ok = attempt(request, filtered, a);
    if (ok) {
      a.result.attempts = n;
      CompletionResult& r = a.result;
      if (r.completion_tokens > 1 && r.time_to_first_token_s >= 0)
        r.time_per_output_token_s = (r.latency_s - r.time_to_first_token_s) / (r.completion_tokens - 1);
      return std::move(a.result);
    }
    if (!a.retryable) fail("{}: request refused: {}", options_.base_url, a.failure);
    if (n > options_.max_retries) fail("{}: gave up after {} attempts: {}", options_.base_url, n, a.failure);
    double wait = backoff_seconds(options_, n, std::uniform_real_distribution<double>(0, 1)(rng), a.retry_after);
    spdlog::warn("{}: {}; retry {} of {} in {:.2f} s", options_.base_url, a.failure, n, options_.max_retries, wait);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
}

std::vector<std::string> OpenAIClient::list_models() {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) fail("cannot initialise libcurl");
  std::string body;
  curl_slist* headers = nullptr;
  if (!api_key_.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key_).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url("/v1/models").c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_s * 1000));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
        static_cast<std::string*>(u)->append(d, s * n);
        return s * n;
      });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) fail("{}: {}", url("/v1/models"), curl_easy_strerror(code));
  if (status != 200) fail("{}: HTTP {}: {}", url("/v1/models"), status, error_message_of(body));
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].is_array())
    fail("{}: malformed model list", url("/v1/models"));
  std::vector<std::string> ids;
  for (const json& m : j["data"])
    if (m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
  return ids;
}

}  // namespace lcte::backend
