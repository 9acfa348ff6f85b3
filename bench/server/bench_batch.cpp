// Aggregate decode throughput of the engine backend under concurrent callers,
// as `lcte eval --backend engine --n N` drives it: C client threads take R
// requests in turn, each asking for N sampled completions of T tokens (the
// prompts differ per request). Run once per --max-seqs value (1: one sequence
// at a time; N: one request's samples at a time; more: continuous batching
// across requests), same process, same model. Prints a markdown table: wall
// seconds, generated tokens, aggregate tokens/s, the speed-up over the first
// setting, and whether every completion equals the first setting's. On a
// shared machine the wall clock mostly says how much CPU the process got;
// tokens per CPU-second (user + system time of the process) say what the
// batching saves.
//
//   bench_batch [--model FILE.gguf] [--clients 2] [--n 10] [--requests 8]
//               [--max-tokens 64] [--threads 2] [--max-seqs 1,10,32]
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "backend/engine_backend.h"
#include "core/text.h"

using namespace lcte;

namespace {

struct Args {
  std::string model;
  int clients = 2, n = 10, requests = 8, max_tokens = 64, threads = 2;
  std::vector<int> max_seqs = {1, 10, 32};
};

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  for (const std::string& item : split_commas(text)) out.push_back(std::atoi(item.c_str()));
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  const char* dir = std::getenv("LCTE_DATA_DIR");
  a.model = std::string(dir != nullptr && *dir ? dir : LCTE_DEFAULT_DATA_DIR) + "/models/stories260K-f32.gguf";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--model")
      a.model = v;
    else if (k == "--clients")
      a.clients = std::atoi(v.c_str());
    else if (k == "--n")
      a.n = std::atoi(v.c_str());
    else if (k == "--requests")
      a.requests = std::atoi(v.c_str());
    else if (k == "--max-tokens")
      a.max_tokens = std::atoi(v.c_str());
    else if (k == "--threads")
      a.threads = std::atoi(v.c_str());
    else if (k == "--max-seqs")
      a.max_seqs = parse_list(v);
    else {
      std::fprintf(stderr, "bench_batch: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

backend::GenerationRequest request(const Args& a, int i) {
  static const char* words[] = {"Once", "upon", "a", "time", "there", "was", "a", "little", "dog", "named", "Tom"};
  backend::GenerationRequest r;
  r.task_id = "bench/" + std::to_string(i);
  for (int w = 0; w <= i % 11; ++w) r.prompt += std::string(w ? " " : "") + words[(w + i) % 11];
  r.sampling.temperature = 0.8;
  r.sampling.max_tokens = a.max_tokens;
  r.sampling.seed = 1;
  r.sample_indices.clear();
  for (int k = 0; k < a.n; ++k) r.sample_indices.push_back(k);
  return r;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Result {
  double seconds = 0, cpu = 0;
  long tokens = 0;
  std::vector<std::vector<std::string>> texts;  // per request, per sample
};

Result run(const Args& a, int max_seqs) {
  backend::EngineOptions o;
  o.path = a.model;
  o.threads = a.threads;
  o.n_ctx = 1024;
  o.max_sequences = max_seqs;
  backend::EngineBackend engine(o);
  engine.generate(request(a, 0));  // warm-up: page the weights in
  Result r;
  r.texts.resize(static_cast<size_t>(a.requests));
  std::atomic<int> next{0};
  std::atomic<long> tokens{0};
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  std::vector<std::thread> clients;
  for (int c = 0; c < a.clients; ++c)
    clients.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < a.requests;) {
        for (const backend::Generation& g : engine.generate(request(a, i))) {
          tokens += g.completion_tokens;
          r.texts[static_cast<size_t>(i)].push_back(g.text);
        }
      }
    });
  for (auto& t : clients) t.join();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu = cpu_seconds() - c0;
  r.tokens = tokens.load();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  std::printf("model %s, %d clients, %d requests of n=%d x %d tokens, %d threads\n\n", a.model.c_str(), a.clients,
              a.requests, a.n, a.max_tokens, a.threads);
  std::printf(
      "| --max-seqs | wall s | CPU s | tokens | tokens/s | tokens/CPU-s | speed-up (wall) | speed-up (CPU) | same "
      "completions |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  Result first;
  for (size_t k = 0; k < a.max_seqs.size(); ++k) {
    Result r = run(a, a.max_seqs[k]);
    if (k == 0) first = r;
    std::printf("| %d | %.2f | %.2f | %ld | %.1f | %.1f | %.2f | %.2f | %s |\n", a.max_seqs[k], r.seconds, r.cpu,
                r.tokens, r.tokens / r.seconds, r.tokens / r.cpu,
                (r.tokens / r.seconds) / (first.tokens / first.seconds),
                (r.tokens / r.cpu) / (first.tokens / first.cpu), r.texts == first.texts ? "yes" : "NO");
    std::fflush(stdout);
  }
  return 0;
}
