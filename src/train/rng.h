// The random numbers of training (initialisation, data order): a splitmix64
// generator whose whole state is one u64, so a checkpoint can store it and a
// resumed run draws exactly the numbers the uninterrupted run would have. The
// normal draws use Box-Muller on our own uniforms, not <random>'s
// distributions, whose output differs between standard libraries.
#pragma once

#include <cmath>
#include <cstdint>

namespace lcte::train {

struct Rng {
  uint64_t state;

  explicit Rng(uint64_t seed) : state(seed) {}

  uint64_t next_u64() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n) (n > 0); the modulo bias is below 2^-40 for
  // the sizes training uses.
  uint64_t below(uint64_t n) { return next_u64() % n; }
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

}  // namespace lcte::train
