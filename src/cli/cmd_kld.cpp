// lcte kld --base BASE.gguf --model OTHER.gguf --text FILE [--ctx 512]:
// perplexity of both models on the text and the KL divergence of OTHER from
// BASE per token (llama-perplexity --kl-divergence's method, see model/kld.h).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/progress.h"
#include "experiment/recorder.h"
#include "model/kld.h"
#include "tokenizer/tokenizer.h"

namespace lcte::cli {
namespace {

struct KldArgs {
  std::string base, other, text_path, kv_type = "f16";
  int64_t n_ctx = 512, batch = 512;
  int threads = 2;
  bool json = false;
  std::string store;  // experiment store to record the run in; empty: none
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the text file", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The figures of a comparison, as --json prints them and the store records them.
nlohmann::json figures(const model::KldReport& r) {
  return {{"n_chunks", r.n_chunks},
          {"n_scored", r.n_scored},
          {"ppl_base", r.ppl_base},
          {"ppl_model", r.ppl_other},
          {"kld_mean", r.kld_mean},
          {"kld_median", r.kld_median},
          {"kld_p90", r.kld_p90},
          {"kld_p99", r.kld_p99},
          {"kld_max", r.kld_max},
          {"top1_agreement", r.top1_agreement},
          {"top5_agreement", r.top5_agreement}};
}

model::KldReport compare(const KldArgs& a, size_t& n_tokens) {
  if (a.threads < 1 || a.threads > 256) fail("-t: thread count {} is out of range (1..256)", a.threads);
  const auto base = model::Model::load(a.base);
  const auto other = model::Model::load(a.other);
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(a.base);
  // As llama-perplexity: BOS (if the vocabulary adds one) at the start, no special-token parsing.
  const std::vector<int32_t> tokens = tok.tokenize(read_file(a.text_path), /*add_special=*/true);
  model::KldOptions o;
  o.n_ctx = a.n_ctx;
  o.kv_type = model::kv_type_from_name(a.kv_type);
  if (tok.vocab().add_bos() && tok.bos() >= 0) o.bos = tok.bos();
  model::ThreadPool pool(a.threads);
  model::Context cb(*base, pool, a.batch), co(*other, pool, a.batch);
  n_tokens = tokens.size();
  Progress progress = Progress::to_stream(stderr, "kld", "chunks");
  o.on_chunk = [&progress](int64_t done, int64_t all) {
    if (done == 0) progress.start(static_cast<uint64_t>(all));
    progress.update(static_cast<uint64_t>(done));
  };
  return model::compare_models(cb, co, tokens, o);
}

void run(const KldArgs& a) {
  const nlohmann::json config = {{"base", a.base},   {"model", a.other},     {"text", a.text_path},
                                 {"n_ctx", a.n_ctx}, {"kv_type", a.kv_type}, {"threads", a.threads}};
  store::RunRecord record = experiment::new_run_record("kld", a.other, config);
  record.model_name = a.other;
  record.model_path = a.other;
  size_t n_tokens = 0;
  model::KldReport r;
  experiment::record_run(a.store, record, [&](experiment::RunRecorder* rec) {
    r = compare(a, n_tokens);
    nlohmann::json f = figures(r);
    f["n_tokens"] = n_tokens;
    if (rec) {
      std::vector<std::pair<std::string, double>> values;
      for (const auto& [k, v] : f.items()) values.push_back({k, v.get<double>()});
      rec->add_values(0, values);
    }
    return f;
  });
  if (a.json) {
    nlohmann::json j = {
        {"base", a.base}, {"model", a.other}, {"text", a.text_path}, {"n_ctx", a.n_ctx}, {"n_tokens", n_tokens}};
    j.update(figures(r));
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("text: %s, %zu tokens, %lld chunks of %lld, %lld scored tokens\n", a.text_path.c_str(), n_tokens,
              static_cast<long long>(r.n_chunks), static_cast<long long>(a.n_ctx), static_cast<long long>(r.n_scored));
  std::printf("PPL base  %-40s %.4f\n", a.base.c_str(), r.ppl_base);
  std::printf("PPL model %-40s %.4f\n", a.other.c_str(), r.ppl_other);
  std::printf("KL divergence: mean %.6f, median %.6f, p90 %.6f, p99 %.6f, max %.6f\n", r.kld_mean, r.kld_median,
              r.kld_p90, r.kld_p99, r.kld_max);
  std::printf("top-1 agreement %.3f %%, top-5 agreement %.3f %%\n", 100 * r.top1_agreement, 100 * r.top5_agreement);
}

}  // namespace

void add_kld_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("kld", "Perplexity and KL divergence of a model against its base over a text");
  auto a = std::make_shared<KldArgs>();
  cmd->add_option("--base", a->base, "Base (reference) GGUF model")->required();
  cmd->add_option("--model", a->other, "Compressed GGUF model to compare")->required();
  cmd->add_option("--text", a->text_path, "Text file")->required();
  cmd->add_option("--ctx", a->n_ctx, "Tokens per chunk; the second half of each is scored")->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Threads")->capture_default_str();
  cmd->add_option("-b,--batch", a->batch, "Most tokens per forward call")->capture_default_str();
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->add_option("--store", a->store, "Experiment store to record the run in (kind kld)");
  cmd->callback([a] { run(*a); });
}

}  // namespace lcte::cli
