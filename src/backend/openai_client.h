// A client for OpenAI-compatible servers (vLLM, TGI, llama.cpp's server,
// Ollama, lcte serve): /v1/completions and /v1/chat/completions, streamed or
// not, with retries and backoff on 429, 5xx and connection failures, timeouts,
// a cap on requests in flight, and clear errors for other 4xx answers.
// Thread-safe: eval workers call complete() concurrently.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/generation.h"

namespace lcte::backend {

struct HttpOptions {
  std::string base_url;     // e.g. http://127.0.0.1:8000 (with or without /v1)
  std::string model;        // the server's model name
  std::string api_key_env;  // environment variable holding the key; "" for none
  int max_in_flight = 8;
  int max_retries = 4;             // after the first attempt
  double initial_backoff_s = 0.5;  // doubled per retry, with jitter, capped
  double max_backoff_s = 8.0;
  double connect_timeout_s = 10.0;
  double request_timeout_s = 600.0;  // whole request
  double stall_timeout_s = 60.0;     // no byte received for this long
  bool stream = true;
};

struct CompletionRequest {
  bool chat = false;
  std::string prompt;                 // completion form
  std::vector<ChatMessage> messages;  // chat form
  double temperature = 0.0;
  double top_p = 1.0;
  int max_tokens = 512;
  std::vector<std::string> stop;
  int n = 1;
  std::optional<uint64_t> seed;
  // Sent only when on (vLLM, llama.cpp's server and lcte serve take them; a
  // server that does not refuses the request, which then fails loudly).
  int top_k = 0;
  double min_p = 0;
  double presence_penalty = 0, frequency_penalty = 0, repetition_penalty = 1;
  // -1: none; 0..20: asked as chat `logprobs: true, top_logprobs: N` or
  // completions `logprobs: N`, and read back into CompletionResult::logprobs.
  int logprobs = -1;
};

struct CompletionResult {
  std::vector<std::string> texts;  // one per choice
  std::vector<std::string> finish_reasons;
  int prompt_tokens = -1;  // from `usage`, -1 when absent
  int completion_tokens = -1;
  double time_to_first_token_s = -1;  // streaming only
  double latency_s = 0;
  double time_per_output_token_s = -1;
  int attempts = 0;
  // Per choice, when asked: each token with its alternatives, best first (from
  // chat's `content` list, or the completions' parallel arrays, whose
  // alternatives come as a map and are re-sorted by log probability).
  std::vector<std::vector<TokenLogprob>> logprobs;
};

// Called for each streamed piece of text: (choice index, text).
using TokenCallback = std::function<void(int, std::string_view)>;

class OpenAIClient {
 public:
  explicit OpenAIClient(HttpOptions options);  // throws lcte::Error on a bad URL or a missing key variable
  ~OpenAIClient();
  OpenAIClient(const OpenAIClient&) = delete;
  OpenAIClient& operator=(const OpenAIClient&) = delete;

  // Throws lcte::Error when the server refuses (4xx other than 429: with its
  // message) or when every retry failed (with the last reason).
  CompletionResult complete(const CompletionRequest& request, const TokenCallback& on_token = {});
  // GET /v1/models: the model ids the server offers.
  std::vector<std::string> list_models();

  const HttpOptions& options() const { return options_; }

 private:
  struct Attempt;
  bool attempt(const CompletionRequest& request, const TokenCallback& on_token, Attempt& a);
  std::string url(std::string_view path) const;

  HttpOptions options_;
  std::string api_key_;
  std::mutex mutex_;
  std::condition_variable slot_free_;
  int in_flight_ = 0;
};

// Backoff before retry `attempt` (1-based): initial * 2^(attempt-1), capped,
// times a jitter factor in [0.5, 1]; a server's Retry-After wins when larger.
double backoff_seconds(const HttpOptions& o, int attempt, double jitter01, std::optional<double> retry_after);

// Request body as JSON text.
std::string request_body(const HttpOptions& o, const CompletionRequest& r);

}  // namespace lcte::backend
