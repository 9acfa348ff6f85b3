// EvalPlus suites (HumanEval+, MBPP+): each task's base and plus inputs, the
// candidate's output compared with the canonical solution's under EvalPlus's
// rules (exact, or np.allclose with the task's atol; float outputs get atol
// 1e-6; its special oracles for find_zero and a few MBPP tasks), each input
// bounded in time by max(1 s, 4 x the reference's time on it). The comparison
// is trusted Python run by the sandbox's judge; the expected outputs come
// from the reference solution run by the judge on a copy of each input.
//
// Files: EvalPlus's release JSONL (optionally gzipped), or a JSON array of
// the same records (MbppPlus v0.1.0 as some mirrors carry it). Fields:
// task_id, prompt, entry_point, canonical_solution, base_input, plus_input,
// atol. Inputs are kept as the file's JSON text (it holds Infinity and
// integers beyond 64 bits) and parsed by Python.
#pragma once

#include <string>

#include "eval/suite.h"

namespace lcte::eval {

// EvalPlus gives a task at most 60 s of per-input limits (plus one second).
inline constexpr double kEvalPlusTaskSeconds = 61.0;

// True if the file's first record has base_input and plus_input.
bool is_evalplus_file(const std::string& path);

// Throws lcte::Error naming the file, record and field when malformed.
Suite load_evalplus(const std::string& path, const std::string& name, const EvalPlusLimits& limits = {});

// The judge's test program for one task (exposed for tests).
std::string evalplus_tests(const std::string& dataset, const std::string& task_id, const std::string& entry_point,
                           const std::string& reference_program, double atol, const std::string& base_inputs_json,
                           const std::string& plus_inputs_json, const EvalPlusLimits& limits = {});

}  // namespace lcte::eval
