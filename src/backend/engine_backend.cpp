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
  return f == model::Finish::Length || f == model::Finish::ContextFull ? "length" : "stop";
}

}  // namespace

std::string describe_gguf(const std::string& path) {
  gguf::File file = gguf::File::open(path);
  gguf::ModelSummary s = gguf::summarize(file);
  if (s.architecture.empty()) fail("{}: no general.architecture: not a model file", path);
  tokenizer::Tokenizer tok = tokenizer::load_tokenizer(path);
  return fmt::format("{} {}, {:.1f}M parameters, {} vocabulary", s.architecture,
                     s.file_type.empty() ? "?" : s.file_type, s.n_parameters / 1e6, tok.n_tokens());
}

void FifoMutex::lock() {
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t ticket = next_ticket_++;
  turn_.wait(lock, [&] { return serving_ == ticket; });
}

void FifoMutex::unlock() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++serving_;
  }
  turn_.notify_all();
}

EngineBackend::EngineBackend(EngineOptions options) : options_(std::move(options)) {
  if (options_.name.empty()) options_.name = default_name(options_.path);
  if (options_.threads == 0) options_.threads = default_threads();
  if (options_.threads < 1 || options_.threads > 256) fail("engine: thread count {} is out of range (1..256)", options_.threads);
  if (options_.n_ctx < 2) fail("engine: context size {} is too small", options_.n_ctx);
  if (options_.max_samples < 1) fail("engine: max samples must be at least 1");
  model::kv_type_from_name(options_.kv_type);
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
  pool_ = std::make_unique<model::ThreadPool>(options_.threads);
  context_ = std::make_unique<model::Context>(*model_, *pool_, options_.batch);
}

EngineBackend::~EngineBackend() = default;

int64_t EngineBackend::count_tokens(const std::string& text) const {
  return static_cast<int64_t>(tokenizer_->tokenize(text, /*add_special=*/false, /*parse_special=*/false).size());
}

std::vector<int32_t> EngineBackend::prompt_tokens(const GenerationRequest& request,
                                                  std::vector<std::string>& stops) const {
  if (!request.chat) return tokenizer_->tokenize(request.prompt, /*add_special=*/true, /*parse_special=*/false);
  chat::Family family = chat::parse_family(chat_family_);
  std::vector<chat::Message> messages;
  for (const ChatMessage& m : request.messages) messages.push_back({chat::parse_role(template_role(m.role)), m.content});
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
  if (request.sampling.max_tokens < 0) fail("engine {}: max_tokens {} is negative", options_.name, request.sampling.max_tokens);
  if (request.logprobs > 20) fail("engine {}: at most 20 alternative tokens per position, asked {}", options_.name, request.logprobs);

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
  struct Cancelled {};  // thrown out of the generator's stream callback to stop it
  model::StreamFn stream = [&](int seq, std::string_view piece) {
    if (std::isnan(first_piece[static_cast<size_t>(seq)])) first_piece[static_cast<size_t>(seq)] = since(start);
    if (on_text) on_text(request.sample_indices[static_cast<size_t>(seq)], piece);
    if (request.cancelled && request.cancelled()) throw Cancelled{};
  };
  std::vector<model::Completion> out;
  std::vector<std::vector<TokenLogprob>> scored;
  model::GenerateStats stats;
  try {
    std::lock_guard<FifoMutex> lock(queue_);
    if (request.cancelled && request.cancelled()) throw Cancelled{};
    model::Generator generator(*context_, *text_);
    out = generator.generate(prompt, o, stream, &stats);
    if (request.logprobs >= 0)
      for (const model::Completion& c : out) scored.push_back(score(prompt, c.tokens, c.text, request.logprobs));
  } catch (const Cancelled&) {
    std::vector<Generation> result(n);
    for (size_t i = 0; i < n; ++i) {
      result[i].sample_index = request.sample_indices[i];
      result[i].finish_reason = "cancelled";
      result[i].latency_s = since(start);
    }
    return result;
  }
  const double latency = since(start);

  std::vector<Generation> result;
  for (size_t i = 0; i < n; ++i) {
    Generation g;
    g.sample_index = request.sample_indices[i];
    g.text = std::move(out[i].text);
    g.prompt_tokens = static_cast<int>(prompt.size());
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

std::vector<TokenLogprob> EngineBackend::score(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion,
                                                const std::string& text, int alternatives) {
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
