#include "quant/quant_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/csv.h"
#include "core/error.h"
#include "gguf/model_info.h"
#include "model/bench.h"
#include "model/kld.h"

namespace lcte::quant {
namespace {

void fill_static(const model::Model& m, ReportRow* row) {
  const gguf::File& f = m.file();
  row->path = f.path();
  row->file_type = f.has("general.file_type") ? gguf::file_type_name(f.get_u64("general.file_type")) : "";
  row->file_bytes = f.file_size();
  const gguf::ModelSummary s = gguf::summarize(f);
  row->bits_per_weight = s.bits_per_weight;
}

void fill_speed(model::Context& ctx, const ReportOptions& o, ReportRow* row) {
  model::BenchOptions b;
  b.n_prompt = o.n_prompt;
  b.n_gen = o.n_gen;
  b.reps = o.reps;
  for (const model::BenchResult& r : model::run_bench(ctx, b)) {
    if (r.test.starts_with("pp")) {
      row->pp_tps = r.mean;
      row->pp_std = r.stddev;
    } else {
      row->tg_tps = r.mean;
      row->tg_std = r.stddev;
    }
  }
}

// The base model's logits at the scored positions of every chunk (rows
// n_ctx/2 .. n_ctx-2 of each, as model::compare_models scores them), made
// once and read back for each file: in memory up to a budget, else in an
// unnamed temporary file, so a long text on a large vocabulary still fits.
class BaseLogits {
 public:
  BaseLogits(int64_t n_vocab, int64_t rows_per_chunk, int64_t n_chunks, uint64_t memory_budget)
      : V_(n_vocab), rows_per_chunk_(rows_per_chunk) {
    const uint64_t bytes = static_cast<uint64_t>(n_vocab * rows_per_chunk * n_chunks) * sizeof(float);
    if (bytes <= memory_budget) {
      memory_.reserve(bytes / sizeof(float));
      return;
    }
    const std::filesystem::path dir = std::filesystem::temp_directory_path();
    std::string pattern = (dir / "lcte-base-logits-XXXXXX").string();
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) fail("quant-report: cannot create a temporary file in {}: {}", dir.string(), std::strerror(errno));
    path_ = pattern;
    ::unlink(pattern.c_str());  // gone with the process, whatever happens
  }
  ~BaseLogits() {
    if (fd_ >= 0) ::close(fd_);
  }
  BaseLogits(const BaseLogits&) = delete;
  BaseLogits& operator=(const BaseLogits&) = delete;

  bool in_memory() const { return fd_ < 0; }

  // Rows are appended in order: chunk by chunk, position by position.
  void append(const float* rows, int64_t n_rows) {
    const size_t n = static_cast<size_t>(n_rows * V_);
    if (in_memory()) {
      memory_.insert(memory_.end(), rows, rows + n);
    } else {
      write_all(rows, n * sizeof(float), written_);
    }
    written_ += n * sizeof(float);
  }

  // Rows row0 .. row0 + n_rows - 1 (0: position n_ctx/2) of chunk `chunk`.
  void read(int64_t chunk, int64_t row0, int64_t n_rows, std::vector<float>& out) const {
    const size_t first = static_cast<size_t>((chunk * rows_per_chunk_ + row0) * V_),
                 n = static_cast<size_t>(n_rows * V_);
    out.resize(n);
    if (in_memory()) {
      std::copy(memory_.begin() + first, memory_.begin() + first + n, out.begin());
      return;
    }
    read_all(out.data(), n * sizeof(float), first * sizeof(float));
  }

 private:
  void write_all(const float* data, size_t bytes, uint64_t offset) {
    const char* p = reinterpret_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t w = ::pwrite(fd_, p, bytes, static_cast<off_t>(offset));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("quant-report: cannot write the base logits to {}: {}", path_, std::strerror(errno));
      p += w;
      bytes -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
  }
  void read_all(float* data, size_t bytes, uint64_t offset) const {
    char* p = reinterpret_cast<char*>(data);
    while (bytes > 0) {
      const ssize_t r = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) fail("quant-report: cannot read the base logits back from {}: {}", path_, std::strerror(errno));
      p += r;
      bytes -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
  }

  int64_t V_, rows_per_chunk_;
  std::vector<float> memory_;
  int fd_ = -1;
  std::string path_;
  uint64_t written_ = 0;
};

// The chunks and pieces of model::compare_models, so that every logit is
// computed exactly as it computes it.
struct Chunking {
  int64_t n_ctx = 0, n_chunks = 0, piece = 0, first = 0;
  std::optional<int32_t> bos;
  model::KvType kv_type = model::KvType::F16;

  std::vector<int32_t> chunk(std::span<const int32_t> tokens, int64_t c) const {
    std::vector<int32_t> out(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (bos) out[0] = *bos;
    return out;
  }
  // Evaluates a chunk piece by piece into `logits`; calls f(p0, p1) after each piece with scored positions.
  template <typename F>
  void run(model::Context& ctx, const std::vector<int32_t>& chunk, std::vector<float>& logits, F f) const {
    model::KvCache cache = ctx.new_cache(n_ctx, kv_type);
    for (int64_t p0 = 0; p0 < n_ctx; p0 += piece) {
      const int64_t p1 = std::min(n_ctx, p0 + piece);
      const std::span<const int32_t> part(chunk.data() + p0, static_cast<size_t>(p1 - p0));
      const bool scored = p1 > first;
      ctx.eval(cache, part, scored ? model::Logits::All : model::Logits::None, logits);
      if (scored) f(p0, p1);
    }
  }
};

void compute_base(model::Context& base, std::span<const int32_t> tokens, const Chunking& k, BaseLogits& out,
                  const std::function<void()>& chunk_done) {
  const int64_t V = base.n_vocab();
  std::vector<float> logits;
  for (int64_t c = 0; c < k.n_chunks; ++c) {
    const std::vector<int32_t> chunk = k.chunk(tokens, c);
    k.run(base, chunk, logits, [&](int64_t p0, int64_t p1) {
      const int64_t j0 = std::max(p0, k.first), j1 = std::min(p1, k.n_ctx - 1);
      if (j1 > j0) out.append(logits.data() + (j0 - p0) * V, j1 - j0);
    });
    chunk_done();
  }
}

model::KldReport compare_with_base(const BaseLogits& base, model::Context& other, std::span<const int32_t> tokens,
                                   const Chunking& k, const std::function<void()>& chunk_done) {
  const int64_t V = other.n_vocab();
  model::KldTally tally;
  std::vector<float> lo, lb;
  for (int64_t c = 0; c < k.n_chunks; ++c) {
    const std::vector<int32_t> chunk = k.chunk(tokens, c);
    k.run(other, chunk, lo, [&](int64_t p0, int64_t p1) {
      const int64_t j0 = std::max(p0, k.first), j1 = std::min(p1, k.n_ctx - 1);
      if (j1 <= j0) return;
      base.read(c, j0 - k.first, j1 - j0, lb);
      for (int64_t j = j0; j < j1; ++j)
        tally.add(model::compare_position({lb.data() + (j - j0) * V, static_cast<size_t>(V)},
                                          {lo.data() + (j - p0) * V, static_cast<size_t>(V)},
                                          chunk[static_cast<size_t>(j + 1)]));
    });
    chunk_done();
  }
  return tally.report(k.n_chunks);
}

}  // namespace

QuantReport quant_report(const std::string& base, const std::vector<std::string>& files,
                         std::span<const int32_t> tokens, const std::string& text_name, const ReportOptions& o,
                         const ReportProgress& progress) {
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  model::ThreadPool pool(threads);
  std::unique_ptr<model::Model> base_model = model::Model::load(base);
  model::Context base_ctx(*base_model, pool);

  std::vector<int32_t> used(tokens.begin(), tokens.end());
  if (o.max_chunks > 0 && static_cast<int64_t>(used.size()) > o.max_chunks * o.n_ctx)
    used.resize(static_cast<size_t>(o.max_chunks * o.n_ctx));
  if (o.n_ctx < 4) fail("kld: context {} is too small (at least 4)", o.n_ctx);
  Chunking k;
  k.n_ctx = o.n_ctx;
  k.n_chunks = static_cast<int64_t>(used.size()) / o.n_ctx;
  if (k.n_chunks < 1) fail("kld: the text has {} tokens, fewer than one context of {}", used.size(), o.n_ctx);
  const int64_t V = base_ctx.n_vocab();
  // As model::compare_models: pieces whose logits stay under ~64 MiB.
  k.piece = std::clamp<int64_t>((16 << 20) / V, 1, base_ctx.max_batch());
  k.first = o.n_ctx / 2;
  k.bos = o.bos;

  ReportTick tick;
  tick.total = k.n_chunks * static_cast<int64_t>(1 + files.size());
  auto tell = [&](std::string what) {
    tick.what = std::move(what);
    if (progress) progress(tick);
  };
  auto chunk_done = [&] {
    ++tick.done;
    if (progress) progress(tick);
  };

  QuantReport rep;
  rep.base = base;
  rep.text = text_name;
  rep.n_tokens = static_cast<int64_t>(used.size());
  ReportRow base_row;
  base_row.is_base = true;
  base_row.top1 = 1.0;
  fill_static(*base_model, &base_row);
  tell("speed test " + base);
  fill_speed(base_ctx, o, &base_row);
  rep.rows.push_back(base_row);

  BaseLogits base_logits(V, std::max<int64_t>(0, o.n_ctx - 1 - k.first), k.n_chunks, o.base_logits_memory);
  tell("base logits " + base);
  if (!files.empty()) compute_base(base_ctx, used, k, base_logits, chunk_done);

  for (size_t i = 0; i < files.size(); ++i) {
    std::unique_ptr<model::Model> m = model::Model::load(files[i]);
    model::Context ctx(*m, pool);  // the base's batch size: the same pieces, the same logits
    if (ctx.n_vocab() != V)
      fail("kld: the models' vocabularies differ ({} and {} tokens): {}", V, ctx.n_vocab(), files[i]);
    ReportRow row;
    fill_static(*m, &row);
    tell(files[i]);
    const model::KldReport kr = compare_with_base(base_logits, ctx, used, k, chunk_done);
    row.ppl = kr.ppl_other;
    row.kld_mean = kr.kld_mean;
    row.kld_p99 = kr.kld_p99;
    row.top1 = kr.top1_agreement;
    rep.rows[0].ppl = kr.ppl_base;  // the same for every comparison
    rep.n_scored = kr.n_scored;
    rep.n_chunks = kr.n_chunks;
    tell("speed test " + files[i]);
    fill_speed(ctx, o, &row);
    rep.rows.push_back(row);
  }
  return rep;
}

std::string report_markdown(const QuantReport& r) {
  std::string s = fmt::format(
      "base {}; text {} ({} tokens, {} chunks, {} scored positions)\n\n"
      "| file | type | size MiB | bpw | pp t/s | tg t/s | PPL | mean KLD | 99% KLD | top-1 |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n",
      r.base, r.text, r.n_tokens, r.n_chunks, r.n_scored);
  // A speed test that was skipped (--pp 0 / --tg 0) shows as "-".
  auto speed = [](double mean, double sd) { return mean > 0 ? fmt::format("{:.1f} ± {:.1f}", mean, sd) : "-"; };
  for (const ReportRow& x : r.rows) {
    s += fmt::format("| {} | {} | {:.2f} | {:.3f} | {} | {} | {:.4f} | {} | {} | {} |\n",
                     std::filesystem::path(x.path).filename().string(), x.file_type.empty() ? "-" : x.file_type,
                     x.file_bytes / (1024.0 * 1024.0), x.bits_per_weight, speed(x.pp_tps, x.pp_std),
                     speed(x.tg_tps, x.tg_std), x.ppl, x.is_base ? "-" : fmt::format("{:.6f}", x.kld_mean),
                     x.is_base ? "-" : fmt::format("{:.6f}", x.kld_p99),
                     x.is_base ? "-" : fmt::format("{:.2f}%", 100.0 * x.top1));
  }
  return s;
}

std::string report_csv(const QuantReport& r) {
  std::string s = "file,type,file_bytes,bits_per_weight,pp_tps,pp_std,tg_tps,tg_std,ppl,kld_mean,kld_p99,top1,base\n";
  for (const ReportRow& x : r.rows) {
    s += fmt::format("{},{},{},{:.4f},{:.2f},{:.2f},{:.2f},{:.2f},{:.6f},{:.8f},{:.8f},{:.6f},{}\n", csv_field(x.path),
                     x.file_type, x.file_bytes, x.bits_per_weight, x.pp_tps, x.pp_std, x.tg_tps, x.tg_std, x.ppl,
                     x.kld_mean, x.kld_p99, x.top1, x.is_base ? 1 : 0);
  }
  return s;
}

nlohmann::json report_json(const QuantReport& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const ReportRow& x : r.rows) {
    rows.push_back({{"file", x.path},
                    {"type", x.file_type},
                    {"file_bytes", x.file_bytes},
                    {"bits_per_weight", x.bits_per_weight},
                    {"pp_tps", x.pp_tps},
                    {"pp_std", x.pp_std},
                    {"tg_tps", x.tg_tps},
                    {"tg_std", x.tg_std},
                    {"ppl", x.ppl},
                    {"kld_mean", x.kld_mean},
                    {"kld_p99", x.kld_p99},
                    {"top1", x.top1},
                    {"base", x.is_base}});
  }
  return {{"base", r.base},         {"text", r.text},         {"n_tokens", r.n_tokens},
          {"n_chunks", r.n_chunks}, {"n_scored", r.n_scored}, {"rows", rows}};
}

}  // namespace lcte::quant
