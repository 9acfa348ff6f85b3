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

// OpenAI-style settings as the engine's sampler chain: no top-k or min-p (the
// API has neither), no penalties.
sampling::SamplingParams engine_sampling(const SamplingParams& s) {
  sampling::SamplingParams p;
  p.temperature = static_cast<float>(s.temperature);
  p.top_k = 0;
  p.top_p = s.top_p >= 1.0 ? 1.0f : static_cast<float>(s.top_p);
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = s.seed;
  return p;
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
  for (const ChatMessage& m : request.messages) messages.push_back({chat::parse_role(m.role), m.content});
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
  model::GenerateStats stats;
  try {
    std::lock_guard<FifoMutex> lock(queue_);
    if (request.cancelled && request.cancelled()) throw Cancelled{};
    model::Generator generator(*context_, *text_);
    out = generator.generate(prompt, o, stream, &stats);
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
    result.push_back(std::move(g));
  }
  return result;
}

}  // namespace lcte::backend
