// The router as the server, the CLI and the online evaluation use it: count a
// query's tokens, compute its features, let the configured policy pick a tier,
// and apply an override (the request's own choice, or a globally forced
// tier). Decision time covers all of it, tokenisation included, because that
// is what a request pays.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "route/decision_log.h"
#include "route/policy.h"

namespace lcte::route {

struct RouterConfig {
  std::vector<std::string> tiers = {"small", "large"};  // cheapest first
  std::vector<int> max_score = {6, 10};                 // threshold policy: highest score per tier
  std::vector<int64_t> token_bounds;                    // empty: the default 1-10 scale
  std::string policy = "threshold";  // threshold, learned, random, always-<tier>, cascade
  std::string forced_tier;           // global override; "" routes normally
  double random_share = 0.5;         // random: share of queries sent to the last tier
  double learned_target = 0.5;       // learned: pass chance a tier must reach
  std::string learned_model;         // learned: file written by `lcte route train`
  uint64_t seed = 0;

  void validate() const;  // throws lcte::Error naming the field
};

// Tokens of a text under the routing tokenizer.
using TokenCounter = std::function<int64_t(std::string_view)>;

// When no tokenizer is available (every tier remote): about four bytes per
// token, as code tokenizers give on English and Python. Labelled an estimate
// in every decision that uses it.
int64_t estimate_tokens(std::string_view text);

// A token count that may have stopped early.
struct TokenCount {
  int64_t n = 0;
  bool at_least = false;  // counting stopped: the text has at least n tokens, and n > the limit asked for
};

// The tokens of `text` as far as `stop_above`: exact when the text has at
// most that many (or no place to stop); otherwise the count of a prefix that
// already has more, so the decision pays for a prefix, not the whole query.
// Prefixes end before a space that follows an ASCII letter or digit: for
// every tokenizer lcte reads (byte-level BPE pre-tokenizer regexes, words of
// SentencePiece vocabularies whose tokens never span "x\u2581", WordPiece)
// that is a word boundary, so a prefix's tokens are the first tokens of the
// whole text and its count a lower bound (tests/tokenizer/prefix_test.cpp
// checks this for every vocabulary in the shared data). After a symbol it
// need not be one: deepseek-coder keeps " == " in one piece. Prefixes grow
// from a guess of 3.5 bytes per token by the ratio each count shows.
TokenCount count_tokens_up_to(const TokenCounter& count, std::string_view text, int64_t stop_above);

// How far the router counts: a policy's score needs the count only up to the
// scale's last bound (above it the score is the top one) and the token
// features saturate at kFeatureTokenCap; the margin covers a tokenizer whose
// tokens do span a prefix's end (a SentencePiece vocabulary with tokens such
// as "a\u2581b"), whose prefix count may then exceed the true count by a few.
inline constexpr int64_t kCountMargin = 16;
int64_t count_limit(const RouterConfig& config);

struct RouteResult {
  std::string tier;
  size_t tier_index = 0;
  Decision decision;  // what the policy said (score, reason, predicted pass chances)
  int64_t n_tokens = 0;
  bool n_tokens_at_least = false;  // counting stopped early: the query has at least n_tokens
  Features features;
  double decision_us = 0;
  bool override_applied = false;
  std::string policy, policy_version;
};

std::unique_ptr<Policy> make_policy(const RouterConfig& config);

class Router {
 public:
  // `count_tokens` empty: estimate_tokens, and decisions say so. The router
  // counts only as far as count_limit(config) (see count_tokens_up_to).
  Router(RouterConfig config, TokenCounter count_tokens);
  // `requested`: a tier name the request asked for ("" or "router"/"auto": route).
  RouteResult route(std::string_view text, const std::string& requested = "") const;
  const RouterConfig& config() const { return config_; }

 private:
  RouterConfig config_;
  TokenCounter count_;
  int64_t count_limit_;
  std::unique_ptr<Policy> policy_;
};

// The log's form of a decision.
DecisionRecord to_record(const RouteResult& r, std::string_view text);

}  // namespace lcte::route
