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
//
// With --long-prompt N it measures instead how long running streams wait
// between consecutive pieces of text when a prompt of about N tokens
// arrives, once per --prefill-chunks value: --streams S client threads each
// stream one sampled completion after another (short prompts); after they
// have run for a while one more client sends the long prompt (8 tokens
// asked). Gaps are taken between consecutive pieces of one completion, as
// the client receives them; a gap is "during the prefill" when it overlaps
// the time from sending the long prompt to its first piece. Prints a table:
// the median and worst gap outside that window, the worst gap inside it, and
// the long prompt's time to its first piece.
//
//   bench_batch --long-prompt 2000 [--streams 4] [--prefill-chunks 0,256]
//               [--model FILE.gguf] [--threads 2]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
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
  int long_prompt = 0, streams = 4;
  std::vector<int> prefill_chunks = {0, 256};
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
    else if (k == "--long-prompt")
      a.long_prompt = std::atoi(v.c_str());
    else if (k == "--streams")
      a.streams = std::atoi(v.c_str());
    else if (k == "--prefill-chunks")
      a.prefill_chunks = parse_list(v);
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

using Clock = std::chrono::steady_clock;
double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Gap {
  Clock::time_point from, to;
};

struct GapResult {
  int64_t prompt_tokens = 0;
  double median_ms = 0, worst_ms = 0;  // outside the long prompt's prefill
  double worst_prefill_ms = 0;         // overlapping it
  size_t gaps = 0, prefill_gaps = 0;
  double ttft_ms = 0;  // the long prompt's time to its first piece
};

// Until `count` reaches `target`, or a minute has passed (streams that stopped
// producing would otherwise hold the bench forever).
void wait_for(const std::atomic<long>& count, long target) {
  const auto until = Clock::now() + std::chrono::seconds(60);
  while (count < target && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (count < target)
    std::fprintf(stderr, "bench_batch: the streams stopped at %ld pieces of %ld\n", count.load(), target);
}

// About `tokens` tokens of story text.
std::string long_text(const backend::EngineBackend& engine, int tokens) {
  const std::string sentence = "Once upon a time there was a little dog named Tom who liked to play in the park. ";
  std::string text;
  while (engine.count_tokens(text) < tokens) text += sentence;
  return text;
}

GapResult run_gaps(const Args& a, int chunk) {
  backend::EngineOptions o;
  o.path = a.model;
  o.threads = a.threads;
  o.n_ctx = a.long_prompt + 512;
  o.max_sequences = 32;
  o.prefill_chunk = chunk;
  backend::EngineBackend engine(o);
  Args warm = a;
  warm.n = 1;
  engine.generate(request(warm, 0));  // page the weights in
  std::mutex mutex;
  std::vector<Gap> gaps;
  std::atomic<bool> stop{false};
  std::atomic<long> pieces{0};
  std::vector<std::thread> streams;
  for (int s = 0; s < a.streams; ++s)
    streams.emplace_back([&, s] {
      for (int i = 0; !stop; ++i) {
        backend::GenerationRequest r = request(warm, s * 1000 + i);
        r.sampling.max_tokens = 200;
        std::vector<Clock::time_point> at;
        engine.generate(r, [&](int, std::string_view) {
          at.push_back(Clock::now());
          ++pieces;
        });
        std::lock_guard<std::mutex> lock(mutex);
        for (size_t k = 1; k < at.size(); ++k) gaps.push_back({at[k - 1], at[k]});
      }
    });
  wait_for(pieces, 100L * a.streams);
  backend::GenerationRequest big;
  big.task_id = "long";
  big.prompt = long_text(engine, a.long_prompt);
  big.sampling.temperature = 0;
  big.sampling.max_tokens = 8;
  GapResult out;
  out.prompt_tokens = engine.count_tokens(big.prompt) + 1;  // and BOS
  const Clock::time_point sent = Clock::now();
  Clock::time_point first{};
  engine.generate(big, [&](int, std::string_view) {
    if (first == Clock::time_point{}) first = Clock::now();
  });
  if (first == Clock::time_point{}) first = Clock::now();
  const long after = pieces;
  wait_for(pieces, after + 50L * a.streams);
  stop = true;
  for (auto& t : streams) t.join();
  out.ttft_ms = ms(first - sent);
  std::vector<double> steady;
  for (const Gap& g : gaps) {
    const double d = ms(g.to - g.from);
    if (g.to > sent && g.from < first) {
      out.worst_prefill_ms = std::max(out.worst_prefill_ms, d);
      ++out.prefill_gaps;
    } else {
      steady.push_back(d);
    }
  }
  std::sort(steady.begin(), steady.end());
  out.gaps = steady.size();
  if (!steady.empty()) {
    out.median_ms = steady[steady.size() / 2];
    out.worst_ms = steady.back();
  }
  return out;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line;
}

int gap_table(const Args& a) {
  std::printf("model %s, %d streams, a prompt of about %d tokens arriving, %d threads; /proc/loadavg before: %s\n\n",
              a.model.c_str(), a.streams, a.long_prompt, a.threads, loadavg().c_str());
  std::printf(
      "| --prefill-chunk | prompt tokens | median gap ms | worst gap ms (no prompt) | worst gap ms during the prefill "
      "| "
      "gaps in it | prompt's first piece ms |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int chunk : a.prefill_chunks) {
    const GapResult r = run_gaps(a, chunk);
    std::printf("| %d | %ld | %.2f | %.1f | %.1f | %zu | %.1f |\n", chunk, static_cast<long>(r.prompt_tokens),
                r.median_ms, r.worst_ms, r.worst_prefill_ms, r.prefill_gaps, r.ttft_ms);
    std::fflush(stdout);
  }
  std::printf("\n/proc/loadavg after: %s\n", loadavg().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (a.long_prompt > 0) return gap_table(a);
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
