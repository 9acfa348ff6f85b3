// Throughput of the tensor kernels, printed as a markdown table:
//   matvec: vec_dot_rows over an n x rows weight matrix (decode), in GB/s of
//           weight bytes streamed and GFLOP/s, on 1 and 2 threads (rows split);
//   matmul: the batched product for ntok = 32 and 128 tokens, GFLOP/s
//           (2 * n * rows * ntok flops), single thread.
// Usage: bench_kernels [--n 4096] [--rows 4096] [--mm-rows 512] [--isa best|scalar|avx2|avx512|avx512vnni|all]
//                      [--types q4_0,q8_0,...] [--min-time 0.3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include "kernels/fp16.h"
#include "kernels/ggml_type.h"
#include "kernels/kernels.h"

namespace {

using lcte::GgmlType;
using lcte::kernels::Isa;

struct Options {
  int64_t n = 4096, rows = 4096, mm_rows = 512;
  std::string isa = "best", types = "f32,f16,bf16,q8_0,q4_0,q4_1,q5_0,q5_1,q2_K,q3_K,q4_K,q5_K,q6_K";
  double min_time = 0.3;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--n")
      o.n = std::stoll(v);
    else if (k == "--rows")
      o.rows = std::stoll(v);
    else if (k == "--mm-rows")
      o.mm_rows = std::stoll(v);
    else if (k == "--isa")
      o.isa = v;
    else if (k == "--types")
      o.types = v;
    else if (k == "--min-time")
      o.min_time = std::stod(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return o;
}

// Offsets of the half-precision scales in each block, kept finite and small
// so the kernels see realistic numbers.
std::vector<size_t> half_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0: return {0};
    case GgmlType::Q4_1:
    case GgmlType::Q5_1: return {0, 2};
    case GgmlType::Q2_K: return {80, 82};
    case GgmlType::Q3_K: return {108};
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: return {0, 2};
    case GgmlType::Q6_K: return {208};
    default: return {};
  }
}

std::vector<uint8_t> random_matrix(GgmlType t, int64_t n, int64_t rows) {
  std::mt19937 rng(42);
  const size_t bytes = lcte::row_bytes(t, n) * static_cast<size_t>(rows);
  std::vector<uint8_t> m(bytes);
  if (t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    const size_t rb = lcte::row_bytes(t, n);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : x) v = d(rng);
      lcte::kernels::quantize_row_ref(t, x.data(), m.data() + r * rb, n);
    }
    return m;
  }
  for (size_t i = 0; i < bytes; i += 4) {
    const uint32_t v = rng();
    std::memcpy(m.data() + i, &v, std::min<size_t>(4, bytes - i));
  }
  const size_t bb = lcte::type_traits(t).block_bytes;
  for (size_t b = 0; b < bytes / bb; ++b)
    for (size_t off : half_fields(t)) {
      const uint16_t h = lcte::fp32_to_fp16(0.01f);
      std::memcpy(m.data() + b * bb + off, &h, 2);
    }
  return m;
}

double now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Seconds per call of fn: repeated until min_time has passed, best of 3
// rounds. Single-threaded runs are timed in this thread's CPU time, so other
// processes on a shared machine do not count; runs with a second thread use
// wall time (CPU time would hide a lack of parallelism).
double time_it(const std::function<void()>& fn, double min_time, bool wall) {
  const clockid_t clock = wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
  fn();  // warm up (page faults, caches)
  double best = 1e30;
  for (int round = 0; round < 3; ++round) {
    int reps = 0;
    const double t0 = now(clock);
    double elapsed = 0;
    do {
      fn();
      ++reps;
      elapsed = now(clock) - t0;
    } while (elapsed < min_time / 3);
    best = std::min(best, elapsed / reps);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<Isa> isas;
  if (o.isa == "all") {
    for (Isa isa : lcte::kernels::kAllIsas)
      if (lcte::kernels::isa_available(isa)) isas.push_back(isa);
  } else if (o.isa == "best") {
    isas.push_back(lcte::kernels::best_isa());
  } else {
    for (Isa isa : lcte::kernels::kAllIsas)
      if (o.isa == lcte::kernels::isa_name(isa)) isas.push_back(isa);
    if (isas.empty()) {
      std::fprintf(stderr, "--isa %s: expected best, all, scalar, avx2, avx512 or avx512vnni\n", o.isa.c_str());
      return 2;
    }
    if (!lcte::kernels::isa_available(isas[0])) {
      std::fprintf(stderr, "--isa %s: this CPU (or build) does not have it\n", o.isa.c_str());
      return 2;
    }
  }
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 1) load[0] = -1;
  std::printf("load average at start: %.2f (1T columns: thread CPU time; 2T column: wall time)\n", load[0]);
  std::printf("n = %lld, matvec rows = %lld, matmul rows = %lld, best ISA here: %s\n\n", static_cast<long long>(o.n),
              static_cast<long long>(o.rows), static_cast<long long>(o.mm_rows),
              std::string(lcte::kernels::isa_name(lcte::kernels::best_isa())).c_str());
  std::printf(
      "| type | ISA | bits/weight | matvec 1T GB/s | matvec 1T GFLOP/s | matvec 2T GB/s | matmul t=32 GFLOP/s | matmul "
      "t=128 GFLOP/s |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");

  std::string list = o.types + ",";
  for (size_t pos; (pos = list.find(',')) != std::string::npos; list.erase(0, pos + 1)) {
    const std::string name = list.substr(0, pos);
    if (name.empty()) continue;
    const auto type = lcte::type_from_name(name);
    if (!type) {
      std::fprintf(stderr, "unknown type %s\n", name.c_str());
      return 2;
    }
    const GgmlType t = *type;
    const GgmlType act = lcte::kernels::activation_type(t);
    const size_t rb = lcte::row_bytes(t, o.n), ab = lcte::kernels::activation_row_bytes(t, o.n);
    const std::vector<uint8_t> w = random_matrix(t, o.n, std::max(o.rows, o.mm_rows));
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.0f, 1.0f);
    const int64_t max_tok = 128;
    std::vector<float> x(static_cast<size_t>(o.n * max_tok));
    for (float& v : x) v = d(rng);
    std::vector<uint8_t> acts(ab * max_tok);
    for (int64_t k = 0; k < max_tok; ++k)
      lcte::kernels::quantize_activations(act, x.data() + k * o.n, acts.data() + k * ab, o.n);
    std::vector<float> out(static_cast<size_t>(std::max(o.rows, o.mm_rows) * max_tok));
    const double bits = 8.0 * static_cast<double>(rb) / static_cast<double>(o.n);

    for (Isa isa : isas) {
      const double mv1 =
          time_it([&] { lcte::kernels::vec_dot_rows(t, o.n, w.data(), rb, o.rows, acts.data(), out.data(), isa); },
                  o.min_time, false);
      const int64_t half = o.rows / 2;
      const double mv2 = time_it(
          [&] {
            std::thread other([&] {
              lcte::kernels::vec_dot_rows(t, o.n, w.data() + half * rb, rb, o.rows - half, acts.data(),
                                          out.data() + half, isa);
            });
            lcte::kernels::vec_dot_rows(t, o.n, w.data(), rb, half, acts.data(), out.data(), isa);
            other.join();
          },
          o.min_time, true);
      double mm[2] = {0, 0};
      const int64_t toks[2] = {32, 128};
      for (int k = 0; k < 2; ++k) {
        const double s = time_it(
            [&] {
              lcte::kernels::matmul(t, o.n, w.data(), rb, o.mm_rows, acts.data(), ab, toks[k], out.data(),
                                    static_cast<size_t>(o.mm_rows), isa);
            },
            isa == Isa::Scalar ? o.min_time / 4 : o.min_time, false);
        mm[k] = 2.0 * o.n * o.mm_rows * toks[k] / s / 1e9;
      }
      const double wbytes = static_cast<double>(rb) * o.rows;
      std::printf("| %s | %s | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", name.c_str(),
                  std::string(lcte::kernels::isa_name(isa)).c_str(), bits, wbytes / mv1 / 1e9,
                  2.0 * o.n * o.rows / mv1 / 1e9, wbytes / mv2 / 1e9, mm[0], mm[1]);
      std::fflush(stdout);
    }
  }
  return 0;
}
