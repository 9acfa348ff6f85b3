// What each quantized file costs and what it saves: `lcte quant-report` and
// `lcte quantize --report`. For every file: size, bits per weight, prompt
// and generation speed (llama-bench's pp/tg method), perplexity on a text,
// and mean KL divergence and top-1 agreement of its next-token distributions
// against the source model's (llama-perplexity --kl-divergence's method).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lcte::quant {

struct ReportOptions {
  int64_t n_ctx = 256;         // KLD / perplexity chunk length
  int64_t max_chunks = 0;      // 0: the whole text
  int64_t n_prompt = 128;      // pp test length (0: skip)
  int64_t n_gen = 32;          // tg test length (0: skip)
  int reps = 3;                // timed runs per speed test
  int threads = 0;             // 0: all hardware threads
  std::optional<int32_t> bos;  // first token of every chunk
  // The base model's logits are computed once and read back for every file:
  // kept in memory up to this many bytes, beyond it in an unnamed temporary
  // file (in $TMPDIR, else /tmp).
  uint64_t base_logits_memory = uint64_t{1} << 30;
};

struct ReportRow {
  std::string path;
  std::string file_type;  // general.file_type's name ("Q4_K_M"), or ""
  uint64_t file_bytes = 0;
  double bits_per_weight = 0;  // tensor bits / parameters
  double pp_tps = 0, pp_std = 0, tg_tps = 0, tg_std = 0;
  double ppl = 0;
  double kld_mean = 0, kld_p99 = 0;
  double top1 = 0;  // fraction of positions with the same argmax
  bool is_base = false;
};

struct QuantReport {
  std::string base;
  std::string text;  // the evaluation text's name
  int64_t n_tokens = 0, n_scored = 0, n_chunks = 0;
  std::vector<ReportRow> rows;  // the base first, then the files in order
};

// Progress in chunk evaluations: the base model's chunks once, then each
// file's; `what` says which model (or its speed test) is running. Called
// with done = 0 before the first.
struct ReportTick {
  int64_t done = 0, total = 0;
  std::string what;
};
using ReportProgress = std::function<void(const ReportTick&)>;

// Throws lcte::Error when a file cannot be loaded, its vocabulary differs
// from the base's, or the text is shorter than one chunk.
QuantReport quant_report(const std::string& base, const std::vector<std::string>& files,
                         std::span<const int32_t> tokens, const std::string& text_name, const ReportOptions& options,
                         const ReportProgress& progress = {});

std::string report_markdown(const QuantReport& r);
std::string report_csv(const QuantReport& r);
nlohmann::json report_json(const QuantReport& r);

}  // namespace lcte::quant
