#include "eval/suite.h"

#include "data/datasets.h"
#include "eval/evalplus.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/random.h"
#include "eval/io.h"

namespace lcte::eval {
using json = nlohmann::json;

namespace {

// Where a record came from, for error messages: "file:line" or "file: record N".
struct Where {
  const std::string& path;
  std::string at;
};

json parse_line(const std::string& path, size_t line_number, std::string_view line) {
  try {
    json value = json::parse(line);
    if (!value.is_object()) fail("{}:{}: expected a JSON object, got {}", path, line_number, value.type_name());
    return value;
  } catch (const json::parse_error& e) {
    fail("{}:{}: invalid JSON: {}", path, line_number, e.what());
  }
}

const json& field(const json& record, const Where& where, const char* name) {
  auto it = record.find(name);
  if (it == record.end()) fail("{}:{}: missing field \"{}\"", where.path, where.at, name);
  return *it;
}

std::string string_field(const json& record, const Where& where, const char* name) {
  const json& value = field(record, where, name);
  if (!value.is_string())
    fail("{}:{}: field \"{}\" must be a string, got {}", where.path, where.at, name, value.type_name());
  return value.get<std::string>();
}

std::string optional_string(const json& record, const Where& where, const char* name) {
  auto it = record.find(name);
  if (it == record.end() || it->is_null()) return {};
  if (!it->is_string())
    fail("{}:{}: field \"{}\" must be a string, got {}", where.path, where.at, name, it->type_name());
  return it->get<std::string>();
}

std::vector<std::string> string_list(const json& record, const Where& where, const char* name, bool required) {
  auto it = record.find(name);
  if (it == record.end()) {
    if (required) fail("{}:{}: missing field \"{}\"", where.path, where.at, name);
    return {};
  }
  if (!it->is_array())
    fail("{}:{}: field \"{}\" must be an array of strings, got {}", where.path, where.at, name, it->type_name());
  std::vector<std::string> out;
  for (size_t i = 0; i < it->size(); i++) {
    const json& item = (*it)[i];
    if (!item.is_string())
      fail("{}:{}: field \"{}\"[{}] must be a string, got {}", where.path, where.at, name, i, item.type_name());
    out.push_back(item.get<std::string>());
  }
  return out;
}

int int_field(const json& record, const Where& where, const char* name) {
  const json& value = field(record, where, name);
  if (!value.is_number_integer())
    fail("{}:{}: field \"{}\" must be an integer, got {}", where.path, where.at, name, value.type_name());
  return value.get<int>();
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += normalize_newlines(line) + "\n";
  return out;
}

// Calls fn(json, line_number) for each non-blank line of a JSONL text.
template <class Fn>
void for_each_jsonl(const std::string& path, const std::string& text, Fn fn) {
  auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); i++) {
    std::string_view line = lines[i];
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    fn(parse_line(path, i + 1, line), i + 1);
  }
}

void check_unique(const Suite& suite) {
  std::set<std::string> seen;
  for (const auto& task : suite.tasks)
    if (!seen.insert(task.task_id).second) fail("{}: duplicate task_id \"{}\"", suite.source, task.task_id);
  if (suite.tasks.empty()) fail("{}: no tasks", suite.source);
}

std::string mbpp_prompt(const std::string& description, const std::vector<std::string>& tests) {
  // The docstring prompt used for completion-style MBPP (EvalPlus, bigcode):
  // it is valid Python, so prompt + completion is the program.
  std::string first = tests.empty() ? std::string() : normalize_newlines(tests[0]);
  return "\"\"\"\n" + description + "\n" + first + "\n\"\"\"\n";
}

}  // namespace

std::string prompt_context(const std::string& prompt, const std::string& entry_point) {
  std::string needle = "def " + entry_point + "(";
  size_t at = 0;
  while ((at = prompt.find(needle, at)) != std::string::npos) {
    if (at == 0 || prompt[at - 1] == '\n') return prompt.substr(0, at);
    at += needle.size();
  }
  return {};
}

std::string infer_entry_point(const std::string& code, const std::string& tests) {
  // Top-level function names in the reference; the tests call one of them.
  std::vector<std::string> names;
  for (std::string_view line : split_lines(code)) {
    if (line.rfind("def ", 0) != 0) continue;
    size_t open = line.find('(');
    if (open == std::string_view::npos) continue;
    std::string name(line.substr(4, open - 4));
    name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
    names.push_back(name);
  }
  for (const auto& name : names) {
    for (size_t at = tests.find(name + "("); at != std::string::npos; at = tests.find(name + "(", at + 1)) {
      char before = at == 0 ? ' ' : tests[at - 1];
      if (!(std::isalnum(static_cast<unsigned char>(before)) || before == '_' || before == '.')) return name;
    }
  }
  return names.empty() ? std::string() : names.back();
}

Suite load_humaneval(const std::string& path) {
  Suite suite{"humaneval", Family::HumanEval, path, {}};
  for_each_jsonl(path, read_maybe_gzip(path), [&](const json& record, size_t line) {
    Where where{path, std::to_string(line)};
    Task task;
    task.task_id = string_field(record, where, "task_id");
    task.prompt = string_field(record, where, "prompt");
    task.reference = string_field(record, where, "canonical_solution");
    task.tests = string_field(record, where, "test");
    task.entry_point = string_field(record, where, "entry_point");
    if (task.entry_point.empty()) fail("{}:{}: field \"entry_point\" is empty", path, line);
    task.check = "check(" + task.entry_point + ")";
    task.context = prompt_context(task.prompt, task.entry_point);
    if (size_t slash = task.task_id.rfind('/'); slash != std::string::npos) {
      try {
        task.number = std::stoi(task.task_id.substr(slash + 1));
      } catch (...) {}
    }
    suite.tasks.push_back(std::move(task));
  });
  check_unique(suite);
  return suite;
}

Suite load_mbpp(const std::string& path) {
  Suite suite{"mbpp", Family::Mbpp, path, {}};
  for_each_jsonl(path, read_file(path), [&](const json& record, size_t line) {
    Where where{path, std::to_string(line)};
    Task task;
    task.number = int_field(record, where, "task_id");
    task.task_id = "Mbpp/" + std::to_string(task.number);
    task.description = string_field(record, where, "text");
    task.reference = normalize_newlines(string_field(record, where, "code"));
    task.test_list = string_list(record, where, "test_list", true);
    if (task.test_list.empty()) fail("{}:{}: field \"test_list\" is empty", path, line);
    task.challenge_tests = string_list(record, where, "challenge_test_list", false);
    // test_setup_code builds objects from classes the solution defines (tasks
    // 367 and 927), so it must run after the code: it goes in front of the asserts.
    std::string setup_code = normalize_newlines(optional_string(record, where, "test_setup_code"));
    task.tests = setup_code.empty() ? join_lines(task.test_list) : setup_code + "\n" + join_lines(task.test_list);
    task.entry_point = infer_entry_point(task.reference, task.tests);
    if (task.entry_point.empty()) fail("{}:{}: no function definition in field \"code\"", path, line);
    task.prompt = mbpp_prompt(task.description, task.test_list);
    suite.tasks.push_back(std::move(task));
  });
  check_unique(suite);
  return suite;
}

Suite load_mbpp_sanitized(const std::string& path) {
  Suite suite{"mbpp-sanitized", Family::Mbpp, path, {}};
  std::string text = read_file(path);
  json records;
  try {
    records = json::parse(text);
  } catch (const json::parse_error& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  if (!records.is_array()) fail("{}: expected a JSON array of tasks, got {}", path, records.type_name());
  for (size_t i = 0; i < records.size(); i++) {
    Where where{path, "record " + std::to_string(i)};
    const json& record = records[i];
    if (!record.is_object()) fail("{}: record {}: expected an object", path, i);
    Task task;
    task.number = int_field(record, where, "task_id");
    task.task_id = "Mbpp/" + std::to_string(task.number);
    task.description = string_field(record, where, "prompt");
    task.reference = normalize_newlines(string_field(record, where, "code"));
    task.test_list = string_list(record, where, "test_list", true);
    if (task.test_list.empty()) fail("{}: record {}: field \"test_list\" is empty", path, i);
    task.setup = join_lines(string_list(record, where, "test_imports", false));
    task.tests = join_lines(task.test_list);
    task.entry_point = infer_entry_point(task.reference, task.tests);
    if (task.entry_point.empty()) fail("{}: record {}: no function definition in field \"code\"", path, i);
    task.prompt = mbpp_prompt(task.description, task.test_list);
    suite.tasks.push_back(std::move(task));
  }
  check_unique(suite);
  return suite;
}

Suite load_jsonl_suite(const std::string& path) {
  Suite suite{path, Family::HumanEval, path, {}};
  for_each_jsonl(path, read_maybe_gzip(path), [&](const json& record, size_t line) {
    Where where{path, std::to_string(line)};
    Task task;
    task.task_id = string_field(record, where, "task_id");
    if (task.task_id.empty()) fail("{}:{}: field \"task_id\" is empty", path, line);
    task.prompt = string_field(record, where, "prompt");
    task.tests = string_field(record, where, "tests");
    task.entry_point = string_field(record, where, "entry_point");
    if (task.entry_point.empty()) fail("{}:{}: field \"entry_point\" is empty", path, line);
    task.reference = optional_string(record, where, "reference");
    task.setup = optional_string(record, where, "setup");
    task.description = optional_string(record, where, "description");
    task.test_list = string_list(record, where, "test_list", false);
    if (record.contains("check")) {
      task.check = optional_string(record, where, "check");
    } else if (task.tests.rfind("def check(", 0) == 0 || task.tests.find("\ndef check(") != std::string::npos) {
      task.check = "check(" + task.entry_point + ")";
    }
    task.context = prompt_context(task.prompt, task.entry_point);
    suite.tasks.push_back(std::move(task));
  });
  check_unique(suite);
  return suite;
}

bool is_fix_suite_name(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, "-fix") == 0 && name.find('/') == std::string::npos;
}

std::string base_suite_name(const std::string& name) {
  return is_fix_suite_name(name) ? name.substr(0, name.size() - 4) : name;
}

namespace {

// HumanEval's own record shape (test, canonical_solution), which a user suite
// (tests, reference) does not have: judged by the first record.
bool is_humaneval_format_file(const std::string& path) {
  try {
    std::string text = read_maybe_gzip(path);
    for (std::string_view line : split_lines(text)) {
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      json first = json::parse(line);
      return first.is_object() && first.contains("test") && first.contains("canonical_solution") &&
             !first.contains("tests");
    }
  } catch (const std::exception&) {}
  return false;  // the user-suite loader names what is wrong
}

}  // namespace

Suite load_suite(const std::string& name, const DatasetLocations& where, const EvalPlusLimits& evalplus) {
  std::string base = base_suite_name(name);
  if (base == "humaneval") return load_humaneval(resolve_dataset(humaneval_dataset(), where));
  if (base == "mbpp") return load_mbpp(resolve_dataset(mbpp_dataset(), where));
  if (base == "mbpp-sanitized") return load_mbpp_sanitized(resolve_dataset(mbpp_sanitized_dataset(), where));
  if (base == "humaneval+")
    return load_evalplus(resolve_dataset(*data::find_dataset("humaneval+"), where), base, evalplus);
  if (base == "mbpp+") {
    // The current release if it is here or can be had; else the earlier one
    // a data directory may hold (it is not an official download).
    const data::DatasetFile& current = *data::find_dataset("mbpp+");
    static const data::DatasetFile earlier{"evalplus/MbppPlus-v0.1.0.json", "",
                                           "f7ac9d4027a26c771c06d2e0129636a76d11b95decc7a676c6a7bb52daf2ed95"};
    std::string path = data::find_local_dataset(current, where);
    if (path.empty()) path = data::find_local_dataset(earlier, where);
    if (path.empty()) path = resolve_dataset(current, where);
    return load_evalplus(path, base, evalplus);
  }
  bool looks_like_file = name.find('/') != std::string::npos ||
                         (name.size() > 6 && name.compare(name.size() - 6, 6, ".jsonl") == 0) ||
                         std::filesystem::is_regular_file(name);
  if (looks_like_file) {
    if (is_evalplus_file(name)) return load_evalplus(name, name, evalplus);
    if (is_humaneval_format_file(name)) {
      Suite suite = load_humaneval(name);
      suite.name = name;
      return suite;
    }
    return load_jsonl_suite(name);
  }
  fail(
      "--suite: unknown suite \"{}\" (expected humaneval, mbpp, mbpp-sanitized, humaneval+, mbpp+, a -fix variant, "
      "or a suite file)",
      name);
}

Split parse_split(const std::string& text) {
  if (text == "all") return Split::All;
  if (text == "prompt") return Split::Prompt;
  if (text == "test") return Split::Test;
  if (text == "validation") return Split::Validation;
  if (text == "train") return Split::Train;
  fail("--split: unknown split \"{}\" (expected test, validation, train, prompt or all)", text);
}

const char* split_name(Split split) {
  switch (split) {
    case Split::All: return "all";
    case Split::Prompt: return "prompt";
    case Split::Test: return "test";
    case Split::Validation: return "validation";
    case Split::Train: return "train";
  }
  return "?";
}

CustomSplit parse_custom_split(const std::string& sizes, uint64_t seed) {
  CustomSplit split;
  split.seed = seed;
  int parts[3];
  char extra;
  if (std::sscanf(sizes.c_str(), "%d/%d/%d%c", &parts[0], &parts[1], &parts[2], &extra) != 3 || parts[0] < 0 ||
      parts[1] < 0 || parts[2] < 0)
    fail("--split-sizes: expected TRAIN/VALIDATION/TEST counts such as 800/100/74, got \"{}\"", sizes);
  split.train = parts[0];
  split.validation = parts[1];
  split.test = parts[2];
  return split;
}

namespace {

bool in_mbpp_split(int number, Split split) {
  switch (split) {
    case Split::All: return true;
    case Split::Prompt: return number >= 1 && number <= 10;
    case Split::Test: return number >= 11 && number <= 510;
    case Split::Validation: return number >= 511 && number <= 600;
    case Split::Train: return number >= 601 && number <= 974;
  }
  return false;
}

std::vector<size_t> custom_split(const Suite& suite, Split split, const CustomSplit& custom) {
  size_t total = size_t(custom.train) + custom.validation + custom.test;
  if (total > suite.tasks.size())
    fail("--split-sizes: {}/{}/{} asks for {} tasks but {} has {}", custom.train, custom.validation, custom.test, total,
         suite.name, suite.tasks.size());
  std::vector<size_t> order(suite.tasks.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  SplitMix64 rng(custom.seed);
  shuffle(order, rng);
  size_t begin = 0, end = 0;
  switch (split) {
    case Split::Train:
      begin = 0;
      end = custom.train;
      break;
    case Split::Validation:
      begin = custom.train;
      end = begin + custom.validation;
      break;
    case Split::Test:
      begin = size_t(custom.train) + custom.validation;
      end = total;
      break;
    case Split::All:
      begin = 0;
      end = total;
      break;
    case Split::Prompt: fail("--split prompt cannot be combined with --split-sizes");
  }
  std::vector<size_t> chosen(order.begin() + begin, order.begin() + end);
  std::sort(chosen.begin(), chosen.end());  // keep the suite's order for reports
  return chosen;
}

}  // namespace

std::vector<size_t> select_split(const Suite& suite, Split split, const std::optional<CustomSplit>& custom) {
  if (custom) return custom_split(suite, split, *custom);
  std::vector<size_t> chosen;
  if (suite.family != Family::Mbpp) {
    if (split != Split::All && split != Split::Test)
      fail("--split {}: suite {} has no such split (use test or all)", split_name(split), suite.name);
    for (size_t i = 0; i < suite.tasks.size(); i++) chosen.push_back(i);
    return chosen;
  }
  for (size_t i = 0; i < suite.tasks.size(); i++)
    if (in_mbpp_split(suite.tasks[i].number, split)) chosen.push_back(i);
  return chosen;
}

long find_task(const Suite& suite, const std::string& task_id) {
  for (size_t i = 0; i < suite.tasks.size(); i++)
    if (suite.tasks[i].task_id == task_id) return long(i);
  // "11" for "Mbpp/11": numbered suites accept the bare number.
  bool numeric = !task_id.empty() && std::all_of(task_id.begin(), task_id.end(), ::isdigit);
  if (numeric && task_id.size() < 9) {
    int number = std::stoi(task_id);
    for (size_t i = 0; i < suite.tasks.size(); i++)
      if (suite.tasks[i].number == number) return long(i);
  }
  return -1;
}

std::vector<size_t> select_tasks(const Suite& suite, std::vector<size_t> selection,
                                 const std::vector<std::string>& task_ids, size_t limit) {
  if (!task_ids.empty()) {
    std::set<size_t> wanted;
    for (const auto& id : task_ids) {
      long index = find_task(suite, id);
      if (index < 0) fail("--tasks: unknown task id \"{}\" in suite {}", id, suite.name);
      wanted.insert(size_t(index));
    }
    std::vector<size_t> narrowed;
    for (size_t index : selection)
      if (wanted.count(index)) narrowed.push_back(index);
    for (size_t index : wanted)
      if (std::find(selection.begin(), selection.end(), index) == selection.end())
        fail("--tasks: task \"{}\" is not in the selected split", suite.tasks[index].task_id);
    selection = std::move(narrowed);
  }
  if (limit > 0 && selection.size() > limit) selection.resize(limit);
  return selection;
}

}  // namespace lcte::eval
