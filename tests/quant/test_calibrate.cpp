// Parts that run the engine: imatrix collection (checked against a hand
// computation of layer 0's inputs), the effect of an imatrix on KL
// divergence over held-out text, lcte's quantized files loading and
// generating in lcte, and the quant-report table formats.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_data.h"
#include "core/error.h"
#include "model/forward.h"
#include "model/kld.h"
#include "model/model.h"
#include "quant/calibrate.h"
#include "quant/model_quantizer.h"
#include "quant/quant_report.h"
#include "tokenizer/tokenizer.h"

namespace lcte {
namespace {

const char* kStories = "models/stories260K-f32.gguf";

// Deterministic token ids inside the 512-token vocabulary (no tokenizer).
std::vector<int32_t> some_tokens(size_t n) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>(3 + (i * 37 + i / 5) % 509);
  return t;
}

TEST(Calibrate, LayerZeroInputsMatchAHandComputation) {
  LCTE_REQUIRE_DATA(kStories);
  auto m = model::Model::load(testing::data_path(kStories));
  model::ThreadPool pool(2);
  model::Context ctx(*m, pool);
  const int64_t n_ctx = 32;
  std::vector<int32_t> tokens = some_tokens(2 * n_ctx + 5);  // 2 whole chunks, a partial one ignored
  quant::CalibrationOptions o;
  o.n_ctx = n_ctx;
  o.bos = 1;
  o.dataset = "ids";
  const quant::Imatrix im = quant::collect_imatrix(ctx, tokens, o);
  EXPECT_EQ(im.last_call, 2);
  EXPECT_EQ(im.dataset, "ids");
  ASSERT_EQ(im.entries.size(), 5u * 7u);  // 5 layers x (q k v o gate up down)
  for (const auto& [name, e] : im.entries) {
    EXPECT_EQ(static_cast<int64_t>(e.mean.size()), m->file().tensor(name).ne[0]) << name;
    EXPECT_EQ(e.ncall, 2) << name;
    for (float v : e.mean) ASSERT_TRUE(std::isfinite(v) && v >= 0) << name;
  }
  // The input of blk.0.attn_q/k/v is rmsnorm(embedding) * attn_norm.
  const auto& c = m->config();
  const auto& norm = m->layers()[0].attn_norm;
  std::vector<double> want(static_cast<size_t>(c.dim), 0.0);
  std::vector<float> e(static_cast<size_t>(c.dim));
  for (int64_t k = 0; k < 2 * n_ctx; ++k) {
    const int32_t tok = k % n_ctx == 0 ? 1 : tokens[static_cast<size_t>(k)];
    m->embed(tok, e.data());
    double ss = 0;
    for (float v : e) ss += double(v) * v;
    const double inv = 1.0 / std::sqrt(ss / c.dim + c.norm_eps);
    for (int64_t j = 0; j < c.dim; ++j) {
      const double x = e[j] * inv * norm[j];
      want[j] += x * x / (2 * n_ctx);
    }
  }
  for (const char* name : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"}) {
    const auto& got = im.entries.at(name).mean;
    for (int64_t j = 0; j < c.dim; ++j) EXPECT_NEAR(got[j], want[j], 1e-4 * want[j] + 1e-7) << name << " col " << j;
  }
  EXPECT_EQ(im.entries.at("blk.3.ffn_gate.weight").mean, im.entries.at("blk.3.ffn_up.weight").mean);
}

TEST(Calibrate, RejectsTooShortText) {
  LCTE_REQUIRE_DATA(kStories);
  auto m = model::Model::load(testing::data_path(kStories));
  model::ThreadPool pool(1);
  model::Context ctx(*m, pool);
  quant::CalibrationOptions o;
  o.n_ctx = 64;
  EXPECT_THROW(quant::collect_imatrix(ctx, some_tokens(63), o), Error);
}

std::vector<int32_t> tokenize_file(const std::string& model, const std::string& text_path, size_t begin, size_t end) {
  std::ifstream in(text_path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto tok = tokenizer::load_tokenizer(model);
  return tok.tokenize(text.substr(begin, end - begin), true);
}

// The claim behind --imatrix: calibrated on one half of a text, the
// quantized model's next-token distributions stay closer to the F32 model's
// on the other half. On stories260K (trained weights) Q4_K_M (which falls
// back to Q5_0: rows of 64) gets ~20% lower mean KLD on the full text.
TEST(Calibrate, ImatrixLowersKldOnHeldOutText) {
  LCTE_REQUIRE_DATA(kStories);
  LCTE_REQUIRE_DATA("reference/kld-text.txt");
  const std::string model = testing::data_path(kStories), text = testing::data_path("reference/kld-text.txt");
  const size_t size = std::filesystem::file_size(text);
  const auto calib = tokenize_file(model, text, 0, size / 2);
  const auto eval = tokenize_file(model, text, size / 2, size);
  const std::string dir = testing::temp_dir();

  auto m = model::Model::load(model);
  model::ThreadPool pool(2);
  model::Context ctx(*m, pool);
  quant::CalibrationOptions co;
  co.n_ctx = 128;
  co.bos = 1;
  const quant::Imatrix im = quant::collect_imatrix(ctx, calib, co);

  quant::QuantizeOptions qo;
  qo.input = model;
  qo.ftype = quant::FileType::Q4_K_M;
  qo.threads = 2;
  qo.output = dir + "/plain.gguf";
  quant::quantize_model(qo);
  qo.output = dir + "/imat.gguf";
  qo.imatrix = &im;
  quant::quantize_model(qo);

  model::KldOptions ko;
  ko.n_ctx = 128;
  ko.bos = 1;
  auto plain = model::Model::load(dir + "/plain.gguf"), imat = model::Model::load(dir + "/imat.gguf");
  model::Context pc(*plain, pool), ic(*imat, pool);
  const auto kp = model::compare_models(ctx, pc, eval, ko);
  const auto ki = model::compare_models(ctx, ic, eval, ko);
  std::printf("held-out mean KLD: plain %.6f, imatrix %.6f; top-1 %.2f%% vs %.2f%%\n", kp.kld_mean, ki.kld_mean,
              100 * kp.top1_agreement, 100 * ki.top1_agreement);
  EXPECT_LT(ki.kld_mean, kp.kld_mean * 0.95);
}

// --- lcte's files run in lcte ------------------------------------------------------

std::vector<int32_t> greedy(model::Context& ctx, int32_t bos, int n) {
  model::KvCache cache = ctx.new_cache(n + 1);
  std::vector<float> logits;
  std::vector<int32_t> out;
  int32_t tok = bos;
  for (int i = 0; i < n; ++i) {
    ctx.eval(cache, {&tok, 1}, model::Logits::Last, logits);
    int32_t best = 0;
    for (int64_t v = 1; v < ctx.n_vocab(); ++v) {
      EXPECT_TRUE(std::isfinite(logits[v]));
      if (logits[v] > logits[best]) best = static_cast<int32_t>(v);
    }
    out.push_back(best);
    tok = best;
  }
  return out;
}

TEST(QuantizedFiles, LoadAndGenerateInLcte) {
  LCTE_REQUIRE_DATA(kStories);
  LCTE_REQUIRE_DATA("models/stories260K.greedy256.expected.tokens.txt");
  std::ifstream in(testing::data_path("models/stories260K.greedy256.expected.tokens.txt"));
  std::vector<int32_t> expected;
  for (int32_t t; in >> t;) expected.push_back(t);
  const std::string dir = testing::temp_dir();
  model::ThreadPool pool(2);
  for (const char* type : {"Q8_0", "Q6_K", "Q4_K_M", "Q2_K"}) {
    quant::QuantizeOptions o;
    o.input = testing::data_path(kStories);
    o.output = dir + "/" + type + ".gguf";
    o.ftype = *quant::parse_file_type(type);
    o.threads = 2;
    quant::quantize_model(o);
    auto m = model::Model::load(o.output);
    model::Context ctx(*m, pool);
    const auto got = greedy(ctx, 1, 24);
    ASSERT_EQ(got.size(), 24u);
    int same_prefix = 0;
    while (same_prefix < 24 && got[same_prefix] == expected[same_prefix]) ++same_prefix;
    std::printf("%-6s greedy tokens equal to F32's for the first %d of 24\n", type, same_prefix);
    // 8-bit weights keep the story; the coarser types still write one.
    if (std::string(type) == "Q8_0") {
      EXPECT_GE(same_prefix, 16) << type;
    }
  }
  for (const char* type : {"Q3_K_S", "Q5_K_M", "Q4_1"}) {
    LCTE_REQUIRE_DATA("models/rand-llama-d256-f32.gguf");
    quant::QuantizeOptions o;
    o.input = testing::data_path("models/rand-llama-d256-f32.gguf");
    o.output = dir + "/rl-" + type + ".gguf";
    o.ftype = *quant::parse_file_type(type);
    o.threads = 2;
    quant::quantize_model(o);
    auto m = model::Model::load(o.output);
    model::Context ctx(*m, pool);
    EXPECT_EQ(greedy(ctx, 1, 4).size(), 4u) << type;
  }
}

// --- report formats ------------------------------------------------------------------

TEST(QuantReport, TableCsvAndJsonAgree) {
  LCTE_REQUIRE_DATA(kStories);
  const std::string dir = testing::temp_dir();
  quant::QuantizeOptions o;
  o.input = testing::data_path(kStories);
  o.output = dir + "/q8.gguf";
  o.ftype = quant::FileType::Q8_0;
  o.threads = 2;
  quant::quantize_model(o);
  quant::ReportOptions ro;
  ro.n_ctx = 32;
  ro.n_prompt = 8;
  ro.n_gen = 4;
  ro.reps = 1;
  ro.threads = 2;
  ro.bos = 1;
  const auto r = quant::quant_report(o.input, {o.output}, some_tokens(96), "ids", ro);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_TRUE(r.rows[0].is_base);
  EXPECT_EQ(r.n_chunks, 3);
  const auto& q = r.rows[1];
  EXPECT_EQ(q.file_type, "Q8_0");
  EXPECT_GT(q.kld_mean, 0.0);
  EXPECT_LT(q.kld_mean, 0.05);
  EXPECT_GE(q.top1, 0.5);
  EXPECT_LE(q.top1, 1.0);
  EXPECT_GT(q.pp_tps, 0.0);
  EXPECT_GT(q.tg_tps, 0.0);
  EXPECT_LT(q.file_bytes, r.rows[0].file_bytes);
  EXPECT_GT(r.rows[0].ppl, 1.0);

  const std::string md = quant::report_markdown(r);
  EXPECT_NE(md.find("| q8.gguf | Q8_0 |"), std::string::npos) << md;
  const std::string csv = quant::report_csv(r);
  std::istringstream lines(csv);
  std::string header, base_line, q_line;
  std::getline(lines, header);
  std::getline(lines, base_line);
  std::getline(lines, q_line);
  EXPECT_EQ(header, "file,type,file_bytes,bits_per_weight,pp_tps,pp_std,tg_tps,tg_std,ppl,kld_mean,kld_p99,top1,base");
  EXPECT_NE(q_line.find(",Q8_0," + std::to_string(q.file_bytes) + ","), std::string::npos) << q_line;
  const auto j = quant::report_json(r);
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][1]["type"], "Q8_0");
  EXPECT_DOUBLE_EQ(j["rows"][1]["kld_mean"].get<double>(), q.kld_mean);
  EXPECT_EQ(j["rows"][0]["base"], true);
}

}  // namespace
}  // namespace lcte
