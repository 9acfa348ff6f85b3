#include "train/distill.h"

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/toml_read.h"
#include "model/forward.h"
#include "model/generator.h"
#include "model/model.h"
#include "model/thread_pool.h"
#include "model/tokenizer_text.h"
#include "train/ops.h"

namespace lcte::train {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string short_sha(const std::string& text) { return data_sha256({}, text).substr(0, 16); }

// ---- the teacher's pass over the data (the inference engine) ----

// Completions written by the teacher for each example's prompt (the first
// prompt_len tokens), replacing the reference completions.
void teacher_generate(model::Context& ctx, const tokenizer::Tokenizer& tok, std::vector<Example>& examples,
                      const std::vector<size_t>& prompt_len, const DistillOptions& o) {
  model::TokenizerText text(tok);
  model::Generator gen(ctx, text);
  for (size_t i = 0; i < examples.size(); ++i) {
    const size_t p = prompt_len[i];
    if (p == 0 || p >= examples[i].tokens.size()) continue;  // a document, or nothing to complete
    std::vector<int32_t> prompt(examples[i].tokens.begin(), examples[i].tokens.begin() + p);
    model::GenerateOptions g;
    const int room = o.train.seq + 1 - static_cast<int>(p);
    g.max_tokens = o.generate_max_tokens > 0 ? std::min(o.generate_max_tokens, room) : room;
    if (g.max_tokens < 1) continue;
    g.n_ctx = o.train.seq + 2;
    g.sampling.temperature = static_cast<float>(o.generate_temperature);
    g.sampling.seed = o.seed * 1000003 + i;
    const std::vector<model::Completion> c = gen.generate(prompt, g);
    std::vector<int32_t> completion = c.at(0).tokens;
    if (c.at(0).finish == model::Finish::EndOfGeneration && tok.eos() >= 0 && (int)completion.size() < g.max_tokens)
      completion.push_back(tok.eos());
    if (completion.empty()) continue;
    examples[i] = prompt_completion(prompt, completion);
  }
}

// Scores every example with the teacher and fills the cache's signal.
void score_examples(model::Context& ctx, TopkCache& cache, int k) {
  const int V = static_cast<int>(ctx.n_vocab());
  std::vector<float> logits;
  for (size_t i = 0; i < cache.examples.size(); ++i) {
    const Example& e = cache.examples[i];
    const size_t n = e.tokens.size();
    model::KvCache kv = ctx.new_cache(static_cast<int64_t>(n), model::KvType::F32);
    ctx.eval(kv, std::span<const int32_t>(e.tokens.data(), n - 1), model::Logits::All, logits);
    uint64_t p = cache.pos_begin[i];
    for (size_t t = 0; t + 1 < n; ++t)
      if (e.mask[t + 1]) teacher_topk_from_logits(logits.data() + t * V, V, k, cache.signal, p++);
  }
}

struct TeacherPass {
  TopkCache cache;
  bool reused = false;
  std::string path;
};

// Reuses the cache made for this teacher, data and k, or makes it. The
// teacher is loaded only here, and released before the student exists.
TeacherPass teacher_pass(const DistillOptions& o, const tokenizer::Tokenizer& tok, const std::string& teacher_sha,
                         TextData& data) {
  std::vector<Example> all = data.train;
  all.insert(all.end(), data.valid.begin(), data.valid.end());
  std::vector<size_t> prompt_len = data.train_prompt_len;
  prompt_len.insert(prompt_len.end(), data.valid_prompt_len.begin(), data.valid_prompt_len.end());
  std::string recipe = data.recipe;
  if (o.teacher_generate)
    recipe += fmt::format(" teacher-generate temperature={} max_tokens={} seed={}", o.generate_temperature,
                          o.generate_max_tokens, o.seed);
  TeacherPass r;
  r.cache.key = {teacher_sha, data_sha256(all, recipe), o.top_k};
  if (!o.cache.empty()) {
    r.path = o.cache;
  } else {
    const fs::path dir = !o.cache_dir.empty() ? fs::path(o.cache_dir) : fs::path(o.out).parent_path();
    r.path = (dir / fmt::format("lcte-topk-{}.bin",
                                short_sha(teacher_sha + r.cache.key.data_sha256 + std::to_string(o.top_k))))
                 .string();
  }
  if (fs::exists(r.path)) {
    r.cache = read_topk_cache(r.path, r.cache.key);
    if ((size_t)r.cache.n_train != data.train.size() || r.cache.examples.size() != all.size())
      fail("{}: holds {} + {} examples, this run has {} + {}", r.path, r.cache.n_train,
           r.cache.examples.size() - r.cache.n_train, data.train.size(), data.valid.size());
    r.reused = true;
    spdlog::info("distill: reusing the teacher top-k cache {} ({} positions)", r.path, r.cache.signal.positions());
    return r;
  }

  const auto t0 = Clock::now();
  std::unique_ptr<model::Model> teacher = model::Model::load(o.teacher);
  model::ThreadPool pool(o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency()));
  model::Context ctx(*teacher, pool, o.train.seq + 1);
  if (o.teacher_generate) {
    teacher_generate(ctx, tok, all, prompt_len, o);
    spdlog::info("distill: the teacher wrote completions for {} prompts in {:.1f} s", all.size(), seconds_since(t0));
  }
  r.cache.vocab = static_cast<int>(teacher->config().n_vocab);
  r.cache.n_train = static_cast<int64_t>(data.train.size());
  for (Example& e : all) r.cache.add_example(std::move(e));
  score_examples(ctx, r.cache, o.top_k);
  validate_teacher(r.cache.signal, r.cache.vocab, "teacher");
  write_topk_cache(r.path, r.cache);
  spdlog::info("distill: the teacher scored {} positions of {} examples in {:.1f} s; cache {}",
               r.cache.signal.positions(), r.cache.examples.size(), seconds_since(t0), r.path);
  return r;
}

// ---- the student ----

// A JSON student config as the TOML table it would be, so both forms go
// through one set of checks (core/toml_read.h). Arrays and objects become
// empty ones: no key takes them, and the type error names them.
toml::table json_as_toml(const nlohmann::json& j, const std::string& path) {
  toml::table t;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const nlohmann::json& v = it.value();
    const std::string& key = it.key();
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(TomlTable::kMax))
      fail("{}: {}: {} is beyond a 64-bit integer", path, key, v.dump());
    else if (v.is_number_integer())
      t.insert(key, v.get<int64_t>());
    else if (v.is_number_float())
      t.insert(key, v.get<double>());
    else if (v.is_string())
      t.insert(key, v.get<std::string>());
    else if (v.is_boolean())
      t.insert(key, v.get<bool>());
    else if (v.is_array())
      t.insert(key, toml::array{});
    else if (v.is_object())
      t.insert(key, toml::table{});
    else
      fail("{}: {}: expected a value, found null", path, key);
  }
  return t;
}

StudentSpec read_student_spec(const TomlTable& t) {
  t.check_keys({"layers", "dim", "heads", "kv_heads", "ffn", "init_layers"});
  // Absent: 0, the teacher's.
  auto size = [&](const char* key) { return static_cast<int>(t.integer(key, 1, 1 << 20).value_or(0)); };
  StudentSpec s;
  s.n_layers = size("layers");
  s.dim = size("dim");
  s.n_heads = size("heads");
  s.n_kv_heads = size("kv_heads");
  s.ffn_dim = size("ffn");
  if (auto pick = t.string("init_layers")) {
    try {
      s.pick = LayerPick::parse(*pick);
    } catch (const Error& e) {
      t.fail_key("init_layers", e.what());
    }
  }
  return s;
}

nlohmann::json distill_hyper_parameters(const DistillOptions& o, const std::optional<LoraConfig>& lora) {
  nlohmann::json j = hyper_parameters(o.train, o.seed, /*teacher=*/true, o.top_k, lora, o.lora_targets);
  j["epochs"] = o.epochs;
  if (o.teacher_generate)
    j["teacher_generate"] = {{"temperature", o.generate_temperature}, {"max_tokens", o.generate_max_tokens}};
  j["data_format"] = text_format_name(o.data_opts.format);
  j["pack"] = o.data_opts.pack;
  return j;
}

size_t cache_bytes(const TextData& d, int k) {
  int64_t pos = 0;
  for (const auto* v : {&d.train, &d.valid})
    for (const Example& e : *v) pos += TopkCache::count_targets(e);
  return (size_t)pos * (k * 8 + 4);
}

}  // namespace

StudentSpec read_student_config(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext != ".json" && ext != ".toml") fail("{}: a student config is .toml or .json", path);
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  toml::table table;
  if (ext == ".json") {
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("{}: not a JSON object", path);
    table = json_as_toml(j, path);
  } else {
    std::stringstream text;
    text << in.rdbuf();
    table = parse_toml(text.str(), path);
  }
  return read_student_spec(TomlTable(table, path, ""));
}

void require_same_vocabulary(const tokenizer::Tokenizer& a, const tokenizer::Tokenizer& b, const std::string& pa,
                             const std::string& pb) {
  if (a.n_tokens() != b.n_tokens())
    fail(
        "the student {} has a vocabulary of {} tokens, the teacher {} one of {}: distillation needs the teacher's "
        "tokenizer",
        pb, b.n_tokens(), pa, a.n_tokens());
  for (size_t i = 0; i < a.n_tokens(); ++i) {
    const auto id = static_cast<tokenizer::Token>(i);
    if (a.vocab().text(id) != b.vocab().text(id))
      fail(
          "the student {} and the teacher {} have different tokenizers: token {} is \"{}\" in the teacher and \"{}\" "
          "in the student",
          pb, pa, i, a.vocab().text(id), b.vocab().text(id));
  }
  if (a.vocab().model() != b.vocab().model())
    fail("the student {} uses tokenizer model {}, the teacher {} {}", pb, b.vocab().model(), pa, a.vocab().model());
}

DistillEval evaluate_against_teacher(Model<float>& m, const TopkCache& c, int64_t begin, int64_t end, int B, int T,
                                     const LossConfig& loss, size_t max_examples) {
  DistillEval ev;
  if (max_examples > 0) end = std::min<int64_t>(end, begin + (int64_t)max_examples);
  const int V = m.config().vocab;
  LossConfig kl_cfg;
  kl_cfg.divergence = Divergence::ForwardKL;
  kl_cfg.temperature = 1.0;
  kl_cfg.alpha = 0.0;
  TeacherSignal signal;
  double loss_sum = 0, ce_sum = 0, kl_sum = 0;
  int64_t top1 = 0, top5 = 0;
  for (int64_t i = begin; i < end; i += B) {
    Batch b;
    b.B = B;
    b.T = T;
    b.tokens.assign((size_t)B * T, 0);
    b.targets.assign((size_t)B * T, -1);
    for (int r = 0; r < B; ++r) {
      if (i + r < end) {
        fill_row(b, r, c.examples[i + r], 0);
        b.rows.push_back(i + r);
      }
    }
    fill_cached_signal(c, 0, b, signal);
    const float* logits = m.forward(b.tokens.data(), B, T);
    const size_t N = (size_t)B * T;
    const LossStats s = loss_forward_backward(logits, N, V, b.targets.data(), &signal, loss, (float*)nullptr);
    const LossStats k = loss_forward_backward(logits, N, V, b.targets.data(), &signal, kl_cfg, (float*)nullptr);
    // Without a teacher the loss is the hard-label CE alone, whatever alpha is.
    const LossStats h =
        loss_forward_backward(logits, N, V, b.targets.data(), (const TeacherSignal*)nullptr, loss, (float*)nullptr);
    loss_sum += s.loss * s.positions;
    ce_sum += h.ce * h.positions;
    kl_sum += k.kd * k.positions;
    ev.positions += s.positions;
    for (size_t n = 0; n < N; ++n) {
      if (b.targets[n] < 0) continue;
      const float* z = logits + n * V;
      const int32_t teacher_top = signal.ids[n * signal.k];
      const float zt = z[teacher_top];
      // Rank of the teacher's argmax among the student's logits (ties count
      // against it, from the smaller id, as teacher_topk_from_logits orders them).
      int above = 0;
      for (int j = 0; j < V && above < 5; ++j) above += z[j] > zt || (z[j] == zt && j < teacher_top);
      top1 += above == 0;
      top5 += above < 5;
    }
  }
  if (ev.positions > 0) {
    ev.loss = loss_sum / ev.positions;
    ev.ce = ce_sum / ev.positions;
    ev.kl = kl_sum / ev.positions;
    ev.top1 = (double)top1 / ev.positions;
    ev.top5 = (double)top5 / ev.positions;
  }
  return ev;
}

DistillResult run_distill(const DistillOptions& o) {
  DistillResult res;
  const int modes = !o.student_config.empty() + !o.student.empty() + !o.init_from_teacher.empty();
  if (modes != 1) fail("distill: give exactly one of --student-config, --student and --init-from-teacher");
  if (o.teacher.empty()) fail("distill: --teacher is required");
  if (o.data.empty()) fail("distill: --data is required");
  if (o.out.empty()) fail("distill: --out is required");
  if (o.top_k < 1) fail("distill: --top-k {} must be >= 1", o.top_k);
  if (o.epochs < 1 && o.train.steps < 1) fail("distill: --epochs {} must be >= 1", o.epochs);
  o.train.loss.validate();
  ops::use_threads(o.threads);

  // The teacher: its file (mapped), identity and tokenizer.
  // Optional so that its mapping is dropped while the student trains.
  std::optional<gguf::File> teacher_file = gguf::File::open(o.teacher);
  const std::string teacher_sha = sha256_file_hex(o.teacher);
  const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(o.teacher);
  const int vocab = static_cast<int>(teacher_file->get_string_array("tokenizer.ggml.tokens").size());

  // The student's shape (its weights come after the teacher has gone).
  std::optional<gguf::File> student_file;
  StudentSpec spec;
  ModelConfig mc;
  if (!o.student.empty()) {
    student_file = gguf::File::open(o.student);
    require_same_vocabulary(tok, tokenizer::load_tokenizer(o.student), o.teacher, o.student);
    mc = config_from_gguf(*student_file);
  } else {
    spec = !o.student_config.empty() ? read_student_config(o.student_config) : StudentSpec{};
    if (!o.init_from_teacher.empty()) spec.pick = LayerPick::parse(o.init_from_teacher);
    spec.seed = o.seed;
    mc = student_config(config_from_gguf(*teacher_file), spec);
  }
  if (mc.vocab != vocab)
    fail("distill: the student's vocabulary ({}) differs from the teacher's tokenizer ({})", mc.vocab, vocab);
  const std::optional<LoraConfig> lora = lora_config(o.lora_rank, o.lora_alpha, o.lora_targets);

  // Data, tokenised with the teacher's tokenizer and chat template.
  TextDataOptions dopt = o.data_opts;
  dopt.seq = o.train.seq;
  dopt.seed = o.seed;
  const chat::Detection fam =
      chat::choose_family(o.chat_template, teacher_file->get_string("tokenizer.chat_template", ""));
  if (!fam.warning.empty()) spdlog::info("distill: {}", fam.warning);
  dopt.family = fam.family;
  TextData data = load_text_data(o.data, tok, dopt);
  if (o.teacher_generate && data.format != TextFormat::Mbpp && data.format != TextFormat::Pairs)
    fail("distill: --teacher-generate needs prompts (MBPP or prompt/completion data), not {}",
         text_format_name(data.format));
  if (o.teacher_generate && dopt.pack) fail("distill: --teacher-generate and --pack do not go together");
  const TextFormat data_format = data.format;
  res.train_examples = (int64_t)data.train.size();
  res.valid_examples = (int64_t)data.valid.size();

  // Memory: the teacher pass and the training pass never overlap.
  const TrainConfig& tc0 = o.train;
  res.plan = plan_memory(mc, tc0.batch, tc0.seq, lora ? &*lora : nullptr);
  res.cache_bytes = cache_bytes(data, o.top_k);
  res.teacher_bytes = teacher_file->file_size() + (size_t)(tc0.seq + 1) * vocab * sizeof(float) * 2;
  MemoryPlan train_total = res.plan;
  train_total.weights += res.cache_bytes;
  spdlog::info("distill: {} training and {} held-out examples ({}); student {} layers, dim {}, {} parameters",
               data.train.size(), data.valid.size(), text_format_name(data.format), mc.n_layers, mc.dim,
               ParamLayout::llama(mc).total);
  spdlog::info(
      "distill: memory: teacher pass {:.1f} MiB (weights mapped from the file, logits); training {} + "
      "top-k cache {:.1f} MiB",
      res.teacher_bytes / 1048576.0, describe(res.plan), res.cache_bytes / 1048576.0);
  const size_t limit = o.max_memory > 0 ? o.max_memory : available_memory_bytes();
  require_memory(train_total, limit, "distill");
  if (limit > 0 && res.teacher_bytes > limit)
    fail("distill: the teacher pass needs {:.1f} MiB, only {:.1f} MiB is available", res.teacher_bytes / 1048576.0,
         limit / 1048576.0);

  TeacherPass tp = teacher_pass(o, tok, teacher_sha, data);
  const TopkCache& cache = tp.cache;
  res.cache = tp.path;
  res.cache_reused = tp.reused;
  data = TextData{};  // the cache holds the examples now

  // The student.
  Student student = make_student(student_file ? &*student_file : nullptr, &*teacher_file, spec, lora, o.seed);
  Model<float>& model = *student.model;
  teacher_file.reset();

  TrainConfig tc = o.train;
  const int64_t n_train = cache.n_train, n_total = (int64_t)cache.examples.size();
  const int64_t per_step = (int64_t)tc.batch * tc.accum;
  if (tc.steps <= 0) tc.steps = std::max<int64_t>(1, o.epochs * ((n_train + per_step - 1) / per_step));
  tc.lr.total = tc.steps;
  res.total_steps = tc.steps;
  std::vector<Example> train_examples(cache.examples.begin(), cache.examples.begin() + n_train);
  DataLoader loader(std::move(train_examples), tc.batch, tc.seq, o.seed);
  Trainer trainer(model, loader, tc, cached_teacher(cache, 0));
  res.checkpoint = !o.checkpoint.empty() ? o.checkpoint : o.out + ".ckpt.gguf";

  DistillOptions recorded = o;
  recorded.train = tc;
  recorded.data_opts.format = data_format;
  const nlohmann::json hp = distill_hyper_parameters(recorded, lora);
  if (o.observer) {
    RunDescription d{"distill", o.name, hp, {}, o.out};
    d.config["teacher"] = o.teacher;
    d.config["data"] = o.data;
    d.params = {{"teacher", o.teacher},
                {"teacher_sha256", teacher_sha},
                {"data", o.data},
                {"loss", std::string(divergence_name(tc.loss.divergence))}};
    o.observer->started(d);
  }

  DriveOptions drv = drive_options(o, "distill", res.checkpoint);
  if (n_total > n_train)
    drv.evaluate = [&](int64_t) {
      res.valid = evaluate_against_teacher(model, cache, n_train, n_total, tc.batch, tc.seq, tc.loss, o.eval_examples);
      const DistillEval& v = *res.valid;
      return HeldOut{{{"valid_loss", v.loss},
                      {"valid_ce", v.ce},
                      {"kl_to_teacher", v.kl},
                      {"top1_agreement", v.top1},
                      {"top5_agreement", v.top5}},
                     fmt::format("valid loss {:.4f} (ce {:.4f}), KL to teacher {:.4f}, top-1 agreement {:.3f}, "
                                 "top-5 {:.3f}",
                                 v.loss, v.ce, v.kl, v.top1, v.top5)};
    };
  const DriveResult dr = drive(trainer, drv);
  res.steps = dr.steps;
  res.interrupted = dr.interrupted;
  res.final_loss = dr.last.loss;
  res.tokens_per_second = dr.tokens_per_second();
  nlohmann::json summary = {{"steps", res.steps},           {"total_steps", tc.steps},
                            {"final_loss", res.final_loss}, {"tokens_per_s", res.tokens_per_second},
                            {"cache", res.cache},           {"checkpoint", res.checkpoint}};
  if (res.valid)
    summary["valid"] = {{"loss", res.valid->loss},
                        {"kl_to_teacher", res.valid->kl},
                        {"top1", res.valid->top1},
                        {"top5", res.valid->top5}};
  if (res.interrupted) {
    if (o.observer) o.observer->finished("killed", summary, {});
    return res;
  }

  // The student with its lineage.
  Lineage lin;
  lin.add("method", gguf::Value::string(lora ? "lora-distill" : "distill"));
  lin.add_file("teacher", o.teacher, teacher_sha);
  if (student_file) lin.add_file("init", o.student);
  lin.add_layers(student.kept_layers);
  lin.add_file("data", o.data);
  lin.add("data_tokens_sha256", gguf::Value::string(cache.key.data_sha256));
  lin.add("loss", gguf::Value::string(std::string(divergence_name(tc.loss.divergence))));
  lin.add("hyperparameters", gguf::Value::string(hp.dump()));
  lin.add_result(dr, res.valid ? std::optional<double>(res.valid->loss) : std::nullopt);
  if (res.valid) lin.add("valid_kl", gguf::Value::f32(static_cast<float>(res.valid->kl)));
  ExportOptions ex;
  ex.type = o.out_type;
  ex.name = o.name;
  teacher_file = gguf::File::open(o.teacher);  // for its tokenizer.* keys
  ex.metadata_source = &*teacher_file;
  ex.lineage = lin.keys();
  save_model_gguf(model, o.out, ex);
  spdlog::info("distill: wrote {}", o.out);
  if (o.observer) o.observer->finished("finished", summary, {{"student", o.out}});
  return res;
}

}  // namespace lcte::train
