// The one interface through which eval, routing, the server and the dashboard
// get completions: a request names a prompt (completion text or chat
// messages), its stop sequences, the sampling settings and which samples to
// produce; the backend returns one Generation per sample with what it cost
// (prompt and completion tokens, time to first token, time per output token,
// end-to-end latency), streaming text as it is made. Implementations: the
// local engine (engine_backend.h), OpenAI-compatible servers
// (http_backend.h), and the suite-bound ones in eval/suite_backends.h.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::backend {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"; "developer", "tool" as OpenAI's API names them
  std::string content;
};

struct SamplingParams {
  double temperature = 0.0;  // 0: greedy
  double top_p = 1.0;
  int max_tokens = 512;
  uint64_t seed = 0;  // see sample_seed()
  // Off at these values; a backend that cannot honour one that is on says so
  // (Features) rather than ignore it.
  int top_k = 0;
  double min_p = 0.0;
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  double repetition_penalty = 1.0;
  bool truncates() const { return top_k > 0 || min_p > 0; }
  bool penalises() const { return presence_penalty != 0 || frequency_penalty != 0 || repetition_penalty != 1; }
};

struct GenerationRequest {
  std::string task_id;  // what the samples are for (eval: the task); may be empty
  bool chat = false;
  std::string prompt;                 // completion form
  std::vector<ChatMessage> messages;  // chat form
  std::vector<std::string> stops;     // the text ends before the first of these
  SamplingParams sampling;
  std::vector<int> sample_indices = {0};  // which samples (0-based) to produce
  // -1: no log probabilities; 0..20: each generated token's, and this many
  // of the likeliest alternatives at its position (Generation::logprobs).
  int logprobs = -1;
  // Polled while generating by backends that can stop early (the engine):
  // true ends every sample where it is, finish_reason "cancelled". The
  // server sets it when a streaming client has gone away.
  std::function<bool()> cancelled;
};

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

// A token of a completion with its log probability under the model (the raw
// distribution: temperature 1, no truncation or penalties) and the likeliest
// alternatives at its position, best first.
struct TokenLogprob {
  std::string token;  // its text (bytes; may be part of a UTF-8 character)
  double logprob = 0;
  struct Alternative {
    std::string token;
    double logprob = 0;
  };
  std::vector<Alternative> top;
};

struct Generation {
  int sample_index = 0;
  std::string text;        // the completion, already cut at the stop sequences
  int prompt_tokens = -1;  // -1 when the backend cannot tell
  int completion_tokens = -1;
  double time_to_first_token_s = kUnknown;
  double time_per_output_token_s = kUnknown;
  double latency_s = kUnknown;  // request to last token
  std::string finish_reason;    // "stop", "length", or empty
  // Non-empty when this sample could not be generated (the server kept
  // failing, ...): the other samples of the request are still good.
  std::string error;
  // When the request asked for them: the tokens whose text makes `text`.
  std::vector<TokenLogprob> logprobs;
};

// What a backend honours beyond temperature, top_p, stops, seeds and n.
struct Features {
  bool logprobs = false;
  bool top_k_min_p = false;
  bool penalties = false;
};

// Called with each piece of text as it is made: (sample index, text).
using StreamFn = std::function<void(int, std::string_view)>;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;   // "engine", "http", "canonical", ...
  virtual std::string model() const = 0;  // what the samples come from
  virtual Features features() const { return {}; }
  // How many samples the backend has for a task; -1 when it can make any number.
  virtual int available_samples(const std::string& task_id) const { return -1; }
  // One Generation per requested index, in that order. Called from several
  // threads at once. Throws lcte::Error when the request itself is bad (or,
  // for suite-bound backends, cannot be answered); a failure of one sample
  // is reported in its Generation::error.
  virtual std::vector<Generation> generate(const GenerationRequest& request, const StreamFn& on_text = {}) = 0;
};

// The seed of sample `index` of a request whose seed is `seed`: the seed
// itself for sample 0 of a request without a task id (one completion asked
// of a server), otherwise a hash of the seed, the task id and the index. A
// sample is then reproducible on its own: asked alone (n = 1) with this seed
// from any backend that honours seeds, it is the same sample.
uint64_t sample_seed(uint64_t seed, const std::string& task_id, int index);

// Cuts `text` at the earliest occurrence of any stop sequence (servers do
// this already; a backend applies it again in case one did not).
std::string cut_at_stops(const std::string& text, const std::vector<std::string>& stops);

// Time per output token from end-to-end latency, time to first token and the
// completion's length; kUnknown when it cannot be told.
double time_per_output_token(double latency_s, double ttft_s, int completion_tokens);

}  // namespace lcte::backend
