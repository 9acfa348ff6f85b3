// The dashboard's C++ side: routing rules (validation, persistence, the
// The dashboard's C++ side: routing rules (validation, persistence, the
// 150/151-token rule, rules files in the earlier form), SSE framing and the event bus, and the HTTP API served
// on a loopback port: JSON endpoints, CSV rows, session / Origin / Host checks,
// the live event stream and an evaluation started over HTTP.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "backend/engine_backend.h"
#include "common/test_data.h"
#include "core/error.h"
#include "dashboard/dashboard.h"
#include "dashboard/token_stream.h"
#include "server/http_front.h"
#include "store/store.h"

namespace lcte::dashboard {
namespace {

using lcte::testing::temp_dir;
using nlohmann::json;

// ---------- routing rules ----------

// GPT-2's vocabulary counts "a a a ..." as one token per word: counts a test can state.
const char* kVocab = "tokenizer/ggml-vocab-gpt-2.gguf";

route::RouterConfig counted_by_gpt2() {
  route::RouterConfig c = default_routing();
  c.tokenizer = lcte::testing::data_path(kVocab);
  return c;
}

std::string words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += i ? " a" : "a";
  return s;
}

std::shared_ptr<route::TokenizerCache> no_models() { return std::make_shared<route::TokenizerCache>(); }

TEST(RoutingRules, TheHolderRoutesThe150TokenRuleWithTheNamedTokenizer) {
  LCTE_REQUIRE_DATA(kVocab);
  RulesHolder h("", counted_by_gpt2(), no_models());
  auto rules = h.get();
  ASSERT_TRUE(rules->router) << rules->error;
  EXPECT_EQ(rules->version, 0);
  route::RouteResult at = rules->router->route(words(150));
  EXPECT_EQ(at.n_tokens, 150);
  EXPECT_EQ(at.tier, "small");
  EXPECT_EQ(at.decision.score, 6);
  EXPECT_EQ(at.model, "canonical");
  EXPECT_EQ(at.tokenizer, lcte::testing::data_path(kVocab));
  route::RouteResult above = rules->router->route(words(151));
  EXPECT_EQ(above.tier, "large");
  EXPECT_EQ(above.decision.score, 7);
  route::RouterConfig forced = rules->config;
  forced.forced_tier = "large";
  route::RouteResult o = h.set(forced)->router->route("short");
  EXPECT_EQ(o.tier, "large");
  EXPECT_TRUE(o.override_applied);
  EXPECT_NE(o.decision.reason.find("small"), std::string::npos);  // says what the policy would have done
  route::RouterConfig always = rules->config;
  always.policy = "always-large";
  EXPECT_EQ(h.set(always)->router->route("q").tier, "large");
  EXPECT_EQ(h.get()->version, 2);
}

void expect_invalid(const json& j, const std::string& field) {
  try {
    route::RouterConfig c = read_rules(j);
    c.validate();
    ADD_FAILURE() << "accepted " << j.dump();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(RoutingRules, ValidationNamesTheField) {
  json good = default_routing().to_json();
  good["version"] = 3;
  int version = 0;
  bool converted = true;
  EXPECT_EQ(read_rules(good, &version, &converted).to_json(), default_routing().to_json());
  EXPECT_EQ(version, 3);
  EXPECT_FALSE(converted);
  json j = good;
  j["token_bounds"] = {10, 20, 15, 40, 50, 60, 70, 80, 90};
  expect_invalid(j, "token_bounds[2]");
  j = good;
  j["token_bounds"] = {10, 20, 30};  // the scale has scores 1-10: nine bounds
  expect_invalid(j, "token_bounds: needs nine bounds");
  j = good;
  j["max_score"] = {6, 9};  // the last tier must take score 10
  expect_invalid(j, "max_score[1]");
  j = good;
  j["forced_tier"] = "huge";
  expect_invalid(j, "forced_tier");
  j = good;
  j["policy"] = "best";
  expect_invalid(j, "policy");
  j = good;
  j["colour"] = 1;
  expect_invalid(j, "colour");
  j = good;
  j["random_share"] = "half";
  expect_invalid(j, "random_share");
  j = good;
  j["models"] = {"canonical"};
  expect_invalid(j, "models");
  j = good;
  j["tiers"] = {"small", "small"};
  expect_invalid(j, "tiers[1]");
}

// A rules file the dashboard wrote in its earlier form (policy "always" with
// always_tier, scale.upper_bounds, tiers.names and tiers.max_score) loads, as
// the same rules in the current form, and is saved in the current form at the
// next change.
TEST(RoutingRules, AnEarlierRulesFileIsConverted) {
  LCTE_REQUIRE_DATA(kVocab);
  std::string dir = temp_dir(), path = dir + "/rules.json";
  json earlier = {{"policy", "always"},
                  {"scale", {{"upper_bounds", {10, 20, 30, 40, 50, 60, 70, 80, 90}}}},
                  {"tiers", {{"names", {"small", "large"}}, {"max_score", {5, 10}}}},
                  {"models", {"canonical", "canonical"}},
                  {"always_tier", "large"},
                  {"random_share", 0.3},
                  {"seed", 4},
                  {"forced_tier", ""},
                  {"version", 7}};
  std::ofstream(path) << earlier.dump(2);
  {
    RulesHolder h(path, counted_by_gpt2(), no_models());
    auto rules = h.get();
    EXPECT_EQ(rules->version, 7);
    EXPECT_EQ(rules->config.policy, "always-large");
    EXPECT_EQ(rules->config.token_bounds, (std::vector<int64_t>{10, 20, 30, 40, 50, 60, 70, 80, 90}));
    EXPECT_EQ(rules->config.tiers, (std::vector<std::string>{"small", "large"}));
    EXPECT_EQ(rules->config.max_score, (std::vector<int>{5, 10}));
    EXPECT_EQ(rules->config.models, (std::vector<std::string>{"canonical", "canonical"}));
    EXPECT_EQ(rules->config.random_share, 0.3);
    EXPECT_EQ(rules->config.seed, 4u);
    // It named no tokenizer: the published default, whether or not it loads here.
    EXPECT_EQ(rules->config.tokenizer, "");
    route::RouterConfig next = rules->config;
    next.tokenizer = lcte::testing::data_path(kVocab);
    EXPECT_EQ(h.set(next)->version, 8);
  }
  json saved = json::parse(std::ifstream(path));
  EXPECT_FALSE(saved.contains("scale"));
  EXPECT_FALSE(saved.contains("always_tier"));
  EXPECT_EQ(saved["policy"], "always-large");
  EXPECT_EQ(saved["token_bounds"][0], 10);
  RulesHolder again(path, default_routing(), no_models());
  EXPECT_EQ(again.get()->version, 8);
  EXPECT_TRUE(again.get()->router);
  // An earlier file that does not hold as current rules says it was converted.
  earlier["scale"]["upper_bounds"] = {10, 20, 30};
  std::ofstream(path) << earlier.dump(2);
  try {
    RulesHolder broken(path, default_routing(), no_models());
    ADD_FAILURE() << "loaded rules with three bounds";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token_bounds: needs nine bounds"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("earlier form"), std::string::npos) << e.what();
  }
}

TEST(RoutingRules, HolderPersistsReloadsAndRefusesRulesItCannotRouteBy) {
  LCTE_REQUIRE_DATA(kVocab);
  std::string dir = temp_dir(), path = dir + "/rules.json";
  {
    RulesHolder h(path, counted_by_gpt2(), no_models());
    route::RouterConfig r = h.get()->config;
    r.token_bounds = {10, 20, 30, 40, 50, 60, 70, 80, 90};
    auto applied = h.set(r);
    EXPECT_EQ(applied->version, 1);
    route::RouterConfig bad = h.get()->config;
    bad.max_score = {11, 10};
    EXPECT_THROW(h.set(bad), Error);
    route::RouterConfig unloadable = h.get()->config;
    unloadable.tokenizer = dir + "/no-such.gguf";
    try {
      h.set(unloadable);
      ADD_FAILURE() << "accepted a tokenizer that does not load";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no-such.gguf"), std::string::npos) << e.what();
    }
    route::RouterConfig cascade = h.get()->config;
    cascade.policy = "cascade";
    EXPECT_THROW(h.set(cascade), Error);  // not a policy a live server can run
    EXPECT_EQ(h.get()->version, 1);       // a rejected change leaves the rules alone
  }
  RulesHolder again(path, default_routing(), no_models());
  EXPECT_EQ(again.get()->version, 1);
  EXPECT_EQ(again.get()->config.token_bounds.front(), 10);
  // A rules file whose tokenizer is gone still opens, without a router, saying why.
  json j = json::parse(std::ifstream(path));
  j["tokenizer"] = dir + "/gone.gguf";
  std::ofstream(path) << j.dump();
  RulesHolder orphan(path, default_routing(), no_models());
  EXPECT_FALSE(orphan.get()->router);
  EXPECT_NE(orphan.get()->error.find("gone.gguf"), std::string::npos) << orphan.get()->error;
  EXPECT_NE(orphan.get()->to_json().value("error", "").find("gone.gguf"), std::string::npos);
  std::ofstream(path) << "{\"policy\": 3}";
  try {
    RulesHolder broken(path, default_routing(), no_models());
    ADD_FAILURE() << "loaded a broken rules file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("policy"), std::string::npos);
  }
}

// ---------- events ----------

TEST(Events, SseFrameIsOneDataLine) {
  Event e{7, "sample", json{{"text", "a\nb"}, {"n", 2}}};
  EXPECT_EQ(sse_frame(e), "id: 7\nevent: sample\ndata: {\"n\":2,\"text\":\"a\\nb\"}\n\n");
}

TEST(Events, BusDeliversInOrderAndTimesOut) {
  EventBus bus(3);
  EXPECT_TRUE(bus.wait_after(0, std::chrono::milliseconds(20)).empty());
  for (int i = 0; i < 5; ++i) bus.publish("x", i);
  auto got = bus.wait_after(0, std::chrono::milliseconds(0));
  ASSERT_EQ(got.size(), 3u);  // the ring keeps the last three
  EXPECT_EQ(got[0].id, 3u);
  EXPECT_EQ(got[2].data.get<int>(), 4);
  EXPECT_EQ(bus.wait_after(4, std::chrono::milliseconds(0)).size(), 1u);
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    bus.publish("y", "late");
  });
  auto woke = bus.wait_after(5, std::chrono::seconds(5));
  later.join();
  ASSERT_EQ(woke.size(), 1u);
  EXPECT_EQ(woke[0].type, "y");
  bus.close();
  EXPECT_TRUE(bus.wait_after(0, std::chrono::seconds(5)).empty());
}

TEST(Events, StoreTailFollowsRunsOfOtherProcesses) {
  std::string path = temp_dir() + "/store.sqlite";
  store::Store st(path);
  store::RunRecord r;
  r.id = "other-process-run";
  r.kind = "eval";
  r.model_name = "m";
  r.started_at = "2026-11-27T12:00:00Z";
  st.begin_run(r);
  store::StoredSample x;
  x.suite = "humaneval";
  x.model = "m";
  x.status = "passed";
  x.passed = true;
  x.task_id = "HumanEval/0";
  st.add_sample(r.id, x);
  EventBus bus;
  StoreTail tail(path, bus, std::chrono::milliseconds(20));
  auto next_store_event = [&](uint64_t& after) {
    for (int i = 0; i < 200; ++i)
      for (const Event& e : bus.wait_after(after, std::chrono::milliseconds(50))) {
        after = e.id;
        if (e.type == "store") return e.data;
      }
    return json();
  };
  uint64_t after = 0;
  json first = next_store_event(after);
  EXPECT_EQ(first["run_id"], r.id);
  EXPECT_EQ(first["samples"], 1);
  x.task_id = "HumanEval/1";
  x.passed = false;
  x.status = "failed";
  st.add_sample(r.id, x);
  json second = next_store_event(after);
  EXPECT_EQ(second["samples"], 2);
  EXPECT_EQ(second["passed"], 1);
  st.finish_run(r.id, "finished", json::object());
  EXPECT_EQ(next_store_event(after)["status"], "ended");
}

// ---------- HTTP ----------

// Passes a program unless it contains the word BUG; stands in for the sandbox.
class FakeExecutor final : public eval::Executor {
 public:
  sandbox::Result run(const sandbox::Program& p, const sandbox::Limits&) override {
    sandbox::Result r;
    bool bad = p.code.find("BUG") != std::string::npos;
    r.status = bad ? sandbox::Status::Failed : sandbox::Status::Passed;
    if (bad) r.error_type = "AssertionError";
    r.wall_seconds = 0.01;
    return r;
  }
  std::string describe() const override { return "fake"; }
};

// "half": the reference for even task numbers, a failing answer for odd ones.
class HalfBackend final : public eval::Backend {
 public:
  explicit HalfBackend(const eval::Suite& s) : canonical_(s) {}
  std::string name() const override { return "half"; }
  std::string model() const override { return "half"; }
  std::vector<eval::Generation> generate(const eval::GenerationRequest& r, const backend::StreamFn&) override {
    auto out = canonical_.generate(r);
    int number = std::stoi(r.task_id.substr(r.task_id.find('/') + 1));
    for (auto& g : out)
      if (number % 2 == 1) g.text = "    return 'BUG'\n";
    return out;
  }

 private:
  eval::CanonicalBackend canonical_;
};

// The dashboard as `lcte dashboard` serves it: behind the HTTP front, its
// access check an admission (before any body is read).
struct Served {
  std::unique_ptr<Dashboard> dashboard;
  server::HttpFront server;
  std::thread thread;
  int port = 0;
  std::string cookie;  // "lcte_session_PORT=ID" once auth() has asked for it
  explicit Served(DashboardOptions o) {
    dashboard = std::make_unique<Dashboard>(std::move(o));
    Dashboard* d = dashboard.get();
    server.add_admission([d](const httplib::Request& req) { return d->admit(req); });
    dashboard->mount(server);
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Served() {
    dashboard->shutdown();
    server.stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }
  // The session a page gets by loading /api/session on a loopback server.
  httplib::Headers auth() {
    if (cookie.empty()) {
      auto r = client().Get("/api/session");
      std::string set = r ? r->get_header_value("Set-Cookie") : "";
      cookie = set.substr(0, set.find(';'));
    }
    return {{"Cookie", cookie}};
  }
};

store::StoredSample sample(const std::string& task, int index, bool passed, double latency, std::string completion) {
  store::StoredSample s;
  s.suite = "humaneval";
  s.task_id = task;
  s.model = "m1";
  s.sample_index = index;
  s.status = passed ? "passed" : "failed";
  s.passed = passed;
  s.latency_s = latency;
  s.exec_s = 0.1;
  s.completion = std::move(completion);
  return s;
}

std::string seed_store(const std::string& path) {
  store::Store st(path);
  store::RunRecord r;
  r.id = "20261127-120000-humaneval-m1-abcd";
  r.kind = "eval";
  r.model_name = "m1";
  r.started_at = "2026-11-27T12:00:00Z";
  r.config = {{"suite", "humaneval"}};
  st.begin_run(r);
  st.add_sample(r.id, sample("HumanEval/0", 0, true, 1.0, "    return 1\n"));
  st.add_sample(r.id, sample("HumanEval/1", 0, false, 3.0, "    return \"a, \"\"b\"\n"));
  st.add_sample(r.id, sample("HumanEval/2", 0, true, 2.0, "    pass"));
  st.add_metrics(r.id, {{"process_cpu_cores", 0, 0.0, 0.5}, {"process_cpu_cores", 1, 0.5, 0.75}});
  st.finish_run(r.id, "finished", {{"suite", "humaneval"}});
  return r.id;
}

// RFC 4180 rows (quoted fields may hold commas, quotes and newlines).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        field += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field), field.clear();
    } else if (c == '\n') {
      rows.back().push_back(field), field.clear();
      rows.emplace_back();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (!field.empty() || !rows.back().empty())
    rows.back().push_back(field);
  else
    rows.pop_back();
  return rows;
}

DashboardOptions options_in(const std::string& dir) {
  DashboardOptions o;
  o.store_path = dir + "/store.sqlite";
  o.rules_path = dir + "/rules.json";
  o.assets_dir = dir + "/no-assets";
  o.where.data_dirs = {lcte::testing::data_dir()};
  o.where.cache_dir = dir + "/cache";
  o.where.allow_download = false;
  o.executor = [] { return std::make_unique<FakeExecutor>(); };
  o.models = {"canonical", "half"};
  o.backends = [](const std::string& model, const eval::Suite& s) -> std::shared_ptr<eval::Backend> {
    if (model == "canonical") return std::make_shared<eval::CanonicalBackend>(s);
    if (model == "half") return std::make_shared<HalfBackend>(s);
    return nullptr;
  };
  o.resource_rate_hz = 10;
  o.store_tail_ms = 0;
  o.routing = counted_by_gpt2();
  return o;
}

// The curve's problems and costs are those of `lcte route eval`
// (experiment::load_routing_data): cost per problem is that problem's mean
// latency in each tier, so the oracle (weak where it passes) costs
// (1 + 10 + 2) / 3 by hand; a per-run mean latency would give (2 + 10 + 2) / 3.
TEST(DashboardHttp, RoutingCurveUsesEachProblemsOwnCost) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  LCTE_REQUIRE_DATA(kVocab);
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  std::string weak = seed_store(o.store_path);  // tasks 0-2: pass, fail, pass; latency 1, 3, 2
  {
    store::Store st(o.store_path);
    store::RunRecord r;
    r.id = "strong";
    r.kind = "eval";
    r.model_name = "m2";
    r.config = {{"suite", "humaneval"}};
    st.begin_run(r);
    for (const char* task : {"HumanEval/0", "HumanEval/1", "HumanEval/2"})
      st.add_sample(r.id, sample(task, 0, true, 10.0, ""));
    st.finish_run(r.id, "finished", {{"suite", "humaneval"}});
  }
  Served s(o);
  auto c = s.client();
  auto res = c.Get(("/api/routing/curve?runs=" + weak + ",strong").c_str());
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["problems"], 3);
  EXPECT_EQ(j["cost_unit"], "mean latency per query (s)");
  EXPECT_DOUBLE_EQ(j["oracle"]["accuracy"].get<double>(), 1.0);
  EXPECT_NEAR(j["oracle"]["cost"].get<double>(), 13.0 / 3.0, 1e-12);
  EXPECT_EQ(j["tiers"], json({"m1", "m2"}));
  EXPECT_EQ(c.Get("/api/routing/curve?runs=strong,nope")->status, 404);
}

TEST(DashboardHttp, RunsRunPageAndCsv) {
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  std::string id = seed_store(o.store_path);
  Served s(o);
  auto c = s.client();

  auto runs = c.Get("/api/runs");
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->status, 200);
  json list = json::parse(runs->body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);

  auto run = c.Get(("/api/runs/" + id).c_str());
  ASSERT_EQ(run->status, 200);
  json v = json::parse(run->body);
  EXPECT_NEAR(v["pass_at_k"]["pass@1"].get<double>(), 2.0 / 3.0, 1e-12);  // 2 of 3 problems
  EXPECT_DOUBLE_EQ(v["latency_p50_s"].get<double>(), 2.0);                // median of 1, 3, 2
  EXPECT_EQ(v["samples"], 3);

  auto metrics = c.Get(("/api/runs/" + id + "/metrics").c_str());
  json m = json::parse(metrics->body);
  ASSERT_EQ(m["process_cpu_cores"].size(), 2u);
  EXPECT_DOUBLE_EQ(m["process_cpu_cores"][1][1].get<double>(), 0.75);

  auto csv = c.Get(("/api/runs/" + id + "/samples.csv").c_str());
  ASSERT_EQ(csv->status, 200);
  EXPECT_NE(csv->get_header_value("Content-Type").find("text/csv"), std::string::npos);
  auto rows = parse_csv(csv->body);
  ASSERT_EQ(rows.size(), 4u);  // header + 3 samples
  EXPECT_EQ(rows[0][1], "task_id");
  EXPECT_EQ(rows[0][14], "completion");
  EXPECT_EQ(rows[2][1], "HumanEval/1");
  EXPECT_EQ(rows[2][14], "    return \"a, \"\"b\"\n");  // quotes and comma survive
  EXPECT_EQ(rows[2][6], "0");                           // passed

  auto summary = c.Get(("/api/summary.csv?ids=" + id).c_str());
  auto srows = parse_csv(summary->body);
  ASSERT_EQ(srows.size(), 2u);
  EXPECT_EQ(srows[1][0], id);

  EXPECT_EQ(c.Get("/api/runs/nope")->status, 404);
  EXPECT_EQ(c.Get("/api/summary.csv")->status, 400);

  auto cmp = c.Get(("/api/compare?ids=" + id).c_str());
  ASSERT_EQ(cmp->status, 200);
  json cj = json::parse(cmp->body);
  ASSERT_EQ(cj["grid"].size(), 3u);
  EXPECT_EQ(cj["grid"][1]["results"][0], json({0, 1}));

  auto index = c.Get("/");
  EXPECT_EQ(index->status, 200);
  EXPECT_NE(index->body.find("assets not built"), std::string::npos);
}

TEST(DashboardHttp, StateChangesNeedTheSessionSameOriginJsonAndLoopbackHost) {
  LCTE_REQUIRE_DATA(kVocab);  // the routing tokenizer
  std::string dir = temp_dir();
  Served s(options_in(dir));
  auto c = s.client();
  const std::string port = std::to_string(s.port);
  std::string body = R"({"query": "def f(): pass"})";
  // The session: a random id in an HttpOnly, SameSite=Strict cookie, per port.
  auto page = c.Get("/");
  ASSERT_EQ(page->status, 200);
  std::string set = page->get_header_value("Set-Cookie");
  EXPECT_EQ(set.rfind("lcte_session_" + port + "=", 0), 0u) << set;
  EXPECT_NE(set.find("; HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("; SameSite=Strict"), std::string::npos) << set;
  EXPECT_NE(set.find("; Path=/"), std::string::npos) << set;
  const std::string id = set.substr(set.find('=') + 1, set.find(';') - set.find('=') - 1);
  EXPECT_EQ(id.size(), 64u);
  httplib::Headers cookie = {{"Cookie", "lcte_session_" + port + "=" + id}};
  json session = json::parse(c.Get("/api/session", cookie)->body);
  EXPECT_EQ(session, json({{"authenticated", true}, {"login_required", false}}));

  EXPECT_EQ(c.Post("/api/route", body, "application/json")->status, 403);  // no session
  EXPECT_EQ(
      c.Post("/api/route", {{"Cookie", "lcte_session_" + port + "=" + std::string(64, '0')}}, body, "application/json")
          ->status,
      403);
  EXPECT_EQ(c.Post("/api/route", {{"Cookie", "lcte_session_1=" + id}}, body, "application/json")->status, 403);
  httplib::Headers evil = cookie;
  evil.emplace("Origin", "http://evil.example");
  auto cross = c.Post("/api/route", evil, body, "application/json");
  EXPECT_EQ(cross->status, 403);
  EXPECT_NE(cross->body.find("Origin"), std::string::npos);
  // A cross-site page can send text/plain without a preflight, with the cookie
  // where SameSite does not hold it back (another port of this host).
  auto plain = c.Post("/api/route", cookie, body, "text/plain");
  EXPECT_EQ(plain->status, 415);
  httplib::Headers same_site = cookie;
  same_site.emplace("Sec-Fetch-Site", "same-site");
  EXPECT_EQ(c.Post("/api/route", same_site, body, "application/json")->status, 403);
  httplib::Headers same_origin = cookie;
  same_origin.emplace("Origin", "http://127.0.0.1:" + port);
  same_origin.emplace("Sec-Fetch-Site", "same-origin");
  auto ok = c.Post("/api/route", same_origin, body, "application/json");
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(json::parse(ok->body)["tier"], "small");
  // DNS rebinding: a page at a name of its own resolving to 127.0.0.1.
  for (const std::string& host : {std::string("evil.example:"), std::string("127.0.0.1.rebind.example:")}) {
    EXPECT_EQ(c.Get("/api/runs", {{"Host", host + port}})->status, 403) << host;
    auto rebound = c.Get("/api/session", {{"Host", host + port}});
    EXPECT_EQ(rebound->status, 403) << host;
    EXPECT_TRUE(rebound->get_header_value("Set-Cookie").empty());
    EXPECT_EQ(c.Get("/", {{"Host", host + port}})->status, 403) << host;
  }
  EXPECT_EQ(c.Get("/api/runs", {{"Host", "127.0.0.1:1"}})->status, 403);  // another port
  EXPECT_EQ(c.Post("/api/route", s.auth(), "not json", "application/json")->status, 400);
  // Logging out ends the session.
  EXPECT_EQ(c.Post("/api/logout", cookie, "{}", "application/json")->status, 200);
  EXPECT_EQ(c.Post("/api/route", cookie, body, "application/json")->status, 403);
}

TEST(DashboardHttp, UserTokenNeedsALoginAndNeverAppearsInUrlsOrAnswers) {
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  const std::string secret = "0123456789abcdef-secret";
  o.token = secret;
  o.loopback_only = false;
  Served s(o);
  auto c = s.client();
  EXPECT_EQ(c.Get("/api/runs")->status, 401);
  EXPECT_EQ(c.Get(("/api/runs?token=" + secret).c_str())->status, 401);                 // no secrets in URLs
  EXPECT_EQ(c.Get("/api/runs", {{"Authorization", "Bearer " + secret}})->status, 200);  // scripts
  auto page = c.Get("/");
  EXPECT_EQ(page->status, 200);  // the page loads, to offer the login
  EXPECT_TRUE(page->get_header_value("Set-Cookie").empty());
  json before = json::parse(c.Get("/api/session")->body);
  EXPECT_EQ(before, json({{"authenticated", false}, {"login_required", true}}));
  auto wrong = c.Post("/api/login", json{{"token", "0123456789abcdef-wrong!"}}.dump(), "application/json");
  EXPECT_EQ(wrong->status, 401);
  EXPECT_TRUE(wrong->get_header_value("Set-Cookie").empty());
  EXPECT_EQ(c.Post("/api/login", "token=" + secret, "application/x-www-form-urlencoded")->status, 415);
  auto in = c.Post("/api/login", json{{"token", secret}}.dump(), "application/json");
  ASSERT_EQ(in->status, 200) << in->body;
  EXPECT_EQ(in->body.find("secret"), std::string::npos);
  std::string set = in->get_header_value("Set-Cookie");
  EXPECT_NE(set.find("HttpOnly"), std::string::npos);
  EXPECT_EQ(set.find(secret), std::string::npos);  // a session id, not the token
  httplib::Headers cookie = {{"Cookie", set.substr(0, set.find(';'))}};
  EXPECT_EQ(c.Get("/api/runs", cookie)->status, 200);
  int events_status = 0;  // the stream never ends: look at its status only
  c.Get(
      "/api/events?after=0", cookie,
      [&](const httplib::Response& r) {
        events_status = r.status;
        return false;
      },
      [](const char*, size_t) { return false; });
  EXPECT_EQ(events_status, 200);
  EXPECT_EQ(c.Post("/api/route", cookie, R"({"query": "x"})", "application/json")->status, 200);
  auto info = c.Get("/api/session", cookie);
  EXPECT_EQ(json::parse(info->body)["authenticated"], true);
  EXPECT_EQ(info->body.find("secret"), std::string::npos);
  // Guessing is throttled: 10 failures a minute, then 429 with Retry-After.
  int throttled = 0;
  for (int i = 0; i < 12; ++i) {
    auto r = c.Post("/api/login", json{{"token", "guess-" + std::to_string(i)}}.dump(), "application/json");
    if (r->status == 429) {
      ++throttled;
      EXPECT_FALSE(r->get_header_value("Retry-After").empty());
    }
  }
  EXPECT_EQ(throttled, 3);  // the first wrong login above counts too
  DashboardOptions open = options_in(dir);
  open.loopback_only = false;
  EXPECT_THROW(Dashboard{open}, Error);  // beyond loopback without a token
}

TEST(Sessions, EndWhenIdleOrOldAndAreNeverTheSecretTheyStandFor) {
  int64_t now_s = 0;  // the test's clock, in seconds
  SessionLimits limits;
  limits.idle = std::chrono::seconds(100);
  limits.lifetime = std::chrono::seconds(250);
  limits.max_sessions = 2;
  Sessions sessions(limits, [&] { return Sessions::Clock::time_point(std::chrono::seconds(now_s)); });
  const std::string a = sessions.create();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(sessions.valid(a));
  EXPECT_FALSE(sessions.valid(""));
  EXPECT_FALSE(sessions.valid(random_hex(32)));  // well formed, never issued
  // Used every 90 s it outlives its idle time, but not its lifetime.
  for (now_s = 90; now_s < 250; now_s += 90) EXPECT_TRUE(sessions.valid(a)) << now_s;
  now_s = 251;
  EXPECT_FALSE(sessions.valid(a));
  EXPECT_EQ(sessions.size(), 0u);  // an ended session is forgotten
  // Unused beyond its idle time.
  const std::string b = sessions.create();
  now_s += 100;
  EXPECT_TRUE(sessions.valid(b));
  now_s += 101;
  EXPECT_FALSE(sessions.valid(b));
  // At most max_sessions: the least recently used one ends first.
  const std::string c = sessions.create();
  ++now_s;
  const std::string d = sessions.create();
  ++now_s;
  EXPECT_TRUE(sessions.valid(c));
  ++now_s;
  const std::string e = sessions.create();
  EXPECT_TRUE(sessions.valid(c));
  EXPECT_FALSE(sessions.valid(d));
  EXPECT_TRUE(sessions.valid(e));
  sessions.erase(e);
  EXPECT_FALSE(sessions.valid(e));
  // The login comparison: equal strings only, whatever their lengths.
  EXPECT_TRUE(same_secret("0123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(same_secret("0123456789abcdeF", "0123456789abcdef"));
  EXPECT_FALSE(same_secret("0123456789abcdef0", "0123456789abcdef"));
  EXPECT_FALSE(same_secret("0123456789abcde", "0123456789abcdef"));
  EXPECT_FALSE(same_secret("", ""));  // no secret: nothing matches it
}

TEST(DashboardHttp, AForgedOrEndedSessionIsRefusedByTheApiAndTheEventStream) {
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  const std::string secret = "0123456789abcdef-secret";
  o.token = secret;
  o.sessions.idle = std::chrono::hours(1);
  o.sessions.lifetime = std::chrono::hours(3);
  auto now_s = std::make_shared<std::atomic<int64_t>>(0);
  o.session_clock = [now_s] { return Sessions::Clock::time_point(std::chrono::seconds(now_s->load())); };
  Served s(o);
  auto c = s.client();
  const std::string name = session_cookie_name(s.port);
  auto stream_status = [&](const httplib::Headers& h) {
    int status = 0;  // the stream never ends: look at its status only
    c.Get(
        "/api/events?after=0", h,
        [&](const httplib::Response& r) {
          status = r.status;
          return false;
        },
        [](const char*, size_t) { return false; });
    return status;
  };
  auto login = [&](httplib::Headers h = {}) {
    auto r = c.Post("/api/login", h, json{{"token", secret}}.dump(), "application/json");
    EXPECT_EQ(r->status, 200) << r->body;
    return r->get_header_value("Set-Cookie");
  };
  auto as_cookie = [&](const std::string& id) { return httplib::Headers{{"Cookie", name + "=" + id}}; };
  auto id_of = [](const std::string& set) { return set.substr(set.find('=') + 1, set.find(';') - set.find('=') - 1); };

  std::string set = login();
  EXPECT_NE(set.find("; Max-Age=10800;"), std::string::npos) << set;                       // the lifetime, 3 h
  EXPECT_EQ(set.find("Secure"), std::string::npos) << set;                                 // plain HTTP
  EXPECT_NE(login({{"X-Forwarded-Proto", "https"}}).find("; Secure"), std::string::npos);  // behind a TLS proxy
  const std::string id = id_of(set);
  EXPECT_EQ(c.Get("/api/runs", as_cookie(id))->status, 200);
  EXPECT_EQ(stream_status(as_cookie(id)), 200);
  // Forged: well formed but never issued, the token itself, the id with a
  // changed digit, the id under another port's name.
  std::string flipped = id;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  for (const httplib::Headers& forged : std::vector<httplib::Headers>{
           as_cookie(random_hex(32)), as_cookie(secret), as_cookie(flipped), {{"Cookie", "lcte_session_1=" + id}}}) {
    EXPECT_EQ(c.Get("/api/runs", forged)->status, 401) << forged.begin()->second;
    EXPECT_EQ(stream_status(forged), 401) << forged.begin()->second;
    EXPECT_EQ(c.Post("/api/route", forged, R"({"query": "x"})", "application/json")->status, 401);
  }
  // In use every 50 minutes it outlives its hour of idle time, not its 3 h.
  for (int64_t t : {3000, 6000, 9000}) {
    *now_s = t;
    EXPECT_EQ(c.Get("/api/runs", as_cookie(id))->status, 200) << t;
  }
  *now_s = 10801;
  EXPECT_EQ(c.Get("/api/runs", as_cookie(id))->status, 401);
  EXPECT_EQ(stream_status(as_cookie(id)), 401);
  // Unused for more than an hour.
  const std::string next = id_of(login());
  EXPECT_EQ(stream_status(as_cookie(next)), 200);
  *now_s = 10801 + 3601;
  EXPECT_EQ(stream_status(as_cookie(next)), 401);
  EXPECT_EQ(c.Get("/api/runs", as_cookie(next))->status, 401);
  // Scripts with the token in the header are not subject to sessions.
  EXPECT_EQ(c.Get("/api/runs", {{"Authorization", "Bearer " + secret}})->status, 200);
  EXPECT_EQ(stream_status({{"Authorization", "Bearer " + secret}}), 200);
}

TEST(DashboardHttp, AccessIsCheckedBeforeTheBodyIsRead) {
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  o.token = "0123456789abcdef-secret";
  Served s(o);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(s.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  // A large body announced and never sent: only a check made on the head can answer.
  std::string head = "POST /api/evals HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port) +
                     "\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n";
  ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1) << "no answer while the body was held back";
  char buf[512] = {};
  ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
  close(fd);
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 401");
}

TEST(DashboardHttp, RulesChangeTakesEffectOnTheNextRequestAndPersists) {
  LCTE_REQUIRE_DATA(kVocab);
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  Served s(o);
  auto c = s.client();
  std::string query = "a b c d e f g h i j k l";  // 12 GPT-2 tokens
  auto route = [&] {
    return json::parse(c.Post("/api/route", s.auth(), json{{"query", query}}.dump(), "application/json")->body);
  };
  json first = route();
  EXPECT_EQ(first["tier"], "small");
  EXPECT_EQ(first["n_tokens"], 12);
  EXPECT_EQ(first["tokenizer"], lcte::testing::data_path(kVocab));
  EXPECT_EQ(route()["rules_version"], 0);
  json rules = json::parse(c.Get("/api/routing/rules")->body);
  rules["token_bounds"] = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // 12 tokens now scores 10
  auto put = c.Put("/api/routing/rules", s.auth(), rules.dump(), "application/json");
  ASSERT_EQ(put->status, 200) << put->body;
  json d = route();
  EXPECT_EQ(d["tier"], "large");
  EXPECT_EQ(d["score"], 10);
  EXPECT_EQ(d["rules_version"], 1);
  rules["max_score"] = {6, 12};
  auto bad = c.Put("/api/routing/rules", s.auth(), rules.dump(), "application/json");
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("max_score[1]"), std::string::npos) << bad->body;
  EXPECT_EQ(c.Put("/api/routing/rules", rules.dump(), "application/json")->status, 403);
  RulesHolder reloaded(o.rules_path, default_routing(), no_models());
  EXPECT_EQ(reloaded.get()->version, 1);
  EXPECT_EQ(reloaded.get()->config.token_bounds.front(), 1);
  json log = json::parse(c.Get("/api/routing/decisions")->body);
  ASSERT_EQ(log.size(), 3u);  // the three routed requests, newest first
  EXPECT_EQ(log[0]["tier"], "large");
  EXPECT_EQ(log[0]["tokenizer"], lcte::testing::data_path(kVocab));  // every decision says which tokenizer counted
  EXPECT_EQ(log[0]["policy_version"], "1");                          // the decision log's key
}

// Reads the event stream until `enough` says stop (or 20 s pass).
std::vector<std::pair<std::string, json>> read_events(
    const Served& s, const std::string& path,
    const std::function<bool(const std::vector<std::pair<std::string, json>>&)>& enough) {
  httplib::Client c("127.0.0.1", s.port);
  c.set_read_timeout(20, 0);
  std::string buffer;
  std::vector<std::pair<std::string, json>> events;
  c.Get(path.c_str(), [&](const char* data, size_t n) {
    buffer.append(data, n);
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      std::string frame = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      std::string type, payload;
      std::istringstream lines(frame);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("event: ", 0) == 0) type = line.substr(7);
        if (line.rfind("data: ", 0) == 0) payload = line.substr(6);
      }
      if (!type.empty()) events.emplace_back(type, json::parse(payload));
    }
    return !enough(events);
  });
  return events;
}

TEST(DashboardHttp, EventStreamCarriesPublishedEvents) {
  std::string dir = temp_dir();
  Served s(options_in(dir));
  std::thread publisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    s.dashboard->events().publish("test", {{"x", 1}});
    s.dashboard->events().publish("test", {{"x", 2}});
  });
  auto events = read_events(s, "/api/events", [](const auto& e) { return e.size() >= 2; });
  publisher.join();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].first, "test");
  EXPECT_EQ(events[1].second["x"], 2);
  // Streams beyond the limit are refused, and a closed one frees its place.
  {
    std::filesystem::create_directories(dir + "/limit");
    DashboardOptions one = options_in(dir + "/limit");
    one.max_event_streams = 1;
    Served limited(one);
    std::thread holder([&] { read_events(limited, "/api/events", [&](const auto& e) { return !e.empty(); }); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto refused = limited.client().Get("/api/events");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    limited.dashboard->events().publish("test", 1);
    holder.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // the next pings notice the closed stream
    std::vector<std::pair<std::string, json>> got;
    std::thread again([&] { got = read_events(limited, "/api/events", [&](const auto& e) { return !e.empty(); }); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    limited.dashboard->events().publish("test", 2);
    again.join();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].second, 2);
  }
  // Reconnecting with the last id seen gets what was missed.
  auto replay = read_events(s, "/api/events?after=1", [](const auto& e) { return !e.empty(); });
  ASSERT_EQ(replay.size(), 1u);
  EXPECT_EQ(replay[0].second["x"], 2);
}

TEST(DashboardHttp, EvaluationStartedOverHttpIsStoredAndStreamed) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  Served s(o);
  auto c = s.client();
  auto bad = c.Post("/api/evals", s.auth(), R"({"suite": "humaneval", "models": ["gpt-9"]})", "application/json");
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("models[0]"), std::string::npos);
  EXPECT_EQ(c.Post("/api/evals", s.auth(), R"({"suite": "humaneval", "models": ["half"], "n": 0})", "application/json")
                ->status,
            400);

  std::vector<std::pair<std::string, json>> events;
  std::thread reader([&] {
    events = read_events(s, "/api/events", [](const auto& e) {
      return !e.empty() && e.back().first == "job" && e.back().second["status"] != "running";
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto start = c.Post("/api/evals", s.auth(), R"({"suite": "humaneval", "models": ["half"], "n": 2, "limit": 4})",
                      "application/json");
  ASSERT_EQ(start->status, 202) << start->body;
  reader.join();
  size_t samples = 0;
  for (const auto& [type, data] : events) samples += type == "sample";
  EXPECT_EQ(samples, 8u);  // 4 tasks x 2 samples, each pushed as it finished
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().second["status"], "finished");
  std::string run_id = events.back().second["run_ids"][0];

  json v = json::parse(c.Get(("/api/runs/" + run_id).c_str())->body);
  EXPECT_EQ(v["run"]["status"], "finished");
  EXPECT_DOUBLE_EQ(v["pass_at_k"]["pass@1"].get<double>(), 0.5);  // tasks 0 and 2 of 0-3 pass
  auto rows = parse_csv(c.Get(("/api/runs/" + run_id + "/samples.csv").c_str())->body);
  EXPECT_EQ(rows.size(), 9u);
  json metrics = json::parse(c.Get(("/api/runs/" + run_id + "/metrics").c_str())->body);
  EXPECT_TRUE(metrics.contains("pass_rate"));
  EXPECT_EQ(metrics["samples_done"].size(), 8u);
  // Recorded as lcte eval records its runs: the machine described, the code
  // version, energy and resources in the summary, the recorder's metric names.
  EXPECT_TRUE(v["run"]["machine"].contains("logical_cpus")) << v["run"]["machine"].dump();
  EXPECT_FALSE(v["run"]["code_version"].get<std::string>().empty());
  EXPECT_TRUE(v["run"]["summary"]["energy"].contains("total_joules"));
  EXPECT_TRUE(v["run"]["summary"]["resources"].contains("readings"));
  EXPECT_FALSE(metrics.contains("cpu_cores"));
  EXPECT_FALSE(metrics.contains("energy_j"));
  // The live readings are the stored ones: every pushed `resources` value is a
  // point of the stored series of that name at that time, and every stored
  // reading series was pushed, one point per reading.
  size_t readings = 0;
  std::set<std::string> live_names;
  for (const auto& [type, data] : events) {
    if (type != "resources" || data["run_id"] != run_id) continue;
    ++readings;
    const double t = data["t"].get<double>();
    ASSERT_TRUE(data["metrics"].is_object()) << data.dump();
    for (const auto& [name, value] : data["metrics"].items()) {
      live_names.insert(name);
      ASSERT_TRUE(metrics.contains(name)) << name << " pushed live but not stored";
      bool stored = false;
      for (const auto& point : metrics[name])
        stored |= point[0].get<double>() == t && point[1].get<double>() == value.get<double>();
      EXPECT_TRUE(stored) << name << " = " << value << " at t = " << t << " is not in the store";
    }
  }
  EXPECT_GE(readings, 1u);  // the sampler reads once at start and once at stop
  EXPECT_TRUE(live_names.contains("process_cpu_cores"));
  EXPECT_TRUE(live_names.contains("cpu_energy_estimate_j"));
  for (const auto& [name, points] : metrics.items()) {
    if (name == "samples_done" || name == "pass_rate") continue;
    EXPECT_TRUE(live_names.contains(name)) << name << " stored but never pushed";
    if (name == "process_cpu_cores") {
      EXPECT_EQ(points.size(), readings);
    }
  }
}

// Slow enough that a stop lands in the middle of the run.
class SlowExecutor final : public eval::Executor {
 public:
  sandbox::Result run(const sandbox::Program& p, const sandbox::Limits& l) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return FakeExecutor().run(p, l);
  }
  std::string describe() const override { return "slow fake"; }
};

TEST(DashboardHttp, StopEndsTheRunAsKilled) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  o.executor = [] { return std::make_unique<SlowExecutor>(); };
  Served s(o);
  auto c = s.client();
  std::vector<std::pair<std::string, json>> events;
  std::thread reader([&] {
    events = read_events(s, "/api/events", [](const auto& e) {
      return !e.empty() && e.back().first == "job" && e.back().second["status"] != "running";
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto start = c.Post("/api/evals", s.auth(),
                      R"({"suite": "humaneval", "models": ["canonical"], "n": 5, "limit": 40, "workers": 2})",
                      "application/json");
  ASSERT_EQ(start->status, 202) << start->body;
  std::string job = json::parse(start->body)["id"];
  // A second job while one runs is refused.
  EXPECT_EQ(
      c.Post("/api/evals", s.auth(), R"({"suite": "humaneval", "models": ["canonical"]})", "application/json")->status,
      409);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(c.Post(("/api/evals/" + job + "/stop").c_str(), s.auth(), "{}", "application/json")->status, 200);
  EXPECT_EQ(c.Post("/api/evals/job-99/stop", s.auth(), "{}", "application/json")->status, 404);
  reader.join();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().second["status"], "stopped");
  std::string run_id = events.back().second["run_ids"][0];
  json v = json::parse(c.Get(("/api/runs/" + run_id).c_str())->body);
  EXPECT_EQ(v["run"]["status"], "killed");
  EXPECT_GT(v["samples"].get<int>(), 0);
  EXPECT_LT(v["samples"].get<int>(), 200);  // stopped before the 40 x 5 samples
}

TEST(DashboardHttp, ProblemsAndInteractiveTry) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  LCTE_REQUIRE_DATA(kVocab);  // the routing tokenizer
  std::string dir = temp_dir();
  Served s(options_in(dir));
  auto c = s.client();
  json all = json::parse(c.Get("/api/suites/humaneval/problems")->body);
  EXPECT_EQ(all["problems"].size(), 164u);
  json found = json::parse(c.Get("/api/suites/humaneval/problems?q=has_close_elements")->body);
  ASSERT_EQ(found["problems"].size(), 1u);
  EXPECT_EQ(found["problems"][0]["task_id"], "HumanEval/0");
  EXPECT_EQ(c.Get("/api/suites/nosuch/problems")->status, 400);
  uint64_t before = s.dashboard->events().last_id();
  auto r = c.Post("/api/try", s.auth(),
                  R"({"suite": "humaneval", "task_id": "HumanEval/1", "model": "half", "n": 2, "client_id": "c1"})",
                  "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  json t = json::parse(r->body);
  EXPECT_EQ(t["passed"], 0);
  EXPECT_EQ(t["samples"].size(), 2u);
  size_t pushed = 0;  // each sample went out on the event stream as it finished
  for (const Event& e : s.dashboard->events().wait_after(before, std::chrono::milliseconds(0)))
    if (e.type == "try" && e.data["client_id"] == "c1" && e.data["status"] == "failed") ++pushed;
  EXPECT_EQ(pushed, 2u);
  auto a = c.Post("/api/try", s.auth(), R"({"suite": "humaneval", "task_id": "HumanEval/0", "model": "auto"})",
                  "application/json");
  ASSERT_EQ(a->status, 200) << a->body;
  json at = json::parse(a->body);
  EXPECT_EQ(at["route"]["model"], "canonical");  // the default rules map both tiers to canonical
  EXPECT_EQ(at["passed"], 1);
}

// ---------- streamed text of the interactive tab ----------

TEST(TokenStream, Utf8PrefixStopsBeforeACutCharacter) {
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
  EXPECT_EQ(complete_utf8_prefix("a\xE2\x82\xAC"), 4u);  // a€: whole
  EXPECT_EQ(complete_utf8_prefix("a\xE2\x82"), 1u);      // € cut after 2 of 3 bytes
  EXPECT_EQ(complete_utf8_prefix("a\xE2"), 1u);
  EXPECT_EQ(complete_utf8_prefix("\xC3\xA9"), 2u);  // é
  EXPECT_EQ(complete_utf8_prefix("x\xC3"), 1u);
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98\x80"), 4u);  // one 4-byte emoji
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(complete_utf8_prefix("a\x80"), 2u);  // a stray continuation byte is not held back
}

struct Sent {
  int sample, chunk;
  std::string text;
  bool operator==(const Sent&) const = default;
};

TEST(TokenStream, SendsBySizeKeepsOrderAndWholeCharacters) {
  std::vector<Sent> sent;
  TokenStream ts([&](int s, int c, const std::string& t) { sent.push_back({s, c, t}); }, {std::chrono::hours(1), 4});
  ts.add(0, "ab");
  ts.add(1, "x");
  EXPECT_TRUE(sent.empty());  // 3 bytes wait
  ts.add(0, "\xE2");          // 4 bytes: sample 0 goes out without its cut character
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], (Sent{0, 0, "ab"}));
  EXPECT_EQ(sent[1], (Sent{1, 0, "x"}));
  ts.add(0, "\x82\xAC");  // € completed; 3 bytes wait
  ts.add(1, "yz");        // 5 bytes
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[2], (Sent{0, 1, "\xE2\x82\xAC"}));
  EXPECT_EQ(sent[3], (Sent{1, 1, "yz"}));
  ts.add(0, "q\xC3");
  ts.flush();  // the end: everything goes, a cut character included
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[4], (Sent{0, 2, "q\xC3"}));
  EXPECT_EQ(ts.received(0), 7u);
  EXPECT_EQ(ts.received(1), 3u);
  EXPECT_EQ(ts.received(7), 0u);
  ts.flush();
  EXPECT_EQ(sent.size(), 5u);  // nothing left to send
}

TEST(TokenStream, ZeroIntervalSendsEveryPiece) {
  std::vector<Sent> sent;
  TokenStream ts(
      [&](int s, int c, const std::string& t) {
        sent.push_back({s, c, t});
      },
      {std::chrono::milliseconds(0), 1 << 20});
  for (const char* p : {"de", "f ", "g"}) ts.add(3, p);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2], (Sent{3, 2, "g"}));
}

// Streams the reference solution in 5-byte pieces (a stand-in for a model),
// optionally waiting at a gate after the first piece.
class PiecesBackend final : public eval::Backend {
 public:
  PiecesBackend(const eval::Suite& s, std::shared_future<void> gate = {}) : canonical_(s), gate_(std::move(gate)) {}
  std::string name() const override { return "pieces"; }
  std::string model() const override { return "pieces"; }
  std::vector<eval::Generation> generate(const eval::GenerationRequest& r, const backend::StreamFn& on_text) override {
    auto out = canonical_.generate(r);
    for (auto& g : out) {
      for (size_t i = 0; i < g.text.size(); i += 5) {
        if (on_text) on_text(g.sample_index, std::string_view(g.text).substr(i, 5));
        if (i == 0 && gate_.valid()) gate_.wait();
      }
    }
    return out;
  }

 private:
  eval::CanonicalBackend canonical_;
  std::shared_future<void> gate_;
};

// The events of one try (by client id), in bus order.
std::vector<Event> events_of(EventBus& bus, uint64_t after, const std::string& client) {
  std::vector<Event> out;
  for (const Event& e : bus.wait_after(after, std::chrono::milliseconds(0)))
    if ((e.type == "try_token" || e.type == "try") && e.data.value("client_id", "") == client) out.push_back(e);
  return out;
}

// Checks that each sample's try_token texts, in order with chunks 0, 1, ...,
// make its completion, all before that sample's "try" event; returns the
// number of try_token events.
size_t check_streams(const std::vector<Event>& events, const json& result) {
  std::map<int, std::string> text;
  std::map<int, int> next_chunk;
  std::set<int> done;
  size_t tokens = 0;
  for (const Event& e : events) {
    EXPECT_EQ(e.data["try_id"], result["try_id"]);
    int i = e.data["sample_index"];
    if (e.type == "try_token") {
      ++tokens;
      EXPECT_FALSE(done.contains(i)) << "text of sample " << i << " after its result";
      EXPECT_EQ(e.data["chunk"].get<int>(), next_chunk[i]++);
      text[i] += e.data["text"].get<std::string>();
    } else {
      done.insert(i);
      EXPECT_EQ(e.data["completion"], text[i]);
    }
    EXPECT_LE(e.id, result["events_through"].get<uint64_t>());
  }
  for (const json& sample : result["samples"]) {
    int i = sample["sample_index"];
    EXPECT_TRUE(done.contains(i));
    EXPECT_EQ(text[i], sample["completion"].get<std::string>()) << "sample " << i;
  }
  return tokens;
}

DashboardOptions streaming_options(const std::string& dir, std::shared_future<void> gate = {}) {
  DashboardOptions o = options_in(dir);
  o.models = {"canonical", "pieces", "gated"};
  o.backends = [gate](const std::string& model, const eval::Suite& s) -> std::shared_ptr<eval::Backend> {
    if (model == "canonical") return std::make_shared<eval::CanonicalBackend>(s);
    if (model == "pieces") return std::make_shared<PiecesBackend>(s);
    if (model == "gated") return std::make_shared<PiecesBackend>(s, gate);
    return nullptr;
  };
  o.try_stream.interval = std::chrono::milliseconds(0);
  return o;
}

TEST(DashboardHttp, TryStreamsTheTextInOrderThenTheResult) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = temp_dir();
  Served s(streaming_options(dir));
  auto c = s.client();
  uint64_t before = s.dashboard->events().last_id();
  auto r = c.Post("/api/try", s.auth(),
                  R"({"suite": "humaneval", "task_id": "HumanEval/2", "model": "pieces", "n": 3, "client_id": "p1"})",
                  "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  json t = json::parse(r->body);
  ASSERT_EQ(t["samples"].size(), 3u);
  EXPECT_EQ(t["client_id"], "p1");
  std::string canonical = t["samples"][0]["completion"];
  ASSERT_GT(canonical.size(), 10u);
  size_t tokens = check_streams(events_of(s.dashboard->events(), before, "p1"), t);
  EXPECT_EQ(tokens, 3 * ((canonical.size() + 4) / 5));  // one event per 5-byte piece (interval 0)

  // A backend that cannot stream sends each sample's text once, whole.
  before = s.dashboard->events().last_id();
  r = c.Post("/api/try", s.auth(),
             R"({"suite": "humaneval", "task_id": "HumanEval/2", "model": "canonical", "n": 2, "client_id": "c1"})",
             "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  t = json::parse(r->body);
  EXPECT_EQ(check_streams(events_of(s.dashboard->events(), before, "c1"), t), 2u);
  EXPECT_NE(t["try_id"], json(nullptr));

  // Without a client id, the try id tells the events apart.
  before = s.dashboard->events().last_id();
  r = c.Post("/api/try", s.auth(), R"({"suite": "humaneval", "task_id": "HumanEval/2", "model": "pieces"})",
             "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  t = json::parse(r->body);
  std::vector<Event> mine;
  for (const Event& e : s.dashboard->events().wait_after(before, std::chrono::milliseconds(0)))
    if (e.data.value("try_id", "") == t["try_id"]) mine.push_back(e);
  EXPECT_EQ(check_streams(mine, t), (canonical.size() + 4) / 5);
}

TEST(DashboardHttp, ConcurrentTriesKeepTheirStreamsApart) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  std::string dir = temp_dir();
  std::promise<void> open_gate;
  Served s(streaming_options(dir, open_gate.get_future().share()));
  uint64_t before = s.dashboard->events().last_id();
  // The session first, on this thread: auth() caches it unguarded.
  const httplib::Headers session = s.auth();
  // A try held at its gate after its first piece...
  auto held = std::async(std::launch::async, [&] {
    auto c = s.client();
    return c.Post("/api/try", session,
                  R"({"suite": "humaneval", "task_id": "HumanEval/3", "model": "gated", "client_id": "same"})",
                  "application/json");
  });
  uint64_t seen = before;
  bool started = false;
  for (int i = 0; i < 100 && !started; ++i)
    for (const Event& e : s.dashboard->events().wait_after(seen, std::chrono::milliseconds(100))) {
      seen = e.id;
      started = started || (e.type == "try_token" && e.data["client_id"] == "same");
    }
  ASSERT_TRUE(started);
  // ...keeps its client id: a second try with it is refused, another runs.
  auto c = s.client();
  auto dup = c.Post("/api/try", s.auth(),
                    R"({"suite": "humaneval", "task_id": "HumanEval/4", "model": "pieces", "client_id": "same"})",
                    "application/json");
  EXPECT_EQ(dup->status, 409) << dup->body;
  EXPECT_NE(dup->body.find("client_id"), std::string::npos);
  auto other = c.Post("/api/try", s.auth(),
                      R"({"suite": "humaneval", "task_id": "HumanEval/4", "model": "pieces", "client_id": "other"})",
                      "application/json");
  ASSERT_EQ(other->status, 200) << other->body;
  open_gate.set_value();
  auto first = held.get();
  ASSERT_EQ(first->status, 200) << first->body;
  json a = json::parse(first->body), b = json::parse(other->body);
  EXPECT_NE(a["try_id"], b["try_id"]);
  EXPECT_NE(a["samples"][0]["completion"], b["samples"][0]["completion"]);
  EXPECT_GT(check_streams(events_of(s.dashboard->events(), before, "same"), a), 1u);
  EXPECT_GT(check_streams(events_of(s.dashboard->events(), before, "other"), b), 1u);
  // Once done, the id is free again.
  auto again = c.Post("/api/try", s.auth(),
                      R"({"suite": "humaneval", "task_id": "HumanEval/4", "model": "pieces", "client_id": "same"})",
                      "application/json");
  EXPECT_EQ(again->status, 200) << again->body;
}

// The real engine on a 260K-parameter model: its pieces as the generator
// makes them, for two samples (each its own request, run side by side).
TEST(DashboardHttp, TryStreamsTheEnginesPieces) {
  LCTE_REQUIRE_DATA("humaneval/HumanEval.jsonl.gz");
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  std::string dir = temp_dir();
  DashboardOptions o = options_in(dir);
  backend::EngineOptions eo;
  eo.path = lcte::testing::data_path("models/stories260K-f32.gguf");
  eo.name = "stories";
  eo.threads = 1;
  eo.n_ctx = 1024;
  auto engine = std::make_shared<backend::EngineBackend>(eo);
  o.models = {"canonical", "stories"};
  o.backends = [engine](const std::string& model, const eval::Suite& s) -> std::shared_ptr<eval::Backend> {
    if (model == "canonical") return std::make_shared<eval::CanonicalBackend>(s);
    return model == "stories" ? engine : nullptr;
  };
  o.try_stream.interval = std::chrono::milliseconds(0);
  Served s(o);
  auto c = s.client();
  uint64_t before = s.dashboard->events().last_id();
  auto r = c.Post(
      "/api/try", s.auth(),
      R"({"suite": "humaneval", "task_id": "HumanEval/2", "model": "stories", "n": 2, "temperature": 0.8, "max_tokens": 40, "client_id": "e1"})",
      "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  json t = json::parse(r->body);
  ASSERT_EQ(t["samples"].size(), 2u);
  std::vector<Event> events = events_of(s.dashboard->events(), before, "e1");
  size_t tokens = check_streams(events, t);
  std::cout << "engine: " << tokens << " try_token events for " << t["samples"][0]["completion_tokens"] << " + "
            << t["samples"][1]["completion_tokens"] << " tokens\n";
  for (const json& sample : t["samples"]) EXPECT_FALSE(sample["completion"].get<std::string>().empty());
  EXPECT_GE(tokens, 4u);  // several pieces per sample, not the whole text once
}

}  // namespace
}  // namespace lcte::dashboard
