// Tokenizer speed on code: for each vocabulary, a text of about 4000 tokens
// made of MBPP reference solutions; prints load time, time per tokenize call
// (median of repeated calls) and tokens per second. Times are this thread's
// CPU time (CLOCK_THREAD_CPUTIME_ID), which a busy shared machine disturbs
// less than wall time; wall time is printed too.
//
//   build/bench/tokenizer/bench_tokenizer [--reps N] [--tokens T]
// Data come from LCTE_DATA_DIR (default ../shared/data).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <time.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

using namespace lcte::tokenizer;
using Clock = std::chrono::steady_clock;

namespace {

std::string data_path(const std::string& rel) {
  const char* env = std::getenv("LCTE_DATA_DIR");
  return (env && *env ? std::string(env) : std::string(LCTE_DEFAULT_DATA_DIR)) + "/" + rel;
}

std::vector<std::string> mbpp_solutions() {
  std::ifstream in(data_path("mbpp/sanitized-mbpp.json"));
  if (!in) throw lcte::Error("cannot open " + data_path("mbpp/sanitized-mbpp.json"));
  std::vector<std::string> out;
  for (const auto& task : nlohmann::json::parse(in)) out.push_back(task.at("code").get<std::string>());
  return out;
}

// Whole solutions, joined by blank lines, until the text has `target` tokens.
std::string code_text(const Tokenizer& tok, const std::vector<std::string>& solutions, size_t target) {
  std::string text;
  for (const std::string& s : solutions) {
    text += s + "\n\n";
    if (tok.tokenize(text, false).size() >= target) break;
  }
  return text;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 200;
  size_t target = 4000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reps")
      reps = std::atoi(argv[i + 1]);
    else if (a == "--tokens")
      target = size_t(std::atoll(argv[i + 1]));
  }
  try {
    const auto solutions = mbpp_solutions();
    std::printf("%-16s %-4s %9s %7s %7s %10s %12s %10s %12s\n", "vocab", "type", "load_ms", "bytes", "tokens",
                "cpu_us/call", "cpu_us/1k_tok", "Mtok/s", "wall_us/call");
    for (const char* name :
         {"llama-spm", "phi-3", "gpt-2", "deepseek-coder", "starcoder", "deepseek-llm", "falcon", "bert-bge"}) {
      const std::string path = data_path(std::string("tokenizer/ggml-vocab-") + name + ".gguf");
      auto t0 = Clock::now();
      Tokenizer tok = load_tokenizer(path);
      double load_ms = seconds(Clock::now() - t0) * 1e3;

      const std::string text = code_text(tok, solutions, target);
      size_t n = 0;
      std::vector<double> cpu, wall;
      for (int r = 0; r < reps; ++r) {
        auto a = Clock::now();
        double c = thread_cpu_seconds();
        n = tok.tokenize(text, false).size();
        cpu.push_back(thread_cpu_seconds() - c);
        wall.push_back(seconds(Clock::now() - a));
      }
      std::sort(cpu.begin(), cpu.end());
      std::sort(wall.begin(), wall.end());
      double med = cpu[cpu.size() / 2];
      const char* type = tok.vocab().type() == VocabType::kSpm   ? "spm"
                         : tok.vocab().type() == VocabType::kBpe ? "bpe"
                                                                 : "wpm";
      std::printf("%-16s %-4s %9.1f %7zu %7zu %10.1f %12.1f %10.2f %12.1f\n", name, type, load_ms, text.size(), n,
                  med * 1e6, med * 1e6 / double(n) * 1000.0, double(n) / med / 1e6, wall[wall.size() / 2] * 1e6);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
