// The teacher top-k cache, data from text, and `lcte distill` end to end on
// the stories260K teacher (shared data).
#include <gtest/gtest.h>

#include "common/error_of.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>

#include "common/run_command.h"
#include "common/test_data.h"
#include "core/error.h"
#include "core/random.h"
#include "core/sha256.h"
#include "gguf/gguf.h"
#include "model/forward.h"
#include "model/generator.h"
#include "model/model.h"
#include "model/tokenizer_text.h"
#include "store/store.h"
#include "tokenizer/tokenizer.h"
#include "train/distill.h"
#include "train/text_data.h"
#include "train/topk_cache.h"

namespace lcte::train {
namespace {

namespace fs = std::filesystem;
const char* kTeacher = "models/stories260K-f32.gguf";
const char* kMbpp = "mbpp/mbpp.jsonl";

std::string hex64(char c) { return std::string(64, c); }

// A cache of a few random examples with signals from random logits.
TopkCache random_cache(int vocab, int k, int n_examples, uint64_t seed) {
  SplitMix64 rng(seed);
  TopkCache c;
  c.key = {hex64('a'), hex64('b'), k};
  c.vocab = vocab;
  c.n_train = n_examples - 1;
  std::vector<float> logits(vocab);
  for (int i = 0; i < n_examples; ++i) {
    Example e;
    const int n = 3 + (int)rng.below(6);
    for (int t = 0; t < n; ++t) e.tokens.push_back((int32_t)rng.below(vocab));
    if (i % 2 == 1) {  // a prompt/completion example: the first two tokens masked
      e.mask.assign(n, 1);
      e.mask[0] = e.mask[1] = 0;
    }
    const uint64_t p0 = c.add_example(e);
    for (int64_t p = 0; p < TopkCache::count_targets(e); ++p) {
      for (float& z : logits) z = (float)(4 * rng.uniform() - 2);
      teacher_topk_from_logits(logits.data(), vocab, k, c.signal, p0 + p);
    }
  }
  return c;
}

using lcte::testing::error_of;

void flip_byte(const std::string& path, size_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c ^= 0x5a;
  f.seekp(offset);
  f.write(&c, 1);
}

TEST(TopkCache, RoundTripIsExact) {
  const std::string dir = testing::temp_dir();
  const TopkCache c = random_cache(50, 8, 5, 1);
  write_topk_cache(dir + "/c.bin", c);
  const TopkCache r = read_topk_cache(dir + "/c.bin", c.key);
  EXPECT_EQ(r.key, c.key);
  EXPECT_EQ(r.vocab, 50);
  EXPECT_EQ(r.n_train, 4);
  ASSERT_EQ(r.examples.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.examples[i].tokens, c.examples[i].tokens);
    EXPECT_EQ(r.examples[i].mask, c.examples[i].mask);
  }
  EXPECT_EQ(r.pos_begin, c.pos_begin);
  EXPECT_EQ(r.signal.ids, c.signal.ids);
  EXPECT_EQ(r.signal.logprobs, c.signal.logprobs);
  EXPECT_EQ(r.signal.rest, c.signal.rest);
  // Positions: every token after the first of the unmasked examples, and the
  // completion of the masked ones.
  int64_t expect = 0;
  for (size_t i = 0; i < 5; ++i) expect += c.examples[i].tokens.size() - (i % 2 == 1 ? 2 : 1);
  EXPECT_EQ((int64_t)r.signal.positions(), expect);
}

TEST(TopkCache, RefusesTruncatedCorruptAndForeignFiles) {
  const std::string dir = testing::temp_dir();
  const TopkCache c = random_cache(40, 4, 4, 2);
  const std::string path = dir + "/c.bin";
  write_topk_cache(path, c);
  const size_t size = fs::file_size(path);

  fs::copy_file(path, dir + "/t.bin");
  fs::resize_file(dir + "/t.bin", size - 3);
  EXPECT_NE(error_of([&] { read_topk_cache(dir + "/t.bin"); }).find("truncated"), std::string::npos);
  fs::resize_file(dir + "/t.bin", 100);
  EXPECT_NE(error_of([&] { read_topk_cache(dir + "/t.bin"); }).find("truncated"), std::string::npos);

  fs::copy_file(path, dir + "/x.bin");
  flip_byte(dir + "/x.bin", size - 2);  // inside the rest masses
  EXPECT_NE(error_of([&] { read_topk_cache(dir + "/x.bin"); }).find("checksum mismatch"), std::string::npos);

  fs::copy_file(path, dir + "/m.bin");
  flip_byte(dir + "/m.bin", 0);
  EXPECT_NE(error_of([&] { read_topk_cache(dir + "/m.bin"); }).find("not a teacher top-k cache"), std::string::npos);

  fs::copy_file(path, dir + "/v.bin");
  flip_byte(dir + "/v.bin", 8);  // version
  EXPECT_NE(error_of([&] { read_topk_cache(dir + "/v.bin"); }).find("this lcte reads version 1"), std::string::npos);

  TopkCacheKey other = c.key;
  other.k = 5;
  std::string e = error_of([&] { read_topk_cache(path, other); });
  EXPECT_NE(e.find("another top-k (cache: 4, this run: 5)"), std::string::npos) << e;
  other = c.key;
  other.teacher_sha256 = hex64('c');
  e = error_of([&] { read_topk_cache(path, other); });
  EXPECT_NE(e.find("another teacher (sha256)"), std::string::npos) << e;
  other = c.key;
  other.data_sha256 = hex64('d');
  EXPECT_NE(error_of([&] { read_topk_cache(path, other); }).find("another data"), std::string::npos);
  EXPECT_NE(error_of([&] { read_topk_cache(dir + "/absent.bin"); }).find("cannot open"), std::string::npos);
}

TEST(TopkCache, CachedTeacherGivesEachRowItsExamplesPositions) {
  const TopkCache c = random_cache(30, 3, 4, 3);
  Batch b;
  b.B = 3;
  b.T = 10;
  b.tokens.assign(30, 0);
  b.targets.assign(30, -1);
  const int64_t rows[3] = {1, 3, 0};
  for (int r = 0; r < 3; ++r) {
    fill_row(b, r, c.examples[rows[r]], 0);
    b.rows.push_back(rows[r]);
  }
  TeacherSignal s;
  fill_cached_signal(c, 0, b, s);
  ASSERT_EQ(s.positions(), 30u);
  for (int r = 0; r < 3; ++r) {
    uint64_t p = c.pos_begin[rows[r]];
    for (int t = 0; t < 10; ++t) {
      const size_t n = r * 10 + t;
      if (b.targets[n] < 0) continue;
      for (int j = 0; j < 3; ++j) {
        EXPECT_EQ(s.ids[n * 3 + j], c.signal.ids[p * 3 + j]);
        EXPECT_EQ(s.logprobs[n * 3 + j], c.signal.logprobs[p * 3 + j]);
      }
      EXPECT_EQ(s.rest[n], c.signal.rest[p]);
      ++p;
    }
    EXPECT_EQ(p, c.pos_begin[rows[r] + 1]);  // every cached position used, in order
  }
  validate_teacher(s, 30, "filled");  // placeholders are valid too
}

TEST(TopkCache, DataHashSeesTokensMasksAndRecipe) {
  std::vector<Example> a{{{1, 2, 3}, {}}}, b{{{1, 2, 3}, {1, 1, 1}}}, c{{{1, 2, 3}, {0, 0, 1}}}, d{{{1, 2, 4}, {}}};
  EXPECT_EQ(data_sha256(a, "r"), data_sha256(b, "r"));  // no mask = all targets
  EXPECT_NE(data_sha256(a, "r"), data_sha256(c, "r"));
  EXPECT_NE(data_sha256(a, "r"), data_sha256(d, "r"));
  EXPECT_NE(data_sha256(a, "r"), data_sha256(a, "s"));
  EXPECT_EQ(data_sha256(a, "r").size(), 64u);
}

TEST(TextData, PairMasksThePromptAndEndsWithEos) {
  LCTE_REQUIRE_DATA(kTeacher);
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(testing::data_path(kTeacher));
  const Example e = tokenize_pair(tok, "Once upon a time", " there was a cat.");
  const std::vector<int32_t> prompt = tok.tokenize("Once upon a time", true);
  const std::vector<int32_t> whole = tok.tokenize("Once upon a time there was a cat.", true);
  ASSERT_EQ(e.tokens.size(), whole.size() + 1);
  EXPECT_TRUE(std::equal(whole.begin(), whole.end(), e.tokens.begin()));
  EXPECT_EQ(e.tokens.back(), tok.eos());
  for (size_t t = 0; t < e.tokens.size(); ++t) EXPECT_EQ(e.mask[t], t < prompt.size() ? 0 : 1) << t;
}

TEST(TextData, PackingKeepsMasksAndCutsFullRows) {
  std::vector<Example> ex{{{1, 2, 3}, {0, 0, 1}}, {{4, 5, 6, 7}, {}}};
  // Stream 1 2 3 4 5 6 7, mask 0 0 1 0 1 1 1 (each example's first token is no target).
  const std::vector<Example> p = pack_examples(ex, 3);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].tokens, (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(p[0].mask, (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_EQ(p[1].tokens, (std::vector<int32_t>{4, 5, 6, 7}));
  EXPECT_EQ(p[1].mask, (std::vector<uint8_t>{0, 1, 1, 1}));
}

TEST(TextData, MbppChatSplitsAndMasks) {
  LCTE_REQUIRE_DATA(kTeacher);
  LCTE_REQUIRE_DATA(kMbpp);
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(testing::data_path(kTeacher));
  TextDataOptions o;
  o.seq = 1 << 20;  // nothing cut
  o.family = chat::Family::ChatML;
  const TextData d = load_text_data(testing::data_path(kMbpp), tok, o);
  EXPECT_EQ(d.format, TextFormat::Mbpp);
  EXPECT_EQ(d.train.size(), 800u);
  EXPECT_EQ(d.valid.size(), 100u);
  // Problem 2's prompt and reply, rendered by hand in ChatML.
  const std::vector<ChatPair> pairs = read_mbpp_chat(testing::data_path(kMbpp));
  const std::string prompt = "<|im_start|>user\n" + pairs[1].user + "<|im_end|>\n<|im_start|>assistant\n";
  const Example want = tokenize_pair(tok, prompt, pairs[1].assistant + "<|im_end|>\n");
  bool found = false;
  for (const Example& e : d.train) found |= e.tokens == want.tokens && e.mask == want.mask;
  for (const Example& e : d.valid) found |= e.tokens == want.tokens && e.mask == want.mask;
  EXPECT_TRUE(found);

  o.mbpp_split = "standard";
  const TextData s = load_text_data(testing::data_path(kMbpp), tok, o);
  EXPECT_EQ(s.train.size(), 374u);  // task ids 601-974
  EXPECT_EQ(s.valid.size(), 90u);   // 511-600
  o.seq = 200;                      // rows shorter than some prompts: those examples are dropped, the others cut
  o.mbpp_split = "seeded";
  const TextData cut = load_text_data(testing::data_path(kMbpp), tok, o);
  EXPECT_GT(cut.dropped, 0u);
  EXPECT_EQ(cut.train.size() + cut.valid.size() + cut.dropped, 900u);
  for (const Example& e : cut.train) EXPECT_LE(e.tokens.size(), 201u);

  // Packed: nothing dropped, rows of at most seq + 1 tokens, and exactly the
  // targets of the whole (uncut) training examples.
  o.pack = true;
  const TextData packed = load_text_data(testing::data_path(kMbpp), tok, o);
  EXPECT_EQ(packed.dropped, 0u);
  int64_t want_targets = 0, got_targets = 0;
  for (const Example& e : d.train) want_targets += TopkCache::count_targets(e);
  for (const Example& e : packed.train) {
    EXPECT_LE(e.tokens.size(), 201u);
    got_targets += TopkCache::count_targets(e);
  }
  EXPECT_EQ(got_targets, want_targets);
}

TEST(TextData, ErrorsNameFileAndLine) {
  LCTE_REQUIRE_DATA(kTeacher);
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(testing::data_path(kTeacher));
  const std::string dir = testing::temp_dir();
  std::ofstream(dir + "/p.jsonl") << "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"a\"}\n";
  TextDataOptions o;
  EXPECT_NE(error_of([&] { load_text_data(dir + "/p.jsonl", tok, o); }).find("p.jsonl:2: missing field \"completion\""),
            std::string::npos);
}

TEST(StudentConfig, ReadsTomlAndJsonAndRefusesUnknownKeys) {
  const std::string dir = testing::temp_dir();
  std::ofstream(dir + "/s.toml")
      << "layers = 2\ndim = 32\nheads = 4\nkv_heads = 2\nffn = 96\ninit_layers = \"first:2\"\n";
  const StudentSpec t = read_student_config(dir + "/s.toml");
  EXPECT_EQ(t.n_layers, 2);
  EXPECT_EQ(t.dim, 32);
  EXPECT_EQ(t.n_heads, 4);
  EXPECT_EQ(t.n_kv_heads, 2);
  EXPECT_EQ(t.ffn_dim, 96);
  EXPECT_EQ(t.pick.mode, LayerPick::Mode::FirstN);
  std::ofstream(dir + "/s.json") << R"({"layers": 3, "dim": 64})";
  const StudentSpec j = read_student_config(dir + "/s.json");
  EXPECT_EQ(j.n_layers, 3);
  EXPECT_EQ(j.dim, 64);
  EXPECT_EQ(j.n_heads, 0);  // the teacher's
  // Both forms go through one reader: the same message, with the line where
  // the file has lines (TOML).
  std::ofstream(dir + "/bad.json") << R"({"layer": 3})";
  EXPECT_EQ(error_of([&] { read_student_config(dir + "/bad.json"); }),
            dir + "/bad.json: layer: unknown key; did you mean 'layers'?");
  std::ofstream(dir + "/neg.toml") << "dim = -4\n";
  EXPECT_EQ(error_of([&] { read_student_config(dir + "/neg.toml"); }),
            dir + "/neg.toml:1: dim: must be 1 to 1048576, got -4");
  std::ofstream(dir + "/str.toml") << "layers = 2\nheads = \"8\"\n";
  EXPECT_EQ(error_of([&] { read_student_config(dir + "/str.toml"); }),
            dir + "/str.toml:2: heads: expected an integer, found a string");
  std::ofstream(dir + "/str.json") << R"({"heads": "8"})";
  EXPECT_EQ(error_of([&] { read_student_config(dir + "/str.json"); }),
            dir + "/str.json: heads: expected an integer, found a string");
  std::ofstream(dir + "/float.json") << R"({"dim": 64.0})";
  EXPECT_EQ(error_of([&] { read_student_config(dir + "/float.json"); }),
            dir + "/float.json: dim: expected an integer, found a float");
  std::ofstream(dir + "/pick.toml") << "init_layers = \"every:x\"\n";
  EXPECT_EQ(error_of([&] { read_student_config(dir + "/pick.toml"); }),
            dir + "/pick.toml:1: init_layers: layer pick 'every:x': 'x' is not a number");
}

// stories260K with token `id`'s text replaced: same size, another tokenizer.
std::string student_with_other_token(const std::string& dir, int id) {
  const gguf::File f = gguf::File::open(testing::data_path(kTeacher));
  const Model<float> m = load_model(f, /*with_grads=*/false);
  std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
  tokens.at(id) = "zzz-not-a-token";
  ExportOptions ex;
  ex.metadata_source = &f;
  ex.lineage.push_back({"tokenizer.ggml.tokens", gguf::Value::string_array(tokens)});
  const std::string path = dir + "/other-vocab.gguf";
  save_model_gguf(m, path, ex);
  return path;
}

TEST(Distill, TokenizerMismatchIsRefused) {
  LCTE_REQUIRE_DATA(kTeacher);
  LCTE_REQUIRE_DATA("tokenizer/ggml-vocab-gpt-2.gguf");
  const std::string t = testing::data_path(kTeacher), s = testing::data_path("tokenizer/ggml-vocab-gpt-2.gguf");
  const std::string e =
      error_of([&] { require_same_vocabulary(tokenizer::load_tokenizer(t), tokenizer::load_tokenizer(s), t, s); });
  EXPECT_NE(e.find("distillation needs the teacher's tokenizer"), std::string::npos) << e;

  const std::string dir = testing::temp_dir();
  const std::string other = student_with_other_token(dir, 300);
  const tokenizer::Tokenizer tt = tokenizer::load_tokenizer(t);
  const std::string e2 = error_of([&] { require_same_vocabulary(tt, tokenizer::load_tokenizer(other), t, other); });
  EXPECT_NE(e2.find("token 300 is \"" + tt.vocab().text(300) + "\" in the teacher and \"zzz-not-a-token\""),
            std::string::npos)
      << e2;
  // The same file with the teacher's tokens passes.
  EXPECT_EQ(error_of([&] { require_same_vocabulary(tt, tokenizer::load_tokenizer(t), t, t); }), "(no error)");
}

std::string write_pairs(const std::string& dir) {
  std::ofstream f(dir + "/pairs.jsonl");
  const char* starts[] = {"Once upon a time", "One day", "Lily saw", "Tom liked", "The sun was"};
  const char* ends[] = {" there was a big dog.", " she went to the park.", " a red ball.", " to play with his toy.",
                        " hot and happy."};
  for (int i = 0; i < 20; ++i)
    f << "{\"prompt\": \"" << starts[i % 5] << "\", \"completion\": \"" << ends[(i * 3) % 5] << "\"}\n";
  return dir + "/pairs.jsonl";
}

TEST(Distill, CommandEndToEndThenTheEngineGenerates) {
  LCTE_REQUIRE_DATA(kTeacher);
  const std::string dir = testing::temp_dir();
  const std::string data = write_pairs(dir), out = dir + "/student.gguf", store = dir + "/store.sqlite";
  const std::vector<std::string> argv{testing::lcte_binary(),
                                      "distill",
                                      "--teacher",
                                      testing::data_path(kTeacher),
                                      "--init-from-teacher",
                                      "every:2",
                                      "--data",
                                      data,
                                      "--valid-fraction",
                                      "0.2",
                                      "--steps",
                                      "4",
                                      "--batch",
                                      "4",
                                      "--seq-len",
                                      "32",
                                      "--lr",
                                      "3e-3",
                                      "--temperature",
                                      "2",
                                      "--eval-every",
                                      "2",
                                      "--top-k",
                                      "16",
                                      "--threads",
                                      "1",
                                      "--log-every",
                                      "1",
                                      "--store",
                                      store,
                                      "--out",
                                      out};
  const testing::CommandResult r = testing::run_command(argv, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("top-1 agreement"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("held-out: loss"), std::string::npos) << r.out;

  // Lineage.
  const gguf::File f = gguf::File::open(out);
  EXPECT_EQ(f.get_string("lcte.lineage.method"), "distill");
  EXPECT_EQ(f.get_string("lcte.lineage.teacher_sha256"), sha256_file_hex(testing::data_path(kTeacher)));
  EXPECT_EQ(f.get_string("lcte.lineage.data_sha256"), sha256_file_hex(data));
  EXPECT_EQ(f.get_string("lcte.lineage.loss"), "fkl");
  EXPECT_EQ(f.get_string("lcte.lineage.teacher_layers"), "0,2,4");
  EXPECT_EQ(f.get_u64("lcte.lineage.steps"), 4u);
  EXPECT_FALSE(f.get_string("lcte.lineage.lcte_version").empty());
  const nlohmann::json hp = nlohmann::json::parse(f.get_string("lcte.lineage.hyperparameters"));
  EXPECT_EQ(hp["loss"]["top_k"], 16);
  EXPECT_EQ(hp["loss"]["temperature"], 2.0);

  const testing::CommandResult ins = testing::run_command({testing::lcte_binary(), "inspect", out, "--metadata"}, dir);
  ASSERT_EQ(ins.exit_code, 0) << ins.err;
  EXPECT_NE(ins.out.find("lcte.lineage.teacher_sha256"), std::string::npos);
  EXPECT_NE(ins.out.find(sha256_file_hex(data)), std::string::npos);

  // The engine loads the student and generates with the teacher's tokenizer.
  std::unique_ptr<model::Model> m = model::Model::load(out);
  EXPECT_EQ(m->config().n_layers, 3);
  model::ThreadPool pool(1);
  model::Context ctx(*m, pool, 64);
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(out);
  model::TokenizerText text(tok);
  model::Generator gen(ctx, text);
  model::GenerateOptions g;
  g.max_tokens = 8;
  g.sampling.temperature = 0;
  const std::vector<int32_t> prompt = tok.tokenize("Once upon a time", true);
  const auto c = gen.generate(prompt, g);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_GT(c[0].tokens.size(), 0u);

  // The store has the run and its series at steps 2 and 4.
  store::Store s(store);
  const auto runs = s.list_runs(store::RunFilter{.kind = "distill"});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status, "finished");
  for (const char* name :
       {"train_loss", "valid_loss", "kl_to_teacher", "top1_agreement", "top5_agreement", "tokens_per_s"}) {
    const auto pts = s.metrics(runs[0].id, name);
    ASSERT_EQ(pts.size(), 2u) << name;
    EXPECT_EQ(pts[0].step, 2);
    EXPECT_EQ(pts[1].step, 4);
  }
  for (const auto& p : s.metrics(runs[0].id, "top5_agreement")) EXPECT_TRUE(p.value >= 0 && p.value <= 1);

  // A rerun reuses the cache and, being deterministic, writes the same model.
  const std::string first = sha256_file_hex(out);
  const testing::CommandResult again = testing::run_command(argv, dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("reusing the teacher top-k cache"), std::string::npos) << again.err;
  EXPECT_EQ(sha256_file_hex(out), first);
}

TEST(Distill, CommandRefusesAStudentWithAnotherTokenizer) {
  LCTE_REQUIRE_DATA(kTeacher);
  const std::string dir = testing::temp_dir();
  const testing::CommandResult r =
      testing::run_command({testing::lcte_binary(), "distill", "--teacher", testing::data_path(kTeacher), "--student",
                            student_with_other_token(dir, 7), "--data", write_pairs(dir), "--out", dir + "/s.gguf"},
                           dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("have different tokenizers: token 7 is"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/s.gguf"));
}

TEST(Distill, StopFlagCheckpointsAndResumeEqualsAStraightRun) {
  LCTE_REQUIRE_DATA(kTeacher);
  const std::string dir = testing::temp_dir();
  DistillOptions o;
  o.teacher = testing::data_path(kTeacher);
  o.init_from_teacher = "every:2";
  o.data = write_pairs(dir);
  o.train.steps = 6;
  o.train.batch = 4;
  o.train.seq = 32;
  o.train.lr = {3e-3, 3e-4, 0, 6};
  o.top_k = 8;
  o.threads = 1;
  o.log_every = 0;
  o.out = dir + "/straight.gguf";
  const DistillResult straight = run_distill(o);
  EXPECT_EQ(straight.steps, 6);
  EXPECT_FALSE(straight.interrupted);

  std::atomic<bool> stop{false};
  o.stop = &stop;
  o.on_step = [&](const StepStats& s) {
    if (s.step == 2) stop = true;
  };
  o.out = dir + "/resumed.gguf";
  const DistillResult cut = run_distill(o);
  EXPECT_TRUE(cut.interrupted);
  EXPECT_EQ(cut.steps, 2);
  EXPECT_TRUE(cut.cache_reused);  // same teacher, data and k as the straight run
  EXPECT_FALSE(fs::exists(o.out));
  ASSERT_TRUE(fs::exists(cut.checkpoint));

  o.stop = nullptr;
  o.on_step = {};
  o.resume = cut.checkpoint;
  const DistillResult rest = run_distill(o);
  EXPECT_EQ(rest.steps, 6);
  const Model<float> a = load_model(gguf::File::open(dir + "/straight.gguf"), false);
  const Model<float> b = load_model(gguf::File::open(o.out), false);
  EXPECT_EQ(a.params(), b.params());  // bit for bit
}

// The held-out figures against a direct computation: softmax of the
// student's logits, the k+1 buckets, KL and argmax/top-5 by hand.
TEST(Distill, EvaluationMatchesADirectComputation) {
  LCTE_REQUIRE_DATA(kTeacher);
  const std::string dir = testing::temp_dir();
  DistillOptions o;
  o.teacher = testing::data_path(kTeacher);
  o.init_from_teacher = "first:2";
  o.data = write_pairs(dir);
  o.data_opts.valid_fraction = 0.25;
  o.train.steps = 2;
  o.train.batch = 4;
  o.train.seq = 32;
  o.top_k = 8;
  o.threads = 1;
  o.log_every = 0;
  o.out = dir + "/s.gguf";
  const DistillResult r = run_distill(o);
  const TopkCache c = read_topk_cache(r.cache);
  Model<float> m = load_model(gguf::File::open(o.out), false);
  LossConfig lc;
  lc.alpha = 0;  // the CE must still be reported
  const DistillEval ev = evaluate_against_teacher(m, c, c.n_train, c.examples.size(), 3, 32, lc);

  const int V = m.config().vocab, k = c.key.k;
  double kl = 0, ce = 0;
  int64_t n = 0, top1 = 0, top5 = 0;
  for (size_t i = c.n_train; i < c.examples.size(); ++i) {
    const Example& e = c.examples[i];
    const float* z = m.forward(e.tokens.data(), 1, (int)e.tokens.size() - 1);
    uint64_t p = c.pos_begin[i];
    for (size_t t = 0; t + 1 < e.tokens.size(); ++t) {
      if (!e.mask[t + 1]) continue;
      const float* zt = z + t * V;
      double mx = zt[0], sum = 0;
      for (int j = 0; j < V; ++j) mx = std::max(mx, (double)zt[j]);
      for (int j = 0; j < V; ++j) sum += std::exp(zt[j] - mx);
      std::vector<double> q(V);
      for (int j = 0; j < V; ++j) q[j] = std::exp(zt[j] - mx) / sum;
      ce -= std::log(q[e.tokens[t + 1]]);
      double q_top = 0;
      for (int b = 0; b < k; ++b) {
        const double pb = std::exp((double)c.signal.logprobs[p * k + b]);
        const double qb = q[c.signal.ids[p * k + b]];
        q_top += qb;
        kl += pb * std::log(pb / qb);
      }
      const double pr = c.signal.rest[p], qr = 1 - q_top;
      if (pr > 0) kl += pr * std::log(pr / qr);
      std::vector<int> order(V);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return zt[a] > zt[b]; });
      const int teacher_top = c.signal.ids[p * k];
      top1 += order[0] == teacher_top;
      top5 += std::find(order.begin(), order.begin() + 5, teacher_top) != order.begin() + 5;
      ++p;
      ++n;
    }
  }
  ASSERT_EQ(ev.positions, n);
  ASSERT_GT(n, 10);
  EXPECT_NEAR(ev.kl, kl / n, 1e-4);
  EXPECT_NEAR(ev.ce, ce / n, 1e-4);
  EXPECT_GT(ev.ce, 0.1);
  EXPECT_DOUBLE_EQ(ev.top1, (double)top1 / n);
  EXPECT_DOUBLE_EQ(ev.top5, (double)top5 / n);
  EXPECT_NEAR(ev.loss, ev.kl, 1e-4);  // alpha 0, temperature 1: the loss is the KL
}

TEST(Distill, TeacherGenerateCachesTheTeachersGreedyCompletions) {
  LCTE_REQUIRE_DATA(kTeacher);
  const std::string dir = testing::temp_dir();
  {
    std::ofstream f(dir + "/prompts.jsonl");
    for (const char* p : {"Once upon a time", "One day, Lily", "Tom was sad", "The dog ran", "A big tree"})
      f << "{\"prompt\": \"" << p << "\", \"completion\": \"\"}\n";
  }
  DistillOptions o;
  o.teacher = testing::data_path(kTeacher);
  o.init_from_teacher = "every:2";
  o.data = dir + "/prompts.jsonl";
  o.data_opts.valid_fraction = 0.2;
  o.teacher_generate = true;  // greedy
  o.train.steps = 1;
  o.train.batch = 2;
  o.train.seq = 24;
  o.top_k = 4;
  o.threads = 1;
  o.log_every = 0;
  o.out = dir + "/s.gguf";
  const DistillResult r = run_distill(o);
  const TopkCache c = read_topk_cache(r.cache);
  ASSERT_EQ(c.examples.size(), 5u);

  // Each cached example = its prompt + what the engine generates greedily from it.
  std::unique_ptr<model::Model> t = model::Model::load(o.teacher);
  model::ThreadPool pool(1);
  model::Context ctx(*t, pool, 32);
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(o.teacher);
  model::TokenizerText text(tok);
  model::Generator gen(ctx, text);
  for (const Example& e : c.examples) {
    size_t p = 0;
    while (p < e.mask.size() && e.mask[p] == 0) ++p;
    ASSERT_GT(p, 1u);
    ASSERT_LT(p, e.tokens.size());
    std::vector<int32_t> prompt(e.tokens.begin(), e.tokens.begin() + p);
    model::GenerateOptions g;
    g.max_tokens = 25 - (int)p;
    g.n_ctx = 26;
    g.sampling.temperature = 0;
    std::vector<int32_t> want = prompt;
    const auto comp = gen.generate(prompt, g);
    want.insert(want.end(), comp[0].tokens.begin(), comp[0].tokens.end());
    if (comp[0].finish == model::Finish::EndOfGeneration && (int)comp[0].tokens.size() < g.max_tokens)
      want.push_back(tok.eos());
    EXPECT_EQ(e.tokens, want) << tok.detokenize(e.tokens);
    EXPECT_GT(e.tokens.size(), p + 1);  // the teacher wrote something
  }
}

TEST(Distill, RefusesARunThatDoesNotFitInMemory) {
  LCTE_REQUIRE_DATA(kTeacher);
  const std::string dir = testing::temp_dir();
  DistillOptions o;
  o.teacher = testing::data_path(kTeacher);
  o.init_from_teacher = "every:2";
  o.data = write_pairs(dir);
  o.max_memory = 1 << 20;  // 1 MiB
  o.out = dir + "/s.gguf";
  const std::string e = error_of([&] { run_distill(o); });
  EXPECT_NE(e.find("distill: needs weights"), std::string::npos) << e;
  EXPECT_NE(e.find("only 1.0 MiB is available"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(o.out));
}

TEST(Distill, SigintSavesACheckpointAndExitsCleanly) {
  LCTE_REQUIRE_DATA(kTeacher);
  const std::string dir = testing::temp_dir();
  const std::string err_path = dir + "/err.txt", out = dir + "/s.gguf";
  const std::vector<std::string> argv{testing::lcte_binary(),
                                      "distill",
                                      "--teacher",
                                      testing::data_path(kTeacher),
                                      "--init-from-teacher",
                                      "every:2",
                                      "--data",
                                      write_pairs(dir),
                                      "--steps",
                                      "100000",
                                      "--batch",
                                      "2",
                                      "--seq-len",
                                      "16",
                                      "--top-k",
                                      "8",
                                      "--threads",
                                      "1",
                                      "--log-every",
                                      "1",
                                      "--out",
                                      out};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, (dir + "/out.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  // Wait until training has started (a step line), then interrupt.
  bool started = false;
  for (int i = 0; i < 3000 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream in(err_path);
    std::stringstream ss;
    ss << in.rdbuf();
    started = ss.str().find("step 3/100000") != std::string::npos;
  }
  ASSERT_TRUE(started);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "ended by a signal";
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::ifstream in(dir + "/out.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("interrupted at step"), std::string::npos) << ss.str();
  EXPECT_TRUE(fs::exists(out + ".ckpt.gguf"));
  EXPECT_FALSE(fs::exists(out));
  const gguf::File ck = gguf::File::open(out + ".ckpt.gguf");
  EXPECT_GE(ck.get(std::string_view("lcte.ckpt.step")).as_i64(), 3);
}

}  // namespace
}  // namespace lcte::train
