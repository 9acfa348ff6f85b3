// The local inference engine as a Backend: a GGUF model, its tokenizer and
// chat template, loaded once and shared by every caller. One scheduler thread
// owns the engine's context and decodes the samples of all requests in
// progress together (continuous batching, model::BatchDecoder): each step is
// one forward over one token of every active sequence, after at most one
// chunk of prompt tokens of the requests admitted (in arrival order, when a
// slot is free) and not yet prefilled; a request's samples join between
// steps once its prompt is in and leave when they end. Callers wait on their
// own thread and get their streamed text there.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/generation.h"

namespace lcte::model {
class Model;
class ThreadPool;
class Context;
class TokenizerText;
class BatchDecoder;
}  // namespace lcte::model
namespace lcte::tokenizer {
class Tokenizer;
}

namespace lcte::backend {

struct EngineOptions {
  std::string path;      // GGUF file
  std::string name;      // the model's name in reports and APIs; default: the file name without .gguf
  int threads = 0;       // 0: the hardware threads (at most 8)
  int64_t n_ctx = 4096;  // positions per sequence (prompt + completion)
  int64_t batch = 512;   // most prompt tokens per forward call
  std::string kv_type = "f16";
  std::string chat_template;  // a chat family name instead of the one detected from the GGUF
  int max_samples = 64;       // most samples one request may ask for
  int max_sequences = 32;     // most sequences decoded together, over all requests (1: one at a time)
  // Most prompt tokens prefilled between two decode steps (0: a prompt at
  // once when admitted, however long the running sequences then wait).
  int64_t prefill_chunk = 256;
  int64_t kv_budget_mib = 0;  // KV memory all sequences share; a request that finds it spent fails (0: no limit)
};

// Just the header and tokenizer of `path` are read; throws lcte::Error naming
// what is wrong. Used by `lcte models list` to say a model is loadable.
std::string describe_gguf(const std::string& path);

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
  struct Pending;  // a request between the caller's thread and the scheduler's
  std::vector<int32_t> prompt_tokens(const GenerationRequest& request, std::vector<std::string>& stops) const;
  void schedule();  // the scheduler thread's loop
  bool scheduler_has_work() const;
  void admit(std::unique_lock<std::mutex>& lock);
  // Runs fn on the scheduler thread between two steps (it owns the context).
  void run_on_scheduler(const std::function<void()>& fn);
  // Log probabilities of the completion's tokens that make `text`, by scoring
  // prompt + completion again (on the scheduler thread).
  std::vector<TokenLogprob> score(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion,
                                  const std::string& text, int alternatives);

  EngineOptions options_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<model::TokenizerText> text_;
  std::string chat_family_;
  std::unique_ptr<model::ThreadPool> pool_;
  std::unique_ptr<model::Context> context_;
  std::unique_ptr<model::BatchDecoder> decoder_;  // used by the scheduler thread only

  // Shared between callers and the scheduler, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_;                   // the scheduler: work arrived
  std::condition_variable progress_;               // callers: text or an end arrived
  std::deque<std::shared_ptr<Pending>> waiting_;   // not yet admitted, in arrival order
  std::vector<std::shared_ptr<Pending>> running_;  // admitted to the decoder
  std::deque<std::function<void()>*> jobs_;        // run_on_scheduler's, in arrival order
  bool stopping_ = false;
  std::thread scheduler_;
};

}  // namespace lcte::backend
