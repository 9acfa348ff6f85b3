#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstdint>
#include <optional>

#include "core/error.h"
#include "core/random.h"
#include "tokenizer/tiktoken.h"
#include "tokenizer/unicode.h"

namespace lcte::tokenizer {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581

bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string escape_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (char c : s) {
    if (c == ' ')
      out.append(kSpaceMarker);
    else
      out.push_back(c);
  }
  return out;
}

// Characters BERT treats as words of their own (CJK ideograph blocks, with
// the extension-B..F bounds that Hugging Face's code uses).
bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Which bytes and byte pairs occur in a text: a cheap, exact test that lets
// most special tokens skip the search for their text.
class BytePairSet {
 public:
  explicit BytePairSet(std::string_view s) : pairs_(65536 / 64, 0) {
    for (size_t i = 0; i < s.size(); ++i) {
      auto a = static_cast<uint8_t>(s[i]);
      bytes_[a] = true;
      if (i + 1 < s.size()) {
        uint32_t p = (uint32_t(a) << 8) | static_cast<uint8_t>(s[i + 1]);
        pairs_[p >> 6] |= uint64_t{1} << (p & 63);
      }
    }
  }
  bool may_contain(std::string_view t) const {
    if (t.empty() || !bytes_[static_cast<uint8_t>(t[0])]) return false;
    if (t.size() == 1) return true;
    uint32_t p = (uint32_t(static_cast<uint8_t>(t[0])) << 8) | static_cast<uint8_t>(t[1]);
    return (pairs_[p >> 6] >> (p & 63)) & 1;
  }

 private:
  std::array<bool, 256> bytes_{};
  std::vector<uint64_t> pairs_;
};

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : Tokenizer(std::make_shared<const Vocab>(std::move(vocab))) {}

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab) : vocab_(std::move(vocab)), pre_(vocab_->regexes()) {}

// Cuts special tokens out of the text, longest first, as llama.cpp's
// tokenizer_st_partition: each token in turn splits every remaining text
// fragment at its occurrences, left to right.
std::vector<Tokenizer::Fragment> Tokenizer::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({kNoToken, 0, uint32_t(text.size())});
  const Vocab& v = *vocab_;
  if (v.special_tokens().empty()) return frags;

  std::optional<BytePairSet> present;  // built for the first token that needs it
  std::vector<Fragment> next;
  for (Token id : v.special_tokens()) {
    const uint32_t attr = v.attr(id);
    // Control and unknown tokens only with parse_special; user-defined always.
    if (!parse_special && (attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string& s = v.text(id);
    if (s.size() > text.size()) continue;
    if (!present) present.emplace(text);
    if (!present->may_contain(s)) continue;

    next.clear();
    for (const Fragment& f : frags) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      size_t base = f.offset, len = f.length;
      while (len > 0) {
        size_t m = text.substr(base, len).find(s);
        if (m == std::string_view::npos) break;
        m += base;
        if (m > base) {
          size_t left = m - base;
          if (attr & kAttrLstrip)
            while (left > 0 && is_ascii_space(text[base + left - 1])) --left;
          if (left > 0) next.push_back({kNoToken, uint32_t(base), uint32_t(left)});
        }
        next.push_back({id, 0, 0});
        size_t right = m + s.size(), end = base + len;
        if (attr & kAttrRstrip)
          while (right < end && is_ascii_space(text[right])) ++right;
        base = right;
        len = end - right;
      }
      if (len > 0) next.push_back({kNoToken, uint32_t(base), uint32_t(len)});
    }
    frags.swap(next);
  }
  return frags;
}

std::vector<Token> Tokenizer::tokenize(std::string_view text, bool add_special, bool parse_special) const {
  const Vocab& v = *vocab_;
  std::vector<Fragment> frags = partition(text, parse_special);
  std::vector<Token> out;
  out.reserve(text.size() / 3 + 4);
  auto push_required = [&](Token id, const char* what) {
    if (id == kNoToken) fail("the vocabulary asks for a {} token but has none", what);
    out.push_back(id);
  };

  switch (v.type()) {
    case VocabType::kSpm: {
      // A space is prefixed to the text, and to any text after a special token.
      bool prev_special = true;
      if (add_special && v.add_bos()) push_required(v.bos(), "BOS");
      for (const Fragment& f : frags) {
        if (f.token != kNoToken) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        std::string s = v.add_space_prefix() && prev_special ? " " : "";
        s.append(text.substr(f.offset, f.length));
        tokenize_spm(escape_spaces(s), out);
        prev_special = false;
      }
      if (add_special && v.add_eos()) push_required(v.eos(), "EOS");
      break;
    }
    case VocabType::kBpe: {
      if (add_special && v.add_bos()) push_required(v.bos(), "BOS");
      for (const Fragment& f : frags) {
        if (f.token != kNoToken)
          out.push_back(f.token);
        else
          tokenize_bpe(text.substr(f.offset, f.length), out);
      }
      if (add_special && v.add_eos()) push_required(v.eos(), "EOS");
      break;
    }
    case VocabType::kTiktoken: {
      // tiktoken adds nothing: no BOS or EOS.
      for (const Fragment& f : frags) {
        if (f.token != kNoToken)
          out.push_back(f.token);
        else
          tokenize_tiktoken(text.substr(f.offset, f.length), out, SIZE_MAX);
      }
      break;
    }
    case VocabType::kWpm: {
      if (add_special) push_required(v.bos(), "CLS");
      for (const Fragment& f : frags) {
        if (f.token != kNoToken)
          out.push_back(f.token);
        else
          tokenize_wpm(text.substr(f.offset, f.length), out);
      }
      if (add_special) push_required(v.sep(), "SEP");
      break;
    }
  }
  return out;
}

size_t Tokenizer::count_tokens(std::string_view text, size_t stop_above, bool parse_special) const {
  if (vocab_->type() != VocabType::kTiktoken) return tokenize(text, false, parse_special).size();
  std::vector<Token> out;
  for (const Fragment& f : partition(text, parse_special)) {
    if (out.size() > stop_above) break;
    if (f.token != kNoToken)
      out.push_back(f.token);
    else
      tokenize_tiktoken(text.substr(f.offset, f.length), out, stop_above);
  }
  return out.size();
}

// tiktoken's encode_ordinary: the pattern cuts the text into pieces, and each
// piece's UTF-8 bytes are encoded on their own. tiktoken takes a Unicode
// string; bytes that are not UTF-8 become U+FFFD first, as a decoder with
// errors="replace" would give it.
void Tokenizer::tokenize_tiktoken(std::string_view text, std::vector<Token>& out, size_t stop_above) const {
  if (text.empty() || out.size() > stop_above) return;
  std::vector<uint32_t> cps, offsets;
  std::string repaired;
  if (!decode_utf8_strict(text, cps, offsets)) {
    repaired = replace_invalid_utf8(text);
    text = repaired;
    cps.clear();
    offsets.clear();
    decode_utf8_strict(text, cps, offsets);
  }
  for (uint32_t& c : cps)
    if (c >= 0x80) c = tiktoken_match_cp(c);  // Unicode 16.0's classes, as tiktoken's regex has them
  pre_.for_each_piece(cps, [&](Piece p) {
    tiktoken_piece(text.substr(offsets[p.begin], offsets[p.end] - offsets[p.begin]), out);
    return out.size() <= stop_above;
  });
}

// One piece, as tiktoken's byte_pair_encode: a piece that is a token is that
// token; otherwise start from its bytes and join the adjacent pair whose
// joined bytes have the lowest rank (ties: the leftmost) until no pair is a
// token. Short pieces scan an array for the minimum, as tiktoken does; long
// ones (runs of one character) use a heap, so a long piece costs n log n.
void Tokenizer::tiktoken_piece(std::string_view bytes, std::vector<Token>& out) const {
  const Vocab& v = *vocab_;
  // Every text in a tiktoken vocabulary that is not an ordinary token ("<|endoftext|>",
  // "<|unused rank 100256|>") has letters next to punctuation, which every pattern
  // cuts apart, so a piece that is a token's text is an ordinary token.
  if (const Token whole = v.find(bytes); whole != kNoToken) {
    out.push_back(whole);
    return;
  }
  constexpr int32_t kNone = INT32_MAX;
  auto pair_rank = [&](Token l, Token r) {
    const Merge m = v.merge(l, r);
    return m.rank < 0 ? kNone : m.rank;
  };
  const size_t n = bytes.size();
  constexpr size_t kShort = 64;
  if (n <= kShort) {
    struct Part {
      Token id;
      int32_t rank;  // of joining this part with the next
    };
    std::array<Part, kShort> parts;
    size_t m = n;
    for (size_t i = 0; i < n; ++i) parts[i].id = v.byte_symbol(static_cast<uint8_t>(bytes[i]));
    for (size_t i = 0; i + 1 < n; ++i) parts[i].rank = pair_rank(parts[i].id, parts[i + 1].id);
    parts[n - 1].rank = kNone;
    for (;;) {
      size_t best = 0;
      for (size_t i = 1; i + 1 < m; ++i)
        if (parts[i].rank < parts[best].rank) best = i;
      if (m < 2 || parts[best].rank == kNone) break;
      parts[best].id = parts[best].rank;  // a tiktoken token's rank is its id
      std::copy(parts.begin() + best + 2, parts.begin() + m, parts.begin() + best + 1);
      --m;
      parts[best].rank = best + 1 < m ? pair_rank(parts[best].id, parts[best + 1].id) : kNone;
      if (best > 0) parts[best - 1].rank = pair_rank(parts[best - 1].id, parts[best].id);
    }
    for (size_t i = 0; i < m; ++i) out.push_back(parts[i].id);
    return;
  }

  struct Symbol {
    Token id;  // -1: joined into its left neighbour
    int32_t prev, next;
  };
  struct Candidate {
    int32_t rank, left, right;
    Token left_id, right_id;
  };
  auto lower_priority = [](const Candidate& a, const Candidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::vector<Symbol> sym(n);
  for (size_t i = 0; i < n; ++i)
    sym[i] = {v.byte_symbol(static_cast<uint8_t>(bytes[i])), int32_t(i) - 1, i + 1 == n ? -1 : int32_t(i) + 1};
  std::vector<Candidate> heap;
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const int32_t rank = pair_rank(sym[l].id, sym[r].id);
    if (rank == kNone) return;
    heap.push_back({rank, l, r, sym[l].id, sym[r].id});
    std::push_heap(heap.begin(), heap.end(), lower_priority);
  };
  for (size_t i = 1; i < n; ++i) try_add(int32_t(i) - 1, int32_t(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& l = sym[c.left];
    Symbol& r = sym[c.right];
    // A symbol's id changes whenever it joins another, so equal ids mean the pair is still there.
    if (l.id != c.left_id || r.id != c.right_id) continue;
    l.id = c.rank;
    r.id = -1;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }
  for (int32_t i = 0; i != -1; i = sym[i].next) out.push_back(sym[i].id);
}

// SentencePiece-style BPE: start from UTF-8 characters and repeatedly join the
// adjacent pair whose joined text is the token with the highest score (ties:
// the leftmost). A priority queue and a linked list of symbols keep this
// O(n log n); a popped pair is skipped when either side has changed since.
//
// When no token can span "x\u2581" (Vocab::spm_words_independent, true for
// Llama 2, phi-3, baichuan...), no pair ever crosses the start of a word, so
// each word is merged on its own with a small queue: the same merges in the
// same order within every word, hence the same tokens, and much faster.
void Tokenizer::tokenize_spm(std::string_view text, std::vector<Token>& out) const {
  const Vocab& v = *vocab_;
  struct Symbol {
    uint32_t offset, n;  // n == 0: merged into its left neighbour
    int32_t prev, next;
    Token id;  // the token of a merged symbol; kNoToken: not looked up yet
  };
  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t size;
    Token id;  // the token of the joined text
  };
  auto lower_priority = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };

  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    size_t n = std::min(utf8_seq_len(static_cast<uint8_t>(text[off])), text.size() - off);
    sym.push_back({uint32_t(off), uint32_t(n), -1, -1, kNoToken});
    off += n;
  }
  auto is_marker = [&](size_t i) { return text.substr(sym[i].offset, sym[i].n) == kSpaceMarker; };

  std::vector<Bigram> heap;
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    std::string_view joined = text.substr(sym[l].offset, sym[l].n + sym[r].n);
    Token id = v.find(joined);
    if (id == kNoToken) return;
    heap.push_back({v.score(id), l, r, uint32_t(joined.size()), id});
    std::push_heap(heap.begin(), heap.end(), lower_priority);
  };

  // Merges symbols [a, b) and appends their tokens.
  auto merge_and_emit = [&](int32_t a, int32_t b) {
    for (int32_t i = a; i < b; ++i) sym[i].prev = i - 1, sym[i].next = i + 1;
    sym[a].prev = -1;
    sym[b - 1].next = -1;
    heap.clear();
    for (int32_t i = a + 1; i < b; ++i) try_add(i - 1, i);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), lower_priority);
      Bigram bg = heap.back();
      heap.pop_back();
      Symbol& l = sym[bg.left];
      Symbol& r = sym[bg.right];
      if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;  // stale
      l.n += r.n;
      l.id = bg.id;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = bg.left;
      try_add(l.prev, bg.left);
      try_add(bg.left, l.next);
    }
    // Every merged symbol is a token; a single character that is not one
    // falls back to its bytes. (llama.cpp's resegment would first look the
    // text up among the merges it made, but an unmerged character can never
    // equal the text of a merge of two or more characters.)
    for (int32_t i = a; i != -1; i = sym[i].next) {
      std::string_view s = text.substr(sym[i].offset, sym[i].n);
      Token id = sym[i].id != kNoToken ? sym[i].id : v.find(s);
      if (id != kNoToken) {
        out.push_back(id);
        continue;
      }
      for (char c : s) {
        Token bt = v.byte_token(static_cast<uint8_t>(c));
        if (bt == kNoToken) bt = v.unk();
        if (bt == kNoToken) fail("the vocabulary has no token for byte 0x{:02X} and no unknown token", uint8_t(c));
        out.push_back(bt);
      }
    }
  };

  const int32_t n = int32_t(sym.size());
  if (!v.spm_words_independent()) {
    if (n > 0) merge_and_emit(0, n);
    return;
  }
  // Words: symbols [a, b), cut where a run of markers starts.
  std::vector<std::pair<int32_t, int32_t>> words;
  for (int32_t i = 1, start = 0; i <= n; ++i) {
    if (i == n || (is_marker(size_t(i)) && !is_marker(size_t(i - 1)))) {
      words.emplace_back(start, i);
      start = i;
    }
  }
  // Words repeat (indentation, keywords, names), and a word's tokens depend
  // on nothing else, so each distinct word is merged once per call: the
  // table maps a word's text to where its tokens first went in `out`.
  struct Seen {
    uint32_t offset = 0, length = 0;    // the word, in text; length 0: empty slot
    uint32_t out_begin = 0, out_n = 0;  // its tokens, in out
  };
  std::vector<Seen> seen(std::bit_ceil(words.size() * 2 + 2));
  const size_t mask = seen.size() - 1;
  for (auto [a, b] : words) {
    const uint32_t begin = sym[a].offset, end = b < n ? sym[b].offset : uint32_t(text.size());
    const std::string_view word = text.substr(begin, end - begin);
    size_t slot = hash_bytes(word) & mask;
    while (seen[slot].length != 0 && text.substr(seen[slot].offset, seen[slot].length) != word)
      slot = (slot + 1) & mask;
    Seen& e = seen[slot];
    if (e.length != 0) {
      for (uint32_t k = 0; k < e.out_n; ++k) out.push_back(out[e.out_begin + k]);
      continue;
    }
    const size_t before = out.size();
    merge_and_emit(a, b);
    e = {begin, end - begin, uint32_t(before), uint32_t(out.size() - before)};
  }
}

// Buffers reused for every word of one tokenize call.
struct Tokenizer::BpeScratch {
  struct Symbol {
    int32_t sym;  // interned text; -1: merged into its left neighbour
    int32_t prev, next;
  };
  struct Bigram {
    int32_t rank, left, right, left_sym, right_sym, result;
  };
  std::string bytes, encoded;
  std::vector<Symbol> sym;
  std::vector<Bigram> heap;
};

void Tokenizer::tokenize_bpe(std::string_view text, std::vector<Token>& out) const {
  std::vector<uint32_t> cps = decode_utf8(text);
  std::vector<Piece> pieces;
  pre_.split(cps, pieces);
  BpeScratch scratch;

  // Words repeat (indentation, keywords, punctuation), and a word's tokens
  // depend on nothing else, so each distinct word is merged once per call:
  // the table maps a word (its code points) to where its tokens first went.
  struct Seen {
    uint32_t begin = 0, end = 0;        // the word, in cps
    uint32_t out_begin = 0, out_n = 0;  // its tokens, in out
    bool used = false;
  };
  std::vector<Seen> seen(std::bit_ceil(pieces.size() * 2 + 2));
  const size_t mask = seen.size() - 1;
  auto same = [&](const Seen& e, Piece p) {
    return e.end - e.begin == p.end - p.begin &&
           std::equal(cps.begin() + e.begin, cps.begin() + e.end, cps.begin() + p.begin);
  };
  for (Piece p : pieces) {
    uint64_t h = kFnv1aOffset;
    for (uint32_t i = p.begin; i < p.end; ++i) h = (h ^ cps[i]) * kFnv1aPrime;
    size_t slot = hash_u64(h) & mask;
    while (seen[slot].used && !same(seen[slot], p)) slot = (slot + 1) & mask;
    Seen& e = seen[slot];
    if (e.used) {
      for (uint32_t k = 0; k < e.out_n; ++k) out.push_back(out[e.out_begin + k]);
      continue;
    }
    const size_t before = out.size();
    bpe_word(cps, p, scratch, out);
    e = {p.begin, p.end, uint32_t(before), uint32_t(out.size() - before), true};
  }
}

// Byte-level BPE on one pre-tokenized word: start from its bytes and
// repeatedly apply the lowest-ranked merge among adjacent pairs (ties: the
// leftmost), with the same queue and linked list as SPM.
void Tokenizer::bpe_word(const std::vector<uint32_t>& cps, Piece piece, BpeScratch& sc, std::vector<Token>& out) const {
  using Bigram = BpeScratch::Bigram;
  const Vocab& v = *vocab_;
  std::string& bytes = sc.bytes;
  bytes.clear();
  for (uint32_t i = piece.begin; i < piece.end; ++i) append_utf8(bytes, cps[i]);
  if (bytes.empty()) return;

  if (v.ignore_merges()) {
    // Llama 3: a word that is a token as a whole is taken as is.
    sc.encoded.clear();
    for (unsigned char b : bytes) append_utf8(sc.encoded, byte_to_cp(b));
    Token id = v.find(sc.encoded);
    if (id != kNoToken) {
      out.push_back(id);
      return;
    }
  }

  auto lower_priority = [](const Bigram& a, const Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  const int32_t n = int32_t(bytes.size());
  auto& sym = sc.sym;
  sym.resize(size_t(n));
  for (int32_t i = 0; i < n; ++i)
    sym[i] = {v.byte_symbol(static_cast<uint8_t>(bytes[i])), i - 1, i + 1 == n ? -1 : i + 1};

  auto& heap = sc.heap;
  heap.clear();
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    Merge m = v.merge(sym[l].sym, sym[r].sym);
    if (m.rank < 0) return;
    heap.push_back({m.rank, l, r, sym[l].sym, sym[r].sym, m.result});
    std::push_heap(heap.begin(), heap.end(), lower_priority);
  };
  for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    Bigram b = heap.back();
    heap.pop_back();
    auto& l = sym[b.left];
    auto& r = sym[b.right];
    // Symbols only grow, so unchanged texts mean the pair is still adjacent.
    if (l.sym != b.left_sym || r.sym != b.right_sym) continue;
    l.sym = b.result;
    r.sym = -1;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = sym[i].next) {
    int32_t s = sym[i].sym;
    if (size_t(s) < v.n_tokens()) {
      out.push_back(s);
      continue;
    }
    // Not a token (a vocabulary with gaps): llama.cpp emits whichever single
    // bytes of the symbol's text are tokens and drops the rest.
    for (char c : v.symbol_text(s)) {
      Token id = v.find(std::string_view(&c, 1));
      if (id != kNoToken) out.push_back(id);
    }
  }
}

// WordPiece as llama.cpp's llm_tokenizer_wpm: words are runs of non-space
// characters, each accent-stripped (first code point of NFD) and lowercased;
// punctuation, ASCII symbols and CJK ideographs are words of their own; control
// characters vanish. Each word, with U+2581 prefixed, is covered by the longest
// tokens from the left; a word that cannot be covered becomes [UNK].
void Tokenizer::tokenize_wpm(std::string_view text, std::vector<Token>& out) const {
  const Vocab& v = *vocab_;
  std::vector<std::string> words;
  std::string word;
  auto finish = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (uint32_t cp : decode_utf8(text)) {
    cp = cp_nfd_first(cp);
    const uint8_t flags = cp_flags(cp);
    if (cp_is_whitespace(cp)) {
      finish();
      continue;
    }
    if (cp == 0 || cp == kReplacementChar || (flags & kCpControl)) continue;
    std::string s = cp_to_utf8(cp_to_lower(cp));
    if ((flags & kCpPunctuation) || (cp < 0x7F && (flags & kCpSymbol)) || is_chinese_char(cp)) {
      finish();
      words.push_back(std::move(s));
    } else {
      word += s;
    }
  }
  finish();

  const size_t max_len = v.max_token_len();
  for (const std::string& w : words) {
    const std::string w1 = std::string(kSpaceMarker) + w;
    const size_t n = w1.size();
    const size_t start = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool matched = false;
      for (size_t j = std::min(n, i + max_len + 1); j > i; --j) {
        Token id = v.find(std::string_view(w1).substr(i, j - i));
        if (id != kNoToken) {
          out.push_back(id);
          matched = true;
          i = j - 1;
          break;
        }
      }
      if (!matched) {
        out.resize(start);
        break;
      }
    }
    if (out.size() == start) {
      if (v.unk() == kNoToken) fail("the vocabulary has no unknown token for the word '{}'", w);
      out.push_back(v.unk());
    }
  }
}

std::string Tokenizer::token_to_piece(Token id, bool special) const {
  const Vocab& v = *vocab_;
  if (!special && (v.attr(id) & (kAttrUnknown | kAttrControl))) return {};
  return v.piece(id);
}

std::string Tokenizer::detokenize(std::span<const Token> ids, bool remove_special, bool unparse_special) const {
  const Vocab& v = *vocab_;
  // SentencePiece prefixed a space to the text; the first piece gives it back.
  bool remove_space = v.add_space_prefix();
  if (remove_special && v.add_bos() && !ids.empty() && ids.front() == v.bos()) {
    remove_space = false;
    ids = ids.subspan(1);
  }
  if (remove_special && v.add_eos() && !ids.empty() && ids.back() == v.eos()) ids = ids.first(ids.size() - 1);

  std::string t;
  for (Token id : ids) {
    if (!unparse_special && (v.attr(id) & (kAttrUnknown | kAttrControl))) {
      remove_space = false;
      continue;
    }
    std::string_view p = v.piece(id);
    if (remove_space && !p.empty() && p[0] == ' ') p.remove_prefix(1);
    remove_space = false;
    t.append(p);
  }
  if (!v.clean_spaces()) return t;

  // Hugging Face's clean_up_tokenization_spaces, in llama.cpp's three passes
  // (kept literally, in place, so that the corner cases agree).
  int32_t total = int32_t(t.size());
  const int32_t total1 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total1; ++i) {  // " ?" " !" " ." " ,"
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }
  const int32_t total2 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total2; ++i) {  // " ' " -> "'"
    const char x = t[i];
    if (x == '\'' && i + 1 < total2 && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;
      t[++i] = '\0';
    }
    t[total++] = x;
  }
  const int32_t total3 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total3; ++i) {  // " 's" " 'm" " 're" " 've" lose the space
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    t[total++] = x;
  }
  t.resize(size_t(total));
  return t;
}

}  // namespace lcte::tokenizer
