// The sampler against hand-computed examples and, for the random draw, a
// chi-square test of the drawn frequencies against softmax(logits / T).
#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "core/error.h"

namespace lcte::sampling {
namespace {

SamplingParams no_truncation(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

std::vector<int32_t> ids(const std::vector<Candidate>& cands) {
  std::vector<int32_t> out;
  for (const Candidate& c : cands) out.push_back(c.id);
  return out;
}

std::vector<Candidate> identity(const std::vector<float>& logits) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < logits.size(); ++i) c.push_back({static_cast<int32_t>(i), logits[i]});
  return c;
}

// Pseudo-random logits of a given vocabulary size (fixed seed).
std::vector<float> random_logits(size_t n, uint64_t seed, float scale = 4.0f) {
  std::mt19937_64 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(uniform_from_bits(rng()) * 2.0 - 1.0) * scale;
  return v;
}

// Pearson's statistic sum (O - E)^2 / E over the categories.
double chi_square(const std::vector<int>& observed, const std::vector<double>& probs, int draws) {
  double chi2 = 0.0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const double expected = probs[i] * draws;
    chi2 += (observed[i] - expected) * (observed[i] - expected) / expected;
  }
  return chi2;
}

std::vector<double> softmax(const std::vector<float>& logits, double t) {
  double m = -1e300;
  for (float x : logits) m = std::max(m, static_cast<double>(x));
  std::vector<double> p;
  double sum = 0.0;
  for (float x : logits) {
    p.push_back(std::exp((x - m) / t));
    sum += p.back();
  }
  for (double& x : p) x /= sum;
  return p;
}

// ---- greedy -------------------------------------------------------------------

TEST(Sampler, GreedyIsArgmax) {
  const std::vector<float> logits{0.5f, -1.0f, 3.25f, 3.0f, 2.0f};
  SamplingParams p = no_truncation(0.0f);
  Sampler s(p);
  EXPECT_EQ(s.sample(logits), 2);
  p.temperature = -1.0f;
  EXPECT_EQ(Sampler(p).sample(logits), 2);
}

TEST(Sampler, GreedyTiesGoToLowestId) {
  const std::vector<float> logits{1.0f, 7.0f, 2.0f, 7.0f, 7.0f};
  EXPECT_EQ(argmax(logits), 1);
  EXPECT_EQ(Sampler(no_truncation(0.0f)).sample(logits), 1);
}

TEST(Sampler, GreedyMatchesArgmaxOnLargeRandomVocabulary) {
  const std::vector<float> logits = random_logits(151936, 7);
  const auto it = std::max_element(logits.begin(), logits.end());
  EXPECT_EQ(Sampler(no_truncation(0.0f)).sample(logits), it - logits.begin());
}

TEST(Sampler, TopKOneIsGreedyAtAnyTemperature) {
  const std::vector<float> logits = random_logits(5000, 11);
  const int32_t best = argmax(logits);
  SamplingParams p = no_truncation(1.5f);
  p.top_k = 1;
  for (uint64_t seq = 0; seq < 50; ++seq) EXPECT_EQ(Sampler(p, seq).sample(logits), best);
  // Ties: top-1 of tied maxima is the lowest id, like greedy.
  const std::vector<float> tied{0.0f, 5.0f, 5.0f};
  EXPECT_EQ(Sampler(p).sample(tied), 1);
}

// ---- the random draw follows softmax(logits / T) --------------------------------

// 8 categories, 7 degrees of freedom: P(chi2 > 24.32) = 0.001 for a correct
// sampler. The seeds are fixed, so the test is deterministic; a wrong
// temperature (e.g. T applied twice, or not at all) gives chi2 in the thousands.
TEST(Sampler, TemperatureDrawFollowsSoftmaxChiSquare) {
  const std::vector<float> logits{1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 1.5f, 0.25f};
  constexpr int kDraws = 200000;
  constexpr double kCritical = 24.32;  // chi-square, 7 dof, p = 0.001
  for (float t : {0.5f, 1.0f, 2.0f}) {
    Sampler s(no_truncation(t, 1234));
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < kDraws; ++i) ++counts[static_cast<size_t>(s.sample(logits))];
    const double chi2 = chi_square(counts, softmax(logits, t), kDraws);
    EXPECT_LT(chi2, kCritical) << "T=" << t;
    // The test has power: the same counts against the untempered softmax fail.
    if (t != 1.0f) {
      EXPECT_GT(chi_square(counts, softmax(logits, 1.0), kDraws), 1000.0) << "T=" << t;
    }
  }
}

// With top-k 3 the draw follows the softmax of the 3 best, renormalised.
TEST(Sampler, TopKDrawFollowsRenormalisedSoftmax) {
  const std::vector<float> logits{0.1f, 2.0f, -3.0f, 1.2f, 1.9f, 0.0f};
  SamplingParams p = no_truncation(0.8f, 99);
  p.top_k = 3;
  Sampler s(p);
  constexpr int kDraws = 100000;
  std::map<int32_t, int> counts;
  for (int i = 0; i < kDraws; ++i) ++counts[s.sample(logits)];
  ASSERT_EQ(counts.size(), 3u);
  const std::vector<double> probs = softmax({2.0f, 1.9f, 1.2f}, 0.8);
  const std::vector<int> observed{counts[1], counts[4], counts[3]};
  EXPECT_LT(chi_square(observed, probs, kDraws), 13.82);  // 2 dof, p = 0.001
}

// draw() is a deterministic function of u: check it against the cumulative
// distribution by hand. Weights at T = 1 with logits ln 1, ln 2, ln 5 are
// 1 : 2 : 5, so the cut points are 1/8 and 3/8.
TEST(Sampler, DrawInvertsTheCumulativeDistribution) {
  const std::vector<Candidate> c{{10, 0.0f}, {11, std::log(2.0f)}, {12, std::log(5.0f)}};
  EXPECT_EQ(draw(c, 1.0f, 0.0), 10);
  EXPECT_EQ(draw(c, 1.0f, 0.124), 10);
  EXPECT_EQ(draw(c, 1.0f, 0.126), 11);
  EXPECT_EQ(draw(c, 1.0f, 0.374), 11);
  EXPECT_EQ(draw(c, 1.0f, 0.376), 12);
  EXPECT_EQ(draw(c, 1.0f, 0.9999999), 12);
  // T = 0.5 squares the weights: 1 : 4 : 25, cuts at 1/30 and 5/30.
  EXPECT_EQ(draw(c, 0.5f, 0.032), 10);
  EXPECT_EQ(draw(c, 0.5f, 0.035), 11);
  EXPECT_EQ(draw(c, 0.5f, 0.165), 11);
  EXPECT_EQ(draw(c, 0.5f, 0.168), 12);
}

// ---- top-p ----------------------------------------------------------------------

// Probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 (logits are their logs).
std::vector<float> halving_logits() {
  return {std::log(0.0625f), std::log(0.25f), std::log(0.5f), std::log(0.0625f), std::log(0.125f)};
}

TEST(Sampler, TopPKeepsSmallestSetReachingP) {
  // Sorted: id 2 (0.5), id 1 (0.25), id 4 (0.125), ids 0 and 3 (0.0625 each).
  struct Case {
    float p;
    std::vector<int32_t> kept;
  };
  for (const Case& c : std::vector<Case>{{0.4f, {2}},
                                         {0.5f, {2}},  // 0.5 already reaches 0.5
                                         {0.6f, {2, 1}},
                                         {0.75f, {2, 1}},
                                         {0.8f, {2, 1, 4}},
                                         {0.9f, {2, 1, 4, 0}},
                                         {0.99f, {2, 1, 4, 0, 3}}}) {
    for (bool presorted : {false, true}) {
      std::vector<Candidate> cands;
      if (presorted)
        select_top_k(halving_logits(), 0, cands);
      else
        cands = identity(halving_logits());
      apply_top_p(cands, c.p, presorted);
      std::vector<int32_t> got = ids(cands), want = c.kept;
      if (!presorted) {  // the unsorted path promises the set, not the order
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
      }
      EXPECT_EQ(got, want) << "p=" << c.p << " presorted=" << presorted;
    }
  }
}

TEST(Sampler, TopPOnLargeVocabularyMatchesFullSort) {
  // Spread-out logits (a nucleus of thousands) and peaked ones (a few dozen),
  // with a -inf mask on some tokens and ties.
  std::vector<float> spread = random_logits(50000, 3, 12.0f);
  std::vector<float> peaked = random_logits(50000, 4, 3.0f);
  for (size_t i = 0; i < 40; ++i) peaked[i * 1231] = 8.0f + 0.1f * static_cast<float>(i % 7);
  for (size_t i = 0; i < 500; ++i) spread[i * 97] = -std::numeric_limits<float>::infinity();
  for (const std::vector<float>* logits : {&spread, &peaked}) {
    for (float p : {0.5f, 0.9f, 0.95f, 0.999f}) {
      std::vector<Candidate> fast = identity(*logits);
      apply_top_p(fast, p, false);
      // Reference: sort everything, accumulate.
      std::vector<Candidate> all = identity(*logits);
      std::sort(all.begin(), all.end(), better);
      const std::vector<double> probs = softmax(*logits, 1.0);
      double cum = 0.0;
      size_t keep = 0;
      while (cum < p) cum += probs[static_cast<size_t>(all[keep++].id)];
      all.resize(keep);
      std::vector<int32_t> got = ids(fast);
      std::sort(got.begin(), got.end());
      std::vector<int32_t> want = ids(all);
      std::sort(want.begin(), want.end());
      EXPECT_EQ(got, want) << "p=" << p << (logits == &spread ? " spread" : " peaked");
    }
  }
}

// ---- min-p ----------------------------------------------------------------------

TEST(Sampler, MinPByHand) {
  // Probabilities proportional to 8, 4, 2, 1 (logits ln 8, ln 4, ln 2, 0) and
  // one at 3 (ln 3). min_p 0.3: keep p >= 0.3 * 8 = 2.4 -> 8, 4, 3.
  const std::vector<float> logits{std::log(2.0f), std::log(8.0f), 0.0f, std::log(4.0f), std::log(3.0f)};
  std::vector<Candidate> c = identity(logits);
  apply_min_p(c, 0.3f);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3, 4}));
  // 0.2: threshold 1.6 -> 8, 4, 3, 2 (order kept).
  c = identity(logits);
  apply_min_p(c, 0.2f);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{0, 1, 3, 4}));
  // 1: only the maximum. 0: everything.
  c = identity(logits);
  apply_min_p(c, 1.0f);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1}));
  c = identity(logits);
  apply_min_p(c, 0.0f);
  EXPECT_EQ(c.size(), logits.size());
}

// ---- top-k ----------------------------------------------------------------------

TEST(Sampler, TopKSelectionMatchesFullSortIncludingTies) {
  std::vector<float> logits = random_logits(20000, 5);
  // Plant ties at the boundary: several tokens equal to the 10th best.
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  for (size_t i : {17u, 4000u, 19999u}) logits[i] = sorted[9];
  for (int32_t k : {1, 10, 11, 40, 1000}) {
    std::vector<Candidate> got;
    select_top_k(logits, k, got);
    std::vector<Candidate> ref = identity(logits);
    std::sort(ref.begin(), ref.end(), better);
    ref.resize(static_cast<size_t>(k));
    EXPECT_EQ(ids(got), ids(ref)) << "k=" << k;
  }
}

// ---- penalties --------------------------------------------------------------------

TEST(Sampler, RepetitionPenaltyByHand) {
  std::vector<float> logits{2.0f, -1.0f, 3.0f, 0.5f, -2.0f};
  SamplingParams p = no_truncation(0.0f);
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 3;
  // Window (last 3): 0, 1, 0 -> tokens 0 and 1, each once whatever the count.
  // Token 4 is older than the window.
  const std::vector<int32_t> history{4, 0, 1, 0};
  apply_penalties(logits, history, p);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -2.0f, 3.0f, 0.5f, -2.0f}));
}

TEST(Sampler, FrequencyAndPresencePenaltiesByHand) {
  std::vector<float> logits{1.0f, 1.0f, 1.0f, 1.0f};
  SamplingParams p = no_truncation(0.0f);
  p.frequency_penalty = 0.25f;
  p.presence_penalty = 0.5f;
  p.repeat_last_n = -1;  // whole history
  const std::vector<int32_t> history{2, 2, 2, 0};
  apply_penalties(logits, history, p);
  // token 2: 1 - (3 * 0.25 + 0.5) = -0.25; token 0: 1 - (0.25 + 0.5) = 0.25.
  EXPECT_EQ(logits, (std::vector<float>{0.25f, 1.0f, -0.25f, 1.0f}));
}

TEST(Sampler, PenaltyChangesTheGreedyChoice) {
  const std::vector<float> logits{2.0f, 1.5f, 0.0f};
  SamplingParams p = no_truncation(0.0f);
  p.repeat_penalty = 1.5f;  // 2.0 / 1.5 = 1.33 < 1.5
  const std::vector<int32_t> history{0};
  EXPECT_EQ(Sampler(p).sample(logits, history), 1);
  p.repeat_last_n = 0;  // off
  EXPECT_EQ(Sampler(p).sample(logits, history), 0);
}

TEST(Sampler, HistoryOutsideVocabularyIsAnError) {
  SamplingParams p = no_truncation(0.0f);
  p.repeat_penalty = 1.1f;
  const std::vector<float> logits{0.0f, 1.0f};
  const std::vector<int32_t> history{1, 2};
  try {
    Sampler(p).sample(logits, history);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("history token 2 at position 1"), std::string::npos) << e.what();
  }
}

// ---- the whole chain ---------------------------------------------------------------

// Every token the full chain returns must be in the set that top-k, then
// top-p, then min-p keep, computed here from a full sort. Logits: 50 tokens at
// 0, -0.1, ..., -4.9 scattered over 1000 ids, the rest at -10. With top-k 40:
// top-p 0.7 keeps 12 (cumulative mass of e^{-0.1 i}) before min-p 0.1 (24)
// binds; top-p 0.9 would keep 22, so min-p 0.2 (>= ln 0.2 = -1.61) binds at 17.
TEST(Sampler, ChainOnlyReturnsTokensTheTruncationsKeep) {
  std::vector<float> logits(1000, -10.0f);
  for (int i = 0; i < 50; ++i) logits[static_cast<size_t>((i * 397 + 5) % 1000)] = -0.1f * i;
  struct Case {
    float top_p, min_p;
    size_t expected_size;
  };
  for (const Case& c : {Case{0.7f, 0.1f, 12}, Case{0.9f, 0.2f, 17}}) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 40;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    std::vector<Candidate> ref = identity(logits);
    std::sort(ref.begin(), ref.end(), better);
    ref.resize(40);
    std::vector<double> w;
    for (const Candidate& r : ref) w.push_back(std::exp(static_cast<double>(r.logit) - ref[0].logit));
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    std::set<int32_t> allowed;
    double cum = 0.0;
    for (size_t i = 0; i < ref.size() && cum < c.top_p * total; ++i) {
      cum += w[i];
      if (w[i] >= c.min_p) allowed.insert(ref[i].id);  // min-p relative to the best
    }
    ASSERT_EQ(allowed.size(), c.expected_size);
    std::set<int32_t> seen;
    for (uint64_t seq = 0; seq < 2000; ++seq) seen.insert(Sampler(p, seq).sample(logits));
    EXPECT_EQ(seen, allowed) << "top_p=" << c.top_p;  // 2000 draws see every kept token
  }
}

// ---- reproducibility -----------------------------------------------------------------

TEST(Sampler, SameSeedSameSequenceDifferentSeedsDiffer) {
  const std::vector<float> logits = random_logits(32000, 8, 2.0f);
  SamplingParams p = no_truncation(1.0f, 42);
  auto run = [&](uint64_t seed, uint64_t seq) {
    SamplingParams q = p;
    q.seed = seed;
    Sampler s(q, seq);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(logits, out));
    return out;
  };
  EXPECT_EQ(run(42, 0), run(42, 0));
  EXPECT_EQ(run(42, 3), run(42, 3));
  EXPECT_NE(run(42, 0), run(43, 0));
  EXPECT_NE(run(42, 0), run(42, 1));
  // Neighbouring (seed, index) pairs do not alias.
  EXPECT_NE(run(42, 1), run(43, 0));
}

// The random stream is pinned: mt19937_64's 10000th output is fixed by the C++
// standard, and the uniform is its top 53 bits times 2^-53.
TEST(Sampler, RandomStreamIsPortable) {
  std::mt19937_64 rng(5489u);
  rng.discard(9999);
  EXPECT_EQ(rng(), 9981545732273789042ull);
  EXPECT_EQ(uniform_from_bits(0), 0.0);
  EXPECT_EQ(uniform_from_bits(~0ull), 1.0 - 0x1.0p-53);
  EXPECT_EQ(uniform_from_bits(1ull << 63), 0.5);
  // splitmix64(0) is 0xE220A8397B1DCDAF (Vigna's reference); the sequence
  // seed composes it twice.
  EXPECT_EQ(sequence_seed(0, 0) == sequence_seed(0, 1), false);
  Sampler s(no_truncation(1.0f, 0), 0);
  std::mt19937_64 ref(sequence_seed(0, 0));
  EXPECT_EQ(s.next_uniform(), uniform_from_bits(ref()));
}

// ---- bad input ---------------------------------------------------------------------------

TEST(Sampler, BadParamsNameTheField) {
  auto message = [](auto mutate) {
    SamplingParams p;
    mutate(p);
    try {
      p.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([](SamplingParams& p) { p.top_p = 0.0f; }).find("top_p"), std::string::npos);
  EXPECT_NE(message([](SamplingParams& p) { p.top_p = 1.5f; }).find("top_p"), std::string::npos);
  EXPECT_NE(message([](SamplingParams& p) { p.min_p = -0.1f; }).find("min_p"), std::string::npos);
  EXPECT_NE(message([](SamplingParams& p) { p.temperature = std::nanf(""); }).find("temperature"), std::string::npos);
  EXPECT_NE(message([](SamplingParams& p) { p.repeat_penalty = 0.0f; }).find("repeat_penalty"), std::string::npos);
  EXPECT_NE(message([](SamplingParams& p) { p.repeat_last_n = -2; }).find("repeat_last_n"), std::string::npos);
  EXPECT_EQ(message([](SamplingParams&) {}), "no error");
  SamplingParams bad;
  bad.min_p = 2.0f;
  EXPECT_THROW(Sampler{bad}, Error);
}

TEST(Sampler, BadLogitsAreErrors) {
  Sampler s(no_truncation(1.0f));
  EXPECT_THROW(s.sample(std::vector<float>{}), Error);
  EXPECT_THROW(s.sample(std::vector<float>{0.0f, std::nanf("")}), Error);
  EXPECT_THROW(s.sample(std::vector<float>{0.0f, std::numeric_limits<float>::infinity()}), Error);
  const float ninf = -std::numeric_limits<float>::infinity();
  EXPECT_THROW(s.sample(std::vector<float>{ninf, ninf}), Error);
  // -inf on some tokens is a mask, not an error: they are never drawn.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(std::vector<float>{ninf, 0.0f, ninf}), 1);
}

}  // namespace
}  // namespace lcte::sampling
