// The study file (TOML): see docs/formats.md and examples/study.toml.
#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "backend/model_entry.h"
#include "core/error.h"
#include "quant/mix.h"
#include "sandbox/sandbox.h"
#include "study/study.h"

namespace lcte::study {
namespace fs = std::filesystem;

namespace {

std::string where(const toml::node& n, const std::string& origin) {
  const auto& s = n.source();
  return s.begin.line > 0 ? fmt::format("{}:{}", origin, s.begin.line) : origin;
}

void check_known_keys(const toml::table& t, const std::set<std::string>& known, const std::string& origin,
                      const std::string& table) {
  for (const auto& [k, v] : t) {
    if (known.count(std::string(k.str()))) continue;
    std::string near = backend::closest_word(std::string(k.str()), {known.begin(), known.end()});
    fail("{}: unknown key '{}{}'{}", where(v, origin), table.empty() ? "" : table + ".", k.str(),
         near.empty() ? "" : fmt::format("; did you mean '{}'?", near));
  }
}

// Reads t[key] as T (or leaves `out` as it is), naming the key on a wrong type.
template <class T>
void read(const toml::table& t, const char* key, T& out, const std::string& origin, const std::string& table) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return;
  std::string name = table.empty() ? key : table + "." + key;
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = n->value<std::string>();
    if (!v) fail("{}: '{}' must be a string", where(*n, origin), name);
    out = *v;
  } else if constexpr (std::is_same_v<T, double>) {
    auto v = n->value<double>();
    if (!v) fail("{}: '{}' must be a number", where(*n, origin), name);
    out = *v;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>> || std::is_same_v<T, std::vector<int>>) {
    using E = typename T::value_type;
    const toml::array* a = n->as_array();
    if (a == nullptr) fail("{}: '{}' must be an array", where(*n, origin), name);
    out.clear();
    for (const toml::node& item : *a) {
      auto v = item.value<E>();
      if (!v)
        fail("{}: '{}' must hold only {}", where(item, origin), name, std::is_same_v<E, int> ? "integers" : "strings");
      out.push_back(*v);
    }
  } else {
    auto v = n->value<int64_t>();
    if (!v) fail("{}: '{}' must be an integer", where(*n, origin), name);
    if (*v < 0) fail("{}: '{}' must not be negative", where(*n, origin), name);
    out = static_cast<T>(*v);
  }
}

std::string absolute_from(const fs::path& base, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal().string();
}

// Suite names lcte knows stay names; anything else is a JSONL path.
bool is_builtin_suite(const std::string& s) {
  return s.find('/') == std::string::npos && s.find(".json") == std::string::npos;
}

const toml::array* array_of_tables(const toml::table& root, const char* key, const std::string& origin) {
  const toml::node* n = root.get(key);
  if (n == nullptr) return nullptr;
  const toml::array* a = n->as_array();
  if (a == nullptr || !a->is_array_of_tables())
    fail("{}: '{}' must be an array of tables ([[{}]])", where(*n, origin), key, key);
  return a;
}

}  // namespace

route::RouterConfig default_routing() {
  route::RouterConfig c;
  c.tiers.clear();
  c.max_score.clear();
  return c;
}

namespace {

// The [routing] keys route::RouterConfig reads, checked as it checks them
// (on stand-in tiers: the study's models become the tiers when it runs). A
// relative learned_model, or a tokenizer that is a file path, is relative to
// the study file.
route::RouterConfig read_router_settings(const toml::table& t, const std::set<std::string>& keys, const fs::path& base,
                                         const std::string& origin) {
  toml::table subset = t;
  for (const auto& [k, v] : t)
    if (!keys.count(std::string(k.str()))) subset.erase(k);
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
    fail("{}: routing.{}", origin, e.what());
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

// The line of model[index]'s `key` (else of the entry), for errors found
// across entries.
std::string model_where(const toml::table& root, size_t index, const char* key, const std::string& origin) {
  const toml::node* entry = root.get("model")->as_array()->get(index);
  const toml::node* n = entry->as_table()->get(key);
  return where(n != nullptr ? *n : *entry, origin);
}

// What only a study decides about its fleet: energy as the routing cost needs
// energy of every tier; routing compares models on the same tasks; the live
// router sends one prompt form with one top_p to whichever tier it picks.
void check_fleet(const StudySpec& s, const toml::table& root, const std::string& origin) {
  for (size_t i = 0; i < s.models.size(); ++i) {
    const ModelSpec& m = s.models[i];
    if (s.routing_cost == "energy" && m.is_remote())
      fail(
          "{}: routing.cost = \"energy\", but model[{}] '{}' is an endpoint ({}): lcte can measure only this "
          "machine, whose client waits while the server works, and OpenAI-compatible servers (vLLM, llama.cpp's "
          "server, TGI, Ollama) report no energy in their responses; use cost = \"latency\", \"tokens\" or "
          "\"weights\" (the models' cost)",
          model_where(root, i, "url", origin), i, m.name, m.url);
  }
  const bool routes = (s.models.size() >= 2 && !s.policies.empty()) || !s.online.empty();
  auto split_of = [](const ModelSpec& m) { return m.split.empty() ? std::string("test") : m.split; };
  for (size_t i = 1; i < s.models.size() && routes; ++i)
    if (split_of(s.models[i]) != split_of(s.models[0]))
      fail(
          "{}: model[{}].split (model '{}'): '{}', but model[0] '{}' is evaluated on '{}'; routing compares the "
          "models task by task, so they share one split (set it in [eval])",
          model_where(root, i, "split", origin), i, s.models[i].name, split_of(s.models[i]), s.models[0].name,
          split_of(s.models[0]));
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
      fail(
          "{}: model[{}].style (model '{}'): '{}', but online tier '{}' is prompted '{}'; the online router "
          "(routing.online) sends one prompt form to whichever tier it picks",
          model_where(root, i, "style", origin), i, b.name, b.style, a.name, a.style);
    if (*b.top_p != *a.top_p)
      fail(
          "{}: model[{}].top_p (model '{}'): {}, but online tier '{}' samples with {}; the online router "
          "(routing.online) samples every tier with one top_p",
          model_where(root, i, "top_p", origin), i, b.name, *b.top_p, a.name, *a.top_p);
  }
}

}  // namespace

StudySpec parse_study(const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: {}", origin, e.source().begin.line, e.source().begin.column, e.description());
  }
  check_known_keys(root, {"study", "model", "compress", "eval", "routing", "measure"}, origin, "");
  fs::path base = fs::absolute(fs::path(origin)).parent_path();
  StudySpec s;
  s.path = origin;

  auto table = [&](const char* key) -> const toml::table* {
    const toml::node* n = root.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) fail("{}: '{}' must be a table ([{}])", where(*n, origin), key, key);
    return n->as_table();
  };

  std::string output = "study-out";
  if (const toml::table* t = table("study")) {
    check_known_keys(*t, {"name", "output", "registry", "store"}, origin, "study");
    read(*t, "name", s.name, origin, "study");
    read(*t, "output", output, origin, "study");
    read(*t, "registry", s.registry, origin, "study");
    read(*t, "store", s.store, origin, "study");
  }
  if (s.name.empty()) s.name = fs::path(origin).stem().string();
  s.output = absolute_from(base, output);
  s.registry = absolute_from(base, s.registry);
  s.store = absolute_from(base, s.store);

  std::set<std::string> names;
  if (const toml::array* models = array_of_tables(root, "model", origin)) {
    size_t index = 0;
    for (const toml::node& node : *models) {
      ModelSpec m = backend::read_model_entry(*node.as_table(), origin, index);
      if (!names.insert(m.name).second)
        fail("{}: model[{}].name: model '{}' is named twice", where(node, origin), index, m.name);
      s.models.push_back(m);
      ++index;
    }
  }
  if (s.models.empty()) fail("{}: no models: add at least one [[model]]", origin);

  if (const toml::array* cs = array_of_tables(root, "compress", origin)) {
    int index = 0;
    for (const toml::node& node : *cs) {
      const toml::table& t = *node.as_table();
      std::string tn = fmt::format("compress[{}]", index++);
      check_known_keys(t, {"model", "types", "imatrix"}, origin, tn);
      CompressSpec c;
      read(t, "model", c.model, origin, tn);
      read(t, "types", c.types, origin, tn);
      read(t, "imatrix", c.imatrix, origin, tn);
      std::string at = where(t, origin);
      auto m = std::find_if(s.models.begin(), s.models.end(), [&](const ModelSpec& x) { return x.name == c.model; });
      if (m == s.models.end()) fail("{}: '{}.model': no [[model]] named '{}'", at, tn, c.model);
      if (m->backend != "engine")
        fail("{}: '{}.model': '{}' is not a GGUF model (backend {})", at, tn, c.model, m->backend);
      if (c.types.empty()) fail("{}: '{}.types' is required", at, tn);
      for (const auto& type : c.types) {
        if (!quant::parse_file_type(type)) fail("{}: '{}.types': unknown quant type '{}'", at, tn, type);
        std::string derived = c.model + "-" + type;
        if (!names.insert(derived).second) fail("{}: '{}.types': model '{}' would be made twice", at, tn, derived);
      }
      c.imatrix = absolute_from(base, c.imatrix);
      s.compress.push_back(c);
    }
  }

  if (const toml::table* t = table("eval")) {
    check_known_keys(*t,
                     {"suites", "n", "temperature", "k", "limit", "suite_limits", "max_tokens", "timeout", "workers",
                      "seed", "isolation", "style", "top_p", "split"},
                     origin, "eval");
    read(*t, "suites", s.suites, origin, "eval");
    read(*t, "n", s.n, origin, "eval");
    read(*t, "temperature", s.temperature, origin, "eval");
    read(*t, "k", s.k, origin, "eval");
    read(*t, "limit", s.limit, origin, "eval");
    read(*t, "max_tokens", s.max_tokens, origin, "eval");
    if (const toml::node* n = t->get("suite_limits")) {
      const toml::table* lt = n->as_table();
      if (lt == nullptr) fail("{}: 'eval.suite_limits' must be a table (suite label = limit)", where(*n, origin));
      for (const auto& [k, v] : *lt) {
        size_t limit = 0;
        read(*lt, std::string(k.str()).c_str(), limit, origin, "eval.suite_limits");
        s.suite_limits[std::string(k.str())] = limit;
      }
    }
    read(*t, "timeout", s.timeout, origin, "eval");
    read(*t, "workers", s.workers, origin, "eval");
    read(*t, "seed", s.seed, origin, "eval");
    read(*t, "isolation", s.isolation, origin, "eval");
    read(*t, "style", s.style, origin, "eval");
    read(*t, "top_p", s.top_p, origin, "eval");
    read(*t, "split", s.split, origin, "eval");
    if (s.style == "chat") s.style = "instruct";
    if (s.style != "completion" && s.style != "instruct")
      fail("{}: 'eval.style' is '{}'; expected completion (the raw prompt) or instruct (chat messages; also 'chat')",
           origin, s.style);
    if (!(s.top_p > 0 && s.top_p <= 1)) fail("{}: 'eval.top_p' must be in (0, 1], got {}", origin, s.top_p);
    static const std::set<std::string> splits = {"", "test", "validation", "train", "prompt", "all"};
    if (!splits.count(s.split))
      fail("{}: 'eval.split' is '{}'; expected test, validation, train, prompt or all", origin, s.split);
    if (!sandbox::is_isolation_name(s.isolation))
      fail("{}: 'eval.isolation' is '{}'; expected auto, namespaces, user-namespaces or processes", origin,
           s.isolation);
  }
  if (s.suites.empty()) fail("{}: 'eval.suites' is required (e.g. suites = [\"humaneval\"])", origin);
  for (auto& suite : s.suites)
    if (!is_builtin_suite(suite)) suite = absolute_from(base, suite);
  std::set<std::string> labels;
  for (const auto& suite : s.suites) {
    std::string label = is_builtin_suite(suite) ? suite : fs::path(suite).stem().string();
    if (!labels.insert(label).second) fail("{}: 'eval.suites': two suites are both called '{}'", origin, label);
  }
  for (const auto& [label, limit] : s.suite_limits)
    if (!labels.count(label)) fail("{}: 'eval.suite_limits.{}' names no suite in 'eval.suites'", origin, label);
  if (s.max_tokens < 1) fail("{}: 'eval.max_tokens' must be at least 1", origin);
  if (s.n < 1) fail("{}: 'eval.n' must be at least 1", origin);
  for (int k : s.k)
    if (k < 1 || k > s.n) fail("{}: 'eval.k': {} is outside 1..n ({})", origin, k, s.n);

  if (const toml::table* t = table("routing")) {
    static const std::set<std::string> kRouterKeys = {"tokenizer",    "token_bounds",   "max_score",
                                                      "random_share", "learned_target", "learned_model"};
    std::set<std::string> known = {"policies", "cost", "folds", "online", "online_tiers"};
    known.insert(kRouterKeys.begin(), kRouterKeys.end());
    check_known_keys(*t, known, origin, "routing");
    read(*t, "policies", s.policies, origin, "routing");
    read(*t, "cost", s.routing_cost, origin, "routing");
    read(*t, "folds", s.folds, origin, "routing");
    read(*t, "online", s.online, origin, "routing");
    read(*t, "online_tiers", s.online_tiers, origin, "routing");
    s.routing = read_router_settings(*t, kRouterKeys, base, origin);
    for (const auto& p : s.online) {
      bool deployable = p == "threshold" || p == "random" || p == "learned" || p.rfind("always-", 0) == 0;
      if (!deployable)
        fail("{}: 'routing.online': policy '{}' cannot run online (threshold, random, learned or always-<model>)",
             origin, p);
      if (p == "learned" && s.routing.learned_model.empty())
        fail("{}: 'routing.online': the learned policy needs 'routing.learned_model' (a file from `lcte route train`)",
             origin);
    }
    static const std::set<std::string> known_policies = {"threshold", "learned", "random",
                                                         "cascade",   "oracle",  "always"};
    for (const auto& p : s.policies)
      if (!known_policies.count(p)) fail("{}: 'routing.policies': unknown policy '{}'", origin, p);
    static const std::set<std::string> costs = {"weights", "latency", "tokens", "energy", "auto"};
    if (!costs.count(s.routing_cost))
      fail("{}: 'routing.cost' must be weights, latency, tokens, energy or auto", origin);
    if (s.folds < 2) fail("{}: 'routing.folds' must be at least 2", origin);
  }
  if (const toml::table* t = table("measure")) {
    check_known_keys(*t, {"sample_rate_hz"}, origin, "measure");
    read(*t, "sample_rate_hz", s.sample_rate_hz, origin, "measure");
    if (s.sample_rate_hz < 0) fail("{}: 'measure.sample_rate_hz' must not be negative", origin);
  }
  // Online tiers and always-<model> must name models (given or derived).
  std::set<std::string> all_models;
  for (const auto& m : s.models) all_models.insert(m.name);
  for (const auto& c : s.compress)
    for (const auto& ty : c.types) all_models.insert(c.model + "-" + ty);
  for (const auto& t : s.online_tiers)
    if (!all_models.count(t)) fail("{}: 'routing.online_tiers': no model '{}'", origin, t);
  for (const auto& p : s.online)
    if (p.rfind("always-", 0) == 0 && !all_models.count(p.substr(7)))
      fail("{}: 'routing.online': '{}' names no model", origin, p);
  resolve_eval_settings(s);
  check_fleet(s, root, origin);
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
