#include "tokenizer/tiktoken.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/sha256.h"
#include "data/datasets.h"

namespace lcte::tokenizer {

namespace {

// Patterns as in the npm package tiktoken 1.0.22 (encoders/<name>.json, pat_str).
constexpr std::string_view kR50kPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kCl100kPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kO200kPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kSuffix = ".tiktoken";

// Standard base64 with padding, as tiktoken's files use; -1 for any other byte.
int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes `in` into `out`; false when it is not canonical padded base64.
bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && in[in.size() - 1 - pad] == '=') ++pad;
  const size_t n = in.size() - pad;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    int v = base64_value(static_cast<unsigned char>(in[i]));
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero padding.
  return (acc & ((1u << bits) - 1)) == 0;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

uint32_t tiktoken_match_cp(uint32_t cp) {
  using tiktoken_unicode::kStandIns;
  const auto* end = kStandIns + tiktoken_unicode::kStandInCount;
  if (cp < kStandIns[0].first) return cp;
  const auto* it = std::upper_bound(kStandIns, end, cp,
                                    [](uint32_t c, const tiktoken_unicode::CpStandIn& r) { return c < r.first; });
  --it;
  return cp <= it->last ? it->stand_in : cp;
}

const std::vector<TiktokenEncoding>& tiktoken_encodings() {
  static const std::vector<TiktokenEncoding> encodings = {
      {"cl100k_base",
       std::string(kCl100kPattern),
       {{"<|endoftext|>", 100257},
        {"<|fim_prefix|>", 100258},
        {"<|fim_middle|>", 100259},
        {"<|fim_suffix|>", 100260},
        {"<|endofprompt|>", 100276}}},
      {"o200k_base", std::string(kO200kPattern), {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}},
      {"p50k_base", std::string(kR50kPattern), {{"<|endoftext|>", 50256}}},
      {"r50k_base", std::string(kR50kPattern), {{"<|endoftext|>", 50256}}},
  };
  return encodings;
}

const TiktokenEncoding* find_tiktoken_encoding(std::string_view name) {
  for (const TiktokenEncoding& e : tiktoken_encodings())
    if (e.name == name) return &e;
  return nullptr;
}

const TiktokenEncoding& tiktoken_encoding_of_file(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  if (ends_with(stem, kSuffix)) stem.resize(stem.size() - kSuffix.size());
  if (const TiktokenEncoding* e = find_tiktoken_encoding(stem)) return *e;
  // Renamed: the published files are identified by their content.
  const std::string sum = sha256_file_hex(path);
  for (const TiktokenEncoding& e : tiktoken_encodings()) {
    const data::DatasetFile* file = data::find_dataset(e.name);
    if (file != nullptr && file->sha256 == sum) return e;
  }
  std::string names;
  for (const TiktokenEncoding& e : tiktoken_encodings()) names += (names.empty() ? "" : ", ") + e.name;
  fail(
      "{}: not a known tiktoken encoding: the file name is none of {} and its sha256 {} is not that of a published "
      "rank file",
      path, names, sum);
}

VocabData vocab_data_from_tiktoken(const std::string& path, const TiktokenEncoding& encoding) {
  MappedFile file(path);
  const std::string_view content(reinterpret_cast<const char*>(file.data()), file.size());

  std::vector<std::string> by_rank;
  std::vector<bool> is_set;
  std::string bytes;
  size_t line_no = 0;
  for (size_t pos = 0; pos < content.size();) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string_view::npos) eol = content.size();
    std::string_view line = content.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;  // tiktoken's loader skips empty lines
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos || line.find(' ', sp + 1) != std::string_view::npos)
      fail("{}:{}: expected 'base64 rank', got '{}'", path, line_no, line.substr(0, 80));
    if (!base64_decode(line.substr(0, sp), bytes)) fail("{}:{}: '{}' is not base64", path, line_no, line.substr(0, sp));
    const std::string_view rank_text = line.substr(sp + 1);
    uint32_t rank = 0;
    auto [end, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
    if (ec != std::errc() || end != rank_text.data() + rank_text.size() || rank >= (1u << 24))
      fail("{}:{}: rank '{}' is not an integer below 2^24", path, line_no, rank_text);
    if (rank >= by_rank.size()) {
      by_rank.resize(size_t(rank) + 1);
      is_set.resize(size_t(rank) + 1, false);
    }
    if (is_set[rank]) fail("{}:{}: rank {} is given twice", path, line_no, rank);
    by_rank[rank] = bytes;
    is_set[rank] = true;
  }
  if (by_rank.empty()) fail("{}: no tokens", path);

  VocabData d;
  d.model = "tiktoken";
  d.pre = encoding.name;
  d.name = encoding.name;
  size_t n = by_rank.size();
  for (const auto& [text, id] : encoding.special_tokens) n = std::max(n, size_t(id) + 1);
  d.tokens.resize(n);
  d.token_types.assign(n, int32_t(TokenType::kUnused));
  for (size_t i = 0; i < by_rank.size(); ++i) {
    if (!is_set[i]) continue;
    d.tokens[i] = std::move(by_rank[i]);
    d.token_types[i] = int32_t(TokenType::kNormal);
  }
  for (const auto& [text, id] : encoding.special_tokens) {
    if (d.token_types[size_t(id)] != int32_t(TokenType::kUnused))
      fail("{}: rank {} is an ordinary token, but {} uses it for {}", path, id, encoding.name, text);
    d.tokens[size_t(id)] = text;
    d.token_types[size_t(id)] = int32_t(TokenType::kControl);
  }
  // Ids no token uses get a text of their own, so that every text stays unique;
  // they are unused tokens, which never match and print as nothing.
  for (size_t i = 0; i < n; ++i)
    if (d.token_types[i] == int32_t(TokenType::kUnused)) d.tokens[i] = "<|unused rank " + std::to_string(i) + "|>";
  return d;
}

Vocab load_vocab_from_tiktoken(const std::string& path) {
  return Vocab(vocab_data_from_tiktoken(path, tiktoken_encoding_of_file(path)), path);
}

std::string find_tiktoken_file(std::string_view name) {
  const data::DatasetFile* file = data::find_dataset(name);
  if (file == nullptr || find_tiktoken_encoding(name) == nullptr)
    fail("{} is not a tiktoken encoding lcte knows", name);
  std::string looked;
  std::string path = data::find_local_dataset(*file, data::default_dataset_locations(), &looked);
  if (path.empty())
    fail("tiktoken encoding {}: {} not found (looked in {}); run `lcte data fetch {}` or set LCTE_DATA_DIR", name,
         file->relative_path, looked, name);
  return path;
}

}  // namespace lcte::tokenizer
