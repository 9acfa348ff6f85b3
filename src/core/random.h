// The hashes and the random generator lcte's reproducible numbers rest on:
// seeds of samples and training, data splits, injected bugs, the random
// router, checksums of cache files. Their output is fixed by these
// definitions, not by a standard library's, so a seed gives the same numbers
// on every machine and compiler.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace lcte {

inline constexpr uint64_t kFnv1aOffset = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnv1aPrime = 0x100000001b3ull;
// 2^64 / golden ratio: splitmix64's increment.
inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ull;

// 64-bit FNV-1a over bytes. `basis` other than the offset basis gives a keyed
// family (used to fold a seed into a text hash).
constexpr uint64_t fnv1a64(const unsigned char* bytes, size_t n, uint64_t basis = kFnv1aOffset) {
  uint64_t h = basis;
  for (size_t i = 0; i < n; ++i) h = (h ^ bytes[i]) * kFnv1aPrime;
  return h;
}

constexpr uint64_t fnv1a64(std::string_view text, uint64_t basis = kFnv1aOffset) {
  uint64_t h = basis;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * kFnv1aPrime;
  return h;
}

// splitmix64's output function: a bijective mix of 64 bits.
constexpr uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The first output of a splitmix64 generator seeded with `x`; as a function,
// a good hash of one integer.
constexpr uint64_t splitmix64(uint64_t x) { return splitmix64_mix(x + kGoldenGamma); }

// Vigna's splitmix64 generator. Its whole state is one u64, so a checkpoint
// stores it and a resumed run draws exactly what the uninterrupted run would
// have. The distributions are computed here, not by <random>, whose output
// differs between standard libraries.
struct SplitMix64 {
  uint64_t state;

  explicit constexpr SplitMix64(uint64_t seed) : state(seed) {}

  constexpr uint64_t next() { return splitmix64_mix(state += kGoldenGamma); }

  // Uniform in [0, bound), bound > 0, by rejection: no modulo bias.
  constexpr uint64_t below(uint64_t bound) {
    const uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % bound);
    uint64_t x = next();
    while (x >= limit) x = next();
    return x % bound;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Standard normal by Box-Muller on two uniforms.
  double normal() {
    double u1 = uniform();
    const double u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// Fisher-Yates, drawing from `rng`.
template <class Vector>
void shuffle(Vector& items, SplitMix64& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
}

}  // namespace lcte
