#include "train/data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <numeric>

#include "core/error.h"
#include "core/random.h"

namespace lcte::train {
namespace {

uint64_t mix(uint64_t seed, int64_t epoch) {
  SplitMix64 r(seed ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(epoch + 1)));
  return r.next();
}

}  // namespace

std::vector<Example> chunk_stream(const std::vector<int32_t>& stream, int T) {
  if (T < 1) fail("chunk_stream: sequence length {} must be >= 1", T);
  std::vector<Example> out;
  for (size_t start = 0; start + 1 < stream.size(); start += T) {
    const size_t end = std::min(stream.size(), start + T + 1);
    out.push_back({std::vector<int32_t>(stream.begin() + start, stream.begin() + end), {}});
  }
  return out;
}

void fill_row(Batch& batch, int b, const Example& ex, int32_t pad_id) {
  const int T = batch.T;
  int32_t* tok = batch.tokens.data() + (size_t)b * T;
  int32_t* tgt = batch.targets.data() + (size_t)b * T;
  const int n = static_cast<int>(std::min<size_t>(ex.tokens.size(), (size_t)T + 1));
  for (int t = 0; t < T; ++t) {
    tok[t] = t < n ? ex.tokens[t] : pad_id;
    const bool is_target = t + 1 < n && (ex.mask.empty() || ex.mask[t + 1] != 0);
    tgt[t] = is_target ? ex.tokens[t + 1] : -1;
  }
}

DataLoader::DataLoader(std::vector<Example> examples, int B, int T, uint64_t seed, int32_t pad_id)
    : examples_(std::move(examples)), B_(B), T_(T), pad_(pad_id) {
  if (examples_.empty()) fail("data: no training examples");
  if (B < 1 || T < 1) fail("data: batch {} and sequence {} must be >= 1", B, T);
  for (size_t i = 0; i < examples_.size(); ++i) {
    const Example& e = examples_[i];
    if (!e.mask.empty() && e.mask.size() != e.tokens.size())
      fail("data: example {} has {} tokens but a mask of {}", i, e.tokens.size(), e.mask.size());
  }
  state_.seed = seed;
  shuffle_epoch();
}

void DataLoader::shuffle_epoch() {
  order_.resize(examples_.size());
  std::iota(order_.begin(), order_.end(), 0);
  SplitMix64 rng(mix(state_.seed, state_.epoch));
  shuffle(order_, rng);
}

void DataLoader::restore(const State& s) {
  if (s.cursor < 0 || s.cursor > (int64_t)examples_.size() || s.epoch < 0)
    fail("data: cannot restore position epoch {} cursor {} in {} examples", s.epoch, s.cursor, examples_.size());
  state_ = s;
  shuffle_epoch();
}

Batch DataLoader::next() {
  Batch batch;
  batch.B = B_;
  batch.T = T_;
  batch.tokens.assign((size_t)B_ * T_, pad_);
  batch.targets.assign((size_t)B_ * T_, -1);
  for (int b = 0; b < B_; ++b) {
    if (state_.cursor >= (int64_t)order_.size()) {
      state_.epoch += 1;
      state_.cursor = 0;
      shuffle_epoch();
    }
    const int64_t idx = order_[state_.cursor++];
    fill_row(batch, b, examples_[idx], pad_);
    batch.rows.push_back(idx);
  }
  return batch;
}

Split seeded_split(size_t n, size_t n_train, size_t n_valid, size_t n_test, uint64_t seed) {
  if (n_train + n_valid + n_test > n)
    fail("split: {} + {} + {} items asked for, only {} available", n_train, n_valid, n_test, n);
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  SplitMix64 rng(seed);
  shuffle(idx, rng);
  Split s;
  s.train.assign(idx.begin(), idx.begin() + n_train);
  s.valid.assign(idx.begin() + n_train, idx.begin() + n_train + n_valid);
  s.test.assign(idx.begin() + n_train + n_valid, idx.begin() + n_train + n_valid + n_test);
  return s;
}

namespace {

std::vector<int32_t> read_ids(const nlohmann::json& j, const char* field, int vocab, const std::string& where) {
  if (!j.contains(field)) fail("{}: missing field \"{}\"", where, field);
  const nlohmann::json& a = j.at(field);
  if (!a.is_array()) fail("{}: field \"{}\" must be an array of token ids", where, field);
  std::vector<int32_t> ids;
  ids.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_number_integer()) fail("{}: {}[{}] is not an integer", where, field, i);
    const int64_t v = a[i].get<int64_t>();
    if (v < 0 || v >= vocab) fail("{}: {}[{}] = {} is outside the vocabulary [0, {})", where, field, i, v, vocab);
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

}  // namespace

Example prompt_completion(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion) {
  Example e;
  e.tokens = prompt;
  e.tokens.insert(e.tokens.end(), completion.begin(), completion.end());
  e.mask.assign(prompt.size(), 0);
  e.mask.resize(e.tokens.size(), 1);
  return e;
}

std::vector<Example> read_token_jsonl(const std::string& path, int vocab) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  std::vector<Example> out;
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, lineno);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("{}: not a JSON object", where);
    if (j.contains("prompt") || j.contains("completion")) {
      out.push_back(prompt_completion(read_ids(j, "prompt", vocab, where), read_ids(j, "completion", vocab, where)));
    } else {
      Example e{read_ids(j, "tokens", vocab, where), {}};
      if (j.contains("mask")) {
        const nlohmann::json& m = j.at("mask");
        if (!m.is_array() || m.size() != e.tokens.size())
          fail("{}: \"mask\" must be an array as long as \"tokens\" ({})", where, e.tokens.size());
        for (size_t i = 0; i < m.size(); ++i) {
          if (!m[i].is_number_integer() || (m[i].get<int64_t>() != 0 && m[i].get<int64_t>() != 1))
            fail("{}: mask[{}] must be 0 or 1", where, i);
          e.mask.push_back(static_cast<uint8_t>(m[i].get<int64_t>()));
        }
      }
      out.push_back(std::move(e));
    }
    if (out.back().tokens.size() < 2) fail("{}: an example needs at least 2 tokens", where);
  }
  if (out.empty()) fail("{}: no examples", path);
  return out;
}

std::vector<ChatPair> read_mbpp_chat(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  std::vector<ChatPair> out;
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, lineno);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("{}: not a JSON object", where);
    for (const char* key : {"text", "code", "task_id", "test_list"})
      if (!j.contains(key)) fail("{}: missing field \"{}\"", where, key);
    if (!j["text"].is_string() || !j["code"].is_string() || !j["task_id"].is_number_integer() ||
        !j["test_list"].is_array())
      fail("{}: text/code must be strings, task_id an integer and test_list an array", where);
    ChatPair p;
    p.id = j["task_id"].get<int64_t>();
    p.user = j["text"].get<std::string>() + "\nYour code should pass these tests:\n";
    for (const nlohmann::json& t : j["test_list"]) {
      if (!t.is_string()) fail("{}: test_list holds a non-string", where);
      p.user += t.get<std::string>() + "\n";
    }
    for (char c : j["code"].get<std::string>())
      if (c != '\r') p.assistant += c;
    out.push_back(std::move(p));
  }
  return out;
}

Split mbpp_split(size_t n, uint64_t seed) {
  if (n < 974) fail("MBPP split: {} problems, expected 974", n);
  return seeded_split(n, 800, 100, 74, seed);
}

}  // namespace lcte::train
