// Loading: hyper-parameters from the file, and clear errors for files lcte
// cannot run. Broken files are made by rewriting a real one with one change.
#include <gtest/gtest.h>

#include <functional>

#include "common/test_data.h"
#include "core/error.h"
#include "model/forward.h"
#include "reference.h"

namespace lcte::model {
namespace {

const char* kStories = "models/stories260K-f32.gguf";

TEST(Load, ReadsHyperParameters) {
  LCTE_REQUIRE_DATA(kStories);
  LCTE_REQUIRE_DATA("models/rand-qwen2-d256-q4_k_m.gguf");
  const auto m = Model::load(lcte::testing::data_path(kStories));
  const Config& c = m->config();
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.ffn_dim, 172);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.rope_dims, 8);
  EXPECT_EQ(c.rope_base, 10000.0f);  // absent from the file: the default
  EXPECT_EQ(c.rope_style, RopeStyle::Normal);
  EXPECT_FALSE(m->tied_embeddings());

  const auto q = Model::load(lcte::testing::data_path("models/rand-qwen2-d256-q4_k_m.gguf"));
  EXPECT_EQ(q->config().arch, Arch::Qwen2);
  EXPECT_EQ(q->config().rope_style, RopeStyle::Neox);
  EXPECT_EQ(q->config().n_kv_heads, 2);
  EXPECT_EQ(q->config().rope_dims, 32);  // no rope.dimension_count: the head size
  EXPECT_EQ(q->config().rope_base, 1e6f);
  EXPECT_TRUE(q->tied_embeddings());
  EXPECT_EQ(q->output().data, q->token_embd().data);
  EXPECT_EQ(q->layers()[0].bq.size(), 256u);
  EXPECT_EQ(q->layers()[1].bk.size(), 64u);
}

// Rewrites `src` to a temporary file after edit() changes the writer's
// metadata and/or the tensor list; returns its path.
std::string rewrite(const std::string& src_rel, const std::string& dir,
                    const std::function<void(gguf::Writer&, std::vector<gguf::TensorInfo>&)>& edit) {
  const gguf::File src = gguf::File::open(lcte::testing::data_path(src_rel));
  gguf::Writer w;
  w.copy_metadata(src);
  std::vector<gguf::TensorInfo> tensors = src.tensors();
  edit(w, tensors);
  for (const auto& t : tensors) w.add_tensor(t.name, t.type, t.ne, t.data);
  const std::string path = dir + "/edited.gguf";
  w.write(path);
  return path;
}

void expect_load_error(const std::string& path, const std::string& needle) {
  try {
    Model::load(path);
    FAIL() << "loaded without error; expected: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

void drop(std::vector<gguf::TensorInfo>& ts, const std::string& name) {
  std::erase_if(ts, [&](const gguf::TensorInfo& t) { return t.name == name; });
}

TEST(Load, UnsupportedArchitecture) {
  LCTE_REQUIRE_DATA(kStories);
  const auto p = rewrite(kStories, lcte::testing::temp_dir(),
                         [](gguf::Writer& w, auto&) { w.set("general.architecture", gguf::Value::string("gpt2")); });
  expect_load_error(p, "unsupported architecture 'gpt2'");
}

TEST(Load, MissingTensor) {
  LCTE_REQUIRE_DATA(kStories);
  const auto p =
      rewrite(kStories, lcte::testing::temp_dir(), [](gguf::Writer&, auto& ts) { drop(ts, "blk.3.ffn_up.weight"); });
  expect_load_error(p, "missing tensor blk.3.ffn_up.weight");
}

TEST(Load, ShapeThatDoesNotMatchTheHyperParameters) {
  LCTE_REQUIRE_DATA(kStories);
  const auto p = rewrite(kStories, lcte::testing::temp_dir(), [](gguf::Writer&, auto& ts) {
    for (auto& t : ts)
      if (t.name == "blk.0.attn_k.weight") t.ne = {32, 64};  // transposed
  });
  expect_load_error(p, "blk.0.attn_k.weight has shape [32, 64], expected [64, 32]");
}

TEST(Load, HeadsThatDoNotDivide) {
  LCTE_REQUIRE_DATA(kStories);
  const auto p = rewrite(kStories, lcte::testing::temp_dir(),
                         [](gguf::Writer& w, auto&) { w.set("llama.attention.head_count_kv", gguf::Value::u32(3)); });
  expect_load_error(p, "not a multiple of head_count_kv 3");
}

TEST(Load, AbsurdHyperParameter) {
  LCTE_REQUIRE_DATA(kStories);
  const auto p = rewrite(kStories, lcte::testing::temp_dir(),
                         [](gguf::Writer& w, auto&) { w.set("llama.block_count", gguf::Value::u64(1ull << 40)); });
  expect_load_error(p, "llama.block_count = 1099511627776 is out of range");
}

TEST(Load, MoreBlocksThanDeclared) {
  LCTE_REQUIRE_DATA(kStories);
  const auto p = rewrite(kStories, lcte::testing::temp_dir(),
                         [](gguf::Writer& w, auto&) { w.set("llama.block_count", gguf::Value::u32(4)); });
  expect_load_error(p, "more blocks than llama.block_count = 4");
}

TEST(Load, UnsupportedRopeScaling) {
  LCTE_REQUIRE_DATA(kStories);
  const auto p = rewrite(kStories, lcte::testing::temp_dir(),
                         [](gguf::Writer& w, auto&) { w.set("llama.rope.scaling.type", gguf::Value::string("yarn")); });
  expect_load_error(p, "rope.scaling.type 'yarn' is not supported");
}

TEST(Load, Llama3ScalingFromMetadataEqualsTheFactorTensor) {
  // The same model with its RoPE factors given as Llama 3.1 rope-scaling
  // metadata instead of rope_freqs.weight must give llama.cpp's logits.
  const std::string model = "models/rand-llama3-d256-f32.gguf";
  const std::string ref_rel = "reference/logits/rand-llama3-d256-f32.code.json";
  LCTE_REQUIRE_DATA(model);
  LCTE_REQUIRE_DATA(ref_rel);
  const auto p = rewrite(model, lcte::testing::temp_dir(), [](gguf::Writer& w, auto& ts) {
    drop(ts, "rope_freqs.weight");
    w.set("llama.rope.scaling.type", gguf::Value::string("llama3"));
    w.set("llama.rope.scaling.factor", gguf::Value::f32(8.0f));
    w.set("llama.rope.scaling.low_freq_factor", gguf::Value::f32(1.0f));
    w.set("llama.rope.scaling.high_freq_factor", gguf::Value::f32(4.0f));
    w.set("llama.rope.scaling.original_context_length", gguf::Value::u32(8192));
  });
  const auto m = Model::load(p);
  ASSERT_EQ(m->config().rope_freq_factors.size(), 16u);
  const auto ref = testing::load_reference(lcte::testing::data_path(ref_rel));
  ThreadPool pool(1);
  Context ctx(*m, pool);
  KvCache cache = ctx.new_cache(64, KvType::F32);
  std::vector<float> logits;
  ctx.eval(cache, ref.prompt_tokens, Logits::All, logits);
  const size_t V = static_cast<size_t>(ctx.n_vocab());
  for (size_t i = 0; i < ref.prompt_tokens.size(); ++i)
    EXPECT_LE(testing::rel_error(logits.data() + i * V, ref.prompt_logits[i]), 1e-4) << "position " << i;
}

TEST(Load, MissingFileNamesIt) { expect_load_error("/nonexistent/model.gguf", "/nonexistent/model.gguf"); }

}  // namespace
}  // namespace lcte::model
