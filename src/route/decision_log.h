// The log of every routing decision: appended as JSON lines the moment it is
// made, so a crash loses nothing, and readable back for `lcte route log`.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "route/policy.h"

namespace lcte::route {

struct DecisionRecord {
  std::string time;        // ISO 8601, UTC, milliseconds
  std::string query_hash;  // 16 hex digits (query_hash)
  int64_t n_tokens = 0;
  bool n_tokens_at_least = false;  // counting stopped early: the query has at least n_tokens
  std::string tokenizer;           // which tokenizer counted ("" in logs written before it was recorded)
  std::vector<double> features;
  int score = 0;
  std::string policy;
  std::string policy_version;
  std::string tier;
  bool override_applied = false;  // a request or a global setting forced the tier
  double decision_us = 0;
  std::string reason;
  std::optional<bool> outcome;  // filled in later, when the answer is judged

  nlohmann::json to_json() const;
  static DecisionRecord from_json(const nlohmann::json& j);  // throws lcte::Error
};

class DecisionLog {
 public:
  explicit DecisionLog(std::string path);  // "" keeps records in memory only
  void append(const DecisionRecord& r);    // thread-safe; flushed per record
  // Reads a log back; a malformed line is an error naming the line.
  static std::vector<DecisionRecord> read(const std::string& path);

 private:
  std::string path_;
  std::mutex mutex_;
};

}  // namespace lcte::route
