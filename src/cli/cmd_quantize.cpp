// lcte quantize IN.gguf OUT.gguf TYPE [--imatrix FILE] [--pure]
//   [--keep-output] [-t THREADS] [--report --text FILE ...]: write a
// quantized copy of a model, and optionally measure what it costs.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/quant_report_run.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "experiment/recorder.h"
#include "quant/imatrix.h"
#include "quant/model_quantizer.h"

namespace lcte::cli {
namespace {

std::string type_list() {
  std::string s;
  for (quant::FileType t : quant::all_file_types()) {
    if (!s.empty()) s += ", ";
    s += quant::file_type_name(t);
  }
  return s;
}

constexpr double kMiB = 1024.0 * 1024.0;

// The file's progress (in source bytes) with the tensor being written; a
// tensor's own line, with its types and sizes, at --log-level debug, and a
// fallback always, since it changes what the file holds.
class QuantizeProgressLine {
 public:
  QuantizeProgressLine() : progress_(Progress::to_stream(stderr, "quantize", "bytes")) {}
  void operator()(const quant::QuantizeTick& t) {
    if (t.tensor == nullptr) {
      progress_.start(t.bytes_total);
      return;
    }
    const quant::TensorReport& r = *t.tensor;
    const quant::TensorPlan& p = r.plan;
    const std::string types = std::string(type_name(p.from)) + " -> " + std::string(type_name(p.to));
    if (p.fallback || spdlog::should_log(spdlog::level::debug)) {
      progress_.clear_line();
      const std::string line =
          fmt::format("[{:4}/{:4}] {:<32} {:<14} {:9.3f} MiB -> {:9.3f} MiB{}", t.index + 1, t.count, p.name, types,
                      r.bytes_in / kMiB, r.bytes_out / kMiB, r.used_imatrix ? "  (imatrix)" : "");
      if (p.fallback)
        spdlog::info("{}  (fallback: rows of {} do not fit {})", line, p.ne[0], std::string(type_name(p.wanted)));
      else
        spdlog::debug("{}", line);
    }
    const std::string detail = fmt::format("tensor {}/{} {} {}", t.index + 1, t.count, p.name, types);
    progress_.update(t.bytes_done, detail);
  }

 private:
  Progress progress_;
};

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "quantize", "Quantize a GGUF model (F32/F16/BF16, or requantize a quantized one) to a llama.cpp file type");
  struct Args {
    std::string input, output, type, imatrix;
    bool pure = false, keep_output = false, report = false;
    int threads = 0;
    std::string store;  // experiment store to record the run in; empty: none
    QuantReportArgs report_args;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("input", a->input, "Source GGUF file")->required();
  cmd->add_option("output", a->output, "GGUF file to write (written to OUTPUT.tmp, renamed when complete)")->required();
  cmd->add_option("type", a->type, "File type: " + type_list() + " (Q3_K, Q4_K, Q5_K mean the _M mixes)")->required();
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix (llama.cpp .imatrix format) to weight the rounding");
  cmd->add_flag("--pure", a->pure, "One type for every weight (no per-tensor mix; row-length fallbacks still apply)");
  cmd->add_flag("--keep-output", a->keep_output, "Leave output.weight in its source type");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--report", a->report,
                "Then compare the output with the input (size, bpw, speed, perplexity, KLD, top-1); needs --text");
  cmd->add_option("--store", a->store, "Experiment store to record the run in (kind quantize)");
  add_quant_report_options(cmd, a->report_args);
  cmd->callback([a] {
    if (a->report && a->report_args.text.empty()) fail("quantize: --report needs --text FILE");
    const std::optional<quant::FileType> ft = quant::parse_file_type(a->type);
    if (!ft) fail("quantize: unknown type '{}'; choose one of {}", a->type, type_list());
    std::optional<quant::Imatrix> imatrix;
    if (!a->imatrix.empty()) imatrix = quant::read_imatrix(a->imatrix);

    quant::QuantizeOptions o;
    o.input = a->input;
    o.output = a->output;
    o.ftype = *ft;
    o.pure = a->pure;
    o.keep_output = a->keep_output;
    o.imatrix = imatrix ? &*imatrix : nullptr;
    o.threads = a->threads;
    const nlohmann::json config = {{"input", a->input},     {"output", a->output}, {"type", a->type},
                                   {"imatrix", a->imatrix}, {"pure", a->pure},     {"keep_output", a->keep_output},
                                   {"threads", a->threads}};
    store::RunRecord record = experiment::new_run_record("quantize", a->output, config);
    record.model_name = a->output;
    record.model_path = a->output;
    quant::QuantizeResult r;
    experiment::record_run(a->store, record, [&](experiment::RunRecorder* rec) {
      QuantizeProgressLine line;
      r = quant::quantize_model(o, [&line](const quant::QuantizeTick& t) { line(t); });
      const nlohmann::json summary = {{"type", std::string(quant::file_type_name(*ft))},
                                      {"tensors", r.tensors.size()},
                                      {"tensor_bytes_in", r.tensor_bytes_in},
                                      {"tensor_bytes_out", r.tensor_bytes_out},
                                      {"file_bytes_out", r.file_bytes_out},
                                      {"params", r.n_params},
                                      {"bits_per_weight", r.bits_per_weight()},
                                      {"seconds", r.seconds},
                                      {"fallback_tensors", r.n_fallback},
                                      {"requantized", r.requantized}};
      if (rec) {
        rec->add_values(0, {{"bits_per_weight", r.bits_per_weight()},
                            {"tensor_bytes_in", static_cast<double>(r.tensor_bytes_in)},
                            {"tensor_bytes_out", static_cast<double>(r.tensor_bytes_out)},
                            {"quantize_seconds", r.seconds}});
        rec->add_artifact({"model", a->output, "gguf"});
      }
      return summary;
    });

    std::printf("wrote %s: %s, %zu tensors, %.2f MiB -> %.2f MiB of tensors, %.3f bits per weight, %.2f s\n",
                a->output.c_str(), std::string(quant::file_type_name(*ft)).c_str(), r.tensors.size(),
                r.tensor_bytes_in / kMiB, r.tensor_bytes_out / kMiB, r.bits_per_weight(), r.seconds);
    if (r.n_fallback > 0)
      std::printf("%d tensor(s) used a fallback type: their row length does not fit the mix's block size\n",
                  r.n_fallback);
    if (r.requantized) std::printf("note: the source was already quantized (requantized: errors compound)\n");
    if (a->report) {
      a->report_args.options.threads = a->threads;
      std::fflush(stdout);
      run_quant_report(a->input, {a->output}, a->report_args);
    }
  });
}

}  // namespace lcte::cli
