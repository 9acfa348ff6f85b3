// Samples written by other tools, for `--backend file`: human-eval's JSONL
// (`completion`, appended to the prompt), EvalPlus's JSONL (`solution`, the
// whole program) and EvalPlus's folder layout
// (<dir>/<task_id with / as _>/<n>.py, each file a whole program); and
// human-eval's <samples>_results.jsonl written back from a run's verdicts.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/run_database.h"
#include "eval/suite.h"

namespace lcte::eval {

struct SampleRecord {
  std::string task_id;    // as written; folder layout: the folder name with _ as / (EvalPlus's rule)
  std::string folder;     // folder layout: the folder's name; else empty
  std::string text;       // `solution` when the record has one, else `completion`
  nlohmann::json record;  // the line as read (folder layout: task_id and solution)
  std::string where;      // "file:line" or the .py file, for messages
};

// Every sample in file order (folder layout: folders by name, files by
// number). Errors name the file and line and the field.
std::vector<SampleRecord> read_samples(const std::string& path);

// The suite's task a record belongs to: its task_id (for numbered suites
// "11" finds "Mbpp/11"), else the task whose id with / as _ is the folder's
// name. -1 when none.
long find_sample_task(const Suite& suite, const SampleRecord& sample);

// sha256 of a samples file, or of a folder's relative paths and contents.
std::string samples_sha256(const std::string& path);

// human-eval's results file: each sample the run judged, in the samples'
// order, as read plus "result" ("passed", "timed out" or "failed: <error
// type>: <message>") and "passed". Samples of tasks the run did not select
// are left out. `samples` empty (a generating backend): one line per row,
// {"task_id", "completion", "result", "passed"}. Returns the lines' count.
size_t write_human_eval_results(const std::string& out_path, const std::string& samples,
                                const std::vector<SampleRow>& rows);

// "<run dir>/<samples file name>_results.jsonl" as human-eval names it
// ("samples.jsonl_results.jsonl" when there is no samples file).
std::string human_eval_results_path(const std::string& run_dir, const std::string& samples);

}  // namespace lcte::eval
