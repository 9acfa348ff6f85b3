#include "quant/quant_report.h"

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
  model::KldOptions k;
  k.n_ctx = o.n_ctx;
  k.bos = o.bos;

  QuantReport rep;
  rep.base = base;
  rep.text = text_name;
  rep.n_tokens = static_cast<int64_t>(used.size());
  ReportRow base_row;
  base_row.is_base = true;
  base_row.top1 = 1.0;
  fill_static(*base_model, &base_row);
  fill_speed(base_ctx, o, &base_row);
  rep.rows.push_back(base_row);

  for (size_t i = 0; i < files.size(); ++i) {
    std::unique_ptr<model::Model> m = model::Model::load(files[i]);
    model::Context ctx(*m, pool);
    ReportRow row;
    fill_static(*m, &row);
    const model::KldReport kr = model::compare_models(base_ctx, ctx, used, k);
    row.ppl = kr.ppl_other;
    row.kld_mean = kr.kld_mean;
    row.kld_p99 = kr.kld_p99;
    row.top1 = kr.top1_agreement;
    rep.rows[0].ppl = kr.ppl_base;  // the same for every comparison
    rep.n_scored = kr.n_scored;
    rep.n_chunks = kr.n_chunks;
    fill_speed(ctx, o, &row);
    rep.rows.push_back(row);
    if (progress) progress(i, files.size(), files[i]);
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
  return {{"base", r.base},       {"text", r.text},         {"n_tokens", r.n_tokens},
          {"n_chunks", r.n_chunks}, {"n_scored", r.n_scored}, {"rows", rows}};
}

}  // namespace lcte::quant
