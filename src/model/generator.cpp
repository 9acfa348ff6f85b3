#include "model/generator.h"

#include <algorithm>
#include <set>
#include <utility>

#include "core/error.h"
#include "sampling/stop.h"

namespace lcte::model {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void check_options(std::span<const int32_t> prompt, const GenerateOptions& o) {
  if (prompt.empty()) fail("generate: the prompt has no tokens");
  if (o.n_sequences < 1 || o.n_sequences > 4096)
    fail("generate: {} sequences is out of range (1..4096)", o.n_sequences);
  if (o.max_tokens < 0) fail("generate: max tokens {} is negative", o.max_tokens);
  if (!o.sequence_seeds.empty() && o.sequence_seeds.size() != static_cast<size_t>(o.n_sequences))
    fail("generate: {} sequence seeds for {} sequences", o.sequence_seeds.size(), o.n_sequences);
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt >= o.n_ctx)
    fail("generate: the prompt has {} tokens, which leaves no room in a context of {}", n_prompt, o.n_ctx);
}

sampling::Sampler sampler_for(const GenerateOptions& o, int i) {
  if (o.sequence_seeds.empty()) return sampling::Sampler(o.sampling, static_cast<uint64_t>(i));
  sampling::SamplingParams p = o.sampling;
  p.seed = o.sequence_seeds[static_cast<size_t>(i)];
  return sampling::Sampler(p, 0);
}

}  // namespace

const char* finish_name(Finish f) {
  switch (f) {
    case Finish::Length: return "length";
    case Finish::EndOfGeneration: return "eog";
    case Finish::Stop: return "stop";
    case Finish::ContextFull: return "context";
    case Finish::Cancelled: return "cancelled";
  }
  return "?";
}

// One request: its prompt's KV (filled chunk by chunk, kept until every
// sequence has forked from it) and logits, and its sequences.
struct BatchDecoder::Request {
  int64_t id;
  GenerateOptions o;
  StreamFn on_text;
  std::optional<KvCache> root;
  std::vector<float> prompt_logits;
  std::vector<int32_t> prompt;
  size_t prefilled = 0;  // prompt tokens in root so far
  bool prefilling() const { return prefilled < prompt.size(); }
  std::vector<std::unique_ptr<Sequence>> seqs;  // joined so far, by index
  int ended = 0;
  bool failed = false;
  GenerateStats stats;
  Clock::time_point decode_start;
  std::string error;
};

struct BatchDecoder::Sequence {
  Request* req;
  int index;
  KvCache cache;
  sampling::Sampler sampler;
  sampling::StopMatcher stop;
  std::vector<int32_t> history;  // prompt + generated, for the penalties
  Completion out;
  bool done = false;
  const float* row = nullptr;  // the logits it samples from next
};

BatchDecoder::BatchDecoder(Context& ctx, const TokenText& text, Options options)
    : ctx_(ctx), text_(text), options_(std::move(options)) {
  if (options_.max_sequences < 1)
    fail("batch decoder: at most {} sequences per step is too few", options_.max_sequences);
  check_prefill_chunk(options_.prefill_chunk);
}

BatchDecoder::~BatchDecoder() = default;

void check_prefill_chunk(int64_t chunk) {
  if (chunk < 0 || chunk == 1)
    fail(
        "prefill chunk {} is out of range: 0 (each prompt at once) or at least 2 tokens (a one-token forward "
        "computes in another order)",
        chunk);
}

int64_t BatchDecoder::add(std::span<const int32_t> prompt, const GenerateOptions& o, StreamFn on_text) {
  check_options(prompt, o);
  for (int32_t t : prompt)
    if (t < 0 || t >= ctx_.n_vocab()) fail("token id {} is out of range (vocabulary of {})", t, ctx_.n_vocab());
  auto r = std::make_unique<Request>();
  r->id = next_id_++;
  r->o = o;
  r->on_text = std::move(on_text);
  r->prompt.assign(prompt.begin(), prompt.end());
  r->stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  r->root.emplace(ctx_.new_cache(o.n_ctx, o.kv_type, options_.kv_budget));
  r->decode_start = Clock::now();
  if (options_.prefill_chunk == 0) {
    prefill(*r, static_cast<int64_t>(prompt.size()));  // throws: nothing added
  } else if (const KvBudget* b = options_.kv_budget.get()) {
    // Refused now when the prompt cannot be held at this moment; blocks
    // taken by others before its last chunk fail it later.
    const int64_t need = (static_cast<int64_t>(prompt.size()) + KvCache::kBlock - 1) / KvCache::kBlock;
    const int64_t free_blocks = b->max_blocks() - b->used();
    if (need > free_blocks)
      fail("KV cache full: the prompt's {} positions need {} blocks of {} positions; {} of all {} are free",
           prompt.size(), need, KvCache::kBlock, std::max<int64_t>(free_blocks, 0), b->max_blocks());
  }
  requests_.push_back(std::move(r));
  return requests_.back()->id;
}

// Feeds the next n prompt tokens of r into its root cache; the last chunk
// also gives the prompt's logits. Throws (root keeps what it had) when the
// KV budget is spent.
void BatchDecoder::prefill(Request& r, int64_t n) {
  const auto t0 = Clock::now();
  const std::span<const int32_t> chunk(r.prompt.data() + r.prefilled, static_cast<size_t>(n));
  const bool last = r.prefilled + static_cast<size_t>(n) == r.prompt.size();
  std::vector<float> none;
  ctx_.eval(*r.root, chunk, last ? Logits::Last : Logits::None, last ? r.prompt_logits : none);
  r.prefilled += static_cast<size_t>(n);
  r.stats.prompt_seconds += seconds_since(t0);
  if (last) r.decode_start = Clock::now();
}

// Up to prefill_chunk prompt tokens, requests in the order added: each takes
// prefill_chunk tokens (or all that remain when that is at most one more);
// a chunk that would pass the step's allowance waits for the next step,
// unless it is the step's first.
void BatchDecoder::prefill_step() {
  int64_t allowance = options_.prefill_chunk;
  bool first = true;
  for (auto& rp : requests_) {
    Request& r = *rp;
    if (r.failed || !r.prefilling()) continue;
    const int64_t remaining = static_cast<int64_t>(r.prompt.size() - r.prefilled);
    const int64_t n = remaining <= options_.prefill_chunk + 1 ? remaining : options_.prefill_chunk;
    if (!first && n > allowance) return;
    first = false;
    try {
      prefill(r, n);
    } catch (const Error& e) {
      fail_request(r, e.what());  // the others go on; retire() gives its blocks back
    }
    allowance -= n;
    if (allowance <= 0) return;
  }
}

int BatchDecoder::active_sequences() const { return static_cast<int>(active_.size()); }

int BatchDecoder::prefilling_requests() const {
  return static_cast<int>(
      std::count_if(requests_.begin(), requests_.end(), [](const auto& r) { return r->prefilling() && !r->failed; }));
}

bool BatchDecoder::empty() const { return requests_.empty(); }

int BatchDecoder::unclaimed_slots() const {
  int claimed = static_cast<int>(active_.size());
  for (const auto& r : requests_) claimed += r->o.n_sequences - static_cast<int>(r->seqs.size());
  return options_.max_sequences - claimed;
}

void BatchDecoder::join() {
  for (auto& rp : requests_) {
    Request& r = *rp;
    if (r.failed || r.prefilling()) continue;
    while (static_cast<int>(active_.size()) < options_.max_sequences &&
           static_cast<int>(r.seqs.size()) < r.o.n_sequences) {
      const int i = static_cast<int>(r.seqs.size());
      r.seqs.push_back(std::make_unique<Sequence>(Sequence{&r,
                                                           i,
                                                           r.root->fork(),
                                                           sampler_for(r.o, i),
                                                           sampling::StopMatcher(r.o.stop),
                                                           r.prompt,
                                                           {},
                                                           false,
                                                           r.prompt_logits.data()}));
      active_.push_back(r.seqs.back().get());
    }
    if (static_cast<int>(r.seqs.size()) == r.o.n_sequences) r.root.reset();  // the forks hold its blocks
    if (static_cast<int>(active_.size()) >= options_.max_sequences) return;
  }
}

void BatchDecoder::end(Sequence& s, Finish why) {
  s.done = true;
  s.out.finish = why;
  ++s.req->ended;
  if (why == Finish::Stop) {
    s.out.stop_index = s.stop.stop_index();
  } else if (why != Finish::Cancelled) {
    const std::string rest = s.stop.finish();
    if (s.req->on_text && !rest.empty()) s.req->on_text(s.index, rest);
  }
  s.out.text = s.stop.output();
}

void BatchDecoder::fail_request(Request& r, const std::string& message) {
  r.failed = true;
  r.error = message;
}

void BatchDecoder::cancel(int64_t id) {
  for (auto& r : requests_)
    if (r->id == id) {
      for (auto& s : r->seqs)
        if (!s->done) end(*s, Finish::Cancelled);
      r->root.reset();
      r->failed = true;  // no more sequences join; the error stays empty
    }
  retire();
}

// Moves the requests whose sequences have all ended (or that failed) to done_.
void BatchDecoder::retire() {
  std::erase_if(active_, [](const Sequence* s) { return s->done || s->req->failed; });
  for (auto it = requests_.begin(); it != requests_.end();) {
    Request& r = **it;
    if (!r.failed && r.ended < r.o.n_sequences) {
      ++it;
      continue;
    }
    Done d;
    d.id = r.id;
    d.error = r.error;
    d.stats = r.stats;
    d.stats.generate_seconds = seconds_since(r.decode_start);
    std::set<const void*> blocks;  // count each shared block once
    for (auto& s : r.seqs) {
      d.stats.generated_tokens += static_cast<int64_t>(s->out.tokens.size());
      for (int64_t p = 0; p < s->cache.size(); p += KvCache::kBlock) blocks.insert(s->cache.k(0, p));
    }
    if (!r.seqs.empty()) d.stats.kv_bytes = blocks.size() * r.seqs.front()->cache.block_bytes();
    d.completions.resize(static_cast<size_t>(r.o.n_sequences));
    for (auto& s : r.seqs) d.completions[static_cast<size_t>(s->index)] = std::move(s->out);
    for (size_t i = r.seqs.size(); i < d.completions.size(); ++i) d.completions[i].finish = Finish::Cancelled;
    done_.push_back(std::move(d));
    it = requests_.erase(it);
  }
}

void BatchDecoder::step() {
  if (options_.prefill_chunk > 0) prefill_step();
  join();
  const size_t V = static_cast<size_t>(ctx_.n_vocab());
  // Sample each active sequence's next token; keep those that go on.
  std::vector<Sequence*> going;
  std::vector<int32_t> next;
  for (Sequence* sp : active_) {
    Sequence& s = *sp;
    const GenerateOptions& o = s.req->o;
    if (static_cast<int64_t>(s.out.tokens.size()) >= o.max_tokens) {
      end(s, Finish::Length);
      continue;
    }
    const int32_t tok = s.sampler.sample({s.row, V}, s.history);
    if (text_.is_eog(tok)) {
      end(s, Finish::EndOfGeneration);
      continue;
    }
    s.out.tokens.push_back(tok);
    s.history.push_back(tok);
    const sampling::StopResult r = s.stop.feed(text_.piece(tok));
    if (s.req->on_text && !r.text.empty()) s.req->on_text(s.index, r.text);
    if (r.stopped) {
      end(s, Finish::Stop);
      continue;
    }
    if (static_cast<int64_t>(s.out.tokens.size()) >= o.max_tokens) {
      end(s, Finish::Length);
      continue;
    }
    if (s.cache.size() >= s.cache.n_ctx()) {
      end(s, Finish::ContextFull);
      continue;
    }
    going.push_back(&s);
    next.push_back(tok);
  }
  // A place in each cache for its token; a request whose sequence finds the
  // KV budget spent fails as a whole, the others go on.
  for (Sequence* s : going) {
    if (s->req->failed) continue;
    try {
      s->cache.append(1);
    } catch (const Error& e) {
      fail_request(*s->req, e.what());
    }
  }
  std::vector<KvCache*> caches;
  std::vector<int32_t> tokens;
  std::vector<Sequence*> fed;
  for (size_t k = 0; k < going.size(); ++k) {
    if (going[k]->req->failed) continue;
    caches.push_back(&going[k]->cache);
    tokens.push_back(next[k]);
    fed.push_back(going[k]);
  }
  if (!fed.empty()) {
    try {
      ctx_.eval_appended(caches, tokens, logits_);
    } catch (const Error& e) {
      for (Sequence* s : fed) fail_request(*s->req, e.what());
    }
  }
  for (size_t k = 0; k < fed.size(); ++k) fed[k]->row = logits_.data() + k * V;
  retire();
}

std::vector<BatchDecoder::Done> BatchDecoder::take_done() { return std::exchange(done_, {}); }

std::vector<Completion> Generator::generate(std::span<const int32_t> prompt, const GenerateOptions& o,
                                            const StreamFn& on_text, GenerateStats* stats) {
  check_options(prompt, o);
  BatchDecoder decoder(ctx_, text_, {o.n_sequences, nullptr, /*prefill_chunk=*/0});  // nothing to interleave with
  decoder.add(prompt, o, on_text);
  while (!decoder.empty()) decoder.step();
  std::vector<BatchDecoder::Done> done = decoder.take_done();
  if (done.size() != 1) fail("internal: generate ended {} requests", done.size());
  if (!done[0].error.empty()) fail("{}", done[0].error);
  if (stats != nullptr) *stats = done[0].stats;
  return std::move(done[0].completions);
}

}  // namespace lcte::model
