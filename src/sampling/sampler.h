// Token sampling: turns the logits of one position into one token id.
//
// The chain, in the order llama.cpp's default sampler applies it:
//   penalties -> top-k -> top-p -> min-p -> temperature -> random draw
// Truncation (top-k, top-p, min-p) looks at the untempered distribution, so
// which tokens survive does not depend on the temperature; the temperature
// then only reshapes the probabilities inside the kept set. Keeping
// llama.cpp's order means a run here and a run there with the same settings
// sample from the same distribution.
//
// temperature <= 0 is greedy: argmax of the penalised logits, ties going to
// the lowest token id. Truncation cannot change the argmax, so it is skipped.
//
// Random numbers come from std::mt19937_64, whose output sequence the C++
// standard fixes, and the uniform double is made from its raw bits here
// (uniform_from_bits) instead of std::uniform_real_distribution, whose
// algorithm each standard library chooses. The same seed thus draws the same
// tokens on every machine (up to last-ulp differences of std::exp between C
// libraries, which matter only when a draw lands within ~1e-16 of a boundary).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace lcte::sampling {

struct SamplingParams {
  float temperature = 0.8f;        // <= 0: greedy
  int32_t top_k = 40;              // <= 0: off
  float top_p = 0.95f;             // >= 1: off; otherwise in (0, 1)
  float min_p = 0.05f;             // <= 0: off; otherwise in (0, 1]
  float repeat_penalty = 1.0f;     // 1: off; CTRL-style divisor, must be > 0
  int32_t repeat_last_n = 64;      // history window for all penalties; 0: off, -1: whole history
  float presence_penalty = 0.0f;   // subtracted once from every token in the window
  float frequency_penalty = 0.0f;  // subtracted once per occurrence in the window
  uint64_t seed = 0;

  // Throws lcte::Error naming the first field that is out of range or NaN.
  void validate() const;
};

// One surviving token and its current logit.
struct Candidate {
  int32_t id;
  float logit;
};

// ---- The stages, exposed so they can be checked one by one. -----------------

// Applies repetition, presence and frequency penalties in place to the logits
// of tokens that occur in the last repeat_last_n entries of `history`.
// Repetition (CTRL / llama.cpp): a positive logit is divided by r, a negative
// one multiplied by r, once per distinct token however often it occurs.
// Then logit -= count * frequency_penalty + presence_penalty.
// A history id outside [0, logits.size()) throws lcte::Error.
void apply_penalties(std::span<float> logits, std::span<const int32_t> history, const SamplingParams& params);

// Index of the largest logit; the lowest index among equal maxima.
int32_t argmax(std::span<const float> logits);

// Orders candidates best first: larger logit first, lower id among equals.
bool better(const Candidate& a, const Candidate& b);

// Writes the k best candidates of `logits` into `out`, sorted best first
// (k <= 0 or k >= size: all of them, sorted). One pass with a k-element heap,
// so a 150k vocabulary costs one read of it. Logits must not be NaN.
void select_top_k(std::span<const float> logits, int32_t k, std::vector<Candidate>& out);

// Keeps the smallest set of best candidates whose softmax mass (over the
// current candidates, temperature 1) reaches p: the shortest best-first
// prefix. `sorted` says cands is already sorted best first (then the prefix is
// cut in place). Unsorted input is not sorted: logits are bucketed and only
// the bucket where the mass crosses p is sorted; the kept candidates come out
// as those above that bucket in input order, then that bucket's best first.
void apply_top_p(std::vector<Candidate>& cands, float p, bool sorted);

// Keeps candidates with probability >= min_p * (largest probability), i.e.
// logit >= max_logit + ln(min_p). Keeps the relative order.
void apply_min_p(std::vector<Candidate>& cands, float min_p);

// Picks a candidate with probability softmax(logit / temperature), given a
// uniform u in [0, 1): walks the candidates in their order and returns the
// first whose cumulative weight exceeds u * total. temperature <= 0: the best
// candidate (the limit of the distribution as T -> 0).
int32_t draw(std::span<const Candidate> cands, float temperature, double u);

// A double uniform in [0, 1) from the top 53 bits of a 64-bit word: every
// value is a multiple of 2^-53, as many as a double can hold evenly.
double uniform_from_bits(uint64_t bits);

// The seed of sequence `index` of a run seeded with `seed`: splitmix64 mixing,
// so (seed, index) and (seed + 1, index - 1) give unrelated streams.
uint64_t sequence_seed(uint64_t seed, uint64_t index);

// ---- The sampler -------------------------------------------------------------

// One Sampler per generated sequence: it owns its random stream. For n samples
// of one problem, make Sampler(params, i) for i = 0..n-1: each is independent
// of the others and reproducible on its own, whatever order they run in.
class Sampler {
 public:
  // Validates params (lcte::Error on a bad field).
  explicit Sampler(const SamplingParams& params, uint64_t sequence_index = 0);

  // The next token given this position's logits (one per vocabulary entry)
  // and the tokens so far (prompt and/or generated; only the last
  // repeat_last_n are used). Throws lcte::Error on empty or NaN logits or a
  // history id outside the vocabulary.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history = {});

  // The next uniform double in [0, 1) of this sequence's stream.
  double next_uniform() { return uniform_from_bits(rng_()); }

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<float> work_;  // penalised copy of the logits, reused between calls
  std::vector<Candidate> cands_;
};

}  // namespace lcte::sampling
