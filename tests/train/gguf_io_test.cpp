// The training model reads GGUF files the way llama.cpp does (its forward
// pass reproduces llama.cpp's logits), writes files that read back bit for
// bit, builds students from teachers, and saves LoRA adapters in llama.cpp's
// adapter layout.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include "common/test_data.h"
#include "core/error.h"
#include "core/random.h"
#include "core/sha256.h"
#include "demo/synthetic_model.h"
#include "gguf/gguf.h"
#include "kernels/fp16.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/thread_pool.h"
#include "train/gguf_io.h"

namespace lcte::train {
namespace {

// Our F32 forward against llama.cpp's prompt logits (all positions in one batch).
void expect_reference_logits(const std::string& model_rel, const std::string& logits_rel, double rel_tol = 1e-4) {
  gguf::File f = gguf::File::open(testing::data_path(model_rel));
  Model<float> m = load_model(f);
  std::ifstream in(testing::data_path(logits_rel));
  nlohmann::json ref = nlohmann::json::parse(in);
  std::vector<int32_t> tokens = ref["prompt_tokens"].get<std::vector<int32_t>>();
  const int T = static_cast<int>(tokens.size()), V = m.config().vocab;
  ASSERT_EQ(ref["n_vocab"].get<int>(), V);
  const float* logits = m.forward(tokens.data(), 1, T);
  double max_err = 0, max_ref = 0;
  int argmax_agree = 0;
  for (int t = 0; t < T; ++t) {
    std::vector<float> r = ref["prompt_logits"][t].get<std::vector<float>>();
    int best_ref = 0, best = 0;
    for (int j = 0; j < V; ++j) {
      max_err = std::max(max_err, (double)std::fabs(logits[t * V + j] - r[j]));
      max_ref = std::max(max_ref, (double)std::fabs(r[j]));
      if (r[j] > r[best_ref]) best_ref = j;
      if (logits[t * V + j] > logits[t * V + best]) best = j;
    }
    argmax_agree += best == best_ref;
  }
  std::printf("%s: max |logit - llama.cpp| = %.3g (max |logit| %.3g)\n", model_rel.c_str(), max_err, max_ref);
  EXPECT_LT(max_err, rel_tol * max_ref) << model_rel << ": max |logit error| " << max_err << " of max |logit| "
                                        << max_ref;
  EXPECT_EQ(argmax_agree, T) << model_rel;
}

TEST(TrainGguf, ForwardMatchesLlamaCppOnStories260K) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  LCTE_REQUIRE_DATA("reference/logits/stories260K-f32.story.json");
  expect_reference_logits("models/stories260K-f32.gguf", "reference/logits/stories260K-f32.story.json");
}

TEST(TrainGguf, ForwardMatchesLlamaCppWithGroupedQueryAttention) {
  LCTE_REQUIRE_DATA("models/rand-llama-d256-f32.gguf");
  LCTE_REQUIRE_DATA("reference/logits/rand-llama-d256-f32.code.json");
  expect_reference_logits("models/rand-llama-d256-f32.gguf", "reference/logits/rand-llama-d256-f32.code.json");
}

// Quantized and half-precision files are dequantized on load. llama.cpp
// rounds the activations too (to F16 or 8-bit blocks) for its dot products,
// which our F32 forward does not, so the agreement is looser.
TEST(TrainGguf, QuantizedTeachersLoadAndMatchLlamaCpp) {
  for (const char* type : {"f16", "q8_0", "q4_k_m"}) {
    const std::string model = std::string("models/stories260K-") + type + ".gguf";
    const std::string ref = std::string("reference/logits/stories260K-") + type + ".story.json";
    if (!testing::data_exists(model) || !testing::data_exists(ref)) GTEST_SKIP() << "data file absent: " << model;
    expect_reference_logits(model, ref, 2e-2);
  }
}

std::string synthetic(const std::string& dir, int layers, uint64_t seed = 1) {
  demo::SyntheticModelSpec spec;
  spec.n_layers = layers;
  spec.seed = seed;
  std::string path = dir + "/synthetic-" + std::to_string(layers) + ".gguf";
  demo::write_synthetic_model(spec, path);
  return path;
}

// The training forward and the inference engine read the same file through
// one hyper-parameter reader; their logits must agree at every position (the
// engine with an F32 KV cache, all positions in one batch). Grouped-query
// attention, an untied output and a non-default RoPE base, so that a head
// layout, RoPE or norm difference between the two shows.
TEST(TrainGguf, ForwardMatchesTheEngineOnASyntheticModel) {
  const std::string dir = testing::temp_dir();
  demo::SyntheticModelSpec spec;
  spec.n_layers = 3;
  spec.dim = 64;
  spec.n_heads = 8;
  spec.n_kv_heads = 2;
  spec.ffn_dim = 96;
  spec.rope_freq_base = 50000.f;
  spec.seed = 7;
  const std::string path = dir + "/gqa.gguf";
  demo::write_synthetic_model(spec, path);

  Model<float> tm = load_model(gguf::File::open(path), /*with_grads=*/false);
  ASSERT_FALSE(tm.config().tied_output);
  std::vector<int32_t> tokens;
  for (int i = 0; i < 24; ++i) tokens.push_back((i * 37 + 5) % tm.config().vocab);
  const int T = static_cast<int>(tokens.size()), V = tm.config().vocab;
  const std::vector<float> train_logits(tm.forward(tokens.data(), 1, T), tm.forward(tokens.data(), 1, T) + T * V);

  std::unique_ptr<model::Model> em = model::Model::load(path);
  ASSERT_EQ(em->config().n_vocab, V);
  model::ThreadPool pool(1);
  model::Context ctx(*em, pool, T);
  model::KvCache kv = ctx.new_cache(T, model::KvType::F32);
  std::vector<float> engine_logits;
  ctx.eval(kv, tokens, model::Logits::All, engine_logits);
  ASSERT_EQ(engine_logits.size(), train_logits.size());

  double max_err = 0, max_abs = 0;
  int argmax_agree = 0;
  for (int t = 0; t < T; ++t) {
    int a = 0, b = 0;
    for (int j = 0; j < V; ++j) {
      const float x = train_logits[t * V + j], y = engine_logits[t * V + j];
      max_err = std::max(max_err, (double)std::fabs(x - y));
      max_abs = std::max(max_abs, (double)std::fabs(y));
      if (x > train_logits[t * V + a]) a = j;
      if (y > engine_logits[t * V + b]) b = j;
    }
    argmax_agree += a == b;
  }
  std::printf("max |train logit - engine logit| = %.3g (max |logit| %.3g)\n", max_err, max_abs);
  ASSERT_GT(max_abs, 1e-3);  // logits that carry a signal
  EXPECT_LT(max_err, 1e-4 * max_abs);
  EXPECT_EQ(argmax_agree, T);
}

TEST(TrainGguf, SaveAndLoadRoundTripsExactly) {
  const std::string dir = testing::temp_dir();
  gguf::File src = gguf::File::open(synthetic(dir, 2));
  Model<float> m = load_model(src);
  for (float& p : m.params()) p *= 1.5f;  // differ from the source
  ExportOptions opts;
  opts.name = "round-trip";
  opts.metadata_source = &src;
  opts.lineage.push_back({"lcte.train.steps", gguf::Value::u32(7)});
  save_model_gguf(m, dir + "/out.gguf", opts);
  gguf::File back = gguf::File::open(dir + "/out.gguf");
  EXPECT_EQ(back.get_string("general.name"), "round-trip");
  EXPECT_EQ(back.get_u64("lcte.train.steps"), 7u);
  EXPECT_EQ(back.get_string_array("tokenizer.ggml.tokens"), src.get_string_array("tokenizer.ggml.tokens"));
  EXPECT_EQ(config_from_gguf(back), m.config());
  Model<float> m2 = load_model(back);
  EXPECT_EQ(m2.params(), m.params());
}

TEST(TrainGguf, F16ExportRoundsMatricesAndKeepsNormsF32) {
  const std::string dir = testing::temp_dir();
  gguf::File src = gguf::File::open(synthetic(dir, 2));
  Model<float> m = load_model(src);
  ExportOptions opts;
  opts.type = GgmlType::F16;
  save_model_gguf(m, dir + "/f16.gguf", opts);
  gguf::File f = gguf::File::open(dir + "/f16.gguf");
  EXPECT_EQ(f.get_u64("general.file_type"), 1u);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, GgmlType::F16);
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
  Model<float> back = load_model(f);
  for (const ParamTensor& t : m.layout().tensors) {
    const bool matrix = t.ne.size() == 2;
    for (size_t i = 0; i < t.size; i += 97) {
      const float x = m.params()[t.offset + i];
      const float expect = matrix ? fp16_to_fp32(fp32_to_fp16(x)) : x;
      ASSERT_EQ(back.params()[t.offset + i], expect) << t.name << "[" << i << "]";
    }
  }
}

TEST(TrainGguf, StudentKeepsEveryKthTeacherLayer) {
  const std::string dir = testing::temp_dir();
  gguf::File teacher = gguf::File::open(synthetic(dir, 5));
  StudentSpec spec;
  spec.pick = LayerPick::parse("every:2");
  StudentInit s = student_from_teacher(teacher, spec);
  EXPECT_EQ(s.kept_layers, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(s.model.config().n_layers, 3);
  Model<float> t = load_model(teacher);
  for (int l = 0; l < 3; ++l) {
    for (const char* w : {"attn_q", "attn_k", "ffn_down", "attn_norm"}) {
      const std::string sn = "blk." + std::to_string(l) + "." + w + ".weight";
      const std::string tn = "blk." + std::to_string(s.kept_layers[l]) + "." + w + ".weight";
      const ParamTensor* p = s.model.layout().find(sn);
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(std::equal(s.model.param(sn), s.model.param(sn) + p->size, t.param(tn))) << sn;
    }
  }
  const size_t n_embd = s.model.layout().find("token_embd.weight")->size;
  EXPECT_TRUE(std::equal(s.model.param("token_embd.weight"), s.model.param("token_embd.weight") + n_embd,
                         t.param("token_embd.weight")));
  EXPECT_EQ(LayerPick::parse("first:2").layers(5), (std::vector<int>{0, 1}));
  EXPECT_THROW(LayerPick::parse("first:9").layers(5), Error);
  EXPECT_THROW(LayerPick::parse("some:2"), Error);
  EXPECT_THROW(LayerPick::parse("every:x"), Error);
}

TEST(TrainGguf, NarrowerStudentCopiesOnlyWhatFits) {
  const std::string dir = testing::temp_dir();
  gguf::File teacher = gguf::File::open(synthetic(dir, 2));
  StudentSpec spec;
  spec.ffn_dim = 96;  // same width (dim), smaller FFN: norms and embeddings copy, matrices do not
  spec.pick = LayerPick::parse("first:2");
  StudentInit s = student_from_teacher(teacher, spec);
  EXPECT_TRUE(s.kept_layers.empty());
  auto has = [&](const std::string& n) { return std::find(s.copied.begin(), s.copied.end(), n) != s.copied.end(); };
  EXPECT_TRUE(has("token_embd.weight"));
  EXPECT_TRUE(has("blk.1.ffn_norm.weight"));
  EXPECT_FALSE(has("blk.0.attn_q.weight"));
  spec.dim = 32;
  spec.n_heads = 2;
  spec.n_kv_heads = 1;
  StudentInit narrow = student_from_teacher(teacher, spec);
  EXPECT_TRUE(narrow.copied.empty());
  EXPECT_EQ(narrow.model.config().dim, 32);
  EXPECT_EQ(narrow.model.config().vocab, s.model.config().vocab);
}

TEST(TrainGguf, LoraAdapterRoundTripAndMergedExport) {
  const std::string dir = testing::temp_dir();
  const std::string base_path = synthetic(dir, 2);
  gguf::File base = gguf::File::open(base_path);
  Model<float> m = load_model(base);
  LoraConfig lc;
  lc.rank = 4;
  lc.alpha = 8;
  lc.targets = LoraConfig::parse_targets("q,v,up");
  m.enable_lora(lc, 3);
  SplitMix64 rng(4);
  for (float& p : m.lora_params()) p += 0.05f * static_cast<float>(rng.normal());
  save_lora_adapter_gguf(m, dir + "/adapter.gguf", {});
  gguf::File af = gguf::File::open(dir + "/adapter.gguf");
  EXPECT_EQ(af.get_string("general.type"), "adapter");
  EXPECT_EQ(af.get_string("adapter.type"), "lora");
  EXPECT_EQ(af.get_f64("adapter.lora.alpha"), 8.0);
  const gguf::TensorInfo& a = af.tensor("blk.1.attn_q.weight.lora_a");
  const gguf::TensorInfo& b = af.tensor("blk.1.ffn_up.weight.lora_b");
  EXPECT_EQ(a.ne, (std::vector<int64_t>{64, 4}));   // [in, rank]
  EXPECT_EQ(b.ne, (std::vector<int64_t>{4, 192}));  // [rank, out]
  EXPECT_EQ(af.find_tensor("blk.0.attn_k.weight.lora_a"), nullptr);

  Model<float> m2 = load_model(base);
  load_lora_adapter(af, m2);
  EXPECT_EQ(m2.lora_params(), m.lora_params());
  EXPECT_EQ(m2.lora_config().rank, 4);

  // The merged export computes what base + adapters compute.
  save_model_gguf(m, dir + "/merged.gguf", {});
  Model<float> merged = load_model(gguf::File::open(dir + "/merged.gguf"));
  std::vector<int32_t> tokens = {1, 50, 60, 70, 80, 90};
  const int V = m.config().vocab;
  std::vector<float> adapted(m.forward(tokens.data(), 1, 6), m.forward(tokens.data(), 1, 6) + 6 * V);
  const float* ml = merged.forward(tokens.data(), 1, 6);
  for (int i = 0; i < 6 * V; ++i) EXPECT_NEAR(ml[i], adapted[i], 1e-4f * (1 + std::fabs(adapted[i])));
}

TEST(TrainGguf, UnsupportedModelsAreRefusedByName) {
  auto expect_error = [](const std::string& rel, const std::string& needle) {
    if (!testing::data_exists(rel)) GTEST_SKIP() << "data file absent: " << rel;
    gguf::File f = gguf::File::open(testing::data_path(rel));
    try {
      config_from_gguf(f);
      ADD_FAILURE() << rel << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("models/rand-qwen2-d256-f32.gguf", "architecture 'qwen2'");
  expect_error("models/rand-llama3-d256-f32.gguf", "rope_freqs.weight");
}

TEST(TrainGguf, WrongShapeIsRefusedByName) {
  const std::string dir = testing::temp_dir();
  gguf::File src = gguf::File::open(synthetic(dir, 2));
  ModelConfig c = config_from_gguf(src);
  c.ffn_dim = 128;
  Model<float> m(c);
  try {
    load_weights(src, m);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_gate.weight has shape [64, 192]"), std::string::npos) << e.what();
  }
}

TEST(TrainGguf, Sha256OfKnownBytes) {
  const std::string path = testing::temp_dir() + "/abc.txt";
  std::ofstream(path) << "abc";
  EXPECT_EQ(sha256_file_hex(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace lcte::train
