// lcte generate -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [--top-k K]
//   [--top-p P] [--min-p P] [--repeat-penalty R] [--chat] [--system S]
//   [--print-ids] [-t THREADS] [--ctx N] [--kv-type f16|f32] [--n-seq N] [--stop S]...
// Streams the completion to stdout; timing and memory go to stderr.
#include <cstdio>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "model/bench.h"
#include "model/generator.h"
#include "model/tokenizer_text.h"
#include "tokenizer/tokenizer.h"

namespace lcte::cli {
namespace {

struct GenerateArgs {
  std::string model, prompt, system, chat_template;
  bool chat = false, print_ids = false;
  int64_t n_predict = 256, n_ctx = 4096, batch = 512;
  int threads = 2, n_seq = 1;
  std::string kv_type = "f16";
  std::vector<std::string> stop;
  sampling::SamplingParams sampling;
};

std::vector<int32_t> prompt_tokens(const GenerateArgs& a, const model::Model& m, const tokenizer::Tokenizer& tok,
                                   std::vector<std::string>& stops) {
  if (!a.chat) return tok.tokenize(a.prompt, /*add_special=*/true, /*parse_special=*/false);
  const chat::Detection d = chat::choose_family(a.chat_template, m.file().get_string("tokenizer.chat_template", ""));
  if (!d.warning.empty()) spdlog::warn("{}", d.warning);
  std::vector<chat::Message> messages;
  if (!a.system.empty()) messages.push_back({chat::Role::System, a.system});
  messages.push_back({chat::Role::User, a.prompt});
  const std::string text = chat::render(d.family, messages);
  spdlog::debug("chat prompt ({}): {}", chat::family_name(d.family), text);
  // The end of the assistant's turn also stops generation when the vocabulary
  // does not mark its token as end-of-generation.
  for (const std::string& s : chat::turn_end_strings(d.family)) stops.push_back(s);
  // Special-token texts in the rendered template ("<|im_start|>") are tokens.
  return tok.tokenize(text, /*add_special=*/true, /*parse_special=*/true);
}

void run(const GenerateArgs& a) {
  if (a.threads < 1 || a.threads > 256) fail("-t: thread count {} is out of range (1..256)", a.threads);
  if (a.n_ctx < 2) fail("--ctx: {} is too small", a.n_ctx);
  const auto m = model::Model::load(a.model);
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(a.model);
  if (static_cast<int64_t>(tok.n_tokens()) > m->config().n_vocab)
    fail("{}: the tokenizer has {} tokens but the model only {} embeddings", a.model, tok.n_tokens(),
         m->config().n_vocab);

  model::GenerateOptions o;
  o.max_tokens = a.n_predict;
  o.n_sequences = a.n_seq;
  o.n_ctx = a.n_ctx;
  o.stop = a.stop;
  o.sampling = a.sampling;
  o.kv_type = model::kv_type_from_name(a.kv_type);
  const std::vector<int32_t> prompt = prompt_tokens(a, *m, tok, o.stop);

  model::ThreadPool pool(a.threads);
  model::Context ctx(*m, pool, a.batch);
  const model::TokenizerText text(tok);
  model::Generator gen(ctx, text);
  const bool stream = a.n_seq == 1 && !a.print_ids;
  model::GenerateStats st;
  const auto out = gen.generate(prompt, o,
                                stream ? model::StreamFn([](int, std::string_view s) {
                                  std::fwrite(s.data(), 1, s.size(), stdout);
                                  std::fflush(stdout);
                                })
                                       : model::StreamFn{},
                                &st);

  for (size_t i = 0; i < out.size(); ++i) {
    if (a.print_ids) {
      for (size_t j = 0; j < out[i].tokens.size(); ++j) std::printf("%s%d", j ? " " : "", out[i].tokens[j]);
      std::printf("\n");
    } else if (!stream) {
      std::printf("--- sequence %zu (%s) ---\n%s\n", i, model::finish_name(out[i].finish), out[i].text.c_str());
    }
  }
  if (stream) std::printf("\n");
  std::fprintf(stderr,
               "prompt: %lld tokens, %.1f t/s | generated: %lld tokens in %d sequence(s), %.1f t/s | finish: %s | "
               "KV %.1f MiB, peak RSS %.1f MiB (weights %.1f MiB mapped)\n",
               static_cast<long long>(st.prompt_tokens), st.prompt_tokens / std::max(st.prompt_seconds, 1e-9),
               static_cast<long long>(st.generated_tokens), a.n_seq,
               st.generated_tokens / std::max(st.generate_seconds, 1e-9), model::finish_name(out[0].finish),
               st.kv_bytes / 1048576.0, model::peak_rss_bytes() / 1048576.0, m->tensor_bytes() / 1048576.0);
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt with a local GGUF model");
  auto a = std::make_shared<GenerateArgs>();
  a->sampling.temperature = 0.8f;
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text")->required();
  cmd->add_option("-n,--n-predict", a->n_predict, "Most tokens to generate")->capture_default_str();
  cmd->add_option("--temp", a->sampling.temperature, "Temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--seed", a->sampling.seed, "Random seed")->capture_default_str();
  cmd->add_option("--top-k", a->sampling.top_k, "Top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", a->sampling.top_p, "Top-p (1: off)")->capture_default_str();
  cmd->add_option("--min-p", a->sampling.min_p, "Min-p (0: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", a->sampling.repeat_penalty, "Repetition penalty (1: off)")->capture_default_str();
  cmd->add_flag("--chat", a->chat, "Wrap the prompt in the model's chat template");
  cmd->add_option("--system", a->system, "System message (with --chat)");
  cmd->add_option("--chat-template", a->chat_template, "Chat template family instead of the detected one");
  cmd->add_option("--stop", a->stop, "Stop string (repeatable)");
  cmd->add_option("--n-seq", a->n_seq, "Independent samples of the prompt (sharing its KV cache)")
      ->capture_default_str();
  cmd->add_flag("--print-ids", a->print_ids, "Print the generated token ids, space-separated, one line per sequence");
  cmd->add_option("-t,--threads", a->threads, "Threads")->capture_default_str();
  cmd->add_option("--ctx", a->n_ctx, "Context size (prompt + generated)")->capture_default_str();
  cmd->add_option("-b,--batch", a->batch, "Most prompt tokens per forward call")->capture_default_str();
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->callback([a] { run(*a); });
}

}  // namespace lcte::cli
