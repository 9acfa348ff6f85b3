// tiktoken encodings: lcte against the official tiktoken (the npm package
// tiktoken 1.0.22, OpenAI's Rust core compiled to WASM, run by node) in the
// same run, one thread each, on HumanEval's prompt + canonical solution + test
// of all 164 problems. Each side encodes every text per pass (after warm-up
// passes); the table gives the median pass. Then the routing decision for
// queries of about 150, 1,000 and 4,000 tokens (HumanEval prompts), through
// route::Router with the encoding as its counter: p50 / p99 of the wall time
// the router reports and of this thread's CPU time.
//
//   build/bench/tokenizer/bench_tiktoken [--reps N] [--route-reps N] [--node PATH]
//
// The reference needs node and `npm ci` in bench/tokenizer/tiktoken-ref;
// without them only lcte's figures are printed.
#include <time.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eval/suite.h"
#include "route/router.h"
#include "tokenizer/tokenizer.h"

using namespace lcte;
namespace fs = std::filesystem;

namespace {

std::string data_dir() {
  const char* env = std::getenv("LCTE_DATA_DIR");
  return env && *env ? env : LCTE_DEFAULT_DATA_DIR;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5))];
}

double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double wall_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Passes {
  size_t tokens = 0;  // per pass
  std::vector<double> wall, cpu;
};

Passes bench_lcte(const tokenizer::Tokenizer& tok, const std::vector<std::string>& texts, int reps) {
  auto pass = [&] {
    size_t n = 0;
    for (const auto& t : texts) n += tok.tokenize(t, false).size();
    return n;
  };
  pass();
  pass();
  Passes p;
  for (int r = 0; r < reps; ++r) {
    const double w0 = wall_s(), c0 = thread_cpu_s();
    p.tokens = pass();
    p.cpu.push_back(thread_cpu_s() - c0);
    p.wall.push_back(wall_s() - w0);
  }
  return p;
}

// Runs the node reference; empty map (and a note on stderr) when it cannot.
std::map<std::string, Passes> bench_tiktoken(const std::vector<std::string>& texts, int reps, const std::string& node) {
  std::map<std::string, Passes> out;
  const std::string ref_dir = std::string(LCTE_SOURCE_DIR) + "/bench/tokenizer/tiktoken-ref";
  if (!fs::exists(ref_dir + "/node_modules/tiktoken")) {
    std::fprintf(stderr, "note: no reference run: cd %s && npm ci\n", ref_dir.c_str());
    return out;
  }
  const fs::path dir = fs::temp_directory_path() / ("lcte-bench-tiktoken-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "texts.json") << nlohmann::json(texts).dump();
  const std::string cmd = node + " " + ref_dir + "/bench.cjs " + (dir / "texts.json").string() + " " +
                          std::to_string(reps) + " cl100k_base,o200k_base > " + (dir / "out.jsonl").string();
  const int rc = std::system(cmd.c_str());
  if (rc == 0) {
    std::ifstream in(dir / "out.jsonl");
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      Passes p;
      p.tokens = j["tokens"];
      p.wall = j["seconds"].get<std::vector<double>>();
      p.cpu = j["cpu_seconds"].get<std::vector<double>>();
      out[j["encoding"]] = p;
    }
  } else {
    std::fprintf(stderr, "note: the reference run failed (%s exited %d)\n", node.c_str(), rc);
  }
  fs::remove_all(dir);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 15, route_reps = 2000;
  std::string node = "node";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0)
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--route-reps") == 0)
      route_reps = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--node") == 0)
      node = argv[i + 1];
    else {
      std::fprintf(stderr, "bench_tiktoken: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const eval::Suite suite = eval::load_humaneval(data_dir() + "/humaneval/HumanEval.jsonl.gz");
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const auto& t : suite.tasks) {
    texts.push_back(t.prompt + t.reference + t.tests);
    bytes += texts.back().size();
  }

  const std::array<std::string, 2> names = {"cl100k_base", "o200k_base"};
  std::map<std::string, std::unique_ptr<tokenizer::Tokenizer>> toks;
  std::map<std::string, double> load_ms;
  std::map<std::string, Passes> mine;
  for (const auto& name : names) {
    const double t0 = wall_s();
    toks[name] = std::make_unique<tokenizer::Tokenizer>(
        tokenizer::load_tokenizer(data_dir() + "/tokenizer/tiktoken/" + name + ".tiktoken"));
    load_ms[name] = (wall_s() - t0) * 1e3;
    mine[name] = bench_lcte(*toks[name], texts, reps);
  }
  const std::map<std::string, Passes> ref = bench_tiktoken(texts, reps, node);

  std::printf("HumanEval prompt + solution + test: %zu texts, %zu bytes; %d timed passes each, median pass\n\n",
              texts.size(), bytes, reps);
  std::printf(
      "| encoding | load ms | tokens | lcte Mtok/s | lcte cpu Mtok/s | tiktoken Mtok/s | tiktoken cpu Mtok/s "
      "| ratio (wall) | ratio (cpu) |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& name : names) {
    const Passes& m = mine[name];
    const double lw = double(m.tokens) / median(m.wall) / 1e6, lc = double(m.tokens) / median(m.cpu) / 1e6;
    auto it = ref.find(name);
    if (it == ref.end()) {
      std::printf("| %s | %.0f | %zu | %.2f | %.2f | - | - | - | - |\n", name.c_str(), load_ms[name], m.tokens, lw, lc);
      continue;
    }
    const Passes& r = it->second;
    if (r.tokens != m.tokens)
      std::fprintf(stderr, "warning: %s: tiktoken counted %zu tokens, lcte %zu\n", name.c_str(), r.tokens, m.tokens);
    const double rw = double(r.tokens) / median(r.wall) / 1e6, rc = double(r.tokens) / median(r.cpu) / 1e6;
    std::printf("| %s | %.0f | %zu | %.2f | %.2f | %.2f | %.2f | %.2fx | %.2fx |\n", name.c_str(), load_ms[name],
                m.tokens, lw, lc, rw, rc, lw / rw, lc / rc);
  }

  // Routing decisions: the default scale (counting stops past 1,216 tokens).
  std::string corpus;
  for (const auto& t : suite.tasks) corpus += t.prompt;
  std::printf("\nrouting decision (route::Router, default threshold policy), %d decisions each\n\n", route_reps);
  std::printf(
      "| encoding | counter | query tokens | counted | wall p50 us | wall p99 us | cpu p50 us | cpu p99 us |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& name : names) {
    const tokenizer::Tokenizer* tok = toks[name].get();
    const route::RouterConfig config;
    const int64_t limit = route::count_limit(config);
    // Today's counter (route::count_tokens_up_to on prefixes), and the tokenizer's own early stop.
    const std::vector<std::pair<std::string, route::TokenCounter>> counters = {
        {"tokenize on prefixes",
         route::TokenCounter{name, [tok](std::string_view t) { return int64_t(tok->tokenize(t, false).size()); }}},
        {"count_tokens(text, limit)",
         route::TokenCounter{
             name, [tok, limit](std::string_view t) { return int64_t(tok->count_tokens(t, size_t(limit))); }}},
    };
    for (int64_t target : {150, 1000, 4000}) {
      size_t lo = 1, hi = corpus.size();
      while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (tok->count_tokens(std::string_view(corpus).substr(0, mid)) >= size_t(target))
          hi = mid;
        else
          lo = mid + 1;
      }
      const std::string query = corpus.substr(0, lo);
      for (const auto& [label, count] : counters) {
        route::Router router(config, count);
        std::vector<double> wall, cpu;
        route::RouteResult last;
        for (int r = 0; r < route_reps; ++r) {
          const double c0 = thread_cpu_s();
          last = router.route(query);
          cpu.push_back((thread_cpu_s() - c0) * 1e6);
          wall.push_back(last.decision_us);
        }
        const std::string counted = std::to_string(last.n_tokens) + (last.n_tokens_at_least ? "+" : "");
        std::printf("| %s | %s | %lld | %s | %.1f | %.1f | %.1f | %.1f |\n", name.c_str(), label.c_str(),
                    static_cast<long long>(target), counted.c_str(), percentile(wall, 50), percentile(wall, 99),
                    percentile(cpu, 50), percentile(cpu, 99));
      }
    }
  }
  return 0;
}
