// The local inference engine as a Backend: a GGUF model, its tokenizer and
// chat template, loaded once and shared by every caller. Requests are served
// one at a time in arrival order (a mutex queues them: the engine's context
// holds scratch memory that one forward pass at a time may use); the samples
// of one request are decoded together, sharing the prompt's KV cache.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/generation.h"

namespace lcte::model {
class Model;
class ThreadPool;
class Context;
class TokenizerText;
}  // namespace lcte::model
namespace lcte::tokenizer {
class Tokenizer;
}

namespace lcte::backend {

struct EngineOptions {
  std::string path;           // GGUF file
  std::string name;           // the model's name in reports and APIs; default: the file name without .gguf
  int threads = 0;            // 0: the hardware threads (at most 8)
  int64_t n_ctx = 4096;       // positions per sequence (prompt + completion)
  int64_t batch = 512;        // most prompt tokens per forward call
  std::string kv_type = "f16";
  std::string chat_template;  // a chat family name instead of the one detected from the GGUF
  int max_samples = 64;       // most samples one request may ask for
};

// Just the header and tokenizer of `path` are read; throws lcte::Error naming
// what is wrong. Used by `lcte models list` to say a model is loadable.
std::string describe_gguf(const std::string& path);

// A mutex that admits waiters in arrival order, so that under load no
// request waits behind ones that came later (std::mutex promises no order).
class FifoMutex {
 public:
  void lock();
  void unlock();

 private:
  std::mutex mutex_;
  std::condition_variable turn_;
  uint64_t next_ticket_ = 0;
  uint64_t serving_ = 0;
};

class EngineBackend final : public Backend {
 public:
  explicit EngineBackend(EngineOptions options);  // loads the model; throws lcte::Error
  ~EngineBackend() override;
  EngineBackend(const EngineBackend&) = delete;
  EngineBackend& operator=(const EngineBackend&) = delete;

  std::string name() const override { return "engine"; }
  std::string model() const override { return options_.name; }
  Features features() const override { return {true, true, true}; }
  std::vector<Generation> generate(const GenerationRequest& request, const StreamFn& on_text = {}) override;

  // Tokens of `text` as a completion prompt (for routing by length).
  int64_t count_tokens(const std::string& text) const;
  const EngineOptions& options() const { return options_; }

 private:
  std::vector<int32_t> prompt_tokens(const GenerationRequest& request, std::vector<std::string>& stops) const;
  // Log probabilities of the completion's tokens that make `text`, by scoring
  // prompt + completion again (under the generation lock).
  std::vector<TokenLogprob> score(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion,
                                  const std::string& text, int alternatives);

  EngineOptions options_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<model::TokenizerText> text_;
  std::string chat_family_;
  std::unique_ptr<model::ThreadPool> pool_;
  std::unique_ptr<model::Context> context_;
  FifoMutex queue_;  // held for one request's generation
};

}  // namespace lcte::backend
