// bench_quant: how fast lcte quantizes, and how much memory a whole-model
// quantization takes.
//
//   bench_quant [--rows N] [--cols N] [--threads N] [--model-mib N] [--dir DIR]
//
// 1. Throughput: a rows x cols matrix of heavy-tailed random F32 values is
//    quantized to every type, with and without importance weights, on 1 and
//    on `threads` threads; MB/s counts source F32 bytes (what llama-quantize
//    reports too). Best of 3 runs.
// 2. Peak memory: a synthetic llama-shaped F32 model of about --model-mib MiB
//    is written to DIR, then quantized to Q4_K_M in a child process whose
//    peak RSS (ru_maxrss, which counts touched mapped file pages too) is
//    compared with the model size and its largest tensor.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gguf/gguf.h"
#include "quant/model_quantizer.h"
#include "quant/quantize.h"
#include "quant/scale_search.h"

namespace {

using lcte::GgmlType;

struct Args {
  int64_t rows = 512, cols = 4096;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t model_mib = 256;
  std::string dir = std::filesystem::temp_directory_path().string();
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--rows")
      a.rows = std::stoll(v);
    else if (k == "--cols")
      a.cols = std::stoll(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--model-mib")
      a.model_mib = std::stoll(v);
    else if (k == "--dir")
      a.dir = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

std::vector<float> heavy_tailed(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> dist(3.0f);
  std::vector<float> x(n);
  for (float& v : x) v = 0.02f * dist(rng);
  return x;
}

double seconds_of(const std::function<void()>& fn) {
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void throughput(const Args& a) {
  const auto x = heavy_tailed(static_cast<size_t>(a.rows * a.cols), 1);
  std::vector<float> imp(static_cast<size_t>(a.cols));
  std::mt19937 rng(2);
  std::lognormal_distribution<float> ln(0.0f, 1.5f);
  for (float& v : imp) v = ln(rng);
  const double mb = x.size() * 4.0 / 1e6;
  std::printf("quantization throughput, %lld x %lld F32 (%.1f MB), MB/s of source, best of 3\n",
              static_cast<long long>(a.rows), static_cast<long long>(a.cols), mb);
  std::printf("| type | 1 thread | %d threads | 1 thread, imatrix | %d threads, imatrix |\n", a.threads, a.threads);
  std::printf("|---|---|---|---|---|\n");
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K,
                     GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    std::vector<uint8_t> out(lcte::row_bytes(t, a.cols) * static_cast<size_t>(a.rows));
    auto rate = [&](int threads, const float* w) {
      return mb / seconds_of([&] { lcte::quant::quantize_rows(t, x.data(), out.data(), a.rows, a.cols, w, threads); });
    };
    const bool weighted = t != GgmlType::Q8_0;
    std::printf("| %s | %.1f | %.1f | %s | %s |\n", std::string(lcte::type_name(t)).c_str(), rate(1, nullptr),
                rate(a.threads, nullptr), weighted ? std::to_string(rate(1, imp.data())).substr(0, 6).c_str() : "-",
                weighted ? std::to_string(rate(a.threads, imp.data())).substr(0, 6).c_str() : "-");
    std::fflush(stdout);
  }
}

// The K-quants' affine scale search, scalar (one group at a time) against
// the lane version (8 groups at once, same bytes), interleaved in this
// process so machine load affects both alike.
void search_lanes_vs_scalar() {
  using namespace lcte::quant::search;
  const int blocks = 4000, n = 32, G = kLanes;
  std::vector<float> x = heavy_tailed(static_cast<size_t>(blocks * n * G), 9), w(x.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::fabs(x[i]) + 0.01f;
  std::vector<uint8_t> L(static_cast<size_t>(n * G));
  float s[G], o[G];
  double t_scalar = 1e30, t_lanes = 1e30;
  for (int round = 0; round < 3; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    for (int b = 0; b < blocks * G; ++b) affine_scale(n, 15, &x[b * n], &w[b * n], L.data(), o, -1.0f, 0.1f, 20, false);
    auto t1 = std::chrono::steady_clock::now();
    for (int b = 0; b < blocks; ++b)
      affine_scale_lanes(n, 15, &x[b * G * n], &w[b * G * n], L.data(), s, o, -1.0f, 0.1f, 20, false);
    auto t2 = std::chrono::steady_clock::now();
    t_scalar = std::min(t_scalar, std::chrono::duration<double>(t1 - t0).count());
    t_lanes = std::min(t_lanes, std::chrono::duration<double>(t2 - t1).count());
  }
  std::printf("\nQ4_K affine scale search (%d groups of 32): scalar %.3f s, 8 lanes %.3f s (%.2fx)\n", blocks * G,
              t_scalar, t_lanes, t_scalar / t_lanes);
}

// A llama-shaped model of random F32 weights: dim d, ffn 4d, `layers` blocks.
std::string write_model(const Args& a, int64_t* largest_bytes, int64_t* file_bytes) {
  const int64_t d = 1024, ffn = 4096, vocab = 8192;
  const int64_t per_layer = 4 * d * d + 3 * d * ffn;
  const int64_t layers = std::max<int64_t>(1, (a.model_mib * 1024 * 1024 / 4 - 2 * vocab * d) / per_layer);
  std::vector<std::vector<float>> keep;  // the writer streams from these
  lcte::gguf::Writer w;
  w.set("general.architecture", lcte::gguf::Value::string("llama"));
  w.set("llama.block_count", lcte::gguf::Value::u32(static_cast<uint32_t>(layers)));
  w.set("llama.embedding_length", lcte::gguf::Value::u32(static_cast<uint32_t>(d)));
  w.set("llama.attention.head_count", lcte::gguf::Value::u32(16));
  w.set("llama.attention.head_count_kv", lcte::gguf::Value::u32(4));
  // One random buffer per distinct shape, shared by the tensors of that shape
  // (the content does not matter for memory; it keeps this program small).
  const auto dd = heavy_tailed(static_cast<size_t>(d * d), 3), df = heavy_tailed(static_cast<size_t>(d * ffn), 4),
             dv = heavy_tailed(static_cast<size_t>(d * vocab), 5), n = std::vector<float>(static_cast<size_t>(d), 1.0f);
  w.add_tensor("token_embd.weight", GgmlType::F32, {d, vocab}, dv.data());
  w.add_tensor("output.weight", GgmlType::F32, {d, vocab}, dv.data());
  w.add_tensor("output_norm.weight", GgmlType::F32, {d}, n.data());
  for (int64_t l = 0; l < layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    w.add_tensor(b + "attn_norm.weight", GgmlType::F32, {d}, n.data());
    w.add_tensor(b + "ffn_norm.weight", GgmlType::F32, {d}, n.data());
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"})
      w.add_tensor(b + m + ".weight", GgmlType::F32, {d, d}, dd.data());
    w.add_tensor(b + "ffn_gate.weight", GgmlType::F32, {d, ffn}, df.data());
    w.add_tensor(b + "ffn_up.weight", GgmlType::F32, {d, ffn}, df.data());
    w.add_tensor(b + "ffn_down.weight", GgmlType::F32, {ffn, d}, df.data());
  }
  const std::string path = a.dir + "/bench_quant_model.gguf";
  w.write(path);
  *largest_bytes = d * vocab * 4;
  *file_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  return path;
}

void peak_memory(const Args& a) {
  int64_t largest = 0, size = 0;
  const std::string in = write_model(a, &largest, &size);
  const std::string out = a.dir + "/bench_quant_model-q4_k_m.gguf";
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    lcte::quant::QuantizeOptions o;
    o.input = in;
    o.output = out;
    o.ftype = lcte::quant::FileType::Q4_K_M;
    o.threads = a.threads;
    try {
      lcte::quant::quantize_model(o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "quantize failed: %s\n", e.what());
      _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mib = 1024.0 * 1024.0;
  std::printf("\nwhole-model Q4_K_M quantization, %d threads (child process)\n", a.threads);
  std::printf(
      "| F32 model | largest tensor (F32) | output | peak RSS | time | source MB/s |\n|---|---|---|---|---|---|\n");
  std::printf("| %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.2f s | %.1f |\n", size / mib, largest / mib,
              std::filesystem::file_size(out) / mib, ru.ru_maxrss * 1024.0 / mib, secs, size / 1e6 / secs);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::printf("(the child failed)\n");
  std::filesystem::remove(in);
  std::filesystem::remove(out);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  throughput(a);
  search_lanes_vs_scalar();
  if (a.model_mib > 0) peak_memory(a);
  return 0;
}
