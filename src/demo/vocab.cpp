#include "demo/vocab.h"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

namespace lcte::demo {
namespace {

const std::string kSpace = "\xe2\x96\x81";  // U+2581

bool is_digit_piece(const std::string& s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}
bool has_digit(const std::string& s) {
  for (char c : s)
    if (c >= '0' && c <= '9') return true;
  return false;
}

// U+2581 only as a prefix, no newline, and digits only with digits.
bool allowed_merge(const std::string& a, const std::string& b) {
  if (a == "\n" || b == "\n") return false;
  if (b.rfind(kSpace, 0) == 0) {
    // b starts with a space: only allowed when a is all spaces.
    for (size_t i = 0; i < a.size(); i += kSpace.size())
      if (a.compare(i, kSpace.size(), kSpace) != 0) return false;
  }
  if (has_digit(a) || has_digit(b)) return is_digit_piece(a) && is_digit_piece(b);
  return true;
}

// The text as the tokenizer starts from it: one symbol per character, spaces
// as U+2581, with the leading space SentencePiece adds.
std::vector<std::string> symbols(const std::string& text) {
  std::vector<std::string> out{kSpace};
  for (char c : text) out.push_back(c == ' ' ? kSpace : std::string(1, c));
  return out;
}

void add_base(Vocab& v) {
  v.add("<unk>", 0, kTokenUnknown);
  v.add("<s>", 0, kTokenControl);
  v.add("</s>", 0, kTokenControl);
  for (int b = 0; b < 256; ++b) v.add(fmt::format("<0x{:02X}>", b), 0, kTokenByte);
}

}  // namespace

void Vocab::add(std::string t, float score, int32_t type) {
  tokens.push_back(std::move(t));
  scores.push_back(score);
  types.push_back(type);
}

Vocab fixed_vocab() {
  Vocab v;
  add_base(v);
  float score = -1.f;
  for (char c = 33; c < 127; ++c) v.add(std::string(1, c), score -= 0.01f, kTokenNormal);
  v.add(kSpace, score -= 0.01f, kTokenNormal);
  for (const char* piece : {"th", "he", "in", "er", "an", "re", "on", "at", "en", "nd", "de", "ef", "def", "return",
                            "self", "if", "for", "in", "or"}) {
    v.add(piece, score -= 0.01f, kTokenNormal);
    v.add(kSpace + piece, score -= 0.01f, kTokenNormal);
  }
  // SentencePiece vocabularies hold each piece once.
  Vocab unique;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (seen.insert(v.tokens[i]).second) unique.add(v.tokens[i], v.scores[i], v.types[i]);
  return unique;
}

Vocab learn_vocab(const std::vector<std::string>& texts, int n_merges) {
  Vocab v;
  add_base(v);
  // Single characters never win a merge against a learnt piece: their scores
  // are below every merge's.
  const float base_score = -1e4f;
  for (char c = 32 + 1; c < 127; ++c) v.add(std::string(1, c), base_score, kTokenNormal);
  v.add(kSpace, base_score, kTokenNormal);
  v.add("\n", base_score, kTokenNormal);
  std::unordered_set<std::string> known(v.tokens.begin(), v.tokens.end());

  // Symbols as ids into `pieces`, so that counting pairs is cheap.
  std::vector<std::string> pieces;
  std::unordered_map<std::string, int32_t> id_of;
  auto intern = [&](const std::string& p) {
    auto [it, added] = id_of.emplace(p, static_cast<int32_t>(pieces.size()));
    if (added) pieces.push_back(p);
    return it->second;
  };
  std::vector<std::vector<int32_t>> seqs;
  seqs.reserve(texts.size());
  for (const std::string& t : texts) {
    std::vector<int32_t> s;
    for (const std::string& p : symbols(t)) s.push_back(intern(p));
    seqs.push_back(std::move(s));
  }
  auto key = [](int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); };

  for (int m = 0; m < n_merges; ++m) {
    std::unordered_map<uint64_t, int64_t> counts;
    for (const auto& s : seqs)
      for (size_t i = 0; i + 1 < s.size(); ++i) ++counts[key(s[i], s[i + 1])];
    // The most frequent allowed pair; ties go to the smaller key, so the
    // vocabulary does not depend on hash order.
    uint64_t best = 0;
    int64_t best_count = 1;
    for (const auto& [k, n] : counts) {
      if (n < best_count || (n == best_count && k > best)) continue;
      const std::string& a = pieces[k >> 32];
      const std::string& b = pieces[k & 0xffffffffu];
      if (!allowed_merge(a, b) || known.count(a + b)) continue;
      best = k;
      best_count = n;
    }
    if (best_count < 2) break;
    const int32_t a = static_cast<int32_t>(best >> 32), b = static_cast<int32_t>(best & 0xffffffffu);
    const std::string ab = pieces[a] + pieces[b];
    v.add(ab, -static_cast<float>(m), kTokenNormal);
    known.insert(ab);
    const int32_t ab_id = intern(ab);
    for (auto& s : seqs) {
      size_t w = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          s[w++] = ab_id;
          ++i;
        } else {
          s[w++] = s[i];
        }
      }
      s.resize(w);
    }
  }
  return v;
}

}  // namespace lcte::demo
