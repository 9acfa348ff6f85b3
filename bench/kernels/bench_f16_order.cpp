// What llama.cpp's summation order costs an F16 prompt on an AVX2 machine.
//
// lcte multiplies F16 weights in the order of llama.cpp's AVX-512 build: one
// 16-lane FMA chain per output (tinyBLAS<16>), so that its logits are the
// same bits on every x86 machine. With 256-bit registers a 16-lane chain is
// two 8-lane chains; a 4 x 3 tile of them needs 24 accumulators, more than
// AVX2's 16 registers, so lcte's AVX2 tile (GgmlFloat::tile_halves) runs one
// half over a 512-column slice, then the other. llama.cpp's AVX2 build sums
// in one 8-lane chain per output (tinyBLAS<8>): 12 accumulators, one pass.
// This times the two loops alone, on the same F16 rows and F16 activations
// (the 4 x 3 tile, rows in an L2-sized panel, 126 tokens), plus the halves
// with F32 activations (what lcte stores), and prints GFLOP/s.
//
// usage: bench_f16_order [N=2048] [ROWS=48] [REPS=5]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr int kR = 4, kT = 3;

__attribute__((target("avx2,fma,f16c"))) inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
__attribute__((target("avx2,fma,f16c"))) inline __m256 load_act(const uint16_t* p) { return load_f16(p); }
__attribute__((target("avx2,fma,f16c"))) inline __m256 load_act(const float* p) { return _mm256_loadu_ps(p); }

__attribute__((target("avx2,fma,f16c"))) float hsum(__m256 v) {
  alignas(32) float f[8];
  _mm256_store_ps(f, v);
  return ((f[0] + f[4]) + (f[1] + f[5])) + ((f[2] + f[6]) + (f[3] + f[7]));
}

// llama.cpp's AVX2 order: one 8-lane chain per output.
__attribute__((target("avx2,fma,f16c"), noinline)) void tile_8lane(int64_t n, const uint16_t* w, const uint16_t* a,
                                                                   float* out) {
  __m256 acc[kR][kT];
#pragma GCC unroll 16
  for (int r = 0; r < kR; ++r)
#pragma GCC unroll 16
    for (int t = 0; t < kT; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    __m256 av[kT];
#pragma GCC unroll 16
    for (int t = 0; t < kT; ++t) av[t] = load_f16(a + t * n + i);
#pragma GCC unroll 16
    for (int r = 0; r < kR; ++r) {
      const __m256 wv = load_f16(w + r * n + i);
#pragma GCC unroll 16
      for (int t = 0; t < kT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, av[t], acc[r][t]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < kR; ++r)
#pragma GCC unroll 16
    for (int t = 0; t < kT; ++t) out[t * kR + r] = hsum(acc[r][t]);
}

// The 16-lane order as lcte's AVX2 tile runs it: two 8-lane halves in turn.
template <class A>
__attribute__((target("avx2,fma,f16c"), noinline)) void tile_halves(int64_t n, const uint16_t* w, const A* a,
                                                                    float* out) {
  constexpr int64_t kSlice = 512;
  alignas(32) float state[2][kR][kT][8] = {};
  for (int64_t k0 = 0; k0 < n; k0 += kSlice) {
    const int64_t k1 = std::min(k0 + kSlice, n);
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      __m256 acc[kR][kT];
#pragma GCC unroll 16
      for (int r = 0; r < kR; ++r)
#pragma GCC unroll 16
        for (int t = 0; t < kT; ++t) acc[r][t] = _mm256_load_ps(state[h][r][t]);
      for (int64_t i = k0 + 8 * h; i < k1; i += 16) {
        __m256 av[kT];
#pragma GCC unroll 16
        for (int t = 0; t < kT; ++t) av[t] = load_act(a + t * n + i);
#pragma GCC unroll 16
        for (int r = 0; r < kR; ++r) {
          const __m256 wv = load_f16(w + r * n + i);
#pragma GCC unroll 16
          for (int t = 0; t < kT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, av[t], acc[r][t]);
        }
      }
#pragma GCC unroll 16
      for (int r = 0; r < kR; ++r)
#pragma GCC unroll 16
        for (int t = 0; t < kT; ++t) _mm256_store_ps(state[h][r][t], acc[r][t]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < kR; ++r)
#pragma GCC unroll 16
    for (int t = 0; t < kT; ++t)
      out[t * kR + r] = hsum(_mm256_load_ps(state[0][r][t])) + hsum(_mm256_load_ps(state[1][r][t]));
}

// GFLOP/s of every (4-row, 3-token) tile of the panel, best of reps; with
// tokens_inner a tile's rows stay in L1 while the tokens pass (llama.cpp's
// loop), otherwise a token group's activations do while the rows pass.
template <class Fn>
double gflops(int64_t n, int64_t rows, int64_t tokens, int reps, bool tokens_inner, Fn tile) {
  double best = 0;
  for (int rep = 0; rep <= reps; ++rep) {  // rep 0 warms up
    const auto t0 = std::chrono::steady_clock::now();
    if (tokens_inner)
      for (int64_t r = 0; r + kR <= rows; r += kR)
        for (int64_t t = 0; t + kT <= tokens; t += kT) tile(r, t);
    else
      for (int64_t t = 0; t + kT <= tokens; t += kT)
        for (int64_t r = 0; r + kR <= rows; r += kR) tile(r, t);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) best = std::max(best, 2.0 * n * rows * (tokens / kT * kT) / s / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !__builtin_cpu_supports("f16c")) {
    std::printf("bench_f16_order: this CPU lacks AVX2, FMA or F16C; nothing to time\n");
    return 0;
  }
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 2048;
  const int64_t rows = argc > 2 ? std::atoll(argv[2]) : 48;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  if (n <= 0 || n % 16 != 0 || rows < kR || reps < 1) {
    std::fprintf(stderr, "usage: bench_f16_order [N (a multiple of 16)] [ROWS (>= 4)] [REPS (>= 1)]\n");
    return 2;
  }
  const int64_t tokens = 126;
  // 1.0 and small multiples: exact sums, so no input makes a loop slower.
  std::vector<uint16_t> w(static_cast<size_t>(rows * n), 0x3c00), a16(static_cast<size_t>(tokens * n), 0x3c00);
  std::vector<float> a32(static_cast<size_t>(tokens * n), 1.0f), out(kR * kT);
  std::printf("n = %lld, %lld rows (%lld KiB of F16), %lld tokens, 4 x 3 tiles, 1 thread, best of %d\n\n",
              static_cast<long long>(n), static_cast<long long>(rows), static_cast<long long>(rows * n * 2 / 1024),
              static_cast<long long>(tokens), reps);
  std::printf("| loop | activations | inner loop | GFLOP/s | vs 8-lane, rows inner |\n|---|---|---|---:|---:|\n");
  double base = 0;
  for (bool tokens_inner : {false, true}) {
    const char* inner = tokens_inner ? "tokens" : "rows";
    const double g8 = gflops(n, rows, tokens, reps, tokens_inner, [&](int64_t r, int64_t t) {
      tile_8lane(n, w.data() + r * n, a16.data() + t * n, out.data());
    });
    const double gh16 = gflops(n, rows, tokens, reps, tokens_inner, [&](int64_t r, int64_t t) {
      tile_halves(n, w.data() + r * n, a16.data() + t * n, out.data());
    });
    const double gh32 = gflops(n, rows, tokens, reps, tokens_inner, [&](int64_t r, int64_t t) {
      tile_halves(n, w.data() + r * n, a32.data() + t * n, out.data());
    });
    if (base == 0) base = g8;
    std::printf("| one 8-lane chain per output (llama.cpp AVX2) | F16 | %s | %.1f | %.2f |\n", inner, g8, g8 / base);
    std::printf("| 16-lane chain as two halves (lcte AVX2) | F16 | %s | %.1f | %.2f |\n", inner, gh16, gh16 / base);
    std::printf("| 16-lane chain as two halves (lcte AVX2) | F32 | %s | %.1f | %.2f |\n", inner, gh32, gh32 / base);
  }
  return 0;
}
