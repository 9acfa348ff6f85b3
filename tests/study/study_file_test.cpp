// Study file parsing: paths resolved beside the file, every error names its key.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "backend/catalogue.h"
#include "common/error_of.h"
#include "core/error.h"
#include "eval/prompts.h"
#include "eval/suite.h"
#include "study/study.h"

namespace lcte::study {
namespace {

const char* kGood = R"(
[study]
name = "s"
output = "out"
[[model]]
name = "small"
path = "models/small.gguf"
tier = 0
cost = 1.5
[[model]]
name = "big"
backend = "canonical"
tier = 1
[[compress]]
model = "small"
types = ["Q8_0", "Q4_K_M"]
[eval]
suites = ["humaneval", "suites/mine.jsonl"]
n = 2
k = [1, 2]
limit = 5
[routing]
policies = ["threshold", "oracle"]
)";

std::string error_of(const std::string& text) {
  return testing::error_of([&] { parse_study(text, "/tmp/dir/study.toml"); });
}

TEST(StudyFile, ParsesAndResolvesPathsBesideTheFile) {
  StudySpec s = parse_study(kGood, "/tmp/dir/study.toml");
  EXPECT_EQ(s.name, "s");
  EXPECT_EQ(s.output, "/tmp/dir/out");
  ASSERT_EQ(s.models.size(), 2u);
  EXPECT_EQ(s.models[0].path, "/tmp/dir/models/small.gguf");
  EXPECT_DOUBLE_EQ(s.models[0].cost, 1.5);
  EXPECT_EQ(s.models[1].backend, "canonical");
  EXPECT_EQ(s.compress[0].types, (std::vector<std::string>{"Q8_0", "Q4_K_M"}));
  EXPECT_EQ(s.suites, (std::vector<std::string>{"humaneval", "/tmp/dir/suites/mine.jsonl"}));
  EXPECT_EQ(s.n, 2);
  EXPECT_EQ(s.limit, 5u);
  EXPECT_EQ(s.policies, (std::vector<std::string>{"threshold", "oracle"}));
}

// Each error from its start: the file, the line in kGood (counted by hand),
// the table and the key.
TEST(StudyFile, ErrorsNameTheFileLineTableAndKey) {
  std::string base = kGood;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  auto starts = [](const std::string& error, const std::string& says) {
    EXPECT_EQ(error.rfind("/tmp/dir/study.toml:" + says, 0), 0u) << error;
  };
  starts(error_of(with("tier = 0", "tier = \"low\"")), "8: [[model]] #1 tier: expected an integer, found a string");
  starts(error_of(with("cost = 1.5", "colour = 1")), "9: [[model]] #1 colour: unknown key (known: name, ");
  starts(error_of(with("types = [\"Q8_0\", \"Q4_K_M\"]", "types = [\"Q9\"]")),
         "16: [[compress]] #1 types[0]: unknown quant type 'Q9'");
  starts(error_of(with("model = \"small\"", "model = \"tiny\"")),
         "15: [[compress]] #1 model: no [[model]] named 'tiny'");
  starts(error_of(with("n = 2", "n = 0")), "19: [eval] n: must be at least 1, got 0");
  starts(error_of(with("n = 2", "n = 2.0")), "19: [eval] n: expected an integer, found a float");
  starts(error_of(with("n = 2", "n = 2\nisolation = \"none\"")),
         "20: [eval] isolation: must be auto, namespaces, user-namespaces or processes, not 'none'");
  starts(error_of(with("k = [1, 2]", "k = [1, 3]")), "20: [eval] k[1]: 3 is outside 1..n (2)");
  starts(error_of(with("limit = 5", "limit = -1")), "21: [eval] limit: must be at least 0, got -1");
  starts(error_of(with("\"threshold\", \"oracle\"", "\"coin\"")), "23: [routing] policies[0]: unknown policy 'coin'");
  starts(error_of(with("backend = \"canonical\"", "backend = \"telepathy\"")),
         "12: [[model]] #2 backend: must be engine, http, canonical or file, not 'telepathy'");
  starts(error_of(with("[study]", "[studdy]")), "2: studdy: unknown key; did you mean 'study'?");
  // A file backend needs its samples; an engine model a path or a ref.
  starts(error_of(with("backend = \"canonical\"", "backend = \"file\"")),
         "10: [[model]] #2 samples_file: missing (required with backend = \"file\")");
  starts(error_of(with("path = \"models/small.gguf\"", "")), "5: [[model]] #1: give 'path' (a GGUF file)");
  starts(error_of(with("\"humaneval\", ", "\"other/mine.jsonl\", ")),
         "18: [eval] suites[1]: two suites are both called 'mine'");
  starts(error_of(with("name = \"big\"", "name = \"a:b\"")), "11: [[model]] #2 name: 'a:b' must not contain ':'");
  starts(error_of(with("name = \"big\"", "name = \"small\"")),
         "11: [[model]] #2 name: 'small' is the name of an earlier [[model]] too");
  EXPECT_EQ(error_of("eval = 3\n[[model]]\nname = \"x\"\nbackend = \"canonical\"\n"),
            "/tmp/dir/study.toml:1: eval: expected a table, found an integer");
  // TOML syntax: file, line and column.
  starts(error_of(with("n = 2", "n = = 2")), "19:");
  EXPECT_EQ(error_of("[study]\nname = \"x\"\n"), "/tmp/dir/study.toml: no [[model]] entries; add at least one");
  EXPECT_EQ(error_of("[[model]]\nname = \"x\"\nbackend = \"canonical\"\n"),
            "/tmp/dir/study.toml: [eval] suites: missing (required, e.g. suites = [\"humaneval\"])");
  EXPECT_EQ(error_of("[[model]]\nname = \"x\"\nbackend = \"canonical\"\n[eval]\nn = 1\n"),
            "/tmp/dir/study.toml:4: [eval] suites: missing (required, e.g. suites = [\"humaneval\"])");
}

}  // namespace
}  // namespace lcte::study

namespace lcte::study {
namespace {

// A study of one canonical tier and the given entries, with `routing` as its [routing].
std::string fleet(const std::string& entries, const std::string& eval = "", const std::string& routing = "") {
  return "[[model]]\nname = \"ref\"\nbackend = \"canonical\"\n" + entries + "[eval]\nsuites = [\"humaneval\"]\n" +
         eval + "[routing]\n" + routing;
}

const char* kEndpoint = "[[model]]\nname = \"coder-7b\"\nurl = \"http://gpu-box:8000/v1\"\nmodel = \"coder-7b\"\n";

// One entry, read by the study and by the catalogue: the same values.
TEST(StudyFile, ModelEntriesMeanWhatTheyMeanInACatalogue) {
  const std::string entry =
      "[[model]]\nname = \"coder-7b\"\nbase_url = \"http://gpu-box:8000/v1\"\nmodel = \"coder-7b\"\n"
      "api_key_env = \"VLLM_API_KEY\"\nmax_in_flight = 32\nstyle = \"chat\"\ntop_p = 0.95\nsplit = \"test\"\n"
      "tier = 1\ncost = 8\n"
      "[[model]]\nname = \"small\"\npath = \"m/small.gguf\"\nstyle = \"completion\"\ntop_p = 0.9\nsplit = \"test\"\n";
  StudySpec s = parse_study(entry + "[eval]\nsuites = [\"humaneval\"]\n", "/srv/fleet/study.toml");
  backend::Catalogue c = backend::parse_catalogue(entry, "/srv/fleet/models.toml");
  ASSERT_EQ(s.models.size(), c.models.size());
  for (size_t i = 0; i < s.models.size(); ++i) {
    const ModelSpec& a = s.models[i];
    const backend::ModelEntry& b = c.models[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.backend, b.backend);
    EXPECT_EQ(a.path, b.path);
    EXPECT_EQ(a.url, b.url);
    EXPECT_EQ(a.remote_model, b.remote_model);
    EXPECT_EQ(a.api_key_env, b.api_key_env);
    EXPECT_EQ(a.max_in_flight, b.max_in_flight);
    EXPECT_EQ(a.tier, b.tier);
    EXPECT_EQ(a.cost, b.cost);
    EXPECT_EQ(a.style, b.style);
    EXPECT_EQ(a.top_p, b.top_p);
    EXPECT_EQ(a.split, b.split);
  }
  EXPECT_EQ(s.models[0].style, "instruct");
  EXPECT_EQ(s.models[1].path, "/srv/fleet/m/small.gguf");
  // And an error reads the same in both, the file aside.
  auto error = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string bad = "[[model]]\nname = \"x\"\npath = \"a.gguf\"\ntop-p = 0.9\n";
  std::string in_study = error([&] { parse_study(bad + "[eval]\nsuites = [\"humaneval\"]\n", "/f.toml"); });
  std::string in_catalogue = error([&] { backend::parse_catalogue(bad, "/f.toml"); });
  EXPECT_EQ(in_study, "/f.toml:4: [[model]] #1 top-p: unknown key; did you mean 'top_p'?");
  EXPECT_EQ(in_study, in_catalogue);
}

// The entry parser lives below eval and spells eval's names itself: each
// one it accepts must be one eval takes.
TEST(StudyFile, EntryStylesAndSplitsAreEvalsNames) {
  for (const char* style : {"completion", "instruct", "chat"}) {
    StudySpec s = parse_study(fleet(fmt::format("{}style = \"{}\"\n", kEndpoint, style)), "/s.toml");
    EXPECT_NO_THROW(eval::parse_style(s.models[1].style)) << style;
  }
  for (const char* split : {"test", "validation", "train", "prompt", "all"}) {
    StudySpec s = parse_study(fleet("", fmt::format("split = \"{}\"\n", split)), "/s.toml");
    EXPECT_NO_THROW(eval::parse_split(s.models[0].split)) << split;
  }
}

// Each model is evaluated with its own style, top_p and split, else [eval]'s,
// and an endpoint's in-flight cap reaches the run.
TEST(StudyFile, PerModelSettingsReachTheEvalSteps) {
  StudySpec s = parse_study(fleet(std::string(kEndpoint) + "style = \"instruct\"\ntop_p = 0.8\nmax_in_flight = 3\n",
                                  "split = \"all\"\ntop_p = 0.9\n", "policies = [\"oracle\"]\n"),
                            "/tmp/lcte-fleet-plan/study.toml");
  StudyOptions o;
  o.dry_run = true;
  o.print = [](const std::string&) {};
  StudyResult r = run_study(s, o);
  std::map<std::string, nlohmann::json> configs;
  for (const Step& step : r.plan)
    if (step.kind == "eval") configs[step.id] = step.inputs["config"];
  ASSERT_EQ(configs.size(), 2u);
  const auto& own = configs["eval:coder-7b:humaneval"];
  EXPECT_EQ(own["style"], "instruct");
  EXPECT_EQ(own["top_p"], 0.8);
  EXPECT_EQ(own["split"], "all");
  EXPECT_EQ(own["backend"], "http");
  EXPECT_EQ(own["model"], "coder-7b");
  const auto& defaults = configs["eval:ref:humaneval"];
  EXPECT_EQ(defaults["style"], "completion");
  EXPECT_EQ(defaults["top_p"], 0.9);
  EXPECT_EQ(defaults["split"], "all");
  EXPECT_EQ(s.models[1].max_in_flight, 3);
}

// routing.cost = "energy" would weigh an endpoint by this machine's waiting
// client: refused at load, naming the file, the entry and what to use.
TEST(StudyFile, EnergyCostRefusesEndpoints) {
  std::string e = error_of(fleet(kEndpoint, "", "cost = \"energy\"\n"));
  EXPECT_EQ(e.rfind("/tmp/dir/study.toml:6: [[model]] #2 url: 'http://gpu-box:8000/v1' is an endpoint, and "
                    "[routing] cost = \"energy\"",
                    0),
            0u)
      << e;
  EXPECT_NE(e.find("report no energy"), std::string::npos) << e;
  EXPECT_NE(e.find("use cost = \"latency\", \"tokens\" or \"weights\""), std::string::npos) << e;
  // Local tiers only: energy is this machine's, and measured.
  EXPECT_EQ(error_of(fleet("[[model]]\nname = \"m\"\npath = \"m.gguf\"\n", "", "cost = \"energy\"\n")),
            testing::kNoError);
  // Other costs take endpoints.
  for (const char* cost : {"latency", "tokens", "weights", "auto"})
    EXPECT_EQ(error_of(fleet(kEndpoint, "", fmt::format("cost = \"{}\"\n", cost))), testing::kNoError) << cost;
}

// Routing compares tiers task by task: the models share one split when the
// study routes, and the live router's tiers one style and top_p.
TEST(StudyFile, RoutedModelsShareSplitAndOnlineTiersStyleAndTopP) {
  std::string e = error_of(fleet(std::string(kEndpoint) + "split = \"train\"\n"));
  EXPECT_EQ(e.rfind("/tmp/dir/study.toml:8: [[model]] #2 split: 'train', but [[model]] #1 'ref' is evaluated on "
                    "'test'; routing compares",
                    0),
            0u)
      << e;
  EXPECT_EQ(error_of(fleet(std::string(kEndpoint) + "split = \"train\"\n", "split = \"train\"\n")), testing::kNoError);
  // Without routing each model may take its own split.
  EXPECT_EQ(error_of(fleet(std::string(kEndpoint) + "split = \"train\"\n", "", "policies = []\n")), testing::kNoError);

  const std::string second = "[[model]]\nname = \"coder-32b\"\nurl = \"http://gpu-farm:8000/v1\"\nmodel = \"c\"\n";
  const std::string online = "online = [\"threshold\"]\nonline_tiers = [\"coder-7b\", \"coder-32b\"]\n";
  e = error_of(fleet(std::string(kEndpoint) + second + "style = \"instruct\"\n", "", online));
  EXPECT_EQ(e.rfind("/tmp/dir/study.toml:12: [[model]] #3 style: 'instruct', but online tier 'coder-7b' is prompted "
                    "'completion'; the online router",
                    0),
            0u)
      << e;
  e = error_of(fleet(std::string(kEndpoint) + second + "top_p = 0.5\n", "", online));
  EXPECT_EQ(e.rfind("/tmp/dir/study.toml:12: [[model]] #3 top_p: 0.5, but online tier 'coder-7b' samples with 1;", 0),
            0u)
      << e;
  // The same settings through [eval], or set alike, are fine; the canonical
  // tier outside online_tiers may differ.
  EXPECT_EQ(
      error_of(fleet(std::string(kEndpoint) + "style = \"chat\"\n" + second + "style = \"instruct\"\n", "", online)),
      testing::kNoError);
}

TEST(StudyFile, UnknownTableKeysNameTheClosest) {
  EXPECT_EQ(error_of(fleet("", "temprature = 0.2\n")),
            "/tmp/dir/study.toml:6: [eval] temprature: unknown key; did you mean 'temperature'?");
  EXPECT_EQ(error_of(fleet("", "style = \"fim\"\n")),
            "/tmp/dir/study.toml:6: [eval] style: must be completion (the raw prompt) or instruct (chat messages; "
            "also 'chat'), not 'fim'");
  EXPECT_EQ(error_of(fleet("", "top_p = 2\n")), "/tmp/dir/study.toml:6: [eval] top_p: must be in (0, 1], got 2");
  EXPECT_EQ(error_of(fleet("", "split = \"dev\"\n")),
            "/tmp/dir/study.toml:6: [eval] split: must be test, validation, train, prompt or all, not 'dev'");
}

}  // namespace
}  // namespace lcte::study

namespace lcte::study {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fenced blocks of one language in `text`, joined.
std::string fenced(const std::string& text, const std::string& language) {
  std::string out;
  for (size_t pos = text.find("```"); pos != std::string::npos; pos = text.find("```", pos)) {
    size_t eol = text.find('\n', pos);
    size_t end = text.find("```", eol);
    if (eol == std::string::npos || end == std::string::npos) break;
    if (text.substr(pos + 3, eol - pos - 3) == language) out += text.substr(eol + 1, end - eol - 1) + "\n";
    pos = end + 3;
  }
  return out;
}

// What follows each `flag` in the shell text.
std::set<std::string> flag_values(const std::string& sh, const std::string& flag) {
  std::set<std::string> out;
  std::istringstream words(sh);
  std::string word, previous;
  while (words >> word) {
    if (previous == flag) out.insert(word);
    previous = word;
  }
  return out;
}

// The guide's vLLM recipe runs as written: its TOML snippets put together
// are a study, the one in examples/, whose endpoints' `model` are the `vllm
// serve --served-model-name` values, at the `--port` and with the key
// variable given to `--api-key`; the catalogue example holds the same entries.
TEST(StudyFile, TheGuidesVllmRecipeParsesAndItsNamesMatchTheServers) {
  const std::string guide = slurp(std::string(LCTE_SOURCE_DIR) + "/docs/guide.md");
  const size_t from = guide.find("## 2. "), to = guide.find("## 3. ");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  const std::string section = guide.substr(from, to - from);
  ASSERT_NE(section.find("vLLM"), std::string::npos);
  const std::string sh = fenced(section, "sh");
  const std::string examples = std::string(LCTE_SOURCE_DIR) + "/examples/";
  StudySpec doc = parse_study(fenced(section, "toml"), examples + "fleet.toml");
  StudySpec file = load_study(examples + "vllm-study.toml");

  ASSERT_EQ(doc.models.size(), file.models.size());
  for (size_t i = 0; i < doc.models.size(); ++i) {
    const ModelSpec &a = doc.models[i], &b = file.models[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.backend, b.backend);
    EXPECT_EQ(a.path, b.path);
    EXPECT_EQ(a.url, b.url);
    EXPECT_EQ(a.remote_model, b.remote_model);
    EXPECT_EQ(a.api_key_env, b.api_key_env);
    EXPECT_EQ(a.max_in_flight, b.max_in_flight);
    EXPECT_EQ(a.tier, b.tier);
    EXPECT_EQ(a.cost, b.cost);
    EXPECT_EQ(a.style, b.style);
    EXPECT_EQ(a.top_p, b.top_p);
  }
  EXPECT_EQ(doc.name, file.name);
  EXPECT_EQ(doc.suites, file.suites);
  EXPECT_EQ(doc.routing_cost, file.routing_cost);
  EXPECT_EQ(doc.online_tiers, file.online_tiers);
  EXPECT_EQ(doc.routing.max_score, file.routing.max_score);

  std::set<std::string> served, ports, keys;
  for (const ModelSpec& m : file.models) {
    if (!m.is_remote()) continue;
    served.insert(m.remote_model);
    ports.insert(m.url.substr(m.url.rfind(':') + 1, m.url.rfind("/v1") - m.url.rfind(':') - 1));
    keys.insert("\"$" + m.api_key_env + "\"");
    EXPECT_EQ(m.style, "instruct") << m.name;
  }
  EXPECT_EQ(served.size(), 2u);
  EXPECT_EQ(flag_values(sh, "--served-model-name"), served);
  EXPECT_EQ(flag_values(sh, "--port"), ports);
  EXPECT_EQ(flag_values(sh, "--api-key"), keys);
  EXPECT_EQ(flag_values(sh, "serve").size(), 2u);  // one `vllm serve MODEL` per endpoint

  backend::Catalogue catalogue = backend::load_catalogue(examples + "vllm-models.toml");
  ASSERT_EQ(catalogue.models.size(), file.models.size());
  for (size_t i = 0; i < file.models.size(); ++i) {
    const ModelSpec& m = file.models[i];
    const backend::ModelEntry& c = catalogue.models[i];
    EXPECT_EQ(c.name, m.name);
    EXPECT_EQ(c.path, m.path);
    EXPECT_EQ(c.url, m.url);
    EXPECT_EQ(c.remote_model, m.remote_model);
    EXPECT_EQ(c.max_in_flight, m.max_in_flight);
    EXPECT_EQ(c.cost, m.cost);
    EXPECT_EQ(c.style, m.style);
    EXPECT_EQ(catalogue.routing.tiers[i], file.online_tiers[i]);
  }
  EXPECT_EQ(catalogue.routing.max_score, file.routing.max_score);
}

// Every study file in examples/ and docs/ loads (the guide's section 1 alone).
TEST(StudyFile, TheShippedStudyFilesLoad) {
  const std::string root = std::string(LCTE_SOURCE_DIR);
  EXPECT_NO_THROW(load_study(root + "/examples/study.toml"));
  const std::string guide = slurp(root + "/docs/guide.md");
  const size_t from = guide.find("## 1. "), to = guide.find("## 2. ");
  std::string first = fenced(guide.substr(from, to - from), "toml");
  EXPECT_NO_THROW(parse_study(first, root + "/docs/study.toml")) << first;
}

}  // namespace
}  // namespace lcte::study
