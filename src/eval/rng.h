// A small seeded generator whose output is fixed by its definition (not by
// the standard library's implementation), so splits and injected bugs are the
// same on every machine and compiler.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace lcte::eval {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) by rejection (no modulo bias).
  uint64_t below(uint64_t bound) {
    uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % bound);
    uint64_t x;
    do x = next(); while (x >= limit);
    return x % bound;
  }

 private:
  uint64_t state_;
};

// Fisher-Yates.
template <class T>
void shuffle(std::vector<T>& items, SplitMix64& rng) {
  for (size_t i = items.size(); i > 1; i--) std::swap(items[i - 1], items[rng.below(i)]);
}

// FNV-1a, to derive per-task seeds from a run seed and a task id.
inline uint64_t hash_string(std::string_view text, uint64_t seed = 0xcbf29ce484222325ull) {
  uint64_t h = seed ^ 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace lcte::eval
