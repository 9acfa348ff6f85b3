// Routing decision overhead: tokenisation, features and policy, for queries
// of 100 to 4,000 tokens made of HumanEval prompts, under the published
// rule's cl100k_base (and o200k_base) and real tokenizers of every other kind
// (byte-level BPE, SentencePiece, WordPiece). Prints, per decision,
// p50 / p99 / max of the wall time the router reports (what a request pays,
// scheduler preemption included) and p50 / p99 of this thread's CPU time (the
// work itself, which a busy shared machine disturbs less). "counted" is the
// token count the decision used: "N+" when counting stopped early because the
// policy's score was already settled. "full-count cpu p50" is the same
// decision with every token counted (a scale whose last bound is out of
// reach), as the router did before it stopped early: the same run's baseline.
// "router cpu p50" is the decision with the count handed over (a counter that
// answers at once): what the router adds to the tokenizer (features, policy).
// An encoding (cl100k_base, o200k_base) is loaded as a routing configuration
// names it, or from the data's tokenizer/tiktoken/ file; one that does not
// load is reported and left out.
//
//   build/bench/route/bench_route [--reps N] [--vocab NAME[,NAME...]] [--sizes T[,T...]]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "eval/suite.h"
#include "route/router.h"

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

double thread_cpu_us() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) * 1e-3;
}

// The counter a routing configuration gets for `vocab`: an encoding by name
// (else the data's .tiktoken file), anything else the data's GGUF vocabulary.
route::TokenCounter load_counter(const std::string& vocab) {
  route::TokenizerCache cache;
  const bool encoding = vocab.find("_base") != std::string::npos;
  std::vector<std::string> specs =
      encoding ? std::vector<std::string>{vocab, data_dir() + "/tokenizer/tiktoken/" + vocab + ".tiktoken"}
               : std::vector<std::string>{data_dir() + "/tokenizer/ggml-vocab-" + vocab + ".gguf"};
  std::string why;
  for (const std::string& spec : specs) {
    try {
      route::TokenCounter c = cache.counter(spec);
      c.name = vocab;
      return c;
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  std::fprintf(stderr, "bench_route: %s left out: %s\n", vocab.c_str(), why.c_str());
  return {};
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 200;
  std::vector<std::string> vocabs = {"cl100k_base", "o200k_base", "deepseek-coder", "starcoder",
                                     "llama-spm",   "phi-3",      "bert-bge"};
  std::vector<int64_t> sizes = {100, 150, 500, 1000, 2000, 4000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0)
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--vocab") == 0)
      vocabs = split(argv[i + 1]);
    else if (std::strcmp(argv[i], "--sizes") == 0) {
      sizes.clear();
      for (const auto& s : split(argv[i + 1])) sizes.push_back(std::atoll(s.c_str()));
    } else {
      std::fprintf(stderr, "bench_route: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  eval::Suite suite = eval::load_humaneval(data_dir() + "/humaneval/HumanEval.jsonl.gz");
  std::string corpus;
  for (const auto& t : suite.tasks) corpus += t.prompt;

  std::printf(
      "| tokenizer | query tokens | bytes | counted | wall p50 us | wall p99 us | wall max us | cpu p50 us | cpu p99 "
      "us "
      "| full-count cpu p50 us | router cpu p50 us |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& vocab : vocabs) {
    route::TokenCounter count = load_counter(vocab);
    if (!count) continue;
    route::Router router(route::RouterConfig{}, count);
    route::RouterConfig unbounded;
    unbounded.token_bounds = {25, 50, 75, 100, 125, 150, 300, 600, int64_t{1} << 40};
    route::Router full_count(unbounded, count);
    for (int64_t target : sizes) {
      // The shortest prefix of the corpus with at least `target` tokens.
      size_t lo = 1, hi = corpus.size();
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (count(std::string_view(corpus).substr(0, mid)) >= target)
          hi = mid;
        else
          lo = mid + 1;
      }
      std::string query = corpus.substr(0, lo);
      const int64_t known = count(query);
      route::Router handed(route::RouterConfig{},
                           route::TokenCounter{"known", [known](std::string_view) { return known; }});
      std::vector<double> wall, cpu, cpu_full, cpu_router;
      route::RouteResult last;
      for (int r = 0; r < reps; ++r) {
        double c0 = thread_cpu_us();
        last = router.route(query);
        cpu.push_back(thread_cpu_us() - c0);
        wall.push_back(last.decision_us);
        c0 = thread_cpu_us();
        full_count.route(query);
        cpu_full.push_back(thread_cpu_us() - c0);
        c0 = thread_cpu_us();
        handed.route(query);
        cpu_router.push_back(thread_cpu_us() - c0);
      }
      std::string counted = std::to_string(last.n_tokens) + (last.n_tokens_at_least ? "+" : "");
      std::printf("| %s | %lld | %zu | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f |\n", vocab.c_str(),
                  static_cast<long long>(known), query.size(), counted.c_str(), percentile(wall, 50),
                  percentile(wall, 99), *std::max_element(wall.begin(), wall.end()), percentile(cpu, 50),
                  percentile(cpu, 99), percentile(cpu_full, 50), percentile(cpu_router, 50));
    }
  }
  return 0;
}
