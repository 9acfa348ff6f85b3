// quant-report computes the base model's logits once and reads them back for
// every file (from memory or a temporary file): its perplexity, KLD and top-1
// figures must be exactly those of model::compare_models run per file, which
// evaluates the base again beside each file. And its progress counts chunk
// evaluations from 0 to the total.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/test_data.h"
#include "model/forward.h"
#include "model/kld.h"
#include "model/model.h"
#include "quant/quant_report.h"

namespace lcte {
namespace {

const char* kBase = "models/stories260K-f32.gguf";
const std::vector<std::string> kFiles = {"models/stories260K-q4_0.gguf", "models/stories260K-q8_0.gguf",
                                         "models/stories260K-q4_k_m.gguf"};

// Deterministic ids inside the 512-token vocabulary, not a multiple of the context.
std::vector<int32_t> some_tokens(size_t n) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>(3 + (i * 53 + i / 7) % 509);
  return t;
}

quant::ReportOptions options() {
  quant::ReportOptions o;
  o.n_ctx = 48;
  o.n_prompt = 0;  // no speed tests: only the figures that must agree
  o.n_gen = 0;
  o.threads = 2;
  o.bos = 1;
  return o;
}

void expect_as_per_file(const quant::QuantReport& r, const std::vector<int32_t>& tokens) {
  model::ThreadPool pool(2);
  auto base = model::Model::load(testing::data_path(kBase));
  model::Context base_ctx(*base, pool);
  ASSERT_EQ(r.rows.size(), kFiles.size() + 1);
  model::KldOptions k;
  k.n_ctx = 48;
  k.bos = 1;
  for (size_t i = 0; i < kFiles.size(); ++i) {
    auto m = model::Model::load(testing::data_path(kFiles[i]));
    model::Context ctx(*m, pool);
    const model::KldReport per_file = model::compare_models(base_ctx, ctx, tokens, k);
    const quant::ReportRow& row = r.rows[i + 1];
    EXPECT_EQ(row.ppl, per_file.ppl_other) << kFiles[i];
    EXPECT_EQ(row.kld_mean, per_file.kld_mean) << kFiles[i];
    EXPECT_EQ(row.kld_p99, per_file.kld_p99) << kFiles[i];
    EXPECT_EQ(row.top1, per_file.top1_agreement) << kFiles[i];
    EXPECT_EQ(r.rows[0].ppl, per_file.ppl_base) << kFiles[i];
    EXPECT_EQ(r.n_scored, per_file.n_scored);
    EXPECT_EQ(r.n_chunks, per_file.n_chunks);
    EXPECT_GT(row.kld_mean, 0.0) << kFiles[i];  // a quantized file differs from its source
  }
}

std::vector<std::string> paths() {
  std::vector<std::string> out;
  for (const std::string& f : kFiles) out.push_back(testing::data_path(f));
  return out;
}

TEST(QuantReport, BaseLogitsOnceInMemoryGiveThePerFileFigures) {
  LCTE_REQUIRE_DATA(kBase);
  for (const std::string& f : kFiles) LCTE_REQUIRE_DATA(f);
  const std::vector<int32_t> tokens = some_tokens(48 * 4 + 17);
  const quant::QuantReport r = quant::quant_report(testing::data_path(kBase), paths(), tokens, "ids", options());
  EXPECT_EQ(r.n_chunks, 4);
  EXPECT_EQ(r.n_scored, 4 * (48 - 1 - 24));
  expect_as_per_file(r, tokens);
}

TEST(QuantReport, BaseLogitsOnceInATemporaryFileGiveThePerFileFigures) {
  LCTE_REQUIRE_DATA(kBase);
  for (const std::string& f : kFiles) LCTE_REQUIRE_DATA(f);
  const std::vector<int32_t> tokens = some_tokens(48 * 3);
  quant::ReportOptions o = options();
  o.base_logits_memory = 0;  // every byte over the budget: the file
  std::vector<quant::ReportTick> ticks;
  const quant::QuantReport r = quant::quant_report(testing::data_path(kBase), paths(), tokens, "ids", o,
                                                   [&](const quant::ReportTick& t) { ticks.push_back(t); });
  expect_as_per_file(r, tokens);

  // 3 chunks of the base, then 3 of each file: 12 evaluations, counted one by one.
  ASSERT_FALSE(ticks.empty());
  EXPECT_EQ(ticks.front().done, 0);
  EXPECT_EQ(ticks.back().done, 12);
  int64_t last = 0;
  for (const quant::ReportTick& t : ticks) {
    EXPECT_EQ(t.total, 12);
    EXPECT_TRUE(t.done == last || t.done == last + 1) << t.done << " after " << last;
    last = t.done;
  }
}

TEST(QuantReport, ChunksOptionLimitsTheText) {
  LCTE_REQUIRE_DATA(kBase);
  LCTE_REQUIRE_DATA(kFiles[0]);
  quant::ReportOptions o = options();
  o.max_chunks = 2;
  const quant::QuantReport r =
      quant::quant_report(testing::data_path(kBase), {testing::data_path(kFiles[0])}, some_tokens(48 * 5), "ids", o);
  EXPECT_EQ(r.n_chunks, 2);
  EXPECT_EQ(r.n_tokens, 96);
}

}  // namespace
}  // namespace lcte
