// Where completions come from. The runner asks a backend for some samples of
// one task's prompt; the backend reports the text and what it cost (tokens,
// time to first token, time per output token, latency). Backends here:
// `canonical` (the suite's reference solutions: a self-check of the suite and
// the sandbox) and `file` (human-eval samples JSONL). The engine and HTTP
// backends implement the same interface later.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eval/prompts.h"
#include "eval/suite.h"

namespace lcte::eval {

struct SamplingParams {
  double temperature = 0.0;
  double top_p = 1.0;
  int max_tokens = 512;
  uint64_t seed = 0;  // a backend derives each sample's seed from this, the task id and the sample index
};

struct GenerationRequest {
  std::string task_id;
  Prompt prompt;  // text or messages, and the stop sequences to honour
  SamplingParams sampling;
  std::vector<int> sample_indices;  // which samples (0-based) to produce
};

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

struct Generation {
  int sample_index = 0;
  std::string text;  // the completion, already cut at the stop sequences
  int prompt_tokens = -1;      // -1 when the backend cannot tell
  int completion_tokens = -1;
  double time_to_first_token_s = kUnknown;
  double time_per_output_token_s = kUnknown;
  double latency_s = kUnknown;  // request to last token
  std::string finish_reason;    // "stop", "length", or empty
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual std::string model() const = 0;
  // How many samples the backend has for a task; -1 when it can make any number.
  virtual int available_samples(const std::string& task_id) const { return -1; }
  // One Generation per requested index, in that order. Called from several
  // worker threads at once; throws lcte::Error when it cannot generate.
  virtual std::vector<Generation> generate(const GenerationRequest& request) = 0;
};

// Returns each task's reference solution for every sample.
class CanonicalBackend final : public Backend {
 public:
  explicit CanonicalBackend(const Suite& suite);
  std::string name() const override { return "canonical"; }
  std::string model() const override { return "reference"; }
  std::vector<Generation> generate(const GenerationRequest& request) override;

 private:
  std::map<std::string, std::string> references_;
};

// human-eval samples format: one JSON object per line with "task_id" and
// "completion" (other fields ignored); a task's lines, in file order, are its
// samples 0, 1, 2, ... Task ids must exist in `suite` (for numbered suites a
// bare number such as 11 or "11" names Mbpp/11).
class FileBackend final : public Backend {
 public:
  FileBackend(const std::string& path, const Suite& suite, std::string model_name = {});
  std::string name() const override { return "file"; }
  std::string model() const override { return model_; }
  int available_samples(const std::string& task_id) const override;
  std::vector<Generation> generate(const GenerationRequest& request) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string model_;
  std::map<std::string, std::vector<std::string>> samples_;
};

}  // namespace lcte::eval
