// Benchmark suites: HumanEval, MBPP (full and sanitized), their "-fix"
// debugging variants (see mutate.h) and user JSONL suites, all loaded into one
// Task shape that the prompt builder, the backends and the runner share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eval/datasets.h"

namespace lcte::eval {

// HumanEval-like: the model completes a function whose signature and
// docstring are the prompt. MBPP-like: the model writes a function from a
// description and example asserts.
enum class Family { HumanEval, Mbpp };

struct Task {
  std::string task_id;                       // "HumanEval/0", "Mbpp/11" or the user's id
  int number = -1;                           // numeric id (MBPP splits), -1 when there is none
  std::string prompt;                        // completion-style prompt; program = prompt + completion
  std::string context;                       // what a completion that re-states the entry point still needs
                                             // from the prompt: the prompt cut before `def <entry_point>(`
  std::string description;                   // natural-language task (MBPP text); empty when the prompt says it
  std::string entry_point;                   // the function the tests call
  std::string reference;                     // a completion known to pass (appended to prompt); may be empty
  std::string setup;                         // runs before the code (test imports)
  std::string tests;                         // test code run after the code (asserts, or `def check`)
  std::string check;                         // final statement, e.g. "check(add)"; may be empty
  std::vector<std::string> test_list;        // MBPP asserts one by one (shown in prompts)
  std::vector<std::string> challenge_tests;  // MBPP challenge_test_list (not run by default)
  // Debugging variants only: the program with the injected bug, and what was changed.
  std::string buggy;
  std::string mutation;
};

struct Suite {
  std::string name;  // "humaneval", "mbpp", "mbpp-sanitized", "humaneval-fix", ... or a file path
  Family family = Family::HumanEval;
  std::string source;  // the file it came from
  std::vector<Task> tasks;
  bool is_fix = false;  // a debugging variant: the model gets buggy code to repair
  // Seconds a sample of this suite may need at least (EvalPlus bounds each
  // input itself and allows a task up to 61 s); 0: the run's --timeout.
  double sample_timeout = 0;
};

// Loaders. Each throws lcte::Error naming the file and line (JSONL) or the
// record index (JSON) and field when the file is malformed.
Suite load_humaneval(const std::string& path);       // HumanEval.jsonl[.gz]
Suite load_mbpp(const std::string& path);            // mbpp.jsonl
Suite load_mbpp_sanitized(const std::string& path);  // sanitized-mbpp.json
// User suite, one JSON object per line:
//   task_id (string, required, unique), prompt (string, required),
//   tests (string, required), entry_point (string, required),
//   reference (string, optional: a completion appended to prompt that passes),
//   setup (string, optional), check (string, optional; default
//   "check(<entry_point>)" when tests define `def check(`, else empty),
//   description (string, optional), test_list (array of strings, optional).
// Blank lines are skipped; other fields are ignored.
Suite load_jsonl_suite(const std::string& path);

// EvalPlus's defaults (evalplus/config.py).
inline constexpr double kEvalPlusMinTimeLimit = 1.0;
inline constexpr double kEvalPlusTimeLimitFactor = 4.0;

// Each input's limit is max(min_seconds, factor x the reference's time on
// it), as EvalPlus's --min-time-limit and --gt-time-limit-factor set it. A
// loaded machine slows the sample's calls but not the 1 s floor, so users
// (and the tests) on a busy machine raise the floor, as with EvalPlus.
struct EvalPlusLimits {
  double min_seconds = kEvalPlusMinTimeLimit;
  double factor = kEvalPlusTimeLimitFactor;
};
// Loads a suite by name ("humaneval", "mbpp", "mbpp-sanitized", "humaneval+",
// "mbpp+"; the "-fix" names load their base suite, see mutate.h) or, when
// `name` ends in .jsonl or names an existing file, a file: an EvalPlus file
// (records with base_input and plus_input), a HumanEval-format JSONL (its
// first record has test and canonical_solution: loaded as HumanEval is, named
// by its path) or a user suite.
// "mbpp+" is MBPP+ v0.2.0 (downloaded when absent), or v0.1.0 where only
// that is in a data directory.
Suite load_suite(const std::string& name, const DatasetLocations& where, const EvalPlusLimits& evalplus = {});
bool is_fix_suite_name(const std::string& name);
std::string base_suite_name(const std::string& name);  // "humaneval-fix" -> "humaneval"

enum class Split { All, Prompt, Test, Validation, Train };
Split parse_split(const std::string& text);  // throws lcte::Error on an unknown name
const char* split_name(Split split);

// A seeded random partition of a whole suite into train/validation/test
// (e.g. 800/100/74 of MBPP's 974), independent of the library's RNG.
struct CustomSplit {
  uint64_t seed = 0;
  int train = 0, validation = 0, test = 0;
};
CustomSplit parse_custom_split(const std::string& sizes, uint64_t seed);  // "800/100/74"

// Indices into suite.tasks for a split. MBPP (both files) uses the standard
// task-number ranges: prompt 1-10, test 11-510, validation 511-600,
// train 601-974. Suites without numbered splits accept only All and Test
// (both: every task). With `custom`, the tasks are shuffled by its seed and
// cut into consecutive train, validation and test parts (Prompt is refused).
std::vector<size_t> select_split(const Suite& suite, Split split,
                                 const std::optional<CustomSplit>& custom = std::nullopt);

// Narrows a selection to the given task ids (in the suite's order; an unknown
// id is an error naming it), then keeps the first `limit` (0 = all).
std::vector<size_t> select_tasks(const Suite& suite, std::vector<size_t> selection,
                                 const std::vector<std::string>& task_ids, size_t limit);

// Looks a task id up; accepts "Mbpp/11" and "11" for numbered suites. -1 if absent.
long find_task(const Suite& suite, const std::string& task_id);

// Helpers shared with the prompt builder and the mutator.
std::string prompt_context(const std::string& prompt, const std::string& entry_point);
std::string infer_entry_point(const std::string& code, const std::string& tests);

}  // namespace lcte::eval
