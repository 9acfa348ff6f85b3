#include "model/generator.h"

#include <chrono>
#include <memory>
#include <set>

#include "core/error.h"
#include "sampling/stop.h"

namespace lcte::model {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One sequence being generated.
struct Active {
  int index;
  KvCache cache;
  sampling::Sampler sampler;
  sampling::StopMatcher stop;
  std::vector<int32_t> history;  // prompt + generated, for the penalties
  Completion out;
  bool done = false;
};

}  // namespace

const char* finish_name(Finish f) {
  switch (f) {
    case Finish::Length: return "length";
    case Finish::EndOfGeneration: return "eog";
    case Finish::Stop: return "stop";
    case Finish::ContextFull: return "context";
  }
  return "?";
}

std::vector<Completion> Generator::generate(std::span<const int32_t> prompt, const GenerateOptions& o,
                                            const StreamFn& on_text, GenerateStats* stats) {
  if (prompt.empty()) fail("generate: the prompt has no tokens");
  if (o.n_sequences < 1 || o.n_sequences > 4096) fail("generate: {} sequences is out of range (1..4096)", o.n_sequences);
  if (o.max_tokens < 0) fail("generate: max tokens {} is negative", o.max_tokens);
  if (!o.sequence_seeds.empty() && o.sequence_seeds.size() != static_cast<size_t>(o.n_sequences))
    fail("generate: {} sequence seeds for {} sequences", o.sequence_seeds.size(), o.n_sequences);
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt >= o.n_ctx)
    fail("generate: the prompt has {} tokens, which leaves no room in a context of {}", n_prompt, o.n_ctx);
  const size_t V = static_cast<size_t>(ctx_.n_vocab());

  GenerateStats st;
  st.prompt_tokens = n_prompt;
  auto t0 = Clock::now();
  KvCache root = ctx_.new_cache(o.n_ctx, o.kv_type);
  std::vector<float> prompt_logits;
  ctx_.eval(root, prompt, Logits::Last, prompt_logits);
  st.prompt_seconds = seconds_since(t0);
  t0 = Clock::now();

  std::vector<std::unique_ptr<Active>> seqs;
  auto sampler_for = [&o](int i) {
    if (o.sequence_seeds.empty()) return sampling::Sampler(o.sampling, static_cast<uint64_t>(i));
    sampling::SamplingParams p = o.sampling;
    p.seed = o.sequence_seeds[static_cast<size_t>(i)];
    return sampling::Sampler(p, 0);
  };
  for (int i = 0; i < o.n_sequences; ++i)
    seqs.push_back(std::make_unique<Active>(Active{i, root.fork(), sampler_for(i),
                                                   sampling::StopMatcher(o.stop),
                                                   std::vector<int32_t>(prompt.begin(), prompt.end()), {}, false}));

  auto finish = [&](Active& s, Finish why) {
    s.done = true;
    s.out.finish = why;
    if (why == Finish::Stop) {
      s.out.stop_index = s.stop.stop_index();
    } else {
      const std::string rest = s.stop.finish();
      if (on_text && !rest.empty()) on_text(s.index, rest);
    }
    s.out.text = s.stop.output();
  };

  // The logits each active sequence samples from next: the prompt's at first.
  std::vector<float> logits;
  std::vector<Active*> stepping;  // the sequences whose logits are in `logits`, in order
  for (auto& s : seqs) stepping.push_back(s.get());
  bool first = true;
  while (!stepping.empty()) {
    std::vector<KvCache*> caches;
    std::vector<int32_t> next;
    std::vector<Active*> fed;
    for (size_t k = 0; k < stepping.size(); ++k) {
      Active& s = *stepping[k];
      if (static_cast<int64_t>(s.out.tokens.size()) >= o.max_tokens) {
        finish(s, Finish::Length);
        continue;
      }
      const float* row = first ? prompt_logits.data() : logits.data() + k * V;
      const int32_t tok = s.sampler.sample({row, V}, s.history);
      if (text_.is_eog(tok)) {
        finish(s, Finish::EndOfGeneration);
        continue;
      }
      s.out.tokens.push_back(tok);
      s.history.push_back(tok);
      const sampling::StopResult r = s.stop.feed(text_.piece(tok));
      if (on_text && !r.text.empty()) on_text(s.index, r.text);
      if (r.stopped) {
        finish(s, Finish::Stop);
        continue;
      }
      if (static_cast<int64_t>(s.out.tokens.size()) >= o.max_tokens) {
        finish(s, Finish::Length);
        continue;
      }
      if (s.cache.size() >= s.cache.n_ctx()) {
        finish(s, Finish::ContextFull);
        continue;
      }
      caches.push_back(&s.cache);
      next.push_back(tok);
      fed.push_back(&s);
    }
    first = false;
    stepping = fed;
    if (stepping.empty()) break;
    ctx_.eval_step(caches, next, logits);
  }
  st.generate_seconds = seconds_since(t0);

  std::set<const void*> blocks;  // count each shared block once
  std::vector<Completion> out;
  for (auto& s : seqs) {
    st.generated_tokens += static_cast<int64_t>(s->out.tokens.size());
    for (int64_t p = 0; p < s->cache.size(); p += KvCache::kBlock) blocks.insert(s->cache.k(0, p));
    out.push_back(std::move(s->out));
  }
  st.kv_bytes = blocks.size() * root.block_bytes();
  if (stats != nullptr) *stats = st;
  return out;
}

}  // namespace lcte::model
