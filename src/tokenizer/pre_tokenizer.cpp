#define PCRE2_CODE_UNIT_WIDTH 32
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <new>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace lcte::tokenizer {

namespace {

// The regexes are llama.cpp's (llama-vocab.cpp, llm_tokenizer_bpe), which come
// from each model's tokenizer.json. Non-ASCII characters are written as \x{..}
// so that no editor or tool can normalise them.

// GPT-2: 's|'t|... ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) (llama.cpp drops the final |\s+;
// a lone whitespace before a non-space then stays an unmatched piece, which is the same split).
const char* const kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3 (case-insensitive contractions spelt out), digits in groups of up to three.
const char* const kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen 2: as Llama 3 but single digits.
const char* const kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// CJK ideographs, a range that also covers U+0800..U+4E00, and Hangul.
const char* const kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
// DeepSeek LLM's "letters": Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee... cased letters.
const char* const kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
    R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
    R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
    R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
    R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})"
    R"(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})"
    R"(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})"
    R"(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
// ASCII and full-width punctuation, typographic quotes, ideographic space and full stop.
const char* const kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
// BLOOM, Poro, Viking: anything up to a space or a (Latin, CJK, Devanagari, Arabic) stop.
const char* const kBloom = R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)";

PreTokenizerSpec spec(std::vector<std::string> regexes, bool clean_spaces = true) {
  PreTokenizerSpec s;
  s.regexes = std::move(regexes);
  s.clean_spaces = clean_spaces;
  return s;
}

bool any_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names)
    if (name == n) return true;
  return false;
}

}  // namespace

PreTokenizerSpec pre_tokenizer_spec(std::string_view name) {
  // Names and flags as in llama.cpp's llama_vocab::impl::load (Feb 2025).
  if (name.empty() || name == "default")
    return spec({R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"});
  if (any_of(name, {"llama3", "llama-v3", "llama-bpe", "falcon3"})) {
    PreTokenizerSpec s = spec({kLlama3});
    s.ignore_merges = true;
    s.add_bos = true;
    return s;
  }
  if (any_of(name, {"dbrx", "smaug-bpe"})) return spec({kLlama3});
  if (name == "chatglm-bpe") {
    PreTokenizerSpec s = spec({kLlama3});
    s.no_bos = true;
    return s;
  }
  if (name == "deepseek-llm")
    return spec({"[\r\n]", kDeepseekLetters, kDeepseekPunct, R"(\s+$)", kDeepseekCjk, R"(\p{N}+)"}, false);
  if (name == "deepseek-coder")
    return spec({"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"}, false);
  if (name == "deepseek-v3")
    return spec(
        {R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
         R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
        false);
  if (name == "falcon") return spec({R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"});
  if (any_of(name, {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                    "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"}))
    return spec({kGpt2});
  if (any_of(name, {"starcoder", "refact", "codeshell", "exaone", "minerva-7b"})) return spec({R"(\p{N})", kGpt2});
  if (any_of(name, {"command-r", "smollm"})) return spec({R"(\p{N})", kGpt2}, false);
  if (any_of(name, {"qwen2", "deepseek-r1-qwen"})) return spec({kQwen2}, false);
  if (any_of(name, {"stablelm2", "megrez"})) return spec({kQwen2});
  if (name == "poro-chat") return spec({kBloom}, false);
  if (any_of(name, {"bloom", "gpt3-finnish"})) return spec({kBloom});
  if (name == "viking") return spec({kBloom, R"(\p{N})"}, false);
  if (name == "tekken") {
    PreTokenizerSpec s = spec(
        {R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
        false);
    s.ignore_merges = true;
    s.add_bos = true;
    return s;
  }
  if (name == "chameleon") {
    PreTokenizerSpec s = spec({"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
                               R"(\p{N})", R"([\p{P}!-/:-@\[-`{-~])", kGpt2},
                              false);
    s.add_bos = true;
    return s;
  }
  fail("unknown pre-tokenizer type: '{}'", name);
}

std::string translate_regex(std::string_view p) {
  // The White_Space property, written as class items.
  static constexpr std::string_view kWs =
      R"(\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char e = p[i + 1];
      if (e == 's') {
        out += in_class ? std::string(kWs) : "[" + std::string(kWs) + "]";
        ++i;
        continue;
      }
      if (e == 'S') {
        if (in_class) fail("regex '{}': \\S inside a character class is not supported", p);
        out += "[^" + std::string(kWs) + "]";
        ++i;
        continue;
      }
      out += c;
      out += e;
      ++i;
      if ((e == 'p' || e == 'P' || e == 'x') && i + 1 < p.size() && p[i + 1] == '{') {
        size_t close = p.find('}', i + 1);
        if (close == std::string_view::npos) fail("regex '{}': unterminated \\{}{{", p, e);
        out.append(p.substr(i + 1, close - i));
        i = close;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

struct PreTokenizer::Impl {
  std::vector<pcre2_code*> codes;
  std::vector<bool> jit;  // compiled to machine code: match with pcre2_jit_match
  ~Impl() {
    for (pcre2_code* c : codes) pcre2_code_free(c);
  }
};

PreTokenizer::PreTokenizer(const std::vector<std::string>& regexes) : impl_(std::make_unique<Impl>()) {
  for (const std::string& re : regexes) {
    std::vector<uint32_t> pattern = decode_utf8(translate_regex(re));
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_offset, nullptr);
    if (code == nullptr) {
      std::array<PCRE2_UCHAR, 256> msg{};
      int n = pcre2_get_error_message(err, msg.data(), msg.size());
      std::string text;
      for (int i = 0; i < n; ++i) append_utf8(text, msg[i]);
      fail("pre-tokenizer regex '{}': {} at offset {}", re, text, err_offset);
    }
    // JIT is an optimisation only: without it pcre2_match interprets.
    impl_->jit.push_back(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0);
    impl_->codes.push_back(code);
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

bool PreTokenizer::empty() const { return impl_->codes.empty(); }

namespace {

struct MatchData {
  pcre2_match_data* md;
  MatchData() : md(pcre2_match_data_create(1, nullptr)) {
    if (md == nullptr) throw std::bad_alloc();
  }
  ~MatchData() { pcre2_match_data_free(md); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
};

// Finds the next match in subject[0, len) at or after `from`; false when none.
bool next_match(const pcre2_code* code, bool jit, const uint32_t* subject, size_t len, size_t from, uint32_t options,
                pcre2_match_data* md, size_t& begin, size_t& end) {
  auto s = reinterpret_cast<PCRE2_SPTR>(subject);
  // The JIT fast path skips pcre2_match's per-call checks (the subject is valid UTF-32).
  int rc = jit && (options & PCRE2_ANCHORED) == 0
               ? pcre2_jit_match(code, s, len, from, options, md, nullptr)
               : pcre2_match(code, s, len, from, options | PCRE2_NO_UTF_CHECK, md, nullptr);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // deep backtracking: the interpreter keeps its frames on the heap
    rc = pcre2_match(code, s, len, from, options | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) fail("pre-tokenizer regex failed on a text of {} characters (PCRE2 error {})", len, rc);
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  begin = ov[0];
  end = ov[1];
  return true;
}

// Splits subject[p.begin, p.end) by one regex into matches and the runs between them,
// handed to `emit` in order; stops early when emit returns false (and then returns false).
template <class Emit>
bool split_piece(const pcre2_code* code, bool jit, const uint32_t* subject, Piece p, pcre2_match_data* md,
                 Emit&& emit) {
  const uint32_t* s = subject + p.begin;
  const size_t len = p.end - p.begin;
  size_t pos = 0;   // end of what is already emitted
  size_t from = 0;  // where the next search starts
  uint32_t options = 0;
  while (from <= len) {
    size_t b = 0, e = 0;
    if (!next_match(code, jit, s, len, from, options, md, b, e)) {
      if (options != 0) {  // no non-empty match right after an empty one: move on
        options = 0;
        ++from;
        continue;
      }
      break;
    }
    if (b > pos && !emit(Piece{uint32_t(p.begin + pos), uint32_t(p.begin + b)})) return false;
    if (e > b && !emit(Piece{uint32_t(p.begin + b), uint32_t(p.begin + e)})) return false;
    pos = e;
    if (e == b) {
      // Like std::regex_iterator: after an empty match, look for a non-empty one at the same place.
      from = e;
      options = PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
    } else {
      from = e;
      options = 0;
    }
  }
  if (pos < len) return emit(Piece{uint32_t(p.begin + pos), p.end});
  return true;
}

}  // namespace

void PreTokenizer::split(const std::vector<uint32_t>& cps, std::vector<Piece>& out) const {
  if (cps.empty()) return;
  // PCRE2 refuses surrogates in UTF mode. llama.cpp classes them as \p{C}; so
  // is U+E000 (private use), which stands in for them while matching.
  auto is_surrogate = [](uint32_t c) { return c >= 0xD800 && c <= 0xDFFF; };
  std::vector<uint32_t> substituted;
  const uint32_t* subject = cps.data();
  if (std::any_of(cps.begin(), cps.end(), is_surrogate)) {
    substituted = cps;
    std::replace_if(substituted.begin(), substituted.end(), is_surrogate, 0xE000u);
    subject = substituted.data();
  }

  std::vector<Piece> pieces{{0, uint32_t(cps.size())}}, next;
  MatchData md;
  for (size_t k = 0; k < impl_->codes.size(); ++k) {
    next.clear();
    for (Piece p : pieces) {
      if (p.end - p.begin == 1)  // one character stays one piece, matched or not
        next.push_back(p);
      else
        split_piece(impl_->codes[k], impl_->jit[k], subject, p, md.md, [&](Piece q) {
          next.push_back(q);
          return true;
        });
    }
    pieces.swap(next);
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

bool PreTokenizer::for_each_piece(const std::vector<uint32_t>& cps, const std::function<bool(Piece)>& each) const {
  if (cps.empty()) return true;
  const bool has_surrogate = std::any_of(cps.begin(), cps.end(), [](uint32_t c) { return c >= 0xD800 && c <= 0xDFFF; });
  if (impl_->codes.size() != 1 || has_surrogate) {
    // Later regexes split what earlier ones left: the whole split comes first.
    std::vector<Piece> pieces;
    split(cps, pieces);
    for (Piece p : pieces)
      if (!each(p)) return false;
    return true;
  }
  // One regex: its pieces are final as they are found, so the caller can stop early.
  MatchData md;
  return split_piece(impl_->codes[0], impl_->jit[0], cps.data(), Piece{0, uint32_t(cps.size())}, md.md, each);
}

}  // namespace lcte::tokenizer
