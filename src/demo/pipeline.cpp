#include "demo/pipeline.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/sha256.h"
#include "demo/synthetic_model.h"
#include "demo/synthetic_suite.h"
#include "demo/vocab.h"
#include "eval/datasets.h"
#include "gguf/gguf.h"
#include "gguf/model_info.h"
#include "model/forward.h"
#include "model/kld.h"
#include "model/model.h"
#include "model/thread_pool.h"
#include "registry/registry.h"
#include "study/study.h"
#include "tokenizer/tokenizer.h"
#include "train/run.h"

namespace lcte::demo {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  registry::write_file_atomic(path, text);
}

// A step's output is reused when it exists and the recipe it was made from
// (every input that decides it) is the same as now.
bool cached(const std::string& output, const json& recipe) {
  const std::string recipe_file = output + ".recipe.json";
  if (!fs::exists(output) || !fs::exists(recipe_file)) return false;
  try {
    return json::parse(read_text(recipe_file)) == recipe;
  } catch (const json::exception&) {
    return false;  // a torn or edited recipe: make the output again
  }
}
void record(const std::string& output, const json& recipe) {
  write_text(output + ".recipe.json", recipe.dump(2) + "\n");
}

std::vector<std::string> corpus(const std::vector<SyntheticTask>& tasks) {
  std::vector<std::string> texts;
  for (const SyntheticTask& t : tasks) texts.push_back(t.prompt + t.reference);
  return texts;
}

// {"prompt": [...], "completion": [...]} per training task: the prompt as the
// engine will see it (with BOS), the completion as the tokens that follow it in
// the whole text, then EOS so the model learns to stop.
void write_training_tokens(const std::vector<SyntheticTask>& tasks, const tokenizer::Tokenizer& tok,
                           const std::string& path) {
  std::string out;
  for (const SyntheticTask& t : tasks) {
    std::vector<tokenizer::Token> prompt = tok.tokenize(t.prompt, true);
    std::vector<tokenizer::Token> whole = tok.tokenize(t.prompt + t.reference, true);
    if (whole.size() <= prompt.size() || !std::equal(prompt.begin(), prompt.end(), whole.begin()))
      fail(
          "demo: task {}: the prompt's tokens are not a prefix of the whole text's (the vocabulary merges across "
          "the newline that ends the prompt)",
          t.task_id);
    std::vector<tokenizer::Token> completion(whole.begin() + static_cast<long>(prompt.size()), whole.end());
    completion.push_back(tok.eos());
    out += json{{"prompt", prompt}, {"completion", completion}}.dump() + "\n";
  }
  write_text(path, out);
}

SyntheticModelSpec model_spec(const ModelShape& s, const Vocab& vocab, uint64_t seed, const std::string& name) {
  SyntheticModelSpec m;
  m.name = name;
  m.dim = s.dim;
  m.n_layers = s.n_layers;
  m.n_heads = s.n_heads;
  m.n_kv_heads = s.n_kv_heads;
  m.ffn_dim = s.ffn_dim;
  m.context_length = 2048;  // room for HumanEval prompts; the models are trained on short ones
  m.seed = seed;
  m.vocab = vocab;
  return m;
}

json shape_json(const ModelShape& s) {
  return {{"dim", s.dim},
          {"n_layers", s.n_layers},
          {"n_heads", s.n_heads},
          {"n_kv_heads", s.n_kv_heads},
          {"ffn_dim", s.ffn_dim}};
}

train::RunOptions training_options(const DemoOptions& o, const std::string& data, int64_t steps) {
  train::RunOptions r;
  r.data = data;
  r.train.batch = o.batch;
  r.train.seq = o.seq;
  r.train.steps = steps;
  r.train.lr.max_lr = o.lr;
  r.train.lr.min_lr = o.lr / 10;
  r.train.lr.warmup = std::max<int64_t>(1, steps / 20);
  r.train.adamw.weight_decay = 0.01;
  r.seed = o.seed;
  r.threads = o.threads;
  r.valid_fraction = 0.05;
  r.log_every = std::max<int64_t>(1, steps / 10);
  return r;
}

// Trains, then records the recipe beside the output (only a finished model
// gets one, so an interrupted run trains again). With a progress callback
// the steps go to it (named `task`) instead of the driver's log lines.
void train_and_record(train::RunOptions ro, const json& recipe, const PrintFn& print, const ProgressCallback& progress,
                      const std::string& task) {
  auto t0 = std::chrono::steady_clock::now();
  if (progress) {
    const uint64_t total = static_cast<uint64_t>(ro.train.steps);
    ro.log_every = 0;
    ro.on_step = [&progress, task, total](const train::StepStats& s) {
      progress({task, "steps", static_cast<uint64_t>(s.step), total, 0, fmt::format("loss {:.4f}", s.loss)});
    };
    progress({task, "steps", 0, total, 0, ""});
  }
  train::RunResult tr = train::run_training(ro);
  record(ro.out, recipe);
  print(fmt::format("      done in {:.0f} s: loss {:.3f}{}", seconds_since(t0), tr.final_loss,
                    tr.valid ? fmt::format(", held-out loss {:.3f}", tr.valid->loss) : ""));
}

uint64_t parameters_of(const std::string& gguf_path) {
  return gguf::summarize(gguf::File::open(gguf_path)).n_parameters;
}

std::string toml_string(const std::string& s) { return json(s).dump(); }  // JSON string syntax is valid TOML

// The published 1-10 scale rescaled to this suite: its nine bounds at the
// deciles of the training prompts' token counts (rising strictly), so that
// "scores 1-6 go to the small tier" sends the shorter 60% there, as the
// 150-token rule does on HumanEval-sized prompts.
std::vector<int64_t> decile_bounds(const std::vector<SyntheticTask>& train, const tokenizer::Tokenizer& tok) {
  std::vector<int64_t> n;
  for (const SyntheticTask& t : train) n.push_back(static_cast<int64_t>(tok.tokenize(t.prompt, true).size()));
  std::sort(n.begin(), n.end());
  std::vector<int64_t> bounds;
  for (int d = 1; d <= 9; ++d) {
    int64_t b = n.empty() ? d : n[n.size() * static_cast<size_t>(d) / 10];
    bounds.push_back(bounds.empty() ? std::max<int64_t>(b, 1) : std::max(b, bounds.back() + 1));
  }
  return bounds;
}

std::string study_toml(const DemoOptions& o, const DemoResult& r, double student_cost,
                       const std::vector<std::string>& suites, const std::vector<int64_t>& token_bounds) {
  std::string t;
  t += "# Written by `lcte demo`: the study it runs on the tiny models it trained.\n";
  t += "# To run the same study on real models, replace the paths below with GGUF files\n";
  t += "# (or registry references, ref = \"name@version\"), and the held-out suite with\n";
  t += "# humaneval or mbpp; see docs/guide.md.\n\n";
  t += "[study]\nname = \"lcte-demo\"\noutput = \"study\"\n";
  t +=
      "registry = " + toml_string(o.registry.empty() ? (fs::path(o.out_dir) / "registry").string() : o.registry) + "\n";
  if (!o.store.empty()) t += "store = " + toml_string(o.store) + "\n";
  t += "\n[[model]]\nname = \"student\"\npath = " + toml_string(r.student) + "\ntier = 0\n";
  t += fmt::format("cost = {:.4f}   # its parameters over the teacher's\n", student_cost);
  t += "\n[[model]]\nname = \"teacher\"\npath = " + toml_string(r.teacher) + "\ntier = 1\ncost = 1.0\n";
  std::string types;
  for (const std::string& q : o.quant_types) types += (types.empty() ? "" : ", ") + toml_string(q);
  for (const char* m : {"student", "teacher"})
    t += fmt::format("\n[[compress]]\nmodel = \"{}\"\ntypes = [{}]\n", m, types);
  std::string suite_list, limits;
  for (const std::string& s : suites) {
    suite_list += (suite_list.empty() ? "" : ", ") + toml_string(s);
    if (s.find('/') == std::string::npos)
      limits += (limits.empty() ? "" : ", ") + fmt::format("{} = {}", s, o.public_limit);
  }
  t += "\n[eval]\nsuites = [" + suite_list + "]\n";
  if (!limits.empty()) t += "suite_limits = { " + limits + " }   # tiny models only need a glimpse of these\n";
  t += "n = 1\ntemperature = 0.0\nk = [1]\nmax_tokens = 96\ntimeout = 10.0\nseed = 0\n";
  t += "\n[routing]\npolicies = [\"threshold\", \"learned\", \"random\", \"cascade\", \"oracle\", \"always\"]\n";
  t += "cost = \"weights\"\nfolds = 5\n";
  t += fmt::format("token_bounds = [{}]   # the 1-10 scale at the deciles of this suite's prompt lengths\n",
                   fmt::join(token_bounds, ", "));
  t += "tokenizer = \"student\"   # counted as the bounds were: with the tiny models' own vocabulary\n";
  t += "online = [\"threshold\"]   # also run the suite through the live router\n";
  t += "online_tiers = [\"student\", \"teacher\"]\n";
  t += "\n[measure]\nsample_rate_hz = 2.0\n";
  return t;
}

// How far each compressed model's next-token distributions are from the model
// it was made from, on the held-out tasks' text (llama-perplexity's KLD).
json fidelity(const std::vector<std::pair<std::string, std::string>>& pairs_of_files,
              const std::vector<std::string>& names, const std::vector<SyntheticTask>& held_out, int threads,
              const ProgressCallback& progress) {
  json rows = json::array();
  if (pairs_of_files.empty()) return rows;
  tokenizer::Tokenizer tok = tokenizer::load_tokenizer(pairs_of_files.front().first);
  std::vector<int32_t> tokens;
  for (const SyntheticTask& t : held_out) {
    std::vector<tokenizer::Token> ids = tok.tokenize(t.prompt + t.reference, false);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
  }
  model::ThreadPool pool(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  model::KldOptions ko;
  ko.n_ctx = 128;
  ko.bos = tok.bos();
  for (size_t i = 0; i < pairs_of_files.size(); ++i) {
    auto base = model::Model::load(pairs_of_files[i].first);
    auto other = model::Model::load(pairs_of_files[i].second);
    model::Context bc(*base, pool), oc(*other, pool);
    if (progress)
      ko.on_chunk = [&](int64_t done, int64_t all) {
        progress({"fidelity " + names[i], "chunks", static_cast<uint64_t>(done), static_cast<uint64_t>(all), 0, ""});
      };
    model::KldReport k = model::compare_models(bc, oc, tokens, ko);
    rows.push_back({{"model", names[i]},
                    {"kld_mean", k.kld_mean},
                    {"kld_p99", k.kld_p99},
                    {"top1_agreement", k.top1_agreement},
                    {"ppl_base", k.ppl_base},
                    {"ppl", k.ppl_other},
                    {"scored_tokens", k.n_scored}});
  }
  return rows;
}

}  // namespace

DemoResult run_demo(const DemoOptions& o, const PrintFn& print) {
  const auto t_start = std::chrono::steady_clock::now();
  DemoResult r;
  const fs::path out = fs::absolute(o.out_dir);
  fs::create_directories(out / "models");
  DemoOptions opt = o;
  opt.out_dir = out.string();
  if (opt.registry.empty()) opt.registry = (out / "registry").string();

  // 1. The suite.
  SuiteSpec suite_spec;
  suite_spec.seed = o.seed;
  suite_spec.train_per_level = o.train_per_level;
  suite_spec.test_per_level = o.test_per_level;
  SyntheticSuite suite = make_synthetic_suite(suite_spec);
  const std::string train_file = (out / "suite" / "synthetic-train.jsonl").string();
  const std::string test_file = (out / "suite" / "synthetic-heldout.jsonl").string();
  fs::create_directories(out / "suite");
  write_suite_jsonl(suite.train, train_file);
  write_suite_jsonl(suite.test, test_file);
  print(fmt::format("[1/6] synthetic Python suite: {} training tasks, {} held-out tasks in 3 levels ({})",
                    suite.train.size(), suite.test.size(), (out / "suite").string()));

  // 2. Vocabulary and the teacher's random start.
  const json suite_recipe = {{"seed", o.seed},
                             {"train_per_level", o.train_per_level},
                             {"test_per_level", o.test_per_level},
                             {"train_sha256", lcte::sha256_file_hex(train_file)}};
  const std::string init = (out / "models" / "teacher-init.gguf").string();
  const json init_recipe = {{"suite", suite_recipe}, {"merges", o.vocab_merges}, {"shape", shape_json(o.teacher)}};
  if (!cached(init, init_recipe)) {
    Vocab vocab = learn_vocab(corpus(suite.train), o.vocab_merges);
    write_synthetic_model(model_spec(o.teacher, vocab, o.seed, "lcte-demo-teacher"), init);
    record(init, init_recipe);
  }
  tokenizer::Tokenizer tok = tokenizer::load_tokenizer(init);
  const std::string tokens_file = (out / "suite" / "synthetic-train.tokens.jsonl").string();
  write_training_tokens(suite.train, tok, tokens_file);
  print(fmt::format("[2/6] vocabulary of {} pieces learnt from the training tasks; teacher initialised ({} parameters)",
                    tok.n_tokens(), parameters_of(init)));

  // 3. The teacher, trained from scratch on the training tasks.
  r.teacher = (out / "models" / "teacher.gguf").string();
  const json teacher_recipe = {{"init", init_recipe}, {"steps", o.teacher_steps}, {"batch", o.batch},    {"seq", o.seq},
                               {"lr", o.lr},          {"seed", o.seed},           {"threads", o.threads}};
  if (cached(r.teacher, teacher_recipe)) {
    print(fmt::format("[3/6] teacher: reused {} (same recipe)", r.teacher));
  } else {
    print(fmt::format("[3/6] teacher: training {} steps of {} x {} tokens from scratch ...", o.teacher_steps, o.batch,
                      o.seq));
    train::RunOptions ro = training_options(o, tokens_file, o.teacher_steps);
    ro.init = init;
    ro.train.loss.alpha = 1.0;
    ro.out = r.teacher;
    ro.name = "lcte-demo-teacher";
    train_and_record(ro, teacher_recipe, print, o.progress, "teacher");
  }

  // 4. The student: narrower and shallower (or picked teacher layers), distilled from the teacher.
  r.student = (out / "models" / "student.gguf").string();
  const json student_recipe = {{"teacher_sha256", lcte::sha256_file_hex(r.teacher)},
                               {"shape", shape_json(o.student)},
                               {"layers", o.student.dim > 0 ? "" : o.student_layers},
                               {"steps", o.student_steps},
                               {"alpha", o.alpha},
                               {"temperature", o.temperature},
                               {"top_k", o.top_k},
                               {"batch", o.batch},
                               {"seq", o.seq},
                               {"lr", o.lr},
                               {"seed", o.seed},
                               {"threads", o.threads}};
  if (cached(r.student, student_recipe)) {
    print(fmt::format("[4/6] student: reused {} (same recipe)", r.student));
  } else {
    print(fmt::format(
        "[4/6] student: {}, distilled for {} steps (forward KL on the teacher's top-{}, "
        "hard-label weight {}) ...",
        o.student.dim > 0 ? fmt::format("{} layers of width {} from a random start", o.student.n_layers, o.student.dim)
                          : "teacher layers " + o.student_layers,
        o.student_steps, o.top_k, o.alpha));
    train::RunOptions ro = training_options(o, tokens_file, o.student_steps);
    ro.teacher = r.teacher;
    if (o.student.dim > 0) {
      ro.student.dim = o.student.dim;
      ro.student.n_layers = o.student.n_layers;
      ro.student.n_heads = o.student.n_heads;
      ro.student.n_kv_heads = o.student.n_kv_heads;
      ro.student.ffn_dim = o.student.ffn_dim;
    } else {
      ro.student.pick = train::LayerPick::parse(o.student_layers);
    }
    ro.top_k = o.top_k;
    ro.train.loss.alpha = o.alpha;
    ro.train.loss.temperature = o.temperature;
    ro.out = r.student;
    ro.name = "lcte-demo-student";
    train_and_record(ro, student_recipe, print, o.progress, "student");
  }

  // 5. The registry: both models with their lineage (the student's names the
  // teacher's hash and the distillation settings, from its GGUF keys).
  registry::Registry reg(opt.registry);
  r.registry = opt.registry;
  registry::AddOptions add;
  add.name = "demo-teacher";
  add.made_by = "lcte demo (trained from scratch on the synthetic suite)";
  add.tags = {"demo-teacher"};
  registry::Manifest teacher_m = reg.add(r.teacher, add);
  add.name = "demo-student";
  add.made_by = "lcte demo (distilled from demo-teacher)";
  add.tags = {"demo-student"};
  registry::Manifest student_m = reg.add(r.student, add);
  print(fmt::format("[5/6] registry {}: demo-teacher@{} ({}), demo-student@{} ({}, parent {})", opt.registry,
                    teacher_m.version, teacher_m.sha256.substr(0, 12), student_m.version,
                    student_m.sha256.substr(0, 12),
                    student_m.lineage.parents.empty() ? "none" : student_m.lineage.parents.front().substr(0, 12)));

  // 6. The study.
  std::vector<std::string> suites = {test_file};
  if (o.public_suites) {
    eval::DatasetLocations where = eval::default_dataset_locations();
    where.allow_download = false;
    for (const auto* d : {&eval::humaneval_dataset(), &eval::mbpp_dataset()}) {
      try {
        eval::resolve_dataset(*d, where);
        suites.push_back(d == &eval::humaneval_dataset() ? "humaneval" : "mbpp");
      } catch (const Error&) {
        // Absent: the demo runs on the synthetic suite alone.
      }
    }
  }
  const double student_cost =
      static_cast<double>(parameters_of(r.student)) / static_cast<double>(parameters_of(r.teacher));
  r.study_file = (out / "study.toml").string();
  write_text(r.study_file, study_toml(opt, r, student_cost, suites, decile_bounds(suite.train, tok)));
  print(fmt::format("[6/6] study {} on {}:", r.study_file, fmt::join(suites, ", ")));
  study::StudySpec spec = study::load_study(r.study_file);
  study::StudyOptions so;
  so.resume = o.resume;
  so.print = [&](const std::string& line) { print("      " + line); };
  so.step_progress = o.progress;
  study::StudyResult sr = study::run_study(spec, so);
  r.summary = sr.summary;
  r.report_dir = (fs::path(spec.output) / "report").string();

  // 7. Fidelity: each compressed model against the model it was made from.
  std::vector<std::pair<std::string, std::string>> pairs{{r.teacher, r.student}};
  std::vector<std::string> names{"student"};
  for (const char* parent : {"student", "teacher"})
    for (const std::string& q : o.quant_types) {
      names.push_back(fmt::format("{}-{}", parent, q));
      pairs.emplace_back(parent == std::string("student") ? r.student : r.teacher,
                         (fs::path(spec.output) / "models" / (names.back() + ".gguf")).string());
    }
  r.fidelity = fidelity(pairs, names, suite.test, o.threads, o.progress);
  write_text((fs::path(spec.output) / "fidelity.json").string(), r.fidelity.dump(2) + "\n");
  print(fmt::format("Demo finished in {:.0f} s.", seconds_since(t_start)));
  return r;
}

std::string summary_text(const DemoResult& r) {
  std::string out;
  // Models: cost, size, pass@1 per suite, fidelity against the parent.
  std::map<std::string, std::map<std::string, double>> pass;  // model -> suite -> pass@1
  std::map<std::string, json> online;                         // router-<policy> -> its run on the first suite
  std::vector<std::string> suites;
  for (const json& run : r.summary.value("runs", json::array())) {
    std::string suite = run.value("suite", "");
    if (std::find(suites.begin(), suites.end(), suite) == suites.end()) suites.push_back(suite);
    pass[run.value("model", "")][suite] = run["pass_at_k"].value("pass@1", 0.0);
    if (run.value("online", false) && !online.count(run.value("model", ""))) online[run.value("model", "")] = run;
  }
  std::map<std::string, json> fid;
  for (const json& f : r.fidelity) fid[f.value("model", "")] = f;
  out += fmt::format("{:<16} {:>6} {:>9}", "model", "cost", "size KiB");
  for (const std::string& s : suites) out += fmt::format(" {:>18}", "pass@1 " + s.substr(0, 11));
  out += fmt::format(" {:>10} {:>7}\n", "KLD", "top-1");
  for (const json& m : r.summary.value("models", json::array())) {
    std::string name = m.value("name", "");
    std::string file = name == "teacher" ? r.teacher
                       : name == "student"
                           ? r.student
                           : (fs::path(r.summary.value("output", "")) / "models" / (name + ".gguf")).string();
    std::error_code ec;
    auto bytes = fs::file_size(file, ec);
    out += fmt::format("{:<16} {:>6.3f} {:>9.0f}", name, m.value("cost", 0.0), ec ? 0.0 : bytes / 1024.0);
    for (const std::string& s : suites) {
      auto it = pass[name].find(s);
      out += it == pass[name].end() ? fmt::format(" {:>18}", "-") : fmt::format(" {:>17.1f}%", 100 * it->second);
    }
    if (fid.count(name))
      out += fmt::format(" {:>10.4f} {:>6.1f}%", fid[name].value("kld_mean", 0.0),
                         100 * fid[name].value("top1_agreement", 0.0));
    else
      out += fmt::format(" {:>10} {:>7}", "(source)", "");
    out += "\n";
  }
  // Online routers: evaluated live through the router, so no fixed cost weight.
  for (const auto& [name, per_suite] : pass) {
    if (name.rfind("router-", 0) != 0) continue;
    const json& run = online[name];
    const json cost = run.value("cost", json());
    out += fmt::format("{:<16} {:>6} {:>9}", name,
                       cost.is_number() ? fmt::format("{:.3f}", cost.get<double>()) : "live", "");
    for (const std::string& s : suites) {
      auto it = per_suite.find(s);
      out += it == per_suite.end() ? fmt::format(" {:>18}", "-") : fmt::format(" {:>17.1f}%", 100 * it->second);
    }
    std::vector<std::string> split;
    const json requests = run.value("tier_requests", json::object());  // items() must not outlive it
    for (const auto& [tier, n] : requests.items()) split.push_back(fmt::format("{} {}", n.dump(), tier));
    out += split.empty() ? "\n" : fmt::format("   (live: {} on {})\n", fmt::join(split, ", "), suites.front());
  }
  out +=
      "(cost: routing weight, parameters x bytes per weight relative to the teacher; KLD and top-1: against the "
      "model it was made from, the student against the teacher)\n";
  // Routing on each suite: the operating points of the policies.
  const json routing = r.summary.value("routing", json::object());  // items() must not outlive it
  for (const auto& [suite, route] : routing.items()) {
    std::string file = route.value("dir", "") + "/evaluation.json";
    if (!fs::exists(file)) continue;
    json e = json::parse(read_text(file));
    out += fmt::format("\nRouting on {} ({} problems; cheapest tier {:.1f}%, strongest {:.1f}%):\n", suite,
                       e.value("problems", 0), 100 * e.value("weak", 0.0), 100 * e.value("strong", 0.0));
    bool any_pass = false;
    for (const json& p : e.value("points", json::array())) any_pass = any_pass || p.value("accuracy", 0.0) > 0;
    if (!any_pass) {
      out += "  no model passes any of these tasks: there is nothing for a router to gain here\n";
      continue;
    }
    out += fmt::format("  {:<22} {:>9} {:>8} {:>13}\n", "policy", "pass@1", "cost", "strong share");
    for (const json& p : e.value("points", json::array()))
      out += fmt::format("  {:<22} {:>8.1f}% {:>8.3f} {:>12.1f}%\n", p.value("policy", ""),
                         100 * p.value("accuracy", 0.0), p.value("cost", 0.0), 100 * p.value("strong_share", 0.0));
    for (const json& c : e.value("curves", json::array()))
      if (!c["apgr"].is_null())
        out += fmt::format("  {} curve: APGR {:.3f}{}\n", c.value("policy", ""), c["apgr"].get<double>(),
                           c["cpt80"].is_null() ? ""
                                                : fmt::format(", 80% of the gap recovered with {:.0f}% strong calls",
                                                              100 * c["cpt80"].get<double>()));
  }
  return out;
}

}  // namespace lcte::demo
