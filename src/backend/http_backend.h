// An OpenAI-compatible server (vLLM, TGI, llama.cpp's server, Ollama, lcte
// serve) as a Backend. Each sample is one request (n = 1) carrying that
// sample's seed (generation.h: sample_seed), so a sample asked here equals
// the same sample made by the local engine when the server is lcte serve.
// A request's samples go out concurrently, up to the client's in-flight cap.
// A sample whose retries are exhausted comes back with Generation::error set;
// a request the server refuses (4xx) throws, since every sample would fail.
#pragma once

#include <memory>
#include <string>

#include "backend/generation.h"
#include "backend/openai_client.h"

namespace lcte::backend {

class HttpBackend final : public Backend {
 public:
  explicit HttpBackend(HttpOptions options);  // throws lcte::Error on a bad URL or missing key variable
  std::string name() const override { return "http"; }
  std::string model() const override { return client_.options().model; }
  // Sampling settings pass through to the server; log probabilities are asked
  // for and read back (a sample whose server sent none fails with an error).
  Features features() const override { return {true, true, true}; }
  std::vector<Generation> generate(const GenerationRequest& request, const StreamFn& on_text = {}) override;
  OpenAIClient& client() { return client_; }

 private:
  Generation one(const GenerationRequest& request, int index, const StreamFn& on_text);
  OpenAIClient client_;
};

}  // namespace lcte::backend
