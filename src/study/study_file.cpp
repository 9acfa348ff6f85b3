// The study file (TOML): see docs/formats.md and examples/study.toml.
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "backend/model_entry.h"
#include "core/error.h"
#include "core/toml_read.h"
#include "quant/mix.h"
#include "sandbox/sandbox.h"
#include "study/study.h"

namespace lcte::study {
namespace fs = std::filesystem;

namespace {

std::string absolute_from(const fs::path& base, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal().string();
}

// Suite names lcte knows stay names; anything else is a JSONL path.
bool is_builtin_suite(const std::string& s) {
  return s.find('/') == std::string::npos && s.find(".json") == std::string::npos;
}

}  // namespace

route::RouterConfig default_routing() {
  route::RouterConfig c;
  c.tiers.clear();
  c.max_score.clear();
  return c;
}

namespace {

template <class T, class U>
void set(const std::optional<T>& value, U& out) {
  if (value) out = static_cast<U>(*value);
}

bool contains(const std::vector<std::string>& words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

constexpr int64_t kIntMax = std::numeric_limits<int>::max();

// The [routing] keys route::RouterConfig reads, checked as it checks them
// (on stand-in tiers: the study's models become the tiers when it runs). A
// relative learned_model, or a tokenizer that is a file path, is relative to
// the study file.
route::RouterConfig read_router_settings(const TomlTable& t, const std::vector<std::string>& keys,
                                         const fs::path& base) {
  toml::table subset = t.table();
  for (const auto& [k, v] : t.table())
    if (!contains(keys, k.str())) subset.erase(k);
  std::stringstream ss;
  ss << toml::json_formatter{subset};
  const nlohmann::json j = nlohmann::json::parse(ss.str());
  route::RouterConfig c = default_routing();
  try {
    route::RouterConfig given = route::RouterConfig::from_json(j);
    c.token_bounds = given.token_bounds;
    c.tokenizer = given.tokenizer;
    c.random_share = given.random_share;
    c.learned_target = given.learned_target;
    c.learned_model = given.learned_model;
    if (j.contains("max_score")) c.max_score = given.max_score;
    route::RouterConfig probe = c;
    probe.policy = "threshold";
    probe.tiers.clear();
    const size_t n = c.max_score.empty() ? 2 : c.max_score.size();
    for (size_t i = 0; i < n; ++i) probe.tiers.push_back(fmt::format("tier{}", i));
    if (probe.max_score.empty()) probe.max_score = route::default_max_scores(n);
    probe.validate();
    if (!(c.random_share >= 0 && c.random_share <= 1)) fail("random_share: {} is outside 0-1", c.random_share);
    if (!(c.learned_target > 0 && c.learned_target <= 1))
      fail("learned_target: {} is outside (0, 1]", c.learned_target);
  } catch (const Error& e) {
    t.fail_keyed_message(e.what());
  }
  c.learned_model = absolute_from(base, c.learned_model);
  const std::string& tok = c.tokenizer;
  if (tok.find('/') != std::string::npos || tok.ends_with(".gguf") || tok.ends_with(".tiktoken"))
    c.tokenizer = absolute_from(base, tok);
  return c;
}

// Each model's style, top_p and split: its own, else [eval]'s.
void resolve_eval_settings(StudySpec& s) {
  for (ModelSpec& m : s.models) {
    if (m.style.empty()) m.style = s.style;
    if (!m.top_p) m.top_p = s.top_p;
    if (m.split.empty()) m.split = s.split;
  }
}

// What only a study decides about its fleet: energy as the routing cost needs
// energy of every tier; routing compares models on the same tasks; the live
// router sends one prompt form with one top_p to whichever tier it picks.
// `tables` are the [[model]] tables, for the lines of errors.
void check_fleet(const StudySpec& s, const std::vector<TomlTable>& tables) {
  for (size_t i = 0; i < s.models.size(); ++i) {
    const ModelSpec& m = s.models[i];
    if (s.routing_cost == "energy" && m.is_remote())
      tables[i].fail_key(
          tables[i].has("url") ? "url" : "base_url",
          fmt::format(
              "'{}' is an endpoint, and [routing] cost = \"energy\": lcte can measure only this machine, whose "
              "client waits while the server works, and OpenAI-compatible servers (vLLM, llama.cpp's server, TGI, "
              "Ollama) report no energy in their responses; use cost = \"latency\", \"tokens\" or \"weights\" "
              "(the models' cost)",
              m.url));
  }
  const bool routes = (s.models.size() >= 2 && !s.policies.empty()) || !s.online.empty();
  auto split_of = [](const ModelSpec& m) { return m.split.empty() ? std::string("test") : m.split; };
  for (size_t i = 1; i < s.models.size() && routes; ++i)
    if (split_of(s.models[i]) != split_of(s.models[0]))
      tables[i].fail_key("split", fmt::format("'{}', but [[model]] #1 '{}' is evaluated on '{}'; routing compares "
                                              "the models task by task, so they share one split (set it in [eval])",
                                              split_of(s.models[i]), s.models[0].name, split_of(s.models[0])));
  if (s.online.empty()) return;
  // The online tiers, as given models (a quantized one shares its source's settings).
  auto index_of = [&](const std::string& name) -> size_t {
    for (size_t i = 0; i < s.models.size(); ++i)
      if (s.models[i].name == name) return i;
    return 0;
  };
  auto given = [&](const std::string& name) -> size_t {
    for (const CompressSpec& c : s.compress)
      for (const auto& ty : c.types)
        if (c.model + "-" + ty == name) return index_of(c.model);
    return index_of(name);
  };
  std::vector<size_t> tiers;
  if (s.online_tiers.empty())
    for (size_t i = 0; i < s.models.size(); ++i) tiers.push_back(i);
  else
    for (const auto& name : s.online_tiers) tiers.push_back(given(name));
  for (size_t i : tiers) {
    const ModelSpec& a = s.models[tiers.front()];
    const ModelSpec& b = s.models[i];
    if (b.style != a.style)
      tables[i].fail_key("style", fmt::format("'{}', but online tier '{}' is prompted '{}'; the online router "
                                              "([routing] online) sends one prompt form to whichever tier it picks",
                                              b.style, a.name, a.style));
    if (*b.top_p != *a.top_p)
      tables[i].fail_key("top_p", fmt::format("{}, but online tier '{}' samples with {}; the online router "
                                              "([routing] online) samples every tier with one top_p",
                                              *b.top_p, a.name, *a.top_p));
  }
}

void read_study_table(const TomlTable& root, const fs::path& base, StudySpec& s) {
  std::string output = "study-out";
  if (auto t = root.subtable("study", "[study]")) {
    t->check_keys({"name", "output", "registry", "store"});
    set(t->string("name"), s.name);
    set(t->string("output"), output);
    set(t->string("registry"), s.registry);
    set(t->string("store"), s.store);
  }
  if (s.name.empty()) s.name = fs::path(s.path).stem().string();
  s.output = absolute_from(base, output);
  s.registry = absolute_from(base, s.registry);
  s.store = absolute_from(base, s.store);
}

// The [[compress]] tables; `names` holds the models' names and gains the
// quantized models'.
void read_compress_tables(const TomlTable& root, const fs::path& base, StudySpec& s, std::set<std::string>& names) {
  for (const TomlTable& t : root.tables("compress")) {
    t.check_keys({"model", "types", "imatrix"});
    CompressSpec c;
    set(t.string("model"), c.model);
    set(t.strings("types"), c.types);
    set(t.string("imatrix"), c.imatrix);
    if (!t.has("model")) t.fail_missing("model", "required: the [[model]] to quantize");
    auto m = std::find_if(s.models.begin(), s.models.end(), [&](const ModelSpec& x) { return x.name == c.model; });
    if (m == s.models.end()) t.fail_key("model", fmt::format("no [[model]] named '{}'", c.model));
    if (m->backend != "engine")
      t.fail_key("model", fmt::format("'{}' is not a GGUF model (backend {})", c.model, m->backend));
    if (!t.has("types")) t.fail_missing("types", "required, e.g. types = [\"Q4_K_M\"]");
    if (c.types.empty()) t.fail_key("types", "needs at least one quant type, e.g. [\"Q4_K_M\"]");
    for (size_t i = 0; i < c.types.size(); ++i) {
      if (!quant::parse_file_type(c.types[i]))
        t.fail_item("types", i, fmt::format("unknown quant type '{}'", c.types[i]));
      const std::string derived = c.model + "-" + c.types[i];
      if (!names.insert(derived).second)
        t.fail_item("types", i, fmt::format("model '{}' would be made twice", derived));
    }
    c.imatrix = absolute_from(base, c.imatrix);
    s.compress.push_back(c);
  }
}

void read_eval_table(const TomlTable& root, const fs::path& base, StudySpec& s) {
  const char* kSuitesHint = "required, e.g. suites = [\"humaneval\"]";
  const std::optional<TomlTable> t = root.subtable("eval", "[eval]");
  if (!t) fail("{}: [eval] suites: missing ({})", root.file(), kSuitesHint);
  t->check_keys({"suites", "n", "temperature", "k", "limit", "suite_limits", "max_tokens", "timeout", "workers", "seed",
                 "isolation", "style", "top_p", "split"});
  set(t->strings("suites"), s.suites);
  set(t->integer("n", 1, kIntMax), s.n);
  set(t->number("temperature"), s.temperature);
  if (auto k = t->integers("k", 1, kIntMax)) {
    s.k.assign(k->begin(), k->end());
    for (size_t i = 0; i < s.k.size(); ++i)
      if (s.k[i] > s.n) t->fail_item("k", i, fmt::format("{} is outside 1..n ({})", s.k[i], s.n));
  }
  set(t->integer("limit", 0), s.limit);
  set(t->integer("max_tokens", 1, kIntMax), s.max_tokens);
  set(t->number("timeout"), s.timeout);
  set(t->integer("workers", 0, kIntMax), s.workers);
  set(t->integer("seed", 0), s.seed);
  set(t->string("isolation"), s.isolation);
  set(t->string("style"), s.style);
  set(t->number("top_p"), s.top_p);
  set(t->string("split"), s.split);
  if (s.style == "chat") s.style = "instruct";
  if (s.style != "completion" && s.style != "instruct")
    t->fail_key("style", fmt::format("must be completion (the raw prompt) or instruct (chat messages; also "
                                     "'chat'), not '{}'",
                                     s.style));
  if (!(s.top_p > 0 && s.top_p <= 1)) t->fail_key("top_p", fmt::format("must be in (0, 1], got {}", s.top_p));
  static const std::set<std::string> splits = {"", "test", "validation", "train", "prompt", "all"};
  if (!splits.count(s.split))
    t->fail_key("split", fmt::format("must be test, validation, train, prompt or all, not '{}'", s.split));
  if (!sandbox::is_isolation_name(s.isolation))
    t->fail_key("isolation",
                fmt::format("must be auto, namespaces, user-namespaces or processes, not '{}'", s.isolation));

  if (!t->has("suites")) t->fail_missing("suites", kSuitesHint);
  if (s.suites.empty()) t->fail_key("suites", "needs at least one suite, e.g. suites = [\"humaneval\"]");
  std::set<std::string> labels;
  for (size_t i = 0; i < s.suites.size(); ++i) {
    std::string& suite = s.suites[i];
    if (!is_builtin_suite(suite)) suite = absolute_from(base, suite);
    const std::string label = is_builtin_suite(suite) ? suite : fs::path(suite).stem().string();
    if (!labels.insert(label).second) t->fail_item("suites", i, fmt::format("two suites are both called '{}'", label));
  }
  if (auto lt = t->subtable("suite_limits", "[eval.suite_limits]")) {
    for (const auto& [k, v] : lt->table()) {
      const std::string label(k.str());
      s.suite_limits[label] = static_cast<size_t>(*lt->integer(label, 0));
      if (!labels.count(label)) lt->fail_key(label, "names no suite in [eval] suites");
    }
  }
}

void read_routing_table(const TomlTable& root, const fs::path& base, StudySpec& s) {
  const std::optional<TomlTable> t = root.subtable("routing", "[routing]");
  if (!t) return;
  static const std::vector<std::string> kRouterKeys = {"tokenizer",    "token_bounds",   "max_score",
                                                       "random_share", "learned_target", "learned_model"};
  std::vector<std::string> known = {"policies", "cost", "folds", "online", "online_tiers"};
  known.insert(known.end(), kRouterKeys.begin(), kRouterKeys.end());
  t->check_keys(known);
  set(t->strings("policies"), s.policies);
  set(t->string("cost"), s.routing_cost);
  set(t->integer("folds", 2, kIntMax), s.folds);
  set(t->strings("online"), s.online);
  set(t->strings("online_tiers"), s.online_tiers);
  s.routing = read_router_settings(*t, kRouterKeys, base);

  static const std::set<std::string> known_policies = {"threshold", "learned", "random", "cascade", "oracle", "always"};
  for (size_t i = 0; i < s.policies.size(); ++i)
    if (!known_policies.count(s.policies[i]))
      t->fail_item("policies", i, fmt::format("unknown policy '{}'", s.policies[i]));
  static const std::set<std::string> costs = {"weights", "latency", "tokens", "energy", "auto"};
  if (!costs.count(s.routing_cost))
    t->fail_key("cost", fmt::format("must be weights, latency, tokens, energy or auto, not '{}'", s.routing_cost));

  // Online policies and tiers must name models, given or quantized.
  std::set<std::string> all_models;
  for (const auto& m : s.models) all_models.insert(m.name);
  for (const auto& c : s.compress)
    for (const auto& ty : c.types) all_models.insert(c.model + "-" + ty);
  for (size_t i = 0; i < s.online.size(); ++i) {
    const std::string& p = s.online[i];
    const bool deployable = p == "threshold" || p == "random" || p == "learned" || p.starts_with("always-");
    if (!deployable)
      t->fail_item("online", i,
                   fmt::format("policy '{}' cannot run online (threshold, random, learned or always-<model>)", p));
    if (p == "learned" && s.routing.learned_model.empty())
      t->fail_item("online", i, "the learned policy needs learned_model (a file from `lcte route train`)");
    if (p.starts_with("always-") && !all_models.count(p.substr(7)))
      t->fail_item("online", i, fmt::format("'{}' names no model", p));
  }
  for (size_t i = 0; i < s.online_tiers.size(); ++i)
    if (!all_models.count(s.online_tiers[i]))
      t->fail_item("online_tiers", i, fmt::format("no model '{}'", s.online_tiers[i]));
}

}  // namespace

StudySpec parse_study(const std::string& text, const std::string& origin) {
  const toml::table doc = parse_toml(text, origin);
  const TomlTable root(doc, origin, "");
  root.check_keys({"study", "model", "compress", "eval", "routing", "measure"});
  const fs::path base = fs::absolute(fs::path(origin)).parent_path();
  StudySpec s;
  s.path = origin;
  read_study_table(root, base, s);

  const std::vector<TomlTable> models = root.tables("model");
  std::set<std::string> names;
  for (size_t i = 0; i < models.size(); ++i) {
    ModelSpec m = backend::read_model_entry(models[i].table(), origin, i);
    if (!names.insert(m.name).second)
      models[i].fail_key("name", fmt::format("'{}' is the name of an earlier [[model]] too", m.name));
    s.models.push_back(m);
  }
  if (s.models.empty()) fail("{}: no [[model]] entries; add at least one", origin);

  read_compress_tables(root, base, s, names);
  read_eval_table(root, base, s);
  read_routing_table(root, base, s);
  if (auto t = root.subtable("measure", "[measure]")) {
    t->check_keys({"sample_rate_hz"});
    set(t->number("sample_rate_hz"), s.sample_rate_hz);
    if (s.sample_rate_hz < 0)
      t->fail_key("sample_rate_hz", fmt::format("must not be negative, got {}", s.sample_rate_hz));
  }
  resolve_eval_settings(s);
  check_fleet(s, models);
  return s;
}

StudySpec load_study(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot read the study file", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_study(ss.str(), path);
}

}  // namespace lcte::study
