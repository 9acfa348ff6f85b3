// A study end to end on a small user suite with two "tiers" that need no
// model: a samples file (weak) and the reference solutions (strong), the
// verdicts decided by the fake executor (code containing PASS passes). Then a
// study interrupted after a step and resumed, and a compression step on a
// synthetic GGUF model registered with its lineage.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/test_data.h"
#include "core/error.h"
#include "core/sha256.h"
#include "demo/synthetic_model.h"
#include "eval/fake_executor.h"
#include "registry/registry.h"
#include "store/store.h"
#include "study/study.h"

namespace lcte::study {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Four tasks. Weak samples (n = 2 per task): t/1 both pass, t/2 one of two,
// t/3 none, t/4 one of two. By hand: pass@1 = (1 + .5 + 0 + .5) / 4 = 0.5;
// pass@2 = (1 + 1 + 0 + 1) / 4 = 0.75. Strong (references): 1 and 1.
struct Fixture {
  std::string dir;
  std::string suite = dir + "/suite.jsonl", samples = dir + "/weak.jsonl", file = dir + "/study.toml";
  std::string out = "out";
  explicit Fixture(std::string where = lcte::testing::temp_dir()) : dir(std::move(where)) {
    fs::create_directories(dir);
    std::ofstream s(suite);
    for (const char* id : {"t/1", "t/2", "t/3", "t/4"})
      s << json{{"task_id", id},
                {"prompt", "def f():\n    \"\"\"\n    >>> f()\n    True\n    \"\"\"\n"},
                {"tests", "assert f()\n"},
                {"entry_point", "f"},
                {"reference", "    return 'PASS'\n"}}
               .dump()
        << "\n";
    write_samples("    return 'PASS'");
    demo::write_synthetic_model({}, dir + "/vocab.gguf");  // its vocabulary counts the routing tokens
    std::ofstream(file) << "[study]\nname = \"unit\"\noutput = \"" << out
                        << "\"\nstore = \"store.sqlite\"\nregistry = \"registry\"\n"
                           "[[model]]\nname = \"weak\"\nbackend = \"file\"\nsamples_file = \"weak.jsonl\"\n"
                           "tier = 0\ncost = 1\n"
                           "[[model]]\nname = \"strong\"\nbackend = \"canonical\"\ntier = 1\ncost = 3\n"
                           "[eval]\nsuites = [\"suite.jsonl\"]\nn = 2\nk = [1, 2]\nworkers = 2\n"
                           "[routing]\npolicies = [\"threshold\", \"random\", \"cascade\", \"oracle\", \"always\"]\n"
                           "folds = 2\ntokenizer = \"vocab.gguf\"\n[measure]\nsample_rate_hz = 0\n";
  }
  // t/4's passing sample is `t4_pass`.
  void write_samples(const std::string& t4_pass) {
    std::ofstream w(samples);
    const char* rows[][2] = {{"t/1", "    return 'PASS'"}, {"t/1", "    return 'PASS'"}, {"t/2", "    return 'PASS'"},
                             {"t/2", "    return 0"},      {"t/3", "    return 1"},      {"t/3", "    return 2"},
                             {"t/4", "    return 3"}};
    for (auto& r : rows) w << json{{"task_id", r[0]}, {"completion", r[1]}}.dump() << "\n";
    w << json{{"task_id", "t/4"}, {"completion", t4_pass}}.dump() << "\n";
  }
  StudyOptions options(eval::Executor* executor) {
    StudyOptions o;
    o.executor = executor;
    o.print = [](const std::string&) {};
    return o;
  }
};

// The results, without run ids and paths (which differ between two studies).
json results_of(const json& summary) {
  json out = json::array();
  for (const auto& r : summary["runs"]) out.push_back({r["model"], r["suite"], r["pass_at_k"], r["tasks"]});
  json routing = summary["routing"];
  for (auto& [k, v] : routing.items()) v.erase("dir");
  return {out, routing};
}

TEST(Study, RunsEndToEndAndCachesEverythingOnTheSecondRun) {
  Fixture fx;
  eval::testing::FakeExecutor executor;
  StudySpec spec = load_study(fx.file);
  StudyResult r = run_study(spec, fx.options(&executor));
  std::vector<std::string> expected = {"eval:weak:suite", "eval:strong:suite", "route:suite", "report"};
  EXPECT_EQ(r.ran, expected);

  const json& runs = r.summary["runs"];
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["model"], "weak");
  EXPECT_DOUBLE_EQ(runs[0]["pass_at_k"]["pass@1"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(runs[0]["pass_at_k"]["pass@2"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(runs[1]["pass_at_k"]["pass@1"].get<double>(), 1.0);

  // Routing over the two tiers: weak alone solves half (pass rate per
  // problem averaged), strong all; the oracle uses strong only where needed.
  const json& route = r.summary["routing"]["suite"];
  EXPECT_DOUBLE_EQ(route["weak"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(route["strong"].get<double>(), 1.0);
  std::string out = spec.output;
  json evaluation = json::parse(slurp(out + "/route/suite/evaluation.json"));
  EXPECT_FALSE(evaluation.empty());
  std::string points = slurp(out + "/route/suite/points.csv");
  EXPECT_EQ(points.rfind("policy,parameter,accuracy,cost,strong_share\n", 0), 0u);
  EXPECT_NE(points.find("oracle"), std::string::npos);
  EXPECT_NE(slurp(out + "/route/suite/evaluation.svg").find("<svg"), std::string::npos);

  // The combined report covers both runs; results.csv one row per run.
  std::string html = slurp(out + "/report/report.html");
  EXPECT_NE(html.find("weak"), std::string::npos);
  EXPECT_NE(html.find("strong"), std::string::npos);
  std::string csv = slurp(out + "/results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "model,tier,cost,suite,run_id,tasks,pass@1,pass@2");
  EXPECT_NE(csv.find("\nweak,0,1,suite,"), std::string::npos);
  EXPECT_NE(csv.find(",4,0.5,0.75\n"), std::string::npos);
  EXPECT_NE(csv.find(",4,1,1\n"), std::string::npos);
  EXPECT_EQ(json::parse(slurp(out + "/study.json")), r.summary);

  // The store has the two eval runs and the study run.
  store::Store store(fx.dir + "/store.sqlite");
  EXPECT_EQ(store.list_runs({.kind = "study"}).size(), 1u);
  EXPECT_EQ(store.list_runs({.kind = "study"})[0].status, "finished");
  EXPECT_EQ(store.list_runs({.kind = "eval"}).size(), 2u);

  // Again: nothing runs, the results are the same.
  StudyResult again = run_study(spec, fx.options(&executor));
  EXPECT_TRUE(again.ran.empty());
  for (const Step& s : again.plan) EXPECT_TRUE(s.cached) << s.id;
  EXPECT_EQ(again.summary, r.summary);

  // A changed samples file redoes its eval and what depends on it, not the other.
  fx.write_samples("    return 4");
  StudyResult changed = run_study(spec, fx.options(&executor));
  EXPECT_EQ(changed.ran, (std::vector<std::string>{"eval:weak:suite", "route:suite", "report"}));
  EXPECT_DOUBLE_EQ(changed.summary["runs"][0]["pass_at_k"]["pass@1"].get<double>(), 0.375);
  EXPECT_EQ(changed.summary["runs"][1]["run_id"], r.summary["runs"][1]["run_id"]);
}

TEST(Study, KilledAfterAStepResumesWithTheSameResults) {
  std::string root = lcte::testing::temp_dir();
  Fixture whole(root + "/whole"), cut(root + "/cut");
  eval::testing::FakeExecutor executor;
  StudyResult reference = run_study(load_study(whole.file), whole.options(&executor));

  StudySpec spec = load_study(cut.file);
  StudyOptions o = cut.options(&executor);
  o.after_step = [](const Step& s) {
    if (s.id == "eval:weak:suite") throw std::runtime_error("killed");
  };
  EXPECT_THROW(run_study(spec, o), std::runtime_error);
  json state = json::parse(slurp(spec.output + "/study-state.json"));
  ASSERT_EQ(state["steps"]["eval:weak:suite"]["status"], "finished");
  std::string first_run = state["steps"]["eval:weak:suite"]["result"]["run_id"];

  StudyOptions resume = cut.options(&executor);
  resume.resume = true;
  StudyResult rest = run_study(spec, resume);
  EXPECT_EQ(rest.ran, (std::vector<std::string>{"eval:strong:suite", "route:suite", "report"}));
  EXPECT_EQ(rest.summary["runs"][0]["run_id"], first_run);
  EXPECT_EQ(results_of(rest.summary), results_of(reference.summary));
}

// Killed inside an eval (the sandbox breaks after 3 samples): --resume
// continues that run (same id, the samples already judged kept) and the
// results match an uninterrupted study.
TEST(Study, AnEvalBrokenMidwayIsContinuedWithResume) {
  std::string root = lcte::testing::temp_dir();
  Fixture whole(root + "/whole"), cut(root + "/cut");
  eval::testing::FakeExecutor good;
  StudyResult reference = run_study(load_study(whole.file), whole.options(&good));

  StudySpec spec = load_study(cut.file);
  eval::testing::FakeExecutor broken(3);
  StudyOptions o = cut.options(&broken);
  EXPECT_ANY_THROW(run_study(spec, o));
  json state = json::parse(slurp(spec.output + "/study-state.json"));
  ASSERT_EQ(state["steps"]["eval:weak:suite"]["status"], "started");
  std::string started = state["steps"]["eval:weak:suite"]["run_id"];

  eval::testing::FakeExecutor rest;
  StudyOptions resume = cut.options(&rest);
  resume.resume = true;
  StudyResult r = run_study(spec, resume);
  EXPECT_EQ(r.summary["runs"][0]["run_id"], started);
  EXPECT_EQ(results_of(r.summary), results_of(reference.summary));
}

// A routing tokenizer that does not load stops the study before any step
// runs (the evals can take hours), naming it.
TEST(Study, AnUnloadableRoutingTokenizerStopsTheStudyFirst) {
  Fixture fx;
  eval::testing::FakeExecutor executor;
  StudySpec spec = load_study(fx.file);
  spec.routing.tokenizer = fx.dir + "/missing.tiktoken";
  try {
    run_study(spec, fx.options(&executor));
    ADD_FAILURE() << "the study ran";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  fx.file + ": [routing] tokenizer: \"" + fx.dir + "/missing.tiktoken\" cannot be loaded", 0),
              0u)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(spec.output + "/study-state.json"));  // nothing ran
}

TEST(Study, CorruptStateIsNamed) {
  Fixture fx;
  StudySpec spec = load_study(fx.file);
  fs::create_directories(spec.output);
  std::ofstream(spec.output + "/study-state.json") << "{\"steps\": ";
  eval::testing::FakeExecutor executor;
  try {
    run_study(spec, fx.options(&executor));
    FAIL() << "ran on a corrupt state";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("study-state.json"), std::string::npos) << e.what();
  }
}

// Compression: the quantized model is made, registered with its parent and
// the settings, and cached on the next plan. (Evaluating it needs the engine
// backend, so the study is stopped after the quantize step.)
TEST(Study, QuantizeStepRegistersTheModelWithLineage) {
  Fixture fx;
  demo::SyntheticModelSpec ms;
  std::string base = fx.dir + "/base.gguf";
  demo::write_synthetic_model(ms, base);
  std::ofstream(fx.dir + "/q.toml") << "[study]\nname = \"q\"\noutput = \"qout\"\nstore = \"store.sqlite\"\n"
                                       "registry = \"registry\"\n"
                                       "[[model]]\nname = \"base\"\npath = \"base.gguf\"\ncost = 2\n"
                                       "[[compress]]\nmodel = \"base\"\ntypes = [\"Q8_0\"]\n"
                                       "[eval]\nsuites = [\"suite.jsonl\"]\n[routing]\ntokenizer = \"base\"\n";
  StudySpec spec = load_study(fx.dir + "/q.toml");
  StudyOptions o = fx.options(nullptr);
  o.after_step = [](const Step& s) {
    if (s.kind == "quantize") throw std::runtime_error("stop");
  };
  StudyOptions dry = fx.options(nullptr);
  dry.dry_run = true;
  StudyResult plan = run_study(spec, dry);
  ASSERT_EQ(plan.plan.size(), 5u);  // quantize, two evals, route, report
  EXPECT_EQ(plan.plan[0].id, "quantize:base:Q8_0");
  EXPECT_FALSE(plan.plan[0].cached);
  EXPECT_FALSE(fs::exists(spec.output + "/study-state.json"));  // a dry run writes nothing

  EXPECT_THROW(run_study(spec, o), std::runtime_error);
  std::string made = spec.output + "/models/base-Q8_0.gguf";
  ASSERT_TRUE(fs::exists(made));
  registry::Registry reg(fx.dir + "/registry");
  registry::Manifest m = reg.find("base-Q8_0");
  EXPECT_EQ(m.sha256, lcte::sha256_file_hex(made));
  EXPECT_EQ(m.quant_type, "Q8_0");
  EXPECT_EQ(m.lineage.parents, std::vector<std::string>{lcte::sha256_file_hex(base)});
  EXPECT_EQ(m.lineage.settings["type"], "Q8_0");
  EXPECT_LT(m.size_bytes, fs::file_size(base));

  StudyResult next = run_study(spec, dry);
  EXPECT_TRUE(next.plan[0].cached);
  EXPECT_FALSE(next.plan[1].cached);
  fs::remove(made);
  EXPECT_FALSE(run_study(spec, dry).plan[0].cached);  // an output that is gone is made again
}

// A [[model]] given by registry reference resolves to the stored file: its
// eval step's identity is the registered hash; an unknown reference is named.
TEST(Study, RegistryReferencesResolveToTheStoredModel) {
  Fixture fx;
  demo::SyntheticModelSpec ms;
  ms.dim = 32;
  ms.ffn_dim = 64;
  std::string base = fx.dir + "/base.gguf";
  demo::write_synthetic_model(ms, base);
  registry::Registry reg(fx.dir + "/registry");
  registry::Manifest m = reg.add(base, {.name = "base", .version = "3"});
  reg.tag("base@3", "prod");
  auto study = [&](const std::string& ref) {
    std::ofstream(fx.dir + "/r.toml") << "[study]\nregistry = \"registry\"\nstore = \"store.sqlite\"\n"
                                         "[[model]]\nname = \"m\"\nref = \""
                                      << ref
                                      << "\"\n"
                                         "[eval]\nsuites = [\"suite.jsonl\"]\n";
    StudyOptions dry = fx.options(nullptr);
    dry.dry_run = true;
    return run_study(load_study(fx.dir + "/r.toml"), dry);
  };
  StudyResult r = study("prod");
  ASSERT_EQ(r.plan.size(), 2u);  // one eval, the report (no routing with one model)
  EXPECT_EQ(r.plan[0].inputs["model_sha256"], m.sha256);
  EXPECT_EQ(r.plan[0].inputs["config"]["model"], m.file);
  EXPECT_EQ(r.plan[0].inputs["config"]["backend"], "engine");
  try {
    study("base@9");
    FAIL() << "an unknown reference was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("base@9"), std::string::npos) << e.what();
  }
}

// Several [[compress]] entries with several types each: every derived model
// keeps its own source (the planner once held a reference into the model list
// while appending to it), and the threshold scores of six tiers rise strictly.
TEST(Study, SeveralCompressEntriesPlanEveryDerivedModelFromItsOwnSource) {
  Fixture fx;
  std::ofstream(fx.dir + "/c.toml") << "[study]\nname = \"c\"\noutput = \"cout\"\nstore = \"store.sqlite\"\n"
                                       "registry = \"registry\"\n"
                                       "[[model]]\nname = \"a\"\npath = \"a.gguf\"\ntier = 0\n"
                                       "[[model]]\nname = \"b\"\npath = \"b.gguf\"\ntier = 1\n"
                                       "[[compress]]\nmodel = \"a\"\ntypes = [\"Q8_0\", \"Q4_0\"]\n"
                                       "[[compress]]\nmodel = \"b\"\ntypes = [\"Q8_0\", \"Q4_0\"]\n"
                                       "[eval]\nsuites = [\"suite.jsonl\"]\nmax_tokens = 64\n";
  demo::SyntheticModelSpec ms;
  demo::write_synthetic_model(ms, fx.dir + "/a.gguf");
  ms.seed = 2;
  demo::write_synthetic_model(ms, fx.dir + "/b.gguf");
  StudySpec spec = load_study(fx.dir + "/c.toml");
  EXPECT_EQ(spec.max_tokens, 64);
  StudyOptions dry = fx.options(nullptr);
  dry.dry_run = true;
  StudyResult plan = run_study(spec, dry);
  std::vector<std::string> ids;
  for (const Step& s : plan.plan) ids.push_back(s.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"quantize:a:Q8_0", "quantize:a:Q4_0", "quantize:b:Q8_0", "quantize:b:Q4_0",
                                           "eval:a:suite", "eval:b:suite", "eval:a-Q8_0:suite", "eval:a-Q4_0:suite",
                                           "eval:b-Q8_0:suite", "eval:b-Q4_0:suite", "route:suite", "report"}));
  EXPECT_EQ(plan.plan[2].inputs["source_sha256"], lcte::sha256_file_hex(fx.dir + "/b.gguf")) << plan.plan[2].inputs;
  EXPECT_EQ(plan.plan[0].inputs["source_sha256"], lcte::sha256_file_hex(fx.dir + "/a.gguf")) << plan.plan[0].inputs;
}

TEST(StudyFile, SuiteLimitsAndMaxTokensAreReadAndChecked) {
  StudySpec s = parse_study(
      "[[model]]\nname = \"m\"\nbackend = \"canonical\"\n"
      "[eval]\nsuites = [\"humaneval\", \"mbpp\"]\nlimit = 5\nsuite_limits = { humaneval = 2 }\n"
      "max_tokens = 100\n",
      "s.toml");
  EXPECT_EQ(s.limit, 5u);
  EXPECT_EQ(s.suite_limits.at("humaneval"), 2u);
  EXPECT_EQ(s.max_tokens, 100);
  try {
    parse_study(
        "[[model]]\nname = \"m\"\nbackend = \"canonical\"\n[eval]\nsuites = [\"humaneval\"]\n"
        "suite_limits = { mbpp = 2 }\n",
        "s.toml");
    ADD_FAILURE() << "a limit for a suite not evaluated was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "s.toml:6: [eval.suite_limits] mbpp: names no suite in [eval] suites");
  }
  try {
    parse_study("[[model]]\nname = \"m\"\nbackend = \"canonical\"\n[eval]\nsuites = [\"humaneval\"]\nmax_tokens = 0\n",
                "s.toml");
    ADD_FAILURE() << "max_tokens = 0 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "s.toml:6: [eval] max_tokens: must be at least 1, got 0");
  }
}

TEST(StudyFile, OnlineRoutingKeysAreCheckedAgainstTheModels) {
  const std::string models =
      "[[model]]\nname = \"a\"\npath = \"a.gguf\"\n[[model]]\nname = \"b\"\npath = \"b.gguf\"\ntier = 1\n"
      "[[compress]]\nmodel = \"a\"\ntypes = [\"Q4_0\"]\n[eval]\nsuites = [\"humaneval\"]\n";
  StudySpec s = parse_study(models +
                                "[routing]\nonline = [\"threshold\", \"always-a-Q4_0\"]\n"
                                "online_tiers = [\"a-Q4_0\", \"b\"]\n"
                                "token_bounds = [5, 10, 15, 20, 25, 30, 35, 40, 45]\n",
                            "s.toml");
  EXPECT_EQ(s.online, (std::vector<std::string>{"threshold", "always-a-Q4_0"}));
  EXPECT_EQ(s.online_tiers, (std::vector<std::string>{"a-Q4_0", "b"}));
  EXPECT_EQ(s.routing.token_bounds.size(), 9u);
  EXPECT_EQ(s.routing.tokenizer, "");  // the published cl100k_base
  auto error_of = [&](const std::string& routing) {
    try {
      parse_study(models + "[routing]\n" + routing, "s.toml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  // Each error from its start: the file, the line (14: the first key under
  // [routing]), the table and the key.
  auto starts = [&](const std::string& routing, const std::string& says) {
    const std::string e = error_of(routing);
    EXPECT_EQ(e.rfind("s.toml:14: [routing] " + says, 0), 0u) << e;
  };
  starts("online = [\"cascade\"]\n", "online[0]: policy 'cascade' cannot run online");
  starts("online = [\"always-c\"]\n", "online[0]: 'always-c' names no model");
  starts("online_tiers = [\"c\"]\n", "online_tiers[0]: no model 'c'");
  starts("token_bounds = [5, 4, 6, 7, 8, 9, 10, 11, 12]\n", "token_bounds[1]: 4 is not above");
  starts("token_bounds = [1, 2, 3]\n", "token_bounds: needs nine bounds");
  // The router's own keys, checked as the catalogue and the dashboard check them.
  starts("max_score = [6.5, 10]\n", "max_score: expected an array of integers");
  starts("max_score = [6, 9]\n", "max_score[1]: the last tier must take every score up to 10");
  starts("random_share = 2.0\n", "random_share: 2 is outside 0-1");
  starts("tiers = [\"a\", \"b\"]\n", "tiers: unknown key (known: policies, ");  // the models are the tiers
  // The learned router runs online when it has a trained file.
  starts("online = [\"learned\"]\n", "online[0]: the learned policy needs learned_model");
  StudySpec learned = parse_study(models +
                                      "[routing]\nonline = [\"learned\"]\nlearned_model = \"r.json\"\n"
                                      "tokenizer = \"vocab/o.tiktoken\"\nlearned_target = 0.7\n",
                                  "/studies/s.toml");
  EXPECT_EQ(learned.routing.learned_model, "/studies/r.json");  // files relative to the study file
  EXPECT_EQ(learned.routing.tokenizer, "/studies/vocab/o.tiktoken");
  EXPECT_EQ(learned.routing.learned_target, 0.7);
  EXPECT_EQ(parse_study(models + "[routing]\ntokenizer = \"b\"\n", "s.toml").routing.tokenizer, "b");  // a model
}

}  // namespace
}  // namespace lcte::study
