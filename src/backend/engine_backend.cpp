#include "backend/engine_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chat/chat_template.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/model_info.h"
#include "model/forward.h"
#include "model/generator.h"
#include "model/model.h"
#include "model/thread_pool.h"
#include "model/tokenizer_text.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace lcte::backend {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string default_name(const std::string& path) {
  std::filesystem::path p(path);
  return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n == 0 ? 1u : n, 1u, 8u));
}

// OpenAI-style settings as the engine's sampler chain (llama.cpp's order:
// penalties, top-k, top-p, min-p, temperature). Penalties look at the last 64
// tokens, prompt included, as llama.cpp's do.
sampling::SamplingParams engine_sampling(const SamplingParams& s) {
  sampling::SamplingParams p;
  p.temperature = static_cast<float>(s.temperature);
  p.top_k = s.top_k > 0 ? s.top_k : 0;
  p.top_p = s.top_p >= 1.0 ? 1.0f : static_cast<float>(s.top_p);
  p.min_p = static_cast<float>(s.min_p);
  p.repeat_penalty = static_cast<float>(s.repetition_penalty);
  p.presence_penalty = static_cast<float>(s.presence_penalty);
  p.frequency_penalty = static_cast<float>(s.frequency_penalty);
  p.repeat_last_n = 64;
  p.seed = s.seed;
  return p;
}

// The chat templates know system, user and assistant: OpenAI's "developer"
// is its newer name for system, and a tool's result is read as a user turn.
std::string template_role(const std::string& role) {
  if (role == "developer") return "system";
  if (role == "tool") return "user";
  return role;
}

// log(sum(exp(row))), in double.
double log_sum_exp(const float* row, size_t n) {
  float max = row[0];
  for (size_t i = 1; i < n; ++i) max = std::max(max, row[i]);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(row[i]) - max);
  return max + std::log(sum);
}

const char* finish_reason(model::Finish f) {
  // OpenAI's names: a stop string or end-of-generation token is "stop".
  return f == model::Finish::Length || f == model::Finish::ContextFull ? "length"
         : f == model::Finish::Cancelled                               ? "cancelled"
                                                                       : "stop";
}

}  // namespace

// One request as the caller's thread and the scheduler's share it (under
// EngineBackend::mutex_).
struct EngineBackend::Pending {
  std::vector<int32_t> prompt;
  model::GenerateOptions options;
  int64_t id = -1;                                  // the decoder's, once admitted
  std::vector<std::pair<int, std::string>> pieces;  // streamed text the caller has not taken yet
  bool cancel = false;                              // the caller asks to end it
  bool done = false;
  std::vector<model::Completion> completions;
  std::string error;
};

std::string describe_gguf(const std::string& path) {
  gguf::File file = gguf::File::open(path);
  gguf::ModelSummary s = gguf::summarize(file);
  if (s.architecture.empty()) fail("{}: no general.architecture: not a model file", path);
  tokenizer::Tokenizer tok = tokenizer::load_tokenizer(path);
  return fmt::format("{} {}, {:.1f}M parameters, {} vocabulary", s.architecture,
                     s.file_type.empty() ? "?" : s.file_type, s.n_parameters / 1e6, tok.n_tokens());
}

EngineBackend::EngineBackend(EngineOptions options) : options_(std::move(options)) {
  if (options_.name.empty()) options_.name = default_name(options_.path);
  if (options_.threads == 0) options_.threads = default_threads();
  if (options_.threads < 1 || options_.threads > 256)
    fail("engine: thread count {} is out of range (1..256)", options_.threads);
  if (options_.n_ctx < 2) fail("engine: context size {} is too small", options_.n_ctx);
  if (options_.max_samples < 1) fail("engine: max samples must be at least 1");
  model::kv_type_from_name(options_.kv_type);
  try {
    model::check_prefill_chunk(options_.prefill_chunk);
  } catch (const Error& e) {
    fail("engine: {}", e.what());
  }
  model_ = model::Model::load(options_.path);
  tokenizer_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::load_tokenizer(options_.path));
  if (static_cast<int64_t>(tokenizer_->n_tokens()) > model_->config().n_vocab)
    fail("{}: the tokenizer has {} tokens but the model only {} embeddings", options_.path, tokenizer_->n_tokens(),
         model_->config().n_vocab);
  text_ = std::make_unique<model::TokenizerText>(*tokenizer_);
  const chat::Detection d =
      chat::choose_family(options_.chat_template, model_->file().get_string("tokenizer.chat_template", ""));
  if (!d.warning.empty()) spdlog::debug("{}: {}", options_.path, d.warning);
  chat_family_ = std::string(chat::family_name(d.family));
  if (options_.max_sequences < 1 || options_.max_sequences > 4096)
    fail("engine: {} sequences at once is out of range (1..4096)", options_.max_sequences);
  if (options_.kv_budget_mib < 0) fail("engine: KV budget {} MiB is negative", options_.kv_budget_mib);
  pool_ = std::make_unique<model::ThreadPool>(options_.threads);
  context_ = std::make_unique<model::Context>(*model_, *pool_, options_.batch);
  model::BatchDecoder::Options batching;
  batching.max_sequences = options_.max_sequences;
  batching.prefill_chunk = options_.prefill_chunk;
  if (options_.kv_budget_mib > 0) {
    const size_t block = model::KvCache(model_->config(), 1, model::kv_type_from_name(options_.kv_type)).block_bytes();
    const int64_t blocks = static_cast<int64_t>((static_cast<size_t>(options_.kv_budget_mib) << 20) / block);
    if (blocks < 1)
      fail("engine: a KV budget of {} MiB holds no block of {} positions ({:.2f} MiB)", options_.kv_budget_mib,
           model::KvCache::kBlock, static_cast<double>(block) / (1 << 20));
    batching.kv_budget = std::make_shared<model::KvBudget>(blocks);
  }
  decoder_ = std::make_unique<model::BatchDecoder>(*context_, *text_, batching);
  scheduler_ = std::thread([this] { schedule(); });
}

EngineBackend::~EngineBackend() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  scheduler_.join();
}

bool EngineBackend::scheduler_has_work() const {
  if (stopping_ || !jobs_.empty() || !decoder_->empty()) return true;
  if (waiting_.empty()) return false;
  return decoder_->unclaimed_slots() > 0 || waiting_.front()->cancel;
}

// Hands waiting requests to the decoder (which prefills them in its steps)
// while it has slots no admitted request has claimed. Called with the lock
// held; releases it around the decoder's add.
void EngineBackend::admit(std::unique_lock<std::mutex>& lock) {
  while (!waiting_.empty() && (decoder_->unclaimed_slots() > 0 || waiting_.front()->cancel)) {
    std::shared_ptr<Pending> p = waiting_.front();
    waiting_.pop_front();
    if (p->cancel) {  // never started
      p->completions.assign(static_cast<size_t>(p->options.n_sequences), {});
      for (model::Completion& c : p->completions) c.finish = model::Finish::Cancelled;
      p->done = true;
      progress_.notify_all();
      continue;
    }
    lock.unlock();
    std::string error;
    int64_t id = -1;
    try {
      // The stream callback runs on this thread during steps: it hands the
      // text over to the caller's thread.
      Pending* raw = p.get();
      id = decoder_->add(p->prompt, p->options, [this, raw](int seq, std::string_view piece) {
        std::lock_guard<std::mutex> guard(mutex_);
        raw->pieces.emplace_back(seq, std::string(piece));
        progress_.notify_all();
      });
    } catch (const std::exception& e) {  // the request fails, the scheduler goes on
      error = e.what();
    }
    lock.lock();
    if (!error.empty()) {
      p->error = error;
      p->done = true;
      progress_.notify_all();
    } else {
      p->id = id;
      running_.push_back(p);
    }
  }
}

void EngineBackend::schedule() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return scheduler_has_work(); });
    if (stopping_) return;
    while (!jobs_.empty()) {
      std::function<void()>* job = jobs_.front();
      jobs_.pop_front();
      lock.unlock();
      (*job)();  // catches its own errors (run_on_scheduler)
      lock.lock();
    }
    for (const auto& p : running_)
      if (p->cancel) {
        lock.unlock();
        decoder_->cancel(p->id);
        lock.lock();
      }
    admit(lock);
    lock.unlock();
    std::string internal;
    try {
      if (!decoder_->empty()) decoder_->step();
    } catch (const std::exception& e) {
      internal = e.what();  // a step lost: every request in it fails
    }
    std::vector<model::BatchDecoder::Done> done = decoder_->take_done();
    lock.lock();
    for (model::BatchDecoder::Done& d : done)
      for (auto it = running_.begin(); it != running_.end(); ++it)
        if ((*it)->id == d.id) {
          (*it)->completions = std::move(d.completions);
          (*it)->error = std::move(d.error);
          (*it)->done = true;
          running_.erase(it);
          break;
        }
    if (!internal.empty()) {
      for (const auto& p : running_) {
        p->error = internal;
        p->done = true;
        lock.unlock();
        decoder_->cancel(p->id);  // out of the decoder, so the next steps go on without it
        lock.lock();
      }
      running_.clear();
      (void)decoder_->take_done();
    }
    progress_.notify_all();
  }
}

void EngineBackend::run_on_scheduler(const std::function<void()>& fn) {
  std::exception_ptr error;
  bool finished = false;
  std::function<void()> job = [&] {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    finished = true;
    progress_.notify_all();
  };
  std::unique_lock<std::mutex> lock(mutex_);
  jobs_.push_back(&job);
  wake_.notify_all();
  progress_.wait(lock, [&] { return finished; });
  lock.unlock();
  if (error) std::rethrow_exception(error);
}

int64_t EngineBackend::count_tokens(const std::string& text) const {
  return static_cast<int64_t>(tokenizer_->tokenize(text, /*add_special=*/false, /*parse_special=*/false).size());
}

std::vector<int32_t> EngineBackend::prompt_tokens(const GenerationRequest& request,
                                                  std::vector<std::string>& stops) const {
  if (!request.chat) return tokenizer_->tokenize(request.prompt, /*add_special=*/true, /*parse_special=*/false);
  chat::Family family = chat::parse_family(chat_family_);
  std::vector<chat::Message> messages;
  for (const ChatMessage& m : request.messages)
    messages.push_back({chat::parse_role(template_role(m.role)), m.content});
  const std::string text = chat::render(family, messages);
  // The end of the assistant's turn stops generation too, for vocabularies
  // that do not mark its token as end-of-generation.
  for (const std::string& s : chat::turn_end_strings(family)) stops.push_back(s);
  return tokenizer_->tokenize(text, /*add_special=*/true, /*parse_special=*/true);
}

std::vector<Generation> EngineBackend::generate(const GenerationRequest& request, const StreamFn& on_text) {
  const auto start = Clock::now();
  const size_t n = request.sample_indices.size();
  if (n == 0) return {};
  if (n > static_cast<size_t>(options_.max_samples))
    fail("engine {}: {} samples in one request; at most {}", options_.name, n, options_.max_samples);
  if (request.chat && request.messages.empty()) fail("engine {}: a chat request without messages", options_.name);
  if (request.sampling.max_tokens < 0)
    fail("engine {}: max_tokens {} is negative", options_.name, request.sampling.max_tokens);
  if (request.logprobs > 20)
    fail("engine {}: at most 20 alternative tokens per position, asked {}", options_.name, request.logprobs);

  model::GenerateOptions o;
  o.max_tokens = request.sampling.max_tokens;
  o.n_sequences = static_cast<int>(n);
  o.n_ctx = options_.n_ctx;
  o.kv_type = model::kv_type_from_name(options_.kv_type);
  o.sampling = engine_sampling(request.sampling);
  o.stop = request.stops;
  for (int index : request.sample_indices)
    o.sequence_seeds.push_back(sample_seed(request.sampling.seed, request.task_id, index));
  std::vector<int32_t> prompt = prompt_tokens(request, o.stop);
  if (static_cast<int64_t>(prompt.size()) >= options_.n_ctx)
    fail("engine {}: the prompt has {} tokens; the context holds {}", options_.name, prompt.size(), options_.n_ctx);

  std::vector<double> first_piece(n, kUnknown);
  auto pending = std::make_shared<Pending>();
  pending->prompt = std::move(prompt);
  pending->options = std::move(o);
  std::unique_lock<std::mutex> lock(mutex_);
  waiting_.push_back(pending);
  wake_.notify_all();
  bool cancelled = false;
  for (;;) {
    // Wakes for text or the end, and at least every 50 ms to ask whether the
    // caller has cancelled.
    progress_.wait_for(lock, std::chrono::milliseconds(50), [&] { return pending->done || !pending->pieces.empty(); });
    std::vector<std::pair<int, std::string>> pieces = std::exchange(pending->pieces, {});
    const bool done = pending->done;
    lock.unlock();
    for (const auto& [seq, piece] : pieces) {
      if (cancelled) break;
      if (std::isnan(first_piece[static_cast<size_t>(seq)])) first_piece[static_cast<size_t>(seq)] = since(start);
      if (on_text) on_text(request.sample_indices[static_cast<size_t>(seq)], piece);
      if (request.cancelled && request.cancelled()) cancelled = true;
    }
    if (!cancelled && !done && request.cancelled && request.cancelled()) cancelled = true;
    lock.lock();
    if (cancelled && !pending->cancel) {
      pending->cancel = true;
      wake_.notify_all();
    }
    if (done) break;
  }
  lock.unlock();
  if (cancelled) {
    std::vector<Generation> result(n);
    for (size_t i = 0; i < n; ++i) {
      result[i].sample_index = request.sample_indices[i];
      result[i].finish_reason = "cancelled";
      result[i].latency_s = since(start);
    }
    return result;
  }
  if (!pending->error.empty()) fail("engine {}: {}", options_.name, pending->error);
  std::vector<model::Completion>& out = pending->completions;
  std::vector<std::vector<TokenLogprob>> scored;
  if (request.logprobs >= 0)
    run_on_scheduler([&] {
      for (const model::Completion& c : out)
        scored.push_back(score(pending->prompt, c.tokens, c.text, request.logprobs));
    });
  const double latency = since(start);

  std::vector<Generation> result;
  for (size_t i = 0; i < n; ++i) {
    Generation g;
    g.sample_index = request.sample_indices[i];
    g.text = std::move(out[i].text);
    g.prompt_tokens = static_cast<int>(pending->prompt.size());
    g.completion_tokens = static_cast<int>(out[i].tokens.size());
    g.latency_s = latency;
    // A sample whose text never reached the stream (empty, or all held back
    // as a possible stop string) had its first token when it ended.
    g.time_to_first_token_s = std::isnan(first_piece[i]) ? latency : first_piece[i];
    g.time_per_output_token_s = time_per_output_token(latency, g.time_to_first_token_s, g.completion_tokens);
    g.finish_reason = finish_reason(out[i].finish);
    if (i < scored.size()) g.logprobs = std::move(scored[i]);
    result.push_back(std::move(g));
  }
  return result;
}

std::vector<TokenLogprob> EngineBackend::score(const std::vector<int32_t>& prompt,
                                               const std::vector<int32_t>& completion, const std::string& text,
                                               int alternatives) {
  // The tokens whose text is in `text` (the rest lies beyond a stop string).
  std::vector<std::string> pieces;
  size_t offset = 0;
  for (int32_t tok : completion) {
    if (offset >= text.size()) break;
    pieces.push_back(text_->piece(tok));
    offset += pieces.back().size();
  }
  const size_t n = pieces.size();
  std::vector<TokenLogprob> out;
  if (n == 0) return out;
  const size_t V = static_cast<size_t>(context_->n_vocab());
  model::KvCache cache = context_->new_cache(options_.n_ctx, model::kv_type_from_name(options_.kv_type));
  std::vector<float> logits;
  context_->eval(cache, prompt, model::Logits::Last, logits);
  std::vector<float> rows = std::move(logits);  // row j: the distribution token j was drawn from
  // Feeding completion tokens 0..n-2 gives the rows of tokens 1..n-1; in
  // chunks, so a long completion over a large vocabulary stays small.
  std::vector<sampling::Candidate> best;
  auto emit = [&](const float* row, size_t j) {
    const double lse = log_sum_exp(row, V);
    TokenLogprob t;
    t.token = pieces[j];
    t.logprob = row[static_cast<size_t>(completion[j])] - lse;
    if (alternatives > 0) {
      sampling::select_top_k({row, V}, alternatives, best);
      for (const sampling::Candidate& c : best) t.top.push_back({text_->piece(c.id), c.logit - lse});
    }
    out.push_back(std::move(t));
  };
  emit(rows.data(), 0);
  const size_t chunk = 32;
  for (size_t start = 0; start + 1 < n; start += chunk) {
    size_t end = std::min(n - 1, start + chunk);
    std::span<const int32_t> feed(completion.data() + start, end - start);
    context_->eval(cache, feed, model::Logits::All, logits);
    for (size_t k = 0; k < feed.size(); ++k) emit(logits.data() + k * V, start + k + 1);
  }
  return out;
}

}  // namespace lcte::backend
