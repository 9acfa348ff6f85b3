// lcte imatrix -m MODEL --text FILE -o OUT.imatrix [--chunks N] [--ctx N]
//   [-t THREADS] [--process-output]: collect an importance matrix.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/forward.h"
#include "model/model.h"
#include "quant/calibrate.h"
#include "tokenizer/tokenizer.h"

namespace lcte::cli {

void add_imatrix_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "imatrix", "Collect an importance matrix (mean squared activations per input column) over a calibration text");
  struct Args {
    std::string model, text, output;
    int64_t chunks = 0, ctx = 512;
    int threads = 0;
    bool process_output = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("-m,--model", a->model, "GGUF model (F32/F16/BF16 gives the cleanest statistics)")->required();
  cmd->add_option("--text", a->text, "Calibration text file")->required();
  cmd->add_option("-o,--output", a->output, "File to write (llama.cpp .imatrix format)")->required();
  cmd->add_option("--chunks", a->chunks, "Use at most this many chunks (default: all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--ctx", a->ctx, "Tokens per chunk")->capture_default_str()->check(CLI::Range(16, 1 << 20));
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--process-output", a->process_output, "Also collect output.weight's activations");
  cmd->callback([a] {
    std::ifstream in(a->text, std::ios::binary);
    if (!in) fail("{}: cannot open the calibration text", a->text);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

    const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(a->model);
    const std::vector<tokenizer::Token> tokens = tok.tokenize(text, /*add_special=*/true);
    std::unique_ptr<model::Model> m = model::Model::load(a->model);
    const int threads =
        a->threads > 0 ? a->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    model::ThreadPool pool(threads);
    model::Context ctx(*m, pool, std::min<int64_t>(a->ctx, 512));

    quant::CalibrationOptions o;
    o.n_ctx = a->ctx;
    o.max_chunks = a->chunks;
    o.process_output = a->process_output;
    if (tok.vocab().add_bos()) o.bos = tok.bos();
    o.dataset = std::filesystem::path(a->text).filename().string();
    std::fprintf(stderr, "imatrix: %zu tokens, %lld per chunk\n", tokens.size(), static_cast<long long>(a->ctx));
    Progress progress = Progress::to_stream(stderr, "imatrix", "chunks");
    const quant::Imatrix im = quant::collect_imatrix(ctx, tokens, o, [&progress](int64_t done, int64_t all) {
      if (done == 0) progress.start(static_cast<uint64_t>(all));
      progress.update(static_cast<uint64_t>(done));
    });
    quant::write_imatrix(im, a->output);
    std::printf("wrote %s: %zu matrices, %d chunks of %lld tokens from %s\n", a->output.c_str(), im.entries.size(),
                im.last_call, static_cast<long long>(a->ctx), o.dataset.c_str());
  });
}

}  // namespace lcte::cli
