// Routing decision overhead: tokenisation, features and policy, for queries
// of 100 to 4,000 tokens made of HumanEval prompts, under real code
// tokenizers. Prints p50 / p99 / max in microseconds per decision.
//
//   build/bench/route/bench_route [--reps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "eval/suite.h"
#include "route/router.h"
#include "tokenizer/tokenizer.h"

using namespace lcte;

namespace {

std::string data_dir() {
  const char* env = std::getenv("LCTE_DATA_DIR");
  return env && *env ? env : LCTE_DEFAULT_DATA_DIR;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 200;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::atoi(argv[i + 1]);
  eval::Suite suite = eval::load_humaneval(data_dir() + "/humaneval/HumanEval.jsonl.gz");
  std::string corpus;
  for (const auto& t : suite.tasks) corpus += t.prompt;

  std::printf("| tokenizer | query tokens | p50 us | p99 us | max us |\n|---|---:|---:|---:|---:|\n");
  for (const char* vocab : {"ggml-vocab-deepseek-coder.gguf", "ggml-vocab-starcoder.gguf", "ggml-vocab-llama-spm.gguf"}) {
    auto tok = std::make_shared<tokenizer::Tokenizer>(tokenizer::load_tokenizer(data_dir() + "/tokenizer/" + vocab));
    route::TokenCounter count = [tok](std::string_view t) { return static_cast<int64_t>(tok->tokenize(t, false).size()); };
    route::Router router(route::RouterConfig{}, count);
    for (int64_t target : {100, 500, 1000, 2000, 4000}) {
      // The shortest prefix of the corpus with at least `target` tokens.
      size_t lo = 1, hi = corpus.size();
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (count(std::string_view(corpus).substr(0, mid)) >= target) hi = mid; else lo = mid + 1;
      }
      std::string query = corpus.substr(0, lo);
      std::vector<double> us;
      for (int r = 0; r < reps; ++r) us.push_back(router.route(query).decision_us);
      std::printf("| %s | %lld | %.0f | %.0f | %.0f |\n", vocab, static_cast<long long>(count(query)), percentile(us, 50),
                  percentile(us, 99), *std::max_element(us.begin(), us.end()));
    }
  }
  return 0;
}
