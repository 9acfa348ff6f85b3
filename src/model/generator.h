// Text generation: prompt once, then n sequences sampled from it, decoded
// together one token per sequence per step (every weight is read once per step
// for all n), each with its own seeded sampler and stop-string matcher,
// sharing the prompt's KV cache (copy on write).
#pragma once

#include <cstdint>
#include <functional>
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

enum class Finish { Length, EndOfGeneration, Stop, ContextFull };
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
