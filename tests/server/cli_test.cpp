// The lcte binary: `lcte serve` started on port 0 answers, stops on SIGTERM,
// refuses bad setups; `lcte models list` checks a catalogue's models.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include "store/store.h"

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/run_command.h"
#include "common/serve_process.h"
#include "eval/run_database.h"
#include "route/learned.h"
#include "server_fixture.h"

namespace lcte::server {
namespace {

using lcte::testing::lcte_binary;
using lcte::testing::run_command;

using lcte::testing::ServeProcess;
using lcte::testing::slurp;

// The children publish to a store of the test's own, never the user's.
std::string own_store(const std::string& dir) {
  setenv("LCTE_STORE", (dir + "/store.sqlite").c_str(), 1);
  return dir + "/store.sqlite";
}

TEST(ServeCli, ServesAGgufOnPortZeroAndStopsOnSigterm) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  const std::string dir = lcte::testing::temp_dir();
  own_store(dir);
  ServeProcess p({"-m", lcte::testing::data_path(testing::kModelFile), "--port", "0", "-t", "1"}, dir);
  ASSERT_GT(p.port, 0) << slurp(p.err_path);
  httplib::Client c("127.0.0.1", p.port);
  auto res = c.Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\"stories260K-f32\""), std::string::npos) << res->body;
  res = c.Post("/v1/completions", R"({"model":"router","prompt":"Once upon a time","max_tokens":8,"temperature":0})",
               "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find("\"routing\""), std::string::npos);
  EXPECT_EQ(p.stop(), 0) << slurp(p.err_path);
}

TEST(ServeCli, MountsTheDashboardWhoseRulesRouteTheApi) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  const std::string dir = lcte::testing::temp_dir();
  const std::string rules = dir + "/rules.json", store = dir + "/store.sqlite";
  const std::vector<std::string> args = {
      "-m", lcte::testing::data_path(testing::kModelFile), "--port", "0", "-t", "1", "--store", store, "--rules",
      rules};
  const std::string ask = R"({"model":"router","prompt":"Once upon a time","max_tokens":4,"temperature":0})";
  {
    ServeProcess p(args, dir);
    ASSERT_GT(p.port, 0) << slurp(p.err_path);
    httplib::Client c("127.0.0.1", p.port);
    auto page = c.Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->body.find("lcte dashboard"), std::string::npos);
    auto res = c.Post("/v1/completions", ask, "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto routing = nlohmann::json::parse(res->body)["routing"];
    EXPECT_EQ(routing["tier"], "stories260K-f32");
    EXPECT_EQ(routing["override"], false);
    EXPECT_EQ(p.stop(), 0) << slurp(p.err_path);
  }
  // The rules were seeded from the command line's one model and saved; a
  // forced tier written into them is what the next server routes by.
  nlohmann::json saved = nlohmann::json::parse(slurp(rules));
  EXPECT_EQ(saved["models"], nlohmann::json::array({"stories260K-f32"}));
  EXPECT_EQ(saved["tokenizer"], "stories260K-f32");  // one model: its own vocabulary counts
  saved["forced_tier"] = saved["tiers"][0];
  {
    std::ofstream out(rules);
    out << saved.dump();
  }
  ServeProcess p(args, dir);
  ASSERT_GT(p.port, 0) << slurp(p.err_path);
  httplib::Client c("127.0.0.1", p.port);
  auto res = c.Post("/v1/completions", ask, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(nlohmann::json::parse(res->body)["routing"]["override"], true) << res->body;
  EXPECT_EQ(p.stop(), 0);
  lcte::store::Store st(store);
  auto decisions = st.decisions(std::nullopt);
  ASSERT_EQ(decisions.size(), 2u);  // both requests' decisions logged
  EXPECT_EQ(decisions[0].tokenizer, "stories260K-f32 (" + lcte::testing::data_path(testing::kModelFile) + ")");
}

TEST(ServeCli, EvalThroughServeEqualsEvalWithTheEngine) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  const std::string dir = lcte::testing::temp_dir();
  own_store(dir);
  const std::string model = lcte::testing::data_path(testing::kModelFile);
  setenv("LCTE_DATA_DIR", lcte::testing::data_dir().c_str(), 1);
  std::vector<std::string> common = {"--suite", "humaneval", "--limit", "3",          "--max-tokens",
                                     "16",      "--offline", "--out",   dir + "/runs"};
  std::vector<std::string> engine = {lcte_binary(), "eval",      "--backend", "engine",   "--model",
                                     model,         "--threads", "1",         "--run-id", "engine"};
  engine.insert(engine.end(), common.begin(), common.end());
  auto r = run_command(engine, dir);
  if (r.exit_code != 0 && r.err.find("sandbox") != std::string::npos) GTEST_SKIP() << "no sandbox here: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;

  ServeProcess p({"-m", model, "--port", "0", "-t", "1"}, dir);
  ASSERT_GT(p.port, 0) << slurp(p.err_path);
  std::vector<std::string> http = {lcte_binary(), "eval",
                                   "--backend",   "http",
                                   "--base-url",  "http://127.0.0.1:" + std::to_string(p.port) + "/v1",
                                   "--model",     "stories260K-f32",
                                   "--run-id",    "http"};
  http.insert(http.end(), common.begin(), common.end());
  r = run_command(http, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = eval::RunDatabase::open(dir + "/runs/engine").rows();
  auto b = eval::RunDatabase::open(dir + "/runs/http").rows();
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].task_id, b[i].task_id);
    EXPECT_EQ(a[i].completion, b[i].completion) << a[i].task_id;
    EXPECT_EQ(a[i].status, b[i].status) << a[i].task_id;
  }
  nlohmann::json sa = nlohmann::json::parse(slurp(dir + "/runs/engine/summary.json"));
  nlohmann::json sb = nlohmann::json::parse(slurp(dir + "/runs/http/summary.json"));
  EXPECT_EQ(sa["status_counts"], sb["status_counts"]);
  EXPECT_EQ(sa["pass_at_k"], sb["pass_at_k"]);
  EXPECT_EQ(p.stop(), 0);
}

TEST(ServeCli, ServesACatalogueOfLocalAndRemoteModelsWithTheRouter) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  const std::string dir = lcte::testing::temp_dir();
  own_store(dir);
  // The "large" tier is another server, reached through the HTTP backend.
  testing::LiveServer upstream({{"upstream-stories", testing::load_engine("upstream-stories")}}, {});
  std::string config = dir + "/models.toml";
  {
    std::ofstream out(config);
    out << "[[model]]\nname = \"small\"\npath = \"" << lcte::testing::data_path(testing::kModelFile)
        << "\"\ncost = 1\n\n[[model]]\nname = \"large\"\nurl = \"" << upstream.url()
        << "/v1\"\nmodel = \"upstream-stories\"\ncost = 10\n\n[routing]\ntiers = [\"small\", \"large\"]\n"
           "max_score = [1, 10]\ntokenizer = \"small\"\n";
  }
  ServeProcess p({"--config", config, "--port", "0", "-t", "1", "--ctx", "1024"}, dir);
  ASSERT_GT(p.port, 0) << slurp(p.err_path);
  httplib::Client c("127.0.0.1", p.port);
  auto ask = [&](const std::string& model, const std::string& prompt, bool stream) {
    nlohmann::json r = {
        {"model", model}, {"prompt", prompt}, {"max_tokens", 12}, {"temperature", 0}, {"stream", stream}};
    auto res = c.Post("/v1/completions", r.dump(), "application/json");
    EXPECT_TRUE(res);
    return res ? std::make_pair(res->status, res->body) : std::make_pair(-1, std::string());
  };
  auto [s1, small] = ask("small", "Once upon a time", false);
  auto [s2, large] = ask("large", "Once upon a time", false);
  ASSERT_EQ(s1, 200) << small;
  ASSERT_EQ(s2, 200) << large;
  // Same weights behind both: the proxied answer is the local one.
  EXPECT_EQ(nlohmann::json::parse(small)["choices"][0]["text"], nlohmann::json::parse(large)["choices"][0]["text"]);
  auto [s3, streamed] = ask("large", "Once upon a time", true);
  EXPECT_EQ(s3, 200);
  EXPECT_NE(streamed.find("data: [DONE]"), std::string::npos) << streamed;
  // 4 tokens score 1 (small); 30 tokens score 2 (large).
  auto [s4, routed_small] = ask("router", "Once upon a time", false);
  EXPECT_EQ(nlohmann::json::parse(routed_small)["model"], "small") << routed_small;
  EXPECT_EQ(nlohmann::json::parse(routed_small)["routing"]["n_tokens"], 4) << routed_small;
  std::string longer;
  for (int i = 0; i < 8; ++i) longer += "Once upon a time ";
  auto [s5, routed_large] = ask("router", longer, false);
  EXPECT_EQ(nlohmann::json::parse(routed_large)["model"], "large") << routed_large;
  EXPECT_EQ(upstream.server->metrics().requests("upstream-stories"), 3u);
  EXPECT_EQ(p.stop(), 0);
}

// The learned router, trained by `lcte route train` (here: on made-up
// outcomes where the small tier fails every long query), deployed by a
// catalogue: serve routes with it, with the dashboard mounted and without.
TEST(ServeCli, DeploysTheLearnedRouterWithAndWithoutTheDashboard) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  const std::string dir = lcte::testing::temp_dir();
  const std::string model = lcte::testing::data_path(testing::kModelFile);
  std::vector<route::TrainingExample> examples;
  for (int words = 1; words <= 40; ++words) {
    std::string text;
    for (int i = 0; i < words * 5; ++i) text += "Once upon a time ";
    const int64_t n = 4 * 5 * words;  // four tokens a phrase
    examples.push_back({route::extract_features(text, n).values, {words <= 20 ? 1.0 : 0.0, 1.0}});
  }
  route::PassPredictor::train({"small", "large"}, examples).save(dir + "/router.json");
  {
    std::ofstream out(dir + "/models.toml");
    out << "[[model]]\nname = \"small\"\npath = \"" << model << "\"\n[[model]]\nname = \"large\"\npath = \"" << model
        << "\"\ncost = 5\n[routing]\npolicy = \"learned\"\nlearned_model = \"router.json\"\ntokenizer = \"small\"\n";
  }
  for (bool dashboard : {false, true}) {
    std::vector<std::string> args = {"--config", dir + "/models.toml", "--port", "0", "-t", "1",
                                     "--store",  dir + "/store.sqlite"};
    if (!dashboard) args.push_back("--no-dashboard");
    ServeProcess p(args, dir);
    ASSERT_GT(p.port, 0) << slurp(p.err_path);
    httplib::Client c("127.0.0.1", p.port);
    auto ask = [&](const std::string& prompt) {
      nlohmann::json r = {{"model", "router"}, {"prompt", prompt}, {"max_tokens", 2}, {"temperature", 0}};
      auto res = c.Post("/v1/completions", r.dump(), "application/json");
      return res && res->status == 200 ? nlohmann::json::parse(res->body)["routing"] : nlohmann::json();
    };
    nlohmann::json short_query = ask("Once upon a time");
    EXPECT_EQ(short_query["policy"], "learned(0.50)") << short_query.dump();
    EXPECT_EQ(short_query["model"], "small") << short_query.dump();
    EXPECT_EQ(short_query["p_pass"].size(), 2u) << short_query.dump();
    std::string long_text;
    for (int i = 0; i < 150; ++i) long_text += "Once upon a time ";
    EXPECT_EQ(ask(long_text)["model"], "large") << "dashboard " << dashboard;
    EXPECT_EQ(p.stop(), 0);
  }
  lcte::store::Store st(dir + "/store.sqlite");
  EXPECT_EQ(st.decisions(std::nullopt).size(), 4u);  // every decision recorded, either way
  // A router file trained for other tiers is refused at start, naming it.
  route::PassPredictor::train({"a", "b"}, examples).save(dir + "/router.json");
  auto r =
      run_command({lcte_binary(), "serve", "--config", dir + "/models.toml", "--port", "0", "--no-dashboard"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("router.json: trained for tiers a,b"), std::string::npos) << r.err;
}

TEST(ServeCli, RefusesBadSetups) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  const std::string dir = lcte::testing::temp_dir();
  own_store(dir);
  const std::string model = lcte::testing::data_path(testing::kModelFile);
  auto r = run_command({lcte_binary(), "serve", "-m", model, "--host", "0.0.0.0", "--port", "0"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--api-key"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "serve", "--port", "0"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--config"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "serve", "-m", dir + "/missing.gguf", "--port", "0"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.gguf"), std::string::npos) << r.err;
  for (const char* chunk : {"-1", "1"}) {
    r = run_command({lcte_binary(), "serve", "-m", model, "--port", "0", "--prefill-chunk", chunk}, dir);
    EXPECT_EQ(r.exit_code, 2) << chunk;
    EXPECT_NE(r.err.find(std::string("prefill chunk ") + chunk + " is out of range"), std::string::npos) << r.err;
  }
}

TEST(ServeCli, SecretsComeFromTheEnvironmentOrAFileNeverTheCommandLine) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  const std::string dir = lcte::testing::temp_dir();
  const std::string model = lcte::testing::data_path(testing::kModelFile);
  own_store(dir);
  const std::string key = "sk-lcte-cli-0123456789";
  // On argv the key is readable by every local user: refused, naming the alternatives.
  auto r = run_command({lcte_binary(), "serve", "-m", model, "--port", "0", "--api-key", key}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--api-key-env"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--api-key-file"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "dashboard", "--port", "0", "--token", "0123456789abcdef-x"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--token-file"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "serve", "-m", model, "--port", "0", "--api-key-env", "LCTE_TEST_UNSET_KEY_VAR"},
                  dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("LCTE_TEST_UNSET_KEY_VAR"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "dashboard", "--host", "0.0.0.0", "--port", "0"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("token"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "dashboard", "--port", "0", "--token-file", dir + "/none"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir + "/none"), std::string::npos) << r.err;

  const std::string key_file = dir + "/key";
  {
    std::ofstream out(key_file);
    out << key << "\n";
  }
  chmod(key_file.c_str(), 0600);
  ServeProcess p({"-m", model, "--port", "0", "-t", "1", "--store", dir + "/store.sqlite", "--api-key-file", key_file},
                 dir);
  ASSERT_GT(p.port, 0) << slurp(p.err_path);
  EXPECT_EQ(slurp("/proc/" + std::to_string(p.pid) + "/cmdline").find(key), std::string::npos);
  httplib::Client c("127.0.0.1", p.port);
  EXPECT_EQ(c.Get("/v1/models")->status, 401);
  EXPECT_EQ(c.Get("/v1/models", {{"Authorization", "Bearer " + key}})->status, 200);
  EXPECT_EQ(c.Get("/health")->status, 200);
  // The dashboard under a key: the page loads, its data needs a login with the key.
  EXPECT_EQ(c.Get("/")->status, 200);
  EXPECT_EQ(c.Get("/api/runs")->status, 401);
  auto login = c.Post("/api/login", nlohmann::json{{"token", key}}.dump(), "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  std::string cookie = login->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly; SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_EQ(c.Get("/api/runs", {{"Cookie", cookie.substr(0, cookie.find(';'))}})->status, 200);
  EXPECT_EQ(p.stop(), 0) << slurp(p.err_path);
}

TEST(ModelsCli, ListChecksLocalFilesAndEndpoints) {
  LCTE_REQUIRE_DATA(testing::kModelFile);
  const std::string dir = lcte::testing::temp_dir();
  testing::LiveServer live({{"stories", testing::load_engine("stories")}}, {});
  std::string config = dir + "/models.toml";
  {
    std::ofstream out(config);
    out << "[[model]]\nname = \"small\"\npath = \"" << lcte::testing::data_path(testing::kModelFile)
        << "\"\ncost = 1\n\n[[model]]\nname = \"remote\"\nurl = \"" << live.url()
        << "/v1\"\nmodel = \"stories\"\ncost = 5\n";
  }
  auto r = run_command({lcte_binary(), "models", "list", "--config", config, "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["models"].size(), 2u);
  EXPECT_EQ(j["models"][0]["name"], "small");
  EXPECT_EQ(j["models"][0]["tier"], 0);
  EXPECT_TRUE(j["models"][0]["ok"].get<bool>()) << j.dump();
  EXPECT_NE(j["models"][0]["detail"].get<std::string>().find("llama"), std::string::npos);
  EXPECT_EQ(j["models"][1]["tier"], 1);
  EXPECT_EQ(j["models"][1]["cost"], 5.0);
  EXPECT_TRUE(j["models"][1]["ok"].get<bool>()) << j.dump();

  // A missing file, an endpoint that does not serve the model, one that is down.
  {
    std::ofstream out(config);
    out << "[[model]]\nname = \"gone\"\npath = \"nothing.gguf\"\n\n[[model]]\nname = \"other\"\nurl = \"" << live.url()
        << "\"\nmodel = \"gpt-5\"\n\n[[model]]\nname = \"down\"\nurl = \"http://127.0.0.1:1\"\nmodel = \"x\"\n";
  }
  r = run_command({lcte_binary(), "models", "list", "--config", config, "--timeout", "2"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("3 of 3 model(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("nothing.gguf"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not serve 'gpt-5'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NO"), std::string::npos) << r.out;
  r = run_command({lcte_binary(), "models", "list", "--config", dir + "/none.toml"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("none.toml"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lcte::server
