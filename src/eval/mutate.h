// Debugging variants of the suites ("humaneval-fix", "mbpp-fix"): each task's
// reference solution gets one deterministic, seeded bug, and the model is
// asked for the fixed function. A bug counts only if the sandbox confirms
// that the mutated program fails its tests; otherwise the next candidate is
// tried.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/executor.h"
#include "eval/suite.h"

namespace lcte::eval {

struct Mutation {
  size_t offset = 0;  // byte range in the code that is replaced
  size_t length = 0;
  std::string replacement;
  // "comparison" (< <=, == !=, in / not in, is / is not), "operator" (+ -,
  // * /, and or, ...), "off_by_one" (integer literals, len()), "negation"
  // (a `not` dropped), "wrong_function" (min/max, lower/upper, any/all,
  // startswith/endswith), "swapped_arguments", "wrong_return".
  std::string kind;
  std::string description;  // e.g. "line 3: `<` -> `<=`"
};

// Every single-token (or argument-pair) bug that can be put in `code`,
// outside strings and comments, in source order.
std::vector<Mutation> mutation_sites(const std::string& code);
std::string apply_mutation(const std::string& code, const Mutation& mutation);

struct FixSuite {
  Suite suite;                       // one task per base task that got a confirmed bug
  std::vector<std::string> dropped;  // "task_id: reason" for the others
};

struct FixOptions {
  uint64_t seed = 0;
  int max_attempts = 24;  // candidate bugs tried per task
  int workers = 0;        // 0: one per hardware thread
  sandbox::Limits limits;
};

// Builds the "-fix" variant of the tasks `selection` picks from `base`. The
// candidates of each task are shuffled by (seed, task_id), so a task gets the
// same bug whatever else is selected.
FixSuite make_fix_suite(const Suite& base, const std::vector<size_t>& selection, Executor& executor,
                        const FixOptions& options);

}  // namespace lcte::eval
