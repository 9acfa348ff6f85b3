// Text generation: prompt once, then n sequences sampled from it, decoded
// together one token per sequence per step (every weight is read once per step
// for all n), each with its own seeded sampler and stop-string matcher,
// sharing the prompt's KV cache (copy on write). BatchDecoder does the same
// for the sequences of several requests at once (continuous batching);
// Generator is one request through it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/forward.h"
#include "sampling/sampler.h"

namespace lcte::model {

// What generation needs from a tokenizer: the text of one token (as it is
// streamed) and whether a token ends generation (EOS, EOT, ...). Kept this
// small so the engine does not depend on the tokenizer library.
class TokenText {
 public:
  virtual ~TokenText() = default;
  virtual std::string piece(int32_t token) const = 0;
  virtual bool is_eog(int32_t token) const = 0;
};

enum class Finish { Length, EndOfGeneration, Stop, ContextFull, Cancelled };
const char* finish_name(Finish f);

struct GenerateOptions {
  int64_t max_tokens = 256;
  int n_sequences = 1;
  std::vector<std::string> stop;  // stop strings; the text ends before the first one
  sampling::SamplingParams sampling;
  // Empty: sequence i samples as Sampler(sampling, i). Otherwise one seed per
  // sequence, and sequence i samples as a lone sequence seeded with seeds[i]
  // (Sampler(sampling with seed = seeds[i], 0)), so that a sample can be
  // reproduced by itself (backends that serve one sample per request).
  std::vector<uint64_t> sequence_seeds;
  int64_t n_ctx = 4096;  // the most positions a sequence may reach (prompt included)
  KvType kv_type = KvType::F16;
};

struct Completion {
  std::vector<int32_t> tokens;  // generated ids (an end-of-generation token is not included)
  std::string text;             // their text, cut before a stop string
  Finish finish = Finish::Length;
  int stop_index = -1;  // which stop string, when finish == Stop
};

struct GenerateStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;  // over all sequences
  double prompt_seconds = 0, generate_seconds = 0;
  size_t kv_bytes = 0;  // distinct KV blocks held at the end (shared blocks once)
};

// Called with each piece of text as soon as it is safe to show (not part of a
// possible stop string, no half UTF-8 character): (sequence index, text).
using StreamFn = std::function<void(int, std::string_view)>;

// Throws lcte::Error unless chunk is a valid BatchDecoder::Options::prefill_chunk
// (0, or at least 2).
void check_prefill_chunk(int64_t chunk);

// The sequences of many requests decoded together: every step samples one
// token for each active sequence and decodes all that continue in one
// forward (Context::eval_step), so the weights are read once per step for
// all of them. Prompts are prefilled in chunks, one chunk's worth of prompt
// tokens per step before the decode (forwards of their own), so a long
// prompt delays the running sequences' next token by one chunk, not by the
// whole prompt. A request's sequences join between steps once its prompt is
// in, as slots free up, in the order the requests were added, and leave when
// they end. A sequence's tokens and logits do not depend on its companions
// (eval_step's guarantee, and a sampler and stop matcher per sequence) nor on
// the chunk size (a chunked prompt gets the bits of one forward: see
// Context::eval). Used by one thread.
class BatchDecoder {
 public:
  struct Options {
    int max_sequences = 64;               // most sequences decoded in one step
    std::shared_ptr<KvBudget> kv_budget;  // shared by all sequences (and prompts), or null
    // Most prompt tokens prefilled per step, oldest request first (a
    // request's last chunk may take one token more, so that no forward is of
    // one token; 1 is refused for that reason). With 256 the worst wait of a
    // running sequence for its next token is about one 256-token forward
    // (2.5-3.5x shorter than a 2000-token prompt at once on the small test
    // models; docs/benchmarks.md, "Chunked prefill"), while each chunk still
    // reads every weight once for 256 tokens. 0: add() prefills the whole
    // prompt at once.
    int64_t prefill_chunk = 256;
  };
  struct Done {
    int64_t id;
    std::vector<Completion> completions;  // one per sequence, in index order
    GenerateStats stats;
    std::string error;  // non-empty: the request failed (KV budget spent, ...); completions are partial
  };

  BatchDecoder(Context& ctx, const TokenText& text, Options options);
  ~BatchDecoder();

  // Queues the request for prefill (prefill_chunk 0: prefills it here) and
  // its sequences to join after it. Returns its id. Throws lcte::Error
  // (nothing added) for bad options or token ids, a prompt that does not fit
  // the context, or a KV budget with fewer free blocks than the prompt needs.
  // A budget spent later, during a chunked prefill, fails only this request
  // (Done::error).
  int64_t add(std::span<const int32_t> prompt, const GenerateOptions& options, StreamFn on_text = {});
  // Slots not promised to the sequences of requests already added: a new
  // request's first sequence would join at the next step when positive.
  int unclaimed_slots() const;
  int active_sequences() const;
  bool empty() const;               // no request in progress
  int prefilling_requests() const;  // added, prompt not all in yet
  // Ends the request's sequences (Finish::Cancelled), or its prefill; it is
  // Done at once and its KV blocks go back to the budget.
  void cancel(int64_t id);
  // One step: prefills up to prefill_chunk prompt tokens, joins waiting
  // sequences, samples one token for each active sequence, ends those that
  // finish, decodes the rest in one forward.
  void step();
  // The requests that ended since the last call.
  std::vector<Done> take_done();

 private:
  struct Request;
  struct Sequence;
  void prefill(Request& r, int64_t n);
  void prefill_step();
  void join();
  void end(Sequence& s, Finish why);
  void fail_request(Request& r, const std::string& message);
  void retire();

  Context& ctx_;
  const TokenText& text_;
  Options options_;
  int64_t next_id_ = 0;
  std::deque<std::unique_ptr<Request>> requests_;  // in progress, in the order added
  std::vector<Sequence*> active_;                  // decoded this step, in join order
  std::vector<float> logits_;                      // the last step's rows, one per fed sequence
  std::vector<Done> done_;
};

class Generator {
 public:
  Generator(Context& ctx, const TokenText& text) : ctx_(ctx), text_(text) {}

  // Throws lcte::Error for an empty prompt, bad options or a prompt longer
  // than the context.
  std::vector<Completion> generate(std::span<const int32_t> prompt, const GenerateOptions& options,
                                   const StreamFn& on_text = {}, GenerateStats* stats = nullptr);

 private:
  Context& ctx_;
  const TokenText& text_;
};

}  // namespace lcte::model
