#include "route/decision_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "route/features.h"

namespace lcte::route {

nlohmann::json DecisionRecord::to_json() const {
  nlohmann::json j;
  j["time"] = time;
  j["query_hash"] = query_hash;
  j["n_tokens"] = n_tokens;
  j["n_tokens_at_least"] = n_tokens_at_least;
  j["tokenizer"] = tokenizer;
  nlohmann::json f = nlohmann::json::object();
  const auto& names = Features::names();
  for (size_t i = 0; i < features.size() && i < names.size(); ++i) f[names[i]] = features[i];
  j["features"] = f;
  j["score"] = score;
  j["policy"] = policy;
  j["policy_version"] = policy_version;
  j["tier"] = tier;
  j["override"] = override_applied;
  j["decision_us"] = decision_us;
  j["reason"] = reason;
  j["outcome"] = outcome ? nlohmann::json(*outcome) : nlohmann::json(nullptr);
  return j;
}

DecisionRecord DecisionRecord::from_json(const nlohmann::json& j) {
  try {
    DecisionRecord r;
    r.time = j.at("time").get<std::string>();
    r.query_hash = j.at("query_hash").get<std::string>();
    r.n_tokens = j.at("n_tokens").get<int64_t>();
    r.n_tokens_at_least = j.value("n_tokens_at_least", false);  // absent in older logs
    r.tokenizer = j.value("tokenizer", "");                     // likewise
    for (const std::string& name : Features::names())
      if (j.at("features").contains(name)) r.features.push_back(j["features"][name].get<double>());
    r.score = j.at("score").get<int>();
    r.policy = j.at("policy").get<std::string>();
    r.policy_version = j.value("policy_version", "");
    r.tier = j.at("tier").get<std::string>();
    r.override_applied = j.value("override", false);
    r.decision_us = j.value("decision_us", 0.0);
    r.reason = j.value("reason", "");
    if (j.contains("outcome") && !j["outcome"].is_null()) r.outcome = j["outcome"].get<bool>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail("{}", e.what());
  }
}

DecisionLog::DecisionLog(std::string path) : path_(std::move(path)) {}

void DecisionLog::append(const DecisionRecord& r) {
  if (path_.empty()) return;
  std::string line = r.to_json().dump() + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  std::FILE* f = std::fopen(path_.c_str(), "a");
  if (f == nullptr) fail("{}: cannot append to the decision log", path_);
  bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) fail("{}: write to the decision log failed", path_);
}

std::vector<DecisionRecord> DecisionLog::read(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  std::vector<DecisionRecord> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      out.push_back(DecisionRecord::from_json(nlohmann::json::parse(line)));
    } catch (const nlohmann::json::exception& e) {
      fail("{}:{}: not a JSON decision record: {}", path, n, e.what());
    } catch (const Error& e) {
      fail("{}:{}: {}", path, n, e.what());
    }
  }
  return out;
}

}  // namespace lcte::route
