// One [[model]] entry as studies and catalogues both read it: every key, the
// key implied backends, the TOML written back, and an error for each rule
// that names the file and line, the entry and the key.
#include "backend/model_entry.h"

#include <gtest/gtest.h>

#include "common/error_of.h"
#include "core/error.h"

namespace lcte::backend {
namespace {

const char* kFile = "/srv/fleet/models.toml";

// The first [[model]] of `text`, read as the second entry of the file would be
// when `index` says so.
ModelEntry entry_of(const std::string& text, size_t index = 0) {
  toml::table root = toml::parse(text, std::string(kFile));
  return read_model_entry(*root["model"].as_array()->get(0)->as_table(), kFile, index);
}

std::string error_of(const std::string& text, size_t index = 0) {
  return testing::error_of([&] { entry_of(text, index); });
}

TEST(ModelEntry, ReadsEveryKeyOfAnEndpoint) {
  ModelEntry m = entry_of(R"(
[[model]]
name = "coder-7b"
base_url = "http://gpu-box:8000/v1"
model = "coder-7b-served"
api_key_env = "VLLM_API_KEY"
max_in_flight = 32
style = "chat"
top_p = 0.95
split = "validation"
tier = 1
cost = 8
)");
  EXPECT_EQ(m.name, "coder-7b");
  EXPECT_EQ(m.backend, "http");  // implied by the URL
  EXPECT_TRUE(m.is_remote());
  EXPECT_EQ(m.url, "http://gpu-box:8000/v1");
  EXPECT_EQ(m.remote_model, "coder-7b-served");
  EXPECT_EQ(m.api_key_env, "VLLM_API_KEY");
  EXPECT_EQ(m.max_in_flight, 32);
  EXPECT_EQ(m.style, "instruct");  // "chat" is the same style
  ASSERT_TRUE(m.top_p.has_value());
  EXPECT_DOUBLE_EQ(*m.top_p, 0.95);
  EXPECT_EQ(m.split, "validation");
  EXPECT_EQ(m.tier, 1);
  EXPECT_DOUBLE_EQ(m.cost, 8.0);  // an integer is a number
}

TEST(ModelEntry, LocalEntriesAndTheirDefaults) {
  ModelEntry m = entry_of("[[model]]\nname = 'small'\npath = 'models/../gguf/small.gguf'\n");
  EXPECT_EQ(m.backend, "engine");
  EXPECT_TRUE(m.is_local());
  EXPECT_EQ(m.path, "/srv/fleet/gguf/small.gguf");  // beside the file, normalised
  EXPECT_EQ(m.max_in_flight, 8);
  EXPECT_EQ(m.tier, 0);
  EXPECT_DOUBLE_EQ(m.cost, 1.0);
  EXPECT_EQ(m.style, "");  // unset: the run's
  EXPECT_FALSE(m.top_p.has_value());
  EXPECT_EQ(m.split, "");
  EXPECT_EQ(entry_of("[[model]]\nname = 'r'\nref = 'coder@1'\n").ref, "coder@1");
  ModelEntry f = entry_of("[[model]]\nname = 'f'\nsamples_file = 's.jsonl'\nstyle = 'instruct'\n");
  EXPECT_EQ(f.backend, "file");
  EXPECT_EQ(f.samples_file, "/srv/fleet/s.jsonl");
  EXPECT_EQ(entry_of("[[model]]\nname = 'c'\nbackend = 'canonical'\n").backend, "canonical");
}

TEST(ModelEntry, WrittenTomlReadsBackEqual) {
  for (const char* text : {
           "[[model]]\nname = 'e'\nurl = 'https://h/v1'\nmodel = 'x/y'\napi_key_env = 'K'\nmax_in_flight = 3\n"
           "style = 'completion'\ntop_p = 0.5\nsplit = 'all'\ntier = 2\ncost = 0.25\n",
           "[[model]]\nname = 'l'\npath = '/m/a.gguf'\ntop_p = 0.9\n",
           "[[model]]\nname = 'f'\nbackend = 'file'\nsamples_file = '/s.jsonl'\ntier = 4\n",
       }) {
    ModelEntry a = entry_of(text);
    ModelEntry b = entry_of(model_entry_toml(a));
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.backend, b.backend);
    EXPECT_EQ(a.path, b.path);
    EXPECT_EQ(a.samples_file, b.samples_file);
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
}

// Each rule: the entry's text, then the error after "FILE:LINE: ", which
// names the entry as the file's second [[model]] and the key.
TEST(ModelEntry, EveryRuleNamesTheFileTheLineTheEntryAndTheKey) {
  struct Case {
    std::string body;  // after "[[model]]\n" on line 1
    int line;          // where the error points
    std::string says;  // the message from its start
  };
  const std::vector<Case> cases = {
      {"name = 'x'\npath = 'a.gguf'\ntop-p = 0.9\n", 4, "[[model]] #2 top-p: unknown key; did you mean 'top_p'?"},
      {"name = 'x'\npath = 'a.gguf'\nmax_inflight = 2\n", 4,
       "[[model]] #2 max_inflight: unknown key; did you mean 'max_in_flight'?"},
      {"name = 'x'\npath = 'a.gguf'\napi_key = 'K'\n", 4,
       "[[model]] #2 api_key: unknown key; did you mean 'api_key_env'?"},
      {"name = 'x'\npath = 'a.gguf'\ncolour = 'red'\n", 4, "[[model]] #2 colour: unknown key (known: name, backend, "},
      {"path = 'a.gguf'\n", 1, "[[model]] #2 name: missing (required)"},
      {"name = ''\npath = 'a.gguf'\n", 2, "[[model]] #2 name: must not be empty"},
      {"name = 'a:b'\npath = 'a.gguf'\n", 2, "[[model]] #2 name: 'a:b' must not contain ':'"},
      {"name = 7\n", 2, "[[model]] #2 name: expected a string, found an integer"},
      {"name = 'x'\n", 1, "[[model]] #2: give 'path' (a GGUF file), 'ref' (a registry model), 'url'"},
      {"name = 'x'\npath = 'a.gguf'\nref = 'r@1'\n", 1,
       "[[model]] #2: give exactly one of 'path' (a GGUF file) or 'ref'"},
      {"name = 'x'\nurl = 'http://h/v1'\n", 1, "[[model]] #2: an endpoint needs 'model'"},
      {"name = 'x'\nurl = 'gpu-box:8000'\nmodel = 'm'\n", 3, "[[model]] #2 url: 'gpu-box:8000' is not an http"},
      {"name = 'x'\nurl = 'http://h/v1'\nbase_url = 'http://h/v1'\nmodel = 'm'\n", 4,
       "[[model]] #2 base_url: give 'url' or 'base_url', not both"},
      {"name = 'x'\nbackend = 'telepathy'\n", 3, "[[model]] #2 backend: must be engine, http, canonical or file"},
      {"name = 'x'\nbackend = 'file'\n", 1, "[[model]] #2 samples_file: missing (required with backend = \"file\")"},
      {"name = 'x'\npath = 'a.gguf'\nmax_in_flight = 4\n", 4, "[[model]] #2 max_in_flight: is for http models"},
      {"name = 'x'\npath = 'a.gguf'\nmodel = 'm'\n", 4, "[[model]] #2 model: is for http models"},
      {"name = 'x'\nbackend = 'canonical'\ntop_p = 0.9\n", 4, "[[model]] #2 top_p: is for engine and http models"},
      {"name = 'x'\nurl = 'http://h/v1'\nmodel = 'm'\nmax_in_flight = 0\n", 5,
       "[[model]] #2 max_in_flight: must be 1 to 4096, got 0"},
      {"name = 'x'\nurl = 'http://h/v1'\nmodel = 'm'\nmax_in_flight = 2.5\n", 5,
       "[[model]] #2 max_in_flight: expected an integer, found a float"},
      {"name = 'x'\npath = 'a.gguf'\ntier = -1\n", 4, "[[model]] #2 tier: must be 0 to 1000000, got -1"},
      {"name = 'x'\npath = 'a.gguf'\ntier = 'low'\n", 4, "[[model]] #2 tier: expected an integer, found a string"},
      {"name = 'x'\npath = 'a.gguf'\ncost = 0\n", 4, "[[model]] #2 cost: must be positive, got 0"},
      {"name = 'x'\npath = 'a.gguf'\ncost = 'cheap'\n", 4, "[[model]] #2 cost: expected a number, found a string"},
      {"name = 'x'\npath = 'a.gguf'\nstyle = 'fim'\n", 4, "[[model]] #2 style: must be completion"},
      {"name = 'x'\npath = 'a.gguf'\ntop_p = 1.5\n", 4, "[[model]] #2 top_p: must be in (0, 1], got 1.5"},
      {"name = 'x'\npath = 'a.gguf'\ntop_p = 0\n", 4, "[[model]] #2 top_p: must be in (0, 1], got 0"},
      {"name = 'x'\npath = 'a.gguf'\nsplit = 'dev'\n", 4, "[[model]] #2 split: must be test, validation, train"},
  };
  for (const Case& c : cases) {
    std::string e = error_of("[[model]]\n" + c.body, 1);
    std::string at = std::string(kFile) + ":" + std::to_string(c.line) + ": ";
    EXPECT_EQ(e.rfind(at + c.says, 0), 0u) << c.body << " -> " << e;
  }
}

// An unknown key names the closest entry key where one is near, else them all.
TEST(ModelEntry, UnknownKeysNameTheClosestOrAll) {
  const std::string entry = "[[model]]\nname = 'x'\npath = 'a.gguf'\n";
  EXPECT_EQ(error_of(entry + "stlye = 'instruct'\n"),
            "/srv/fleet/models.toml:4: [[model]] #1 stlye: unknown key; did you mean 'style'?");
  EXPECT_EQ(error_of(entry + "samples = 's.jsonl'\n"),
            "/srv/fleet/models.toml:4: [[model]] #1 samples: unknown key; did you mean 'samples_file'?");
  EXPECT_EQ(error_of(entry + "temperature = 0.2\n"),
            "/srv/fleet/models.toml:4: [[model]] #1 temperature: unknown key (known: name, backend, path, ref, "
            "samples_file, url, base_url, model, api_key_env, max_in_flight, tier, cost, style, top_p, split)");
}

}  // namespace
}  // namespace lcte::backend
