#include "backend/http_backend.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace lcte::backend {

namespace {

// The tokens that start within the first `size` bytes: a stop string cut
// here (the server may not know it) drops the tokens past it, as the engine
// lists the tokens that make the returned text (the last one possibly cut).
std::vector<TokenLogprob> tokens_within(std::vector<TokenLogprob> tokens, size_t size) {
  size_t start = 0, keep = 0;
  while (keep < tokens.size() && start < size) start += tokens[keep++].token.size();
  tokens.resize(keep);
  return tokens;
}

}  // namespace

HttpBackend::HttpBackend(HttpOptions options) : client_(std::move(options)) {}

Generation HttpBackend::one(const GenerationRequest& request, int index, const StreamFn& on_text) {
  CompletionRequest r;
  r.chat = request.chat;
  r.prompt = request.prompt;
  r.messages = request.messages;
  r.temperature = request.sampling.temperature;
  r.top_p = request.sampling.top_p;
  r.max_tokens = request.sampling.max_tokens;
  r.stop = request.stops;
  r.n = 1;
  r.seed = sample_seed(request.sampling.seed, request.task_id, index);
  r.top_k = request.sampling.top_k;
  r.min_p = request.sampling.min_p;
  r.presence_penalty = request.sampling.presence_penalty;
  r.frequency_penalty = request.sampling.frequency_penalty;
  r.repetition_penalty = request.sampling.repetition_penalty;
  r.logprobs = request.logprobs;
  Generation g;
  g.sample_index = index;
  try {
    // A retried stream is not repeated to on_text (OpenAIClient::complete).
    CompletionResult out = client_.complete(
        r, on_text ? TokenCallback([&](int, std::string_view piece) { on_text(index, piece); }) : TokenCallback{});
    g.text = cut_at_stops(out.texts.empty() ? std::string() : out.texts[0], request.stops);
    g.finish_reason = out.finish_reasons.empty() ? "" : out.finish_reasons[0];
    if (request.logprobs >= 0) {
      if (!g.text.empty() && (out.logprobs.empty() || out.logprobs[0].empty()))
        fail("{}: the server sent no log probabilities", model());
      if (!out.logprobs.empty()) g.logprobs = tokens_within(std::move(out.logprobs[0]), g.text.size());
    }
    g.prompt_tokens = out.prompt_tokens;
    g.completion_tokens = out.completion_tokens;
    g.latency_s = out.latency_s;
    g.time_to_first_token_s = out.time_to_first_token_s >= 0 ? out.time_to_first_token_s : kUnknown;
    g.time_per_output_token_s = out.time_per_output_token_s >= 0 ? out.time_per_output_token_s : kUnknown;
  } catch (const std::exception& e) {
    g.error = e.what();
  }
  return g;
}

std::vector<Generation> HttpBackend::generate(const GenerationRequest& request, const StreamFn& on_text) {
  if (request.logprobs > 20)
    fail("{} (an endpoint): at most 20 alternative tokens per position, asked {}", model(), request.logprobs);
  const size_t n = request.sample_indices.size();
  std::vector<Generation> out(n);
  if (n == 1) {
    out[0] = one(request, request.sample_indices[0], on_text);
    return out;
  }
  // As many threads as may have requests in flight, taking samples in turn.
  std::atomic<size_t> next{0};
  size_t n_threads = std::min(n, static_cast<size_t>(client_.options().max_in_flight));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n_threads; ++t)
    threads.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) out[i] = one(request, request.sample_indices[i], on_text);
    });
  for (std::thread& t : threads) t.join();
  return out;
}

}  // namespace lcte::backend
