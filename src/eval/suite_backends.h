// Where completions come from. The runner asks a backend (backend/generation.h)
// for some samples of one task's prompt; the backend reports the text and what
// it cost (tokens, time to first token, time per output token, latency).
// Suite-bound backends here: `canonical` (the suite's reference solutions: a
// self-check of the suite and the sandbox) and `file` (human-eval samples
// JSONL). The engine and HTTP backends are in backend/.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/generation.h"
#include "eval/prompts.h"
#include "eval/suite.h"

namespace lcte::eval {

// The generic interface lives in backend/; eval adds the suite-bound backends.
using backend::Backend;
using backend::Generation;
using backend::GenerationRequest;
using backend::kUnknown;
using backend::SamplingParams;
using backend::StreamFn;

// Returns each task's reference solution for every sample.
class CanonicalBackend final : public Backend {
 public:
  explicit CanonicalBackend(const Suite& suite);
  std::string name() const override { return "canonical"; }
  std::string model() const override { return "reference"; }
  std::vector<Generation> generate(const GenerationRequest& request, const StreamFn& on_text = {}) override;

 private:
  std::map<std::string, std::string> references_;
};

// Samples from a file (samples_file.h): human-eval's JSONL ("task_id" and
// "completion"), EvalPlus's JSONL ("solution", a whole program) or EvalPlus's
// folder layout; other fields are ignored. A task's samples, in file order,
// are its samples 0, 1, 2, ... Task ids must exist in `suite` (for numbered
// suites a bare number such as 11 or "11" names Mbpp/11). A whole program
// goes through the same assembly as a completion that re-states the entry
// point: it runs after the prompt's imports and helpers.
class FileBackend final : public Backend {
 public:
  FileBackend(const std::string& path, const Suite& suite, std::string model_name = {});
  std::string name() const override { return "file"; }
  std::string model() const override { return model_; }
  int available_samples(const std::string& task_id) const override;
  std::vector<Generation> generate(const GenerationRequest& request, const StreamFn& on_text = {}) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string model_;
  std::map<std::string, std::vector<std::string>> samples_;
};

}  // namespace lcte::eval
