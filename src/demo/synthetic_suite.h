// A synthetic Python task suite that lcte makes itself, for the demo: small
// functions with a docstring and hidden tests, in three difficulty levels, so
// that tiny models trained on one part can be evaluated by execution on a
// held-out part with no download.
//
//   level 1: one operation on a number          ("Return x plus 7.")
//   level 2: two operations or a condition      ("Return x times 3 plus 4.")
//   level 3: a list, with a doctest example     ("Return the sum of the items
//            of xs that are greater than 4.")
//
// Harder levels have longer prompts and longer answers, so the token count a
// router sees grows with the difficulty, as it does on real suites. Expected
// results are computed here in C++; a test runs every reference solution in the
// sandbox against them, so the two sides check each other.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lcte::demo {

struct SyntheticTask {
  std::string task_id;  // "synth/<level>/<template>/<params>"
  int level = 1;
  std::string prompt;     // signature and docstring
  std::string reference;  // the body that passes, appended to the prompt
  std::string tests;      // def check(candidate): ... asserts
  std::string entry_point;
};

struct SuiteSpec {
  uint64_t seed = 1;
  int train_per_level = 1000;  // distinct tasks per level for training
  int test_per_level = 20;     // distinct held-out tasks per level
};

struct SyntheticSuite {
  std::vector<SyntheticTask> train;
  std::vector<SyntheticTask> test;  // no task here shares its template and parameters with train
};

// Deterministic in the spec. Throws lcte::Error when a level has fewer
// distinct tasks than asked for.
SyntheticSuite make_synthetic_suite(const SuiteSpec& spec);

// The suite schema `lcte eval --suite FILE` reads (docs/formats.md): one JSON
// object per line with task_id, prompt, tests, entry_point, reference, level.
void write_suite_jsonl(const std::vector<SyntheticTask>& tasks, const std::string& path);

}  // namespace lcte::demo
