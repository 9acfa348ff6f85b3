// The eval and route commands through the real binary: an eval published to
// a store with its report, two runs routed offline, decisions logged, and
// mistakes answered with a message and exit status 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/run_command.h"
#include "common/test_data.h"
#include "demo/synthetic_model.h"
#include "store/store.h"

namespace {
namespace fs = std::filesystem;
using lcte::testing::run_command;
using nlohmann::json;

struct Scratch {
  std::string dir = lcte::testing::temp_dir();
  std::string store = dir + "/store.sqlite";
  // The commands run in the scratch directory: the data directory must not be relative.
  Scratch() { ::setenv("LCTE_DATA_DIR", fs::absolute(lcte::testing::data_dir()).c_str(), 1); }
  lcte::testing::CommandResult lcte(std::vector<std::string> args) {
    args.insert(args.begin(), {lcte::testing::lcte_binary(), "--log-level", "error"});
    return run_command(args, dir);
  }
};

TEST(EvalCommand, PublishesToTheStoreAndWritesTheReport) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Scratch s;
  auto r = s.lcte({"eval", "--suite", "humaneval", "--backend", "canonical", "--limit", "3", "--offline", "--store",
                   s.store, "--out", s.dir + "/runs", "--run-id", "canon", "--experiment", "cli"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(s.dir + "/runs/canon/report/report.html"));
  auto shown = s.lcte({"runs", "--store", s.store, "show", "canon", "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  json j = json::parse(shown.out);
  EXPECT_EQ(j["status"], "finished");
  EXPECT_EQ(j["summary"]["pass_at_k"]["pass@1"], 1.0);
  EXPECT_TRUE(j["summary"]["energy"]["estimated"].is_boolean());
}

TEST(RouteCommand, DecideEvalAndLog) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  Scratch s;
  // Two "tiers": the reference solutions, and a samples file where only the
  // first of three tasks is solved.
  std::string samples = s.dir + "/weak.jsonl";
  {
    std::ofstream out(samples);
    out << json{{"task_id", "HumanEval/0"},
                {"completion",
                 "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"}}
               .dump()
        << "\n";
    out << json{{"task_id", "HumanEval/1"}, {"completion", "    return []\n"}}.dump() << "\n";
    out << json{{"task_id", "HumanEval/2"}, {"completion", "    return 0.0\n"}}.dump() << "\n";
  }
  auto weak =
      s.lcte({"eval", "--suite", "humaneval", "--backend", "file", "--samples", samples, "--model", "weak", "--limit",
              "3", "--offline", "--store", s.store, "--out", s.dir + "/runs", "--run-id", "weak", "--no-report"});
  ASSERT_EQ(weak.exit_code, 0) << weak.err;
  auto strong =
      s.lcte({"eval", "--suite", "humaneval", "--backend", "canonical", "--model", "strong", "--limit", "3",
              "--offline", "--store", s.store, "--out", s.dir + "/runs", "--run-id", "strong", "--no-report"});
  ASSERT_EQ(strong.exit_code, 0) << strong.err;

  LCTE_REQUIRE_DATA("tokenizer/ggml-vocab-gpt-2.gguf");
  const std::string vocab = lcte::testing::data_path("tokenizer/ggml-vocab-gpt-2.gguf");
  auto ev = s.lcte({"route", "--store", s.store, "eval", "--runs", "weak,strong", "--policy",
                    "threshold,oracle,cascade,always", "--tokenizer", vocab, "--json", "-o", s.dir + "/route"});
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  json e = json::parse(ev.out);
  EXPECT_EQ(e["problems"], 3);
  EXPECT_NEAR(e["weak"].get<double>(), 1.0 / 3, 1e-9);
  EXPECT_EQ(e["strong"], 1.0);
  bool saw_cascade = false;
  for (const auto& p : e["points"]) {
    if (p["policy"] == "oracle") {
      EXPECT_EQ(p["accuracy"], 1.0);
    }
    // The weak answer to HumanEval/0 passes the prompt's doctests and is kept;
    // those to /1 and /2 fail theirs (checked in the real sandbox) and escalate.
    if (p["policy"] == "cascade") {
      saw_cascade = true;
      EXPECT_EQ(p["accuracy"], 1.0);
      EXPECT_NEAR(p["strong_share"].get<double>(), 2.0 / 3, 1e-9);
    }
  }
  EXPECT_TRUE(saw_cascade);
  EXPECT_TRUE(fs::exists(s.dir + "/route/route_points.csv"));
  EXPECT_TRUE(fs::exists(s.dir + "/route/route_curve.svg"));
  // The three prompts are short: the rule sends all to the weak tier, and says with what it counted.
  EXPECT_EQ(e["tokenizer"], vocab);
  EXPECT_EQ(e["threshold_split"]["problems_per_tier"]["weak"], 3);
  EXPECT_EQ(e["threshold_split"]["problems"].size(), 3u);
  EXPECT_TRUE(fs::exists(s.dir + "/route/route_split.csv"));
  auto listed = s.lcte({"route", "--store", s.store, "eval", "--runs", "weak,strong", "--policy", "threshold,always",
                        "--tokenizer", vocab, "--list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("HumanEval/2"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("routed (threshold rule)"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("weak alone"), std::string::npos) << listed.out;

  // 151 GPT-2 tokens ("a" and 150 times " a"): over the bound.
  std::string words = "a";
  for (int i = 0; i < 150; ++i) words += " a";
  auto d = s.lcte({"route", "--store", s.store, "decide", "--text", words, "--tokenizer", vocab, "--json", "--log",
                   s.dir + "/decisions.jsonl"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  json dj = json::parse(d.out);
  EXPECT_EQ(dj["tier"], "large");
  EXPECT_EQ(dj["n_tokens"], 151);
  EXPECT_EQ(dj["tokenizer"], vocab);
  auto log = s.lcte({"route", "--store", s.store, "log", "--json"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(json::parse(log.out)["tier"], "large");
  EXPECT_EQ(json::parse(log.out)["tokenizer"], vocab);  // the stored decision says which tokenizer counted
  auto file_log = s.lcte({"route", "log", "--log", s.dir + "/decisions.jsonl", "--json"});
  EXPECT_EQ(json::parse(file_log.out)["n_tokens"], 151);
  EXPECT_EQ(json::parse(file_log.out)["tokenizer"], vocab);
  // The store and the log file give a decision with the same keys.
  const json stored = json::parse(log.out), from_file = json::parse(file_log.out);
  std::vector<std::string> stored_keys, file_keys;
  for (const auto& [k, v] : stored.items()) stored_keys.push_back(k);
  for (const auto& [k, v] : from_file.items()) file_keys.push_back(k);
  EXPECT_EQ(stored_keys, file_keys);
}

TEST(RouteCommand, MistakesAreExplained) {
  Scratch s;
  auto bad_policy = s.lcte({"route", "--store", s.store, "decide", "--text", "x", "--policy", "psychic"});
  EXPECT_EQ(bad_policy.exit_code, 1);
  EXPECT_NE(bad_policy.err.find("unknown policy \"psychic\""), std::string::npos) << bad_policy.err;
  auto no_text = s.lcte({"route", "--store", s.store, "decide"});
  EXPECT_EQ(no_text.exit_code, 1);
  EXPECT_NE(no_text.err.find("--text or --file"), std::string::npos);
  auto no_runs = s.lcte({"route", "--store", s.store, "eval", "--runs", "a,b"});
  EXPECT_EQ(no_runs.exit_code, 1);
  EXPECT_NE(no_runs.err.find("no run 'a'"), std::string::npos) << no_runs.err;
  auto bad_tok = s.lcte({"route", "--store", s.store, "decide", "--text", "x", "--tokenizer", s.dir + "/none.gguf"});
  EXPECT_EQ(bad_tok.exit_code, 1);
  EXPECT_NE(bad_tok.err.find("none.gguf"), std::string::npos);
  // A configuration naming no tokenizer counts with cl100k_base; where it is
  // missing, the message says so and how to get it.
  auto plain = s.lcte({"route", "--store", s.store, "decide", "--text", "x", "--no-store"});
  if (plain.exit_code != 0) {
    EXPECT_EQ(plain.exit_code, 1);
    EXPECT_NE(plain.err.find("cl100k_base"), std::string::npos) << plain.err;
    EXPECT_NE(plain.err.find("lcte data fetch"), std::string::npos) << plain.err;
  } else {
    EXPECT_NE(plain.out.find("cl100k_base tokens"), std::string::npos) << plain.out;
  }
}

// lcte quantize, bench and kld with --store: each a run of its kind, with
// the figures it printed stored as metrics and its machine described.
namespace command_runs {

std::string synthetic_model(const std::string& dir) {
  lcte::demo::SyntheticModelSpec spec;
  spec.dim = 64;
  spec.n_layers = 2;
  spec.ffn_dim = 128;
  const std::string path = dir + "/base.gguf";
  lcte::demo::write_synthetic_model(spec, path);
  return path;
}

lcte::store::RunRecord only_run(lcte::store::Store& st, const std::string& kind) {
  const auto runs = st.list_runs(lcte::store::RunFilter{.kind = kind});
  EXPECT_EQ(runs.size(), 1u) << kind;
  return runs.empty() ? lcte::store::RunRecord{} : runs[0];
}

double metric(lcte::store::Store& st, const std::string& run_id, const std::string& name, int64_t step = 0) {
  for (const auto& p : st.metrics(run_id, name))
    if (p.step == step) return p.value;
  ADD_FAILURE() << "no metric " << name << " at step " << step;
  return std::nan("");
}

TEST(CommandRuns, QuantizeBenchAndKldAreRecordedInTheStore) {
  Scratch s;
  const std::string base = synthetic_model(s.dir), q8 = s.dir + "/q8.gguf", text = s.dir + "/text.txt";
  std::ofstream(text) << "the cat sat on the mat and the dog ran to the park. " << std::string(40, 'a') << "\n"
                      << "once upon a time there was a small model that learned to count.\n";

  auto q = s.lcte({"quantize", base, q8, "Q8_0", "-t", "1", "--store", s.store});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  auto b = s.lcte({"bench", "-m", q8, "-p", "8", "-n", "4", "-r", "1", "-t", "1", "--json", "--store", s.store});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto k = s.lcte(
      {"kld", "--base", base, "--model", q8, "--text", text, "--ctx", "16", "-t", "1", "--json", "--store", s.store});
  ASSERT_EQ(k.exit_code, 0) << k.err;

  lcte::store::Store st(s.store);
  // quantize: bits per weight as the summary states it, between Q8_0's 8.5
  // (matrices) and 32 (the F32 norms).
  const auto qr = only_run(st, "quantize");
  EXPECT_EQ(qr.status, "finished");
  EXPECT_EQ(qr.model_path, q8);
  EXPECT_TRUE(qr.machine.contains("logical_cpus"));
  EXPECT_FALSE(qr.code_version.empty());
  const double bpw = metric(st, qr.id, "bits_per_weight");
  EXPECT_GT(bpw, 8.5);
  EXPECT_LT(bpw, 9.5);
  EXPECT_DOUBLE_EQ(bpw, qr.summary["bits_per_weight"].get<double>());
  EXPECT_LT(metric(st, qr.id, "tensor_bytes_out"), metric(st, qr.id, "tensor_bytes_in"));
  EXPECT_TRUE(qr.summary.contains("energy"));
  ASSERT_EQ(st.artifacts(qr.id).size(), 1u);

  // bench: one series per test, the step its thread count; the values printed.
  const auto br = only_run(st, "bench");
  EXPECT_EQ(br.status, "finished");
  const json printed = json::parse(b.out);
  ASSERT_EQ(printed.size(), 2u);
  for (const json& row : printed)
    EXPECT_DOUBLE_EQ(metric(st, br.id, row["test"].get<std::string>() + "_tps", 1), row["tps_mean"].get<double>());

  // kld: the printed figures, stored.
  const auto kr = only_run(st, "kld");
  EXPECT_EQ(kr.status, "finished");
  const json kj = json::parse(k.out);
  for (const char* name : {"kld_mean", "ppl_base", "ppl_model", "top1_agreement", "top5_agreement"})
    EXPECT_DOUBLE_EQ(metric(st, kr.id, name), kj[name].get<double>()) << name;
  EXPECT_GE(kj["kld_mean"].get<double>(), 0.0);
  EXPECT_LT(kj["kld_mean"].get<double>(), 0.01);  // Q8_0 barely moves the logits
}

TEST(CommandRuns, AFailedCommandIsRecordedAsFailed) {
  Scratch s;
  auto k = s.lcte({"kld", "--base", s.dir + "/absent.gguf", "--model", s.dir + "/absent.gguf", "--text",
                   s.dir + "/absent.txt", "--store", s.store});
  EXPECT_EQ(k.exit_code, 1);
  lcte::store::Store st(s.store);
  const auto kr = only_run(st, "kld");
  EXPECT_EQ(kr.status, "failed");
  EXPECT_NE(kr.summary.value("error", "").find("absent.gguf"), std::string::npos) << kr.summary.dump();
}

}  // namespace command_runs
}  // namespace
