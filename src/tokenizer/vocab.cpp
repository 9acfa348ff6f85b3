#include "tokenizer/vocab.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tiktoken.h"
#include "tokenizer/unicode.h"

namespace lcte::tokenizer {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

uint32_t attr_from_type(int32_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::kNormal: return kAttrNormal;
    case TokenType::kUnknown: return kAttrUnknown;
    case TokenType::kControl: return kAttrControl;
    case TokenType::kUserDefined: return kAttrUserDefined;
    case TokenType::kUnused: return kAttrUnused;
    case TokenType::kByte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A byte token's value: the hex digits after "<0x" (strtol-like, as llama.cpp reads them).
int byte_token_value(std::string_view text) {
  if (text.size() < 4) return -1;
  int value = 0, digits = 0;
  for (size_t i = 3; i < 5 && i < text.size(); ++i) {
    int d = hex_digit(text[i]);
    if (d < 0) break;
    value = value * 16 + d;
    ++digits;
  }
  return digits > 0 ? value : 0;
}

// A byte-level BPE token's text back to the bytes it stands for.
std::string decode_byte_level(std::string_view text) {
  std::string out;
  for (uint32_t cp : decode_utf8(text)) {
    int b = cp_to_byte(cp);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
      continue;
    }
    // Not a stand-in character: llama.cpp writes a marker rather than failing.
    out += "[UNK_BYTE_0x";
    for (unsigned char c : cp_to_utf8(cp)) out += fmt::format("{:02x}", c);
    out.append(text);
    out += "]";
  }
  return out;
}

std::string lowercase_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

size_t Vocab::check(Token id) const {
  if (id < 0 || size_t(id) >= tokens_.size()) fail("token id {} out of range (vocabulary of {})", id, tokens_.size());
  return size_t(id);
}

std::vector<Token> Vocab::eog_tokens() const {
  std::vector<Token> out;
  for (size_t i = 0; i < eog_.size(); ++i)
    if (eog_[i]) out.push_back(Token(i));
  return out;
}

Vocab::Vocab(VocabData d, const std::string& source) {
  set_type_and_defaults(d, source);
  load_tokens(d, source);
  set_special_ids(d, source);
  detect_special_by_text();
  build_eog();
  build_special_list(d);
  build_pieces();
  if (type_ == VocabType::kBpe) build_bpe(d, source);
  if (type_ == VocabType::kTiktoken) build_tiktoken(source);
  build_byte_tokens();
  if (type_ == VocabType::kSpm) {
    spm_words_independent_ = std::none_of(tokens_.begin(), tokens_.end(), [](const TokenData& t) {
      return t.text.find(kSpaceMarker, 1) != std::string::npos && !replace_all(t.text, kSpaceMarker, "").empty();
    });
  }
}

void Vocab::set_type_and_defaults(const VocabData& d, const std::string& source) {
  model_ = d.model;
  pre_ = d.pre;
  if (d.model == "llama") {
    type_ = VocabType::kSpm;
    bos_ = 1, eos_ = 2, unk_ = 0;
    add_space_prefix_ = true;
    clean_spaces_ = false;
    add_bos_ = true;
    add_eos_ = false;
  } else if (d.model == "gpt2") {
    type_ = VocabType::kBpe;
    bos_ = 11, eos_ = 11;
    if (d.pre.empty()) spdlog::warn("{}: no tokenizer.ggml.pre; using the 'default' pre-tokenizer", source);
    PreTokenizerSpec spec;
    try {
      spec = pre_tokenizer_spec(d.pre);
    } catch (const Error& e) {
      fail("{}: {}", source, e.what());
    }
    regexes_ = spec.regexes;
    clean_spaces_ = spec.clean_spaces;
    ignore_merges_ = spec.ignore_merges;
    add_bos_ = spec.add_bos;
    if (spec.no_bos) bos_ = kNoToken;
  } else if (d.model == "bert") {
    type_ = VocabType::kWpm;
    bos_ = 101, unk_ = 100, sep_ = 102, pad_ = 0, mask_ = 103;
    clean_spaces_ = true;
    add_bos_ = true;
  } else if (d.model == "tiktoken") {
    type_ = VocabType::kTiktoken;
    const TiktokenEncoding* encoding = find_tiktoken_encoding(d.pre);
    if (encoding == nullptr) fail("{}: unknown tiktoken encoding '{}'", source, d.pre);
    regexes_ = {encoding->pattern};
  } else {
    fail("{}: tokenizer model '{}' is not supported (expected llama, gpt2, bert or tiktoken)", source, d.model);
  }
  if (d.add_space_prefix) add_space_prefix_ = *d.add_space_prefix;
}

void Vocab::load_tokens(VocabData& d, const std::string& source) {
  const size_t n = d.tokens.size();
  if (n == 0) fail("{}: the vocabulary has no tokens", source);
  if (n > size_t(INT32_MAX)) fail("{}: {} tokens is too many", source, n);
  if (!d.scores.empty() && d.scores.size() != n)
    fail("{}: {} scores for {} tokens (tokenizer.ggml.scores)", source, d.scores.size(), n);
  if (!d.token_types.empty() && d.token_types.size() != n)
    fail("{}: {} token types for {} tokens (tokenizer.ggml.token_type)", source, d.token_types.size(), n);

  tokens_.resize(n);
  size_t bytes = 0;
  for (const std::string& t : d.tokens) bytes += t.size();
  // Tokens, and for BPE the merge parts and results that are not tokens.
  symbols_.reserve(n + 256 + d.merges.size(), bytes * 2);
  for (size_t i = 0; i < n; ++i) {
    TokenData& t = tokens_[i];
    t.text = std::move(d.tokens[i]);
    if (t.text.empty()) {
      spdlog::warn("{}: empty token at index {}", source, i);
      t.text = "[EMPTY_" + std::to_string(i) + "]";
    }
    t.score = d.scores.empty() ? 0.0f : d.scores[i];
    t.attr = d.token_types.empty() ? kAttrNormal : attr_from_type(d.token_types[i]);
    int32_t id = symbols_.intern(t.text);
    if (size_t(id) != i)
      fail("{}: token {} has the same text as token {} ('{}'){}", source, i, id, t.text,
           type_ == VocabType::kTiktoken ? "" : "; llama.cpp refuses such a vocabulary");
    max_token_len_ = std::max(max_token_len_, t.text.size());
  }
  // A default id beyond a small vocabulary names no token.
  for (Token* id : {&bos_, &eos_, &unk_, &sep_, &pad_, &mask_})
    if (*id >= Token(n)) *id = kNoToken;
}

void Vocab::set_special_ids(const VocabData& d, const std::string& source) {
  const std::pair<const std::optional<uint64_t>*, Token*> ids[] = {
      {&d.bos_id, &bos_},         {&d.eos_id, &eos_},         {&d.eot_id, &eot_},         {&d.eom_id, &eom_},
      {&d.unknown_id, &unk_},     {&d.separator_id, &sep_},   {&d.padding_id, &pad_},     {&d.mask_id, &mask_},
      {&d.fim_pre_id, &fim_pre_}, {&d.fim_suf_id, &fim_suf_}, {&d.fim_mid_id, &fim_mid_}, {&d.fim_pad_id, &fim_pad_},
      {&d.fim_rep_id, &fim_rep_}, {&d.fim_sep_id, &fim_sep_},
  };
  for (auto [given, id] : ids) {
    if (!given->has_value()) continue;
    if (**given >= tokens_.size()) {
      // llama.cpp keeps the default in this case (e.g. 0xFFFFFFFF meaning "none").
      spdlog::debug("{}: special token id {} is out of range; keeping {}", source, **given, *id);
      continue;
    }
    *id = Token(**given);
  }
  if (d.add_bos) add_bos_ = *d.add_bos;
  if (d.add_eos) add_eos_ = *d.add_eos;
}

void Vocab::detect_special_by_text() {
  // Models that do not say which token ends a turn or marks FIM get them by
  // text, and such tokens become control tokens (llama.cpp's workaround).
  struct Rule {
    Token* id;
    std::initializer_list<std::string_view> texts;
  };
  const Rule rules[] = {
      {&eot_,
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
        "<\xEF\xBD\x9C"
        "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"}},  // DeepSeek
      {&eom_, {"<|eom_id|>"}},
      {&fim_pre_,
       {"<|fim_prefix|>", "<fim-prefix>",
        "<\xEF\xBD\x9C"
        "fim\xE2\x96\x81"
        "begin\xEF\xBD\x9C>",
        "<PRE>"}},
      {&fim_suf_,
       {"<|fim_suffix|>", "<fim-suffix>",
        "<\xEF\xBD\x9C"
        "fim\xE2\x96\x81hole\xEF\xBD\x9C>",
        "<SUF>"}},
      {&fim_mid_,
       {"<|fim_middle|>", "<fim-middle>",
        "<\xEF\xBD\x9C"
        "fim\xE2\x96\x81"
        "end\xEF\xBD\x9C>",
        "<MID>"}},
      {&fim_pad_, {"<|fim_pad|>", "<fim-pad>", "<PAD>"}},
      {&fim_rep_, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"}},
      {&fim_sep_, {"<|file_sep|>"}},
  };
  // With several candidates for one rule (phi-3 has "<|endoftext|>" and
  // "<|end|>") the first in llama.cpp's std::unordered_map iteration order
  // wins. Building the same map the same way (operator[] in id order)
  // reproduces that order with libstdc++, which the reference build of
  // llama.cpp used; the map is built only when that order matters.
  std::vector<Token> order;  // candidate ids in the order llama.cpp visits them
  bool ambiguous = false;
  for (const Rule& r : rules) {
    if (*r.id != kNoToken) continue;
    size_t found = 0;
    for (std::string_view t : r.texts) {
      Token id = find(t);
      // A tiktoken encoding names its special tokens; an ordinary token that
      // happens to read "<PAD>" stays ordinary.
      if (id == kNoToken || (type_ == VocabType::kTiktoken && !(tokens_[id].attr & kAttrControl))) continue;
      order.push_back(id);
      ++found;
    }
    ambiguous = ambiguous || found > 1;
  }
  if (order.empty()) return;
  if (ambiguous) {
    std::unordered_map<std::string, Token> token_to_id;
    for (size_t i = 0; i < tokens_.size(); ++i) token_to_id[tokens_[i].text] = Token(i);
    std::vector<Token> visited;
    for (const auto& [text, id] : token_to_id)
      if (std::find(order.begin(), order.end(), id) != order.end()) visited.push_back(id);
    order = std::move(visited);
  }
  for (Token id : order) {
    for (const Rule& r : rules) {
      if (*r.id != kNoToken || std::find(r.texts.begin(), r.texts.end(), tokens_[id].text) == r.texts.end()) continue;
      *r.id = id;
      if (!(tokens_[id].attr & kAttrControl)) tokens_[id].attr = kAttrControl;
    }
  }
}

void Vocab::build_eog() {
  eog_.assign(tokens_.size(), false);
  for (Token id : {fim_pad_, fim_rep_, fim_sep_, eos_, eot_, eom_})
    if (id != kNoToken) eog_[id] = true;
  for (std::string_view text :
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"}) {
    Token id = find(text);
    if (id == kNoToken || (type_ == VocabType::kTiktoken && !(tokens_[id].attr & kAttrControl))) continue;
    eog_[id] = true;
    if (!(tokens_[id].attr & kAttrControl)) tokens_[id].attr = kAttrControl;
  }
}

void Vocab::build_special_list(const VocabData& d) {
  for (size_t i = 0; i < tokens_.size(); ++i)
    if (tokens_[i].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_tokens_.push_back(Token(i));
  // Longest first. llama.cpp uses std::sort with this comparison on ids in
  // ascending order; doing exactly the same keeps ties in the same order.
  std::sort(special_tokens_.begin(), special_tokens_.end(),
            [&](Token a, Token b) { return tokens_[a].text.size() > tokens_[b].text.size(); });

  // Per-model attributes that GGUF does not carry (llama.cpp hard-codes them).
  auto set_attr = [&](std::string_view text, uint32_t bit, bool on) {
    Token id = find(text);
    if (id == kNoToken) return;
    tokens_[id].attr = on ? (tokens_[id].attr | bit) : (tokens_[id].attr & ~bit);
  };
  const std::string name = lowercase_ascii(d.name);
  if (pre_.find("jina-v2-de") != std::string::npos || pre_.find("jina-v2-es") != std::string::npos ||
      pre_.find("jina-v2-code") != std::string::npos) {
    set_attr("<mask>", kAttrLstrip, true);
  } else if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (Token id : special_tokens_) tokens_[id].attr |= kAttrRstrip;
    set_attr("</s>", kAttrRstrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kAttrRstrip, false);
  }
}

void Vocab::build_pieces() {
  pieces_.resize(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const TokenData& t = tokens_[i];
    std::string& p = pieces_[i];
    if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      p = t.text;
    } else if (type_ == VocabType::kTiktoken) {
      if (t.attr & kAttrNormal) p = t.text;  // the token's bytes
    } else if (type_ == VocabType::kBpe) {
      if (t.attr & kAttrNormal) p = decode_byte_level(t.text);
    } else if (t.attr & kAttrNormal) {
      p = replace_all(t.text, kSpaceMarker, " ");
    } else if (t.attr & kAttrByte) {
      int b = byte_token_value(t.text);
      if (b >= 0) p = std::string(1, static_cast<char>(b));
    }
    // Unused and undefined tokens print as nothing, as in llama.cpp.
  }
}

void Vocab::build_bpe(const VocabData& d, const std::string& source) {
  if (d.merges.empty()) fail("{}: a gpt2 tokenizer needs merges (tokenizer.ggml.merges)", source);
  if (d.merges.size() > size_t(INT32_MAX)) fail("{}: {} merges is too many", source, d.merges.size());
  for (int b = 0; b < 256; ++b) byte_symbols_[b] = symbols_.intern(cp_to_utf8(byte_to_cp(uint8_t(b))));
  std::string joined;
  for (size_t i = 0; i < d.merges.size(); ++i) {
    std::string_view m = d.merges[i];
    // The separator is the first space after the first byte, as in llama.cpp.
    size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
    if (sp == std::string_view::npos) continue;  // llama.cpp files it under ("", ""), which never matches
    std::string_view left = m.substr(0, sp), right = m.substr(sp + 1);
    joined.assign(left).append(right);
    int32_t l = symbols_.intern(left), r = symbols_.intern(right);
    merges_.insert(l, r, Merge{int32_t(i), symbols_.intern(joined)});
  }
}

void Vocab::build_tiktoken(const std::string& source) {
  auto ordinary = [&](Token id) { return id != kNoToken && (tokens_[id].attr & kAttrNormal); };
  for (int b = 0; b < 256; ++b) {
    Token id = find(std::string(1, static_cast<char>(b)));
    if (!ordinary(id)) fail("{}: no token for the byte 0x{:02X}; every byte needs one", source, b);
    byte_symbols_[b] = id;
  }
  // Every way a token splits into two tokens: during a merge both sides are
  // always ordinary tokens, so these pairs are all the encoder ever looks up.
  // (A side that is a special or unused token's text would give a pair the
  // encoder never asks for, so the sides' kinds need no check.)
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string_view t = tokens_[i].text;
    if (!(tokens_[i].attr & kAttrNormal) || t.size() < 2) continue;
    for (size_t k = 1; k < t.size(); ++k) {
      const int32_t l = symbols_.find(t.substr(0, k));
      if (l < 0) continue;
      const int32_t r = symbols_.find(t.substr(k));
      if (r >= 0) merges_.insert(l, r, Merge{int32_t(i), int32_t(i)});
    }
  }
}

void Vocab::build_byte_tokens() {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[7] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>', 0};
    Token id = find(name);
    if (id == kNoToken) id = find(std::string(1, static_cast<char>(b)));
    byte_tokens_[b] = id;
  }
}

}  // namespace lcte::tokenizer
