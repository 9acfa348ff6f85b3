// lcte quant-report BASE.gguf FILE.gguf... --text FILE [--ctx N] [--chunks N]
//   [--pp N] [--tg N] [--reps N] [-t N] [--csv PATH] [--json PATH]:
// size, bits per weight, speed, perplexity, KLD and top-1 agreement of
// quantized files against their source.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "cli/commands.h"
#include "cli/quant_report_run.h"
#include "core/error.h"
#include "core/file.h"
#include "core/progress.h"
#include "tokenizer/tokenizer.h"

namespace lcte::cli {

void add_quant_report_options(CLI::App* cmd, QuantReportArgs& a) {
  cmd->add_option("--text", a.text, "Evaluation text for perplexity and KLD");
  cmd->add_option("--ctx", a.options.n_ctx, "Tokens per evaluation chunk")
      ->capture_default_str()
      ->check(CLI::Range(4, 1 << 20));
  cmd->add_option("--chunks", a.options.max_chunks, "Use at most this many chunks (default: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--pp", a.options.n_prompt, "Prompt length of the speed test (0: skip)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tg", a.options.n_gen, "Generated tokens of the speed test (0: skip)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--reps", a.options.reps, "Timed runs per speed test")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--csv", a.csv, "Also write the table as CSV");
  cmd->add_option("--json", a.json, "Also write the table as JSON");
}

void run_quant_report(const std::string& base, const std::vector<std::string>& files, const QuantReportArgs& a) {
  if (a.text.empty()) fail("quant-report: --text FILE is required (the text to measure perplexity and KLD on)");
  std::ifstream in(a.text, std::ios::binary);
  if (!in) fail("{}: cannot open the evaluation text", a.text);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(base);
  const std::vector<tokenizer::Token> tokens = tok.tokenize(text, /*add_special=*/true);
  quant::ReportOptions o = a.options;
  if (tok.vocab().add_bos()) o.bos = tok.bos();
  Progress progress = Progress::to_stream(stderr, "quant-report", "chunks");
  const quant::QuantReport r =
      quant::quant_report(base, files, tokens, std::filesystem::path(a.text).filename().string(), o,
                          [&progress](const quant::ReportTick& t) {
                            if (!progress.started()) progress.start(static_cast<uint64_t>(t.total));
                            progress.update(static_cast<uint64_t>(t.done), t.what);
                          });
  progress.finish("done");
  std::fputs(quant::report_markdown(r).c_str(), stdout);
  if (!a.csv.empty()) write_file_atomic(a.csv, quant::report_csv(r));
  if (!a.json.empty()) write_file_atomic(a.json, quant::report_json(r).dump(2) + "\n");
}

void add_quant_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "quant-report", "Compare quantized files with their source: size, bpw, speed, perplexity, KLD, top-1 agreement");
  auto base = std::make_shared<std::string>();
  auto files = std::make_shared<std::vector<std::string>>();
  auto threads = std::make_shared<int>(0);
  auto args = std::make_shared<QuantReportArgs>();
  cmd->add_option("base", *base, "The source model (F32/F16/BF16)")->required();
  cmd->add_option("files", *files, "Quantized files to compare with it")->required();
  cmd->add_option("-t,--threads", *threads, "Threads (default: all)")->check(CLI::NonNegativeNumber);
  add_quant_report_options(cmd, *args);
  cmd->callback([=] {
    args->options.threads = *threads;
    run_quant_report(*base, *files, *args);
  });
}

}  // namespace lcte::cli
