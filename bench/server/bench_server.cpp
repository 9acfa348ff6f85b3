// lcte serve under load: an in-process server on a loopback port serving one
// GGUF model through the engine backend, and C concurrent streaming clients
// (libcurl, as `lcte eval --backend http` uses) asking for completions for S
// seconds. Prints, per client count: answered requests, failures, requests/s,
// generated tokens/s, and end-to-end latency and time to first token
// percentiles (p50/p90/p99).
//
//   bench_server [--model FILE.gguf] [--clients 1,4,16] [--seconds 10]
//                [--max-tokens 64] [--threads 2] [--n 1]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/engine_backend.h"
#include "backend/openai_client.h"
#include "core/text.h"
#include "server/server.h"

using namespace lcte;

namespace {

struct Args {
  std::string model;
  std::vector<int> clients = {1, 4, 16};
  double seconds = 10;
  int max_tokens = 64;
  int threads = 2;
  int n = 1;
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
      a.clients = parse_list(v);
    else if (k == "--seconds")
      a.seconds = std::atof(v.c_str());
    else if (k == "--max-tokens")
      a.max_tokens = std::atoi(v.c_str());
    else if (k == "--threads")
      a.threads = std::atoi(v.c_str());
    else if (k == "--n")
      a.n = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::min<double>(v.size() - 1, std::max(0.0, p / 100.0 * v.size() - 0.5) + 0.5));
  return v[i];
}

const std::vector<std::string> kPrompts = {
    "Once upon a time",   "The cat",     "Lily and Ben went", "One day, a big dog",
    "Tom had a red ball", "The sun was", "Sue wanted to",     "In the park,"};

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  backend::EngineOptions eo;
  eo.path = a.model;
  eo.threads = a.threads;
  eo.n_ctx = 1024;
  auto engine = std::make_shared<backend::EngineBackend>(eo);
  server::ServerOptions so;
  so.port = 0;
  so.limits.max_tokens = std::max(a.max_tokens, 16);
  server::Server srv({{"m", engine}}, so);
  int port = srv.start();
  std::printf("model %s, engine threads %d, max_tokens %d, n %d, %.0f s per level, hardware threads %u\n\n",
              a.model.c_str(), a.threads, a.max_tokens, a.n, a.seconds, std::thread::hardware_concurrency());
  std::printf(
      "| clients | requests | failed | req/s | gen tok/s | latency p50 / p90 / p99 (s) | TTFT p50 / p90 / p99 (s) |\n");
  std::printf("|---:|---:|---:|---:|---:|---|---|\n");
  for (int clients : a.clients) {
    std::mutex mutex;
    std::vector<double> latency, ttft;
    long tokens = 0;
    std::atomic<int> failed{0};
    auto t0 = std::chrono::steady_clock::now();
    auto deadline = t0 + std::chrono::duration<double>(a.seconds);
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        backend::HttpOptions ho;
        ho.base_url = "http://127.0.0.1:" + std::to_string(port);
        ho.model = "m";
        ho.max_retries = 0;
        backend::OpenAIClient client(ho);
        for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
          backend::CompletionRequest r;
          r.prompt = kPrompts[static_cast<size_t>(c * 7 + i) % kPrompts.size()];
          r.max_tokens = a.max_tokens;
          r.n = a.n;
          r.temperature = 0.8;
          r.seed = static_cast<uint64_t>(c * 1000 + i);
          try {
            backend::CompletionResult out = client.complete(r);
            std::lock_guard<std::mutex> lock(mutex);
            latency.push_back(out.latency_s);
            if (out.time_to_first_token_s >= 0) ttft.push_back(out.time_to_first_token_s);
            tokens += std::max(0, out.completion_tokens);
          } catch (const std::exception& e) {
            failed++;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("| %d | %zu | %d | %.1f | %.0f | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f |\n", clients, latency.size(),
                failed.load(), latency.size() / wall, tokens / wall, percentile(latency, 50), percentile(latency, 90),
                percentile(latency, 99), percentile(ttft, 50), percentile(ttft, 90), percentile(ttft, 99));
    std::fflush(stdout);
  }
  srv.stop();
  return 0;
}
