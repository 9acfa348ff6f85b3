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

// One request: its prompt's KV (kept until every sequence has forked from
// it) and logits, and its sequences.
struct BatchDecoder::Request {
  int64_t id;
  GenerateOptions o;
  StreamFn on_text;
  std::optional<KvCache> root;
  std::vector<float> prompt_logits;
  std::vector<int32_t> prompt;
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
}

BatchDecoder::~BatchDecoder() = default;

int64_t BatchDecoder::add(std::span<const int32_t> prompt, const GenerateOptions& o, StreamFn on_text) {
  check_options(prompt, o);
  auto r = std::make_unique<Request>();
  r->id = next_id_++;
  r->o = o;
  r->on_text = std::move(on_text);
  r->prompt.assign(prompt.begin(), prompt.end());
  r->stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  const auto t0 = Clock::now();
  r->root.emplace(ctx_.new_cache(o.n_ctx, o.kv_type, options_.kv_budget));
  ctx_.eval(*r->root, prompt, Logits::Last, r->prompt_logits);
  r->stats.prompt_seconds = seconds_since(t0);
  r->decode_start = Clock::now();
  requests_.push_back(std::move(r));
  return requests_.back()->id;
}

int BatchDecoder::active_sequences() const { return static_cast<int>(active_.size()); }

bool BatchDecoder::empty() const { return requests_.empty(); }

int BatchDecoder::unclaimed_slots() const {
  int claimed = static_cast<int>(active_.size());
  for (const auto& r : requests_) claimed += r->o.n_sequences - static_cast<int>(r->seqs.size());
  return options_.max_sequences - claimed;
}

void BatchDecoder::join() {
  for (auto& rp : requests_) {
    Request& r = *rp;
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
  BatchDecoder decoder(ctx_, text_, {o.n_sequences, nullptr});
  decoder.add(prompt, o, on_text);
  while (!decoder.empty()) decoder.step();
  std::vector<BatchDecoder::Done> done = decoder.take_done();
  if (done.size() != 1) fail("internal: generate ended {} requests", done.size());
  if (!done[0].error.empty()) fail("{}", done[0].error);
  if (stats != nullptr) *stats = done[0].stats;
  return std::move(done[0].completions);
}

}  // namespace lcte::model
