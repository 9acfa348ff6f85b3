#include "demo/synthetic_suite.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>

#include "core/error.h"
#include "core/random.h"

namespace lcte::demo {
namespace {

using Rng = SplitMix64;

int uniform(Rng& rng, int lo, int hi) { return lo + static_cast<int>(rng.below(static_cast<uint64_t>(hi - lo + 1))); }

std::string py_list(const std::vector<int>& xs) {
  std::string s = "[";
  for (size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + std::to_string(xs[i]);
  return s + "]";
}
std::string py_bool(bool b) { return b ? "True" : "False"; }

// What a template needs to make one task: the function's name, the argument's
// name and the template's parameters.
struct Params {
  std::string arg;
  std::vector<int> p;  // 1 or 2 constants
};

// A scalar task: f(int) -> int or bool, with its docstring and body.
struct ScalarTemplate {
  std::string id;
  int level;
  int lo, hi;  // range of every constant
  int n_params;
  int input_lo, input_hi;
  std::function<std::string(const Params&)> name, doc, body;
  std::function<std::string(int x, const std::vector<int>& p)> expect;  // Python literal
  std::function<bool(const std::vector<int>& p)> valid = [](const std::vector<int>&) { return true; };
};

// A list task: f(list[int]) -> int or list, shown with one doctest example.
struct ListTemplate {
  std::string id;
  int lo, hi;
  std::function<std::string(const Params&)> name, doc, body;
  std::function<std::string(const std::vector<int>& xs, int a)> expect;
};

const std::vector<std::string> kScalarArgs = {"x", "n", "y", "k"};
const std::vector<std::string> kListArgs = {"xs", "nums", "items", "vals"};

std::vector<ScalarTemplate> scalar_templates() {
  auto c = [](const Params& q, size_t i) { return std::to_string(q.p[i]); };
  std::vector<ScalarTemplate> t;
  t.push_back({"add", 1, 1, 20, 1, -10, 40, [=](const Params& q) { return "add_" + c(q, 0); },
               [=](const Params& q) { return fmt::format("Return {} plus {}.", q.arg, c(q, 0)); },
               [=](const Params& q) { return fmt::format("    return {} + {}\n", q.arg, c(q, 0)); },
               [](int x, const std::vector<int>& p) { return std::to_string(x + p[0]); }});
  t.push_back({"sub", 1, 1, 20, 1, -10, 40, [=](const Params& q) { return "sub_" + c(q, 0); },
               [=](const Params& q) { return fmt::format("Return {} minus {}.", q.arg, c(q, 0)); },
               [=](const Params& q) { return fmt::format("    return {} - {}\n", q.arg, c(q, 0)); },
               [](int x, const std::vector<int>& p) { return std::to_string(x - p[0]); }});
  t.push_back({"mul", 1, 2, 20, 1, -10, 40, [=](const Params& q) { return "mul_" + c(q, 0); },
               [=](const Params& q) { return fmt::format("Return {} times {}.", q.arg, c(q, 0)); },
               [=](const Params& q) { return fmt::format("    return {} * {}\n", q.arg, c(q, 0)); },
               [](int x, const std::vector<int>& p) { return std::to_string(x * p[0]); }});
  t.push_back({"above", 1, 1, 20, 1, -10, 40, [=](const Params& q) { return "above_" + c(q, 0); },
               [=](const Params& q) { return fmt::format("Return True if {} is greater than {}.", q.arg, c(q, 0)); },
               [=](const Params& q) { return fmt::format("    return {} > {}\n", q.arg, c(q, 0)); },
               [](int x, const std::vector<int>& p) { return py_bool(x > p[0]); }});
  t.push_back({"below", 1, 1, 20, 1, -10, 40, [=](const Params& q) { return "below_" + c(q, 0); },
               [=](const Params& q) { return fmt::format("Return True if {} is less than {}.", q.arg, c(q, 0)); },
               [=](const Params& q) { return fmt::format("    return {} < {}\n", q.arg, c(q, 0)); },
               [](int x, const std::vector<int>& p) { return py_bool(x < p[0]); }});
  // Non-negative inputs: C++'s % and Python's differ on negative numbers.
  t.push_back(
      {"mod", 1, 2, 20, 1, 0, 60, [=](const Params& q) { return "mod_" + c(q, 0); },
       [=](const Params& q) { return fmt::format("Return the remainder of {} divided by {}.", q.arg, c(q, 0)); },
       [=](const Params& q) { return fmt::format("    return {} % {}\n", q.arg, c(q, 0)); },
       [](int x, const std::vector<int>& p) { return std::to_string(x % p[0]); }});

  t.push_back({"mul_add", 2, 1, 20, 2, -10, 40, [=](const Params& q) { return "mul_add_" + c(q, 0) + "_" + c(q, 1); },
               [=](const Params& q) { return fmt::format("Return {} times {} plus {}.", q.arg, c(q, 0), c(q, 1)); },
               [=](const Params& q) { return fmt::format("    return {} * {} + {}\n", q.arg, c(q, 0), c(q, 1)); },
               [](int x, const std::vector<int>& p) { return std::to_string(x * p[0] + p[1]); }});
  t.push_back(
      {"add_mul", 2, 1, 20, 2, -10, 40, [=](const Params& q) { return "add_mul_" + c(q, 0) + "_" + c(q, 1); },
       [=](const Params& q) { return fmt::format("Return {} plus {}, all times {}.", q.arg, c(q, 0), c(q, 1)); },
       [=](const Params& q) { return fmt::format("    return ({} + {}) * {}\n", q.arg, c(q, 0), c(q, 1)); },
       [](int x, const std::vector<int>& p) { return std::to_string((x + p[0]) * p[1]); }});
  t.push_back(
      {"floor", 2, 1, 20, 2, -10, 40, [=](const Params& q) { return "floor_" + c(q, 0) + "_" + c(q, 1); },
       [=](const Params& q) {
         return fmt::format("Return {} if {} is greater than {}, otherwise {}.", q.arg, q.arg, c(q, 0), c(q, 1));
       },
       [=](const Params& q) {
         return fmt::format("    if {} > {}:\n        return {}\n    return {}\n", q.arg, c(q, 0), q.arg, c(q, 1));
       },
       [](int x, const std::vector<int>& p) { return std::to_string(x > p[0] ? x : p[1]); }});
  ScalarTemplate between{
      "between",
      2,
      1,
      20,
      2,
      -10,
      40,
      [=](const Params& q) { return "between_" + c(q, 0) + "_" + c(q, 1); },
      [=](const Params& q) {
        return fmt::format("Return True if {} is between {} and {}, inclusive.", q.arg, c(q, 0), c(q, 1));
      },
      [=](const Params& q) { return fmt::format("    return {} <= {} <= {}\n", c(q, 0), q.arg, c(q, 1)); },
      [](int x, const std::vector<int>& p) { return py_bool(p[0] <= x && x <= p[1]); }};
  between.valid = [](const std::vector<int>& p) { return p[0] < p[1]; };
  t.push_back(between);
  return t;
}

std::vector<ListTemplate> list_templates() {
  auto a = [](const Params& q) { return std::to_string(q.p[0]); };
  std::vector<ListTemplate> t;
  t.push_back({"sum_above", 1, 20, [=](const Params& q) { return "sum_above_" + a(q); },
               [=](const Params& q) {
                 return fmt::format("Return the sum of the items of {} that are greater than {}.", q.arg, a(q));
               },
               [=](const Params& q) { return fmt::format("    return sum(v for v in {} if v > {})\n", q.arg, a(q)); },
               [](const std::vector<int>& xs, int k) {
                 int s = 0;
                 for (int v : xs) s += v > k ? v : 0;
                 return std::to_string(s);
               }});
  t.push_back(
      {"scale", 2, 20, [=](const Params& q) { return "scale_" + a(q); },
       [=](const Params& q) { return fmt::format("Return a list of the items of {}, each times {}.", q.arg, a(q)); },
       [=](const Params& q) { return fmt::format("    return [v * {} for v in {}]\n", a(q), q.arg); },
       [](const std::vector<int>& xs, int k) {
         std::vector<int> out;
         for (int v : xs) out.push_back(v * k);
         return py_list(out);
       }});
  t.push_back(
      {"count", 1, 20, [=](const Params& q) { return "count_" + a(q); },
       [=](const Params& q) { return fmt::format("Return how many items of {} are equal to {}.", q.arg, a(q)); },
       [=](const Params& q) { return fmt::format("    return {}.count({})\n", q.arg, a(q)); },
       [](const std::vector<int>& xs, int k) { return std::to_string(std::count(xs.begin(), xs.end(), k)); }});
  t.push_back({"keep_below", 1, 20, [=](const Params& q) { return "keep_below_" + a(q); },
               [=](const Params& q) {
                 return fmt::format("Return a list of the items of {} that are less than {}.", q.arg, a(q));
               },
               [=](const Params& q) { return fmt::format("    return [v for v in {} if v < {}]\n", q.arg, a(q)); },
               [](const std::vector<int>& xs, int k) {
                 std::vector<int> out;
                 for (int v : xs)
                   if (v < k) out.push_back(v);
                 return py_list(out);
               }});
  t.push_back(
      {"max_plus", 1, 20, [=](const Params& q) { return "max_plus_" + a(q); },
       [=](const Params& q) { return fmt::format("Return the largest item of {} plus {}.", q.arg, a(q)); },
       [=](const Params& q) { return fmt::format("    return max({}) + {}\n", q.arg, a(q)); },
       [](const std::vector<int>& xs, int k) { return std::to_string(*std::max_element(xs.begin(), xs.end()) + k); }});
  return t;
}

// One distinct task of a level: a template, its constants and the argument name.
struct Key {
  size_t tmpl;
  Params params;
  std::string id;
};

std::vector<Key> scalar_keys(const std::vector<ScalarTemplate>& ts, int level) {
  std::vector<Key> keys;
  for (size_t i = 0; i < ts.size(); ++i) {
    const ScalarTemplate& t = ts[i];
    if (t.level != level) continue;
    for (const std::string& arg : kScalarArgs)
      for (int p0 = t.lo; p0 <= t.hi; ++p0)
        for (int p1 = t.lo; p1 <= (t.n_params > 1 ? t.hi : t.lo); ++p1) {
          std::vector<int> p = t.n_params > 1 ? std::vector<int>{p0, p1} : std::vector<int>{p0};
          if (!t.valid(p)) continue;
          std::string id = fmt::format("{}/{}", t.id, arg);
          for (int v : p) id += "/" + std::to_string(v);
          keys.push_back({i, {arg, p}, id});
        }
  }
  return keys;
}

std::vector<Key> list_keys(const std::vector<ListTemplate>& ts) {
  std::vector<Key> keys;
  for (size_t i = 0; i < ts.size(); ++i)
    for (const std::string& arg : kListArgs)
      for (int a = ts[i].lo; a <= ts[i].hi; ++a)
        keys.push_back({i, {arg, {a}}, fmt::format("{}/{}/{}", ts[i].id, arg, a)});
  return keys;
}

std::string check_function(const std::vector<std::string>& asserts) {
  std::string s = "def check(candidate):\n";
  for (const std::string& a : asserts) s += "    assert " + a + "\n";
  return s;
}

SyntheticTask make_scalar(const ScalarTemplate& t, const Key& k, Rng& rng) {
  SyntheticTask task;
  task.level = t.level;
  task.task_id = fmt::format("synth/{}/{}", t.level, k.id);
  task.entry_point = t.name(k.params);
  task.prompt = fmt::format("def {}({}):\n    \"\"\"{}\"\"\"\n", task.entry_point, k.params.arg, t.doc(k.params));
  task.reference = t.body(k.params);
  // Inputs at and just past each constant pin it down (above_3 and above_4
  // differ only at 4), then random ones.
  std::vector<int> inputs;
  std::set<int> used;
  auto take = [&](int x) {
    if (x >= t.input_lo && x <= t.input_hi && used.insert(x).second) inputs.push_back(x);
  };
  for (int c : k.params.p) {
    take(c);
    take(c + 1);
  }
  while (inputs.size() < 6) take(uniform(rng, t.input_lo, t.input_hi));
  std::vector<std::string> asserts;
  for (int x : inputs) asserts.push_back(fmt::format("candidate({}) == {}", x, t.expect(x, k.params.p)));
  task.tests = check_function(asserts);
  return task;
}

std::vector<int> random_list(Rng& rng, int must_contain) {
  std::vector<int> xs(static_cast<size_t>(uniform(rng, 3, 6)));
  for (int& v : xs) v = uniform(rng, 0, 20);
  if (must_contain >= 0) xs[static_cast<size_t>(uniform(rng, 0, static_cast<int>(xs.size()) - 1))] = must_contain;
  return xs;
}

SyntheticTask make_list(const ListTemplate& t, const Key& k, Rng& rng) {
  SyntheticTask task;
  task.level = 3;
  task.task_id = fmt::format("synth/3/{}", k.id);
  task.entry_point = t.name(k.params);
  int a = k.params.p[0];
  // The shown example and one test contain the constant, so that "count" and
  // the comparisons are not trivially zero.
  std::vector<int> shown = random_list(rng, a);
  task.prompt = fmt::format("def {}({}):\n    \"\"\"{}\n    >>> {}({})\n    {}\n    \"\"\"\n", task.entry_point,
                            k.params.arg, t.doc(k.params), task.entry_point, py_list(shown), t.expect(shown, a));
  task.reference = t.body(k.params);
  std::vector<std::string> asserts;
  asserts.push_back(fmt::format("candidate({}) == {}", py_list(shown), t.expect(shown, a)));
  for (int i = 0; i < 3; ++i) {
    std::vector<int> xs = random_list(rng, i == 0 ? a : -1);
    asserts.push_back(fmt::format("candidate({}) == {}", py_list(xs), t.expect(xs, a)));
  }
  task.tests = check_function(asserts);
  return task;
}

// Held-out tasks first (a seeded sample of the level's distinct tasks), then
// up to `train` of the rest; the two never share a key.
void split_level(std::vector<Key> keys, const SuiteSpec& spec, int level, Rng& rng, std::vector<Key>& train,
                 std::vector<Key>& test) {
  if (static_cast<int>(keys.size()) < spec.test_per_level + 1)
    fail("synthetic suite: level {} has {} distinct tasks, fewer than the {} held out plus one to train on", level,
         keys.size(), spec.test_per_level);
  shuffle(keys, rng);
  test.assign(keys.begin(), keys.begin() + spec.test_per_level);
  size_t n_train = std::min(keys.size() - test.size(), static_cast<size_t>(std::max(spec.train_per_level, 0)));
  train.assign(keys.begin() + spec.test_per_level, keys.begin() + spec.test_per_level + static_cast<long>(n_train));
}

}  // namespace

SyntheticSuite make_synthetic_suite(const SuiteSpec& spec) {
  if (spec.test_per_level < 0 || spec.train_per_level < 0) fail("synthetic suite: negative task counts");
  Rng rng(spec.seed);
  SyntheticSuite suite;
  std::vector<ScalarTemplate> scalars = scalar_templates();
  std::vector<ListTemplate> lists = list_templates();
  for (int level = 1; level <= 3; ++level) {
    std::vector<Key> train, test;
    split_level(level < 3 ? scalar_keys(scalars, level) : list_keys(lists), spec, level, rng, train, test);
    auto make = [&](const Key& k) {
      return level < 3 ? make_scalar(scalars[k.tmpl], k, rng) : make_list(lists[k.tmpl], k, rng);
    };
    for (const Key& k : test) suite.test.push_back(make(k));
    for (const Key& k : train) suite.train.push_back(make(k));
  }
  return suite;
}

void write_suite_jsonl(const std::vector<SyntheticTask>& tasks, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("{}: cannot write", path);
  for (const SyntheticTask& t : tasks) {
    nlohmann::json j = {{"task_id", t.task_id},         {"prompt", t.prompt},       {"tests", t.tests},
                        {"entry_point", t.entry_point}, {"reference", t.reference}, {"level", t.level}};
    out << j.dump() << '\n';
  }
  if (!out.flush()) fail("{}: write failed", path);
}

}  // namespace lcte::demo
