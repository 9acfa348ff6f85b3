// The eval and route commands through the real binary: an eval published to
// a store with its report, two runs routed offline, decisions logged, and
// mistakes answered with a message and exit status 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/run_command.h"
#include "common/test_data.h"

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
    out << json{{"task_id", "HumanEval/0"}, {"completion", "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"}}.dump() << "\n";
    out << json{{"task_id", "HumanEval/1"}, {"completion", "    return []\n"}}.dump() << "\n";
    out << json{{"task_id", "HumanEval/2"}, {"completion", "    return 0.0\n"}}.dump() << "\n";
  }
  auto weak = s.lcte({"eval", "--suite", "humaneval", "--backend", "file", "--samples", samples, "--model", "weak",
                      "--limit", "3", "--offline", "--store", s.store, "--out", s.dir + "/runs", "--run-id", "weak",
                      "--no-report"});
  ASSERT_EQ(weak.exit_code, 0) << weak.err;
  auto strong = s.lcte({"eval", "--suite", "humaneval", "--backend", "canonical", "--model", "strong", "--limit", "3",
                        "--offline", "--store", s.store, "--out", s.dir + "/runs", "--run-id", "strong", "--no-report"});
  ASSERT_EQ(strong.exit_code, 0) << strong.err;

  LCTE_REQUIRE_DATA("tokenizer/ggml-vocab-gpt-2.gguf");
  const std::string vocab = lcte::testing::data_path("tokenizer/ggml-vocab-gpt-2.gguf");
  auto ev = s.lcte({"route", "--store", s.store, "eval", "--runs", "weak,strong", "--policy", "threshold,oracle,cascade,always",
                    "--tokenizer", vocab, "--json", "-o", s.dir + "/route"});
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  json e = json::parse(ev.out);
  EXPECT_EQ(e["problems"], 3);
  EXPECT_NEAR(e["weak"].get<double>(), 1.0 / 3, 1e-9);
  EXPECT_EQ(e["strong"], 1.0);
  bool saw_cascade = false;
  for (const auto& p : e["points"]) {
    if (p["policy"] == "oracle") EXPECT_EQ(p["accuracy"], 1.0);
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
  auto d = s.lcte({"route", "--store", s.store, "decide", "--text", words, "--tokenizer", vocab, "--json",
                   "--log", s.dir + "/decisions.jsonl"});
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

}  // namespace
