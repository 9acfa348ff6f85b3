// Training throughput of the F32 engine on fixed tiny configurations, and the
// fraction of the machine's matmul peak it reaches. Prints a table.
//
//   build/bench/train/bench_train [--steps N] [--threads T] [--only tiny|vocab|wide]
//
// Peak is the best cblas_sgemm rate on 1024^3 products with the same thread
// count. Model FLOPs per step count the matmuls (forward 2 N P, backward
// 4 N P for P matmul weights, N tokens) and the causal attention (12 head_dim
// multiply-adds per (query, key) pair, forward and backward); elementwise ops
// are not counted.
#include <cblas.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/random.h"
#include "train/losses.h"
#include "train/model.h"
#include "train/ops.h"
#include "train/optim.h"

using namespace lcte::train;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double sgemm_peak_gflops(int n, int reps) {
  std::vector<float> a((size_t)n * n, 1.f), b((size_t)n * n, 0.5f), c((size_t)n * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    best = std::max(best, 2.0 * n * n * n / seconds_since(t0) / 1e9);
  }
  return best;
}

struct Row {
  std::string name;
  ModelConfig cfg;
  int B, T;
};

double step_flops(const ModelConfig& c, int B, int T) {
  const double N = (double)B * T, D = c.dim, KV = c.kv_dim(), F = c.ffn_dim;
  const double P = c.n_layers * (2 * D * D + 2 * D * KV + 3 * D * F) + (double)c.vocab * D;
  const double pairs = (double)B * c.n_heads * T * (T + 1) / 2.0 * c.n_layers;
  return 6 * N * P + 12 * c.head_dim() * pairs;
}

void run(const Row& row, int steps, double peak) {
  Model<float> m(row.cfg);
  m.init_random(1);
  const int N = row.B * row.T, V = row.cfg.vocab;
  lcte::SplitMix64 rng(2);
  std::vector<int32_t> tokens(N), targets(N);
  for (int i = 0; i < N; ++i) {
    tokens[i] = static_cast<int32_t>(rng.below(V));
    targets[i] = static_cast<int32_t>(rng.below(V));
  }
  std::vector<float> dlogits((size_t)N * V);
  AdamW opt(m.trainable_size(), AdamWConfig{});
  LossConfig lc;
  double t_fwd = 0, t_loss = 0, t_bwd = 0, t_opt = 0;
  for (int s = -2; s < steps; ++s) {  // two warm-up steps
    auto t0 = Clock::now();
    const float* logits = m.forward(tokens.data(), row.B, row.T);
    double f = seconds_since(t0);
    t0 = Clock::now();
    loss_forward_backward(logits, N, V, targets.data(), nullptr, lc, dlogits.data());
    double l = seconds_since(t0);
    t0 = Clock::now();
    m.zero_grad();
    m.backward(dlogits.data());
    double b = seconds_since(t0);
    t0 = Clock::now();
    clip_grad_norm(m.trainable_grads(), m.trainable_size(), 1.0);
    opt.step(m.trainable(), m.trainable_grads(), m.segments(), 1e-4);
    double o = seconds_since(t0);
    if (s >= 0) {
      t_fwd += f;
      t_loss += l;
      t_bwd += b;
      t_opt += o;
    }
  }
  const double per_step = (t_fwd + t_loss + t_bwd + t_opt) / steps;
  const double gflops = step_flops(row.cfg, row.B, row.T) / per_step / 1e9;
  std::printf("| %-28s | %9.1f | %8.0f | %6.1f | %6.1f | %6.1f | %6.1f | %6.2f | %5.1f%% |\n", row.name.c_str(),
              m.params().size() / 1e6, N / per_step, 1e3 * t_fwd / steps, 1e3 * t_loss / steps, 1e3 * t_bwd / steps,
              1e3 * t_opt / steps, gflops, 100 * gflops / peak);
}

ModelConfig tiny(int vocab) {
  ModelConfig c;
  c.vocab = vocab;
  c.dim = 128;
  c.n_layers = 4;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 384;
  c.context = 128;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 10, threads = 0;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];  // tiny, vocab or wide
  }
  if (threads > 0) {
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
  }
  const char* par[] = {"sequential", "pthreads", "OpenMP"};
  const int p = openblas_get_parallel();
  std::printf("OpenBLAS %s, threading: %s, %d threads; OpenMP %d threads\n", openblas_get_config(),
              p >= 0 && p <= 2 ? par[p] : "?", openblas_get_num_threads(), omp_get_max_threads());
  const double peak = sgemm_peak_gflops(1024, 5);
  std::printf("sgemm 1024^3 peak (OpenBLAS on %d threads): %.1f GFLOP/s\n\n", openblas_get_num_threads(), peak);
  // The way lcte trains: one OpenMP pool, OpenBLAS on one thread per call.
  lcte::train::ops::use_threads(threads);
  std::printf("training with ops::use_threads(%d): OpenBLAS %d thread, OpenMP pool of %d\n\n", threads,
              openblas_get_num_threads(), omp_get_max_threads());
  std::printf("| %-28s | %9s | %8s | %6s | %6s | %6s | %6s | %6s | %6s |\n", "config (B x T)", "params M", "tok/s",
              "fwd ms", "loss ms", "bwd ms", "opt ms", "GFLOP/s", "peak");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(30, '-').c_str(), std::string(11, '-').c_str(),
              std::string(10, '-').c_str(), std::string(8, '-').c_str(), std::string(8, '-').c_str(),
              std::string(8, '-').c_str(), std::string(8, '-').c_str(), std::string(8, '-').c_str(),
              std::string(7, '-').c_str());
  if (only.empty() || only == "tiny") run({"d128 L4 V512 (8 x 128)", tiny(512), 8, 128}, steps, peak);
  if (only.empty() || only == "vocab") run({"d128 L4 V32000 (8 x 128)", tiny(32000), 8, 128}, steps, peak);
  ModelConfig wide = tiny(512);
  wide.dim = 512;
  wide.n_heads = 8;
  wide.n_kv_heads = 4;
  wide.ffn_dim = 1536;
  if (only.empty() || only == "wide") run({"d512 L4 V512 (8 x 128)", wide, 8, 128}, steps, peak);
  return 0;
}
