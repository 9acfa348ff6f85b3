// The lcte binary: `lcte models ...` on a registry directory and `lcte study
// run` on a small user suite with the real sandbox (two model-free tiers).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <signal.h>

#include "common/run_command.h"
#include "common/serve_process.h"
#include "common/test_data.h"
#include "core/sha256.h"
#include "demo/synthetic_model.h"

namespace lcte::testing {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

CommandResult lcte(std::vector<std::string> args, const std::string& dir) {
  args.insert(args.begin(), lcte_binary());
  return run_command(args, dir);
}

TEST(ModelsCli, AddListShowTagRm) {
  std::string dir = temp_dir(), reg = dir + "/reg";
  demo::SyntheticModelSpec s;
  s.dim = 32;
  s.ffn_dim = 64;
  demo::write_synthetic_model(s, dir + "/a.gguf");
  s.seed = 7;
  demo::write_synthetic_model(s, dir + "/b.gguf");
  std::string sha_a = lcte::sha256_file_hex(dir + "/a.gguf");

  CommandResult r = lcte({"models", "--registry", reg, "add", dir + "/a.gguf", "--name", "base"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "base@1 " + sha_a + "\n");
  r = lcte({"models", "--registry", reg, "add", dir + "/b.gguf", "--name", "child", "--parent", "base@1", "--made-by",
            "lcte quantize"},
           dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = lcte({"models", "--registry", reg, "list", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json list = json::parse(r.out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["lineage"]["parents"][0], sha_a);
  EXPECT_EQ(lcte({"models", "--registry", reg, "tag", "child", "prod"}, dir).exit_code, 0);
  r = lcte({"models", "--registry", reg, "show", "prod"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["name"], "child");
  // The parent is protected; --force removes it.
  r = lcte({"models", "--registry", reg, "rm", "base@1"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("child@1"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(reg + "/models/" + sha_a + ".gguf"));
  EXPECT_EQ(lcte({"models", "--registry", reg, "rm", "base@1", "--force"}, dir).exit_code, 0);
  EXPECT_FALSE(fs::exists(reg + "/models/" + sha_a + ".gguf"));
  r = lcte({"models", "--registry", reg, "show", "base@1"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("base@1"), std::string::npos) << r.err;
}

void write_study(const std::string& dir) {
  {
    std::ofstream suite(dir + "/suite.jsonl");
    for (int i = 0; i < 3; ++i)
      suite << json{{"task_id", "t/" + std::to_string(i)},
                    {"prompt", "def f(x):\n    \"\"\"\n    >>> f(1)\n    2\n    \"\"\"\n"},
                    {"tests", "assert f(1) == 2\nassert f(2) == 3\n"},
                    {"entry_point", "f"},
                    {"reference", "    return x + 1\n"}}
                   .dump()
            << "\n";
    // Weak: right on t/0; `return 2` passes the doctest but not the tests.
    std::ofstream weak(dir + "/weak.jsonl");
    for (int i = 0; i < 3; ++i)
      weak << json{{"task_id", "t/" + std::to_string(i)},
                   {"completion", i == 0 ? "    return x + 1\n" : "    return 2\n"}}
                  .dump()
           << "\n";
    demo::write_synthetic_model({}, dir + "/vocab.gguf");  // its vocabulary counts the routing tokens
    std::ofstream(dir + "/study.toml")
        << "[study]\nname = \"cli\"\noutput = \"out\"\nstore = \"store.sqlite\"\nregistry = \"reg\"\n"
           "[[model]]\nname = \"weak\"\nbackend = \"file\"\nsamples_file = \"weak.jsonl\"\n"
           "[[model]]\nname = \"strong\"\nbackend = \"canonical\"\ntier = 1\ncost = 4\n"
           "[eval]\nsuites = [\"suite.jsonl\"]\n[routing]\ntokenizer = \"vocab.gguf\"\n[measure]\nsample_rate_hz = 0\n";
  }
}

TEST(StudyCli, RunsWithTheSandboxThenCachesAndRejectsBadFiles) {
  std::string dir = temp_dir();
  write_study(dir);
  CommandResult r = lcte({"study", "run", dir + "/study.toml", "--dry-run"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[to run] eval:weak:suite"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/out/study-state.json"));

  r = lcte({"study", "run", dir + "/study.toml"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::ifstream in(dir + "/out/study.json");
  json summary = json::parse(in);
  // By hand: weak passes 1 of 3, the references 3 of 3.
  EXPECT_NEAR(summary["runs"][0]["pass_at_k"]["pass@1"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(summary["runs"][1]["pass_at_k"]["pass@1"].get<double>(), 1.0);
  // Routing with cost weights 1 and 4: by hand, the oracle sends t/0 to weak
  // and the others to strong: accuracy 1, cost (1 + 4 + 4) / 3 = 3.
  std::ifstream ev(dir + "/out/route/suite/evaluation.json");
  json evaluation = json::parse(ev);
  bool saw_oracle = false;
  for (const auto& p : evaluation["points"]) {
    if (p["policy"] != "oracle") continue;
    saw_oracle = true;
    EXPECT_DOUBLE_EQ(p["accuracy"].get<double>(), 1.0);
    EXPECT_DOUBLE_EQ(p["cost"].get<double>(), 3.0);
  }
  EXPECT_TRUE(saw_oracle);
  EXPECT_NEAR(evaluation["weak"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_TRUE(fs::exists(dir + "/out/report/report.html"));

  r = lcte({"study", "run", dir + "/study.toml"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 steps run, 4 cached"), std::string::npos) << r.out;

  std::ofstream(dir + "/bad.toml") << "[[model]]\nname = \"m\"\nbackend = \"canonical\"\ntier = \"x\"\n";
  r = lcte({"study", "run", dir + "/bad.toml"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(dir + "/bad.toml:4: [[model]] #1 tier: expected an integer, found a string"), std::string::npos)
      << r.err;
}

// An endpoint as a study tier: `lcte serve` with a seeded random model plays
// the remote fleet. Its eval goes through the HTTP backend (the run's backend
// is "http", every task sampled), its identity is the URL and model name, and
// a second run caches it.
TEST(StudyCli, AnEndpointIsATierEvaluatedThroughTheApi) {
  std::string dir = temp_dir();
  write_study(dir);
  demo::SyntheticModelSpec ms;
  demo::write_synthetic_model(ms, dir + "/served.gguf");
  ServeProcess serve({"-m", dir + "/served.gguf", "--port", "0", "-t", "1", "--no-dashboard"}, dir);
  ASSERT_GT(serve.port, 0) << slurp(serve.err_path);
  std::ofstream(dir + "/remote.toml")
      << "[study]\nname = \"remote\"\noutput = \"rout\"\nstore = \"store.sqlite\"\nregistry = \"reg\"\n"
         "[[model]]\nname = \"weak\"\nbackend = \"file\"\nsamples_file = \"weak.jsonl\"\n"
         "[[model]]\nname = \"fleet\"\nurl = \"http://127.0.0.1:"
      << serve.port
      << "/v1\"\nmodel = \"served\"\ntier = 1\ncost = 4\ntop_p = 0.5\nmax_in_flight = 2\n"
         "[eval]\nsuites = [\"suite.jsonl\"]\nmax_tokens = 8\n[routing]\ntokenizer = \"served.gguf\"\n"
         "online = [\"always-fleet\"]\nonline_tiers = [\"fleet\"]\n"
         "[measure]\nsample_rate_hz = 0\n";
  CommandResult r = lcte({"study", "run", dir + "/remote.toml"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::ifstream in(dir + "/rout/study.json");
  json summary = json::parse(in);
  ASSERT_EQ(summary["runs"].size(), 3u) << summary.dump(2);
  // The entry's own top_p reaches its eval and, through the catalogue the
  // study writes, the live router's run over it.
  json state = json::parse(std::ifstream(dir + "/rout/study-state.json"));
  EXPECT_EQ(state["steps"]["eval:fleet:suite"]["inputs"]["config"]["top_p"], 0.5);
  EXPECT_EQ(state["steps"]["eval:weak:suite"]["inputs"]["config"]["top_p"], 1.0);
  EXPECT_EQ(state["steps"]["routed:always-fleet:suite"]["inputs"]["config"]["top_p"], 0.5);
  std::string catalogue = state["steps"]["routed:always-fleet:suite"]["result"]["catalogue"];
  std::ifstream cat(catalogue);
  std::string text((std::istreambuf_iterator<char>(cat)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("top_p = 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("max_in_flight = 2\n"), std::string::npos) << text;
  EXPECT_EQ(summary["runs"][2]["tier_requests"]["fleet"], 3) << summary.dump(2);
  EXPECT_EQ(summary["runs"][1]["model"], "fleet");
  EXPECT_EQ(summary["runs"][1]["tasks"], 3);
  EXPECT_EQ(summary["models"][1]["sha256"], fmt::format("http:http://127.0.0.1:{}/v1#served", serve.port));
  std::string run_dir =
      json::parse(std::ifstream(dir + "/rout/study-state.json"))["steps"]["eval:fleet:suite"]["result"]["run_dir"];
  json fleet = json::parse(std::ifstream(run_dir + "/summary.json"));
  EXPECT_EQ(fleet["backend"], "http") << fleet.dump(2);
  EXPECT_EQ(fleet["samples"], 3) << fleet.dump(2);
  r = lcte({"study", "run", dir + "/remote.toml"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 steps run, 5 cached"), std::string::npos) << r.out;
  EXPECT_EQ(serve.stop(), 0);

  // An endpoint without its model name is refused, naming the entry.
  std::ofstream(dir + "/bad-remote.toml") << "[[model]]\nname = \"m\"\nurl = \"http://127.0.0.1:1/v1\"\n"
                                             "[eval]\nsuites = [\"suite.jsonl\"]\n";
  r = lcte({"study", "run", dir + "/bad-remote.toml"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(dir + "/bad-remote.toml:1: [[model]] #1: an endpoint needs 'model'"), std::string::npos)
      << r.err;
}

// SIGKILL of `lcte study run` once its first step is recorded; the state file
// is whole, and `--resume` skips that step and ends with the hand-computed results.
TEST(StudyCli, KilledAfterTheFirstStepResumes) {
  std::string dir = temp_dir();
  write_study(dir);
  std::string state_path = dir + "/out/study-state.json";
  std::vector<std::string> argv = {lcte_binary(), "study", "run", dir + "/study.toml"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  bool killed = false;
  for (int i = 0; i < 30000 && !killed; ++i) {  // at most ~60 s
    std::ifstream in(state_path);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find("\"finished\"") != std::string::npos) {
      kill(pid, SIGKILL);
      killed = true;
    } else {
      usleep(2000);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status)) GTEST_SKIP() << "the study ended before it could be killed";
  std::ifstream in(state_path);
  json state = json::parse(in);  // written atomically: never half a file
  ASSERT_EQ(state["steps"]["eval:weak:suite"]["status"], "finished");
  EXPECT_FALSE(fs::exists(dir + "/out/study.json"));

  CommandResult r = lcte({"study", "run", dir + "/study.toml", "--resume"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("eval:weak:suite: cached"), std::string::npos) << r.out;
  std::ifstream sj(dir + "/out/study.json");
  json summary = json::parse(sj);
  EXPECT_EQ(summary["runs"][0]["run_id"], state["steps"]["eval:weak:suite"]["result"]["run_id"]);
  EXPECT_NEAR(summary["runs"][0]["pass_at_k"]["pass@1"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(summary["runs"][1]["pass_at_k"]["pass@1"].get<double>(), 1.0);
}

}  // namespace
}  // namespace lcte::testing
