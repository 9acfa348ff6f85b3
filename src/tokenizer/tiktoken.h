// OpenAI's tiktoken encodings (cl100k_base, o200k_base, p50k_base, r50k_base)
// as lcte vocabularies. A `.tiktoken` rank file holds the ordinary tokens, one
// `base64(token bytes) rank` per line; the rank is the token id and the merge
// priority. The pre-tokenizer pattern and the special tokens are not in the
// file: they belong to the encoding, and are those of the npm package
// `tiktoken` 1.0.22 (encoders/*.json), the reference the tests compare with.
//
// Encoding is byte-level BPE by rank on the raw UTF-8 bytes of each piece the
// pattern cuts out: a piece that is a token as a whole is that token; other
// pieces start as single bytes and repeatedly join the adjacent pair whose
// joined bytes have the lowest rank (ties: the leftmost), as tiktoken's
// byte_pair_merge does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/vocab.h"

namespace lcte::tokenizer {

struct TiktokenEncoding {
  std::string name;     // "cl100k_base"; also the data registry's name of its rank file
  std::string pattern;  // pre-tokenizer regex (tiktoken's pat_str)
  std::vector<std::pair<std::string, Token>> special_tokens;
};

// The patterns run on PCRE2, whose Unicode tables are 14.0; the official
// tiktoken's are 16.0. The few code points whose class (as the patterns see
// it: Lu, Ll, Lt, Lm, Lo, M, N or none) differs are matched as a stand-in of
// their 16.0 class (generated table, tiktoken_unicode.cpp).
namespace tiktoken_unicode {
struct CpStandIn {
  uint32_t first, last, stand_in;
};
extern const CpStandIn kStandIns[];
extern const size_t kStandInCount;
}  // namespace tiktoken_unicode
// `cp`, or its stand-in when Unicode 16.0 classes it otherwise than 14.0.
uint32_t tiktoken_match_cp(uint32_t cp);

// The encodings lcte knows, and one of them by name (nullptr when unknown).
const std::vector<TiktokenEncoding>& tiktoken_encodings();
const TiktokenEncoding* find_tiktoken_encoding(std::string_view name);

// Which encoding a rank file holds: the one its file name (without
// `.tiktoken`) names, else the one whose published sha256 its content has.
// Throws lcte::Error naming the file when neither says.
const TiktokenEncoding& tiktoken_encoding_of_file(const std::string& path);

// Parses a rank file for `encoding`: ordinary tokens at their ranks, special
// tokens as control tokens, ids that neither uses as unused tokens. Throws
// lcte::Error naming the file and line for bad base64, a bad rank, a rank or
// token given twice, or a byte without a token.
VocabData vocab_data_from_tiktoken(const std::string& path, const TiktokenEncoding& encoding);
Vocab load_vocab_from_tiktoken(const std::string& path);

// Where the rank file of the encoding called `name` is on this machine: the
// data directories (LCTE_DATA_DIR, ../shared/data, shared/data), then the
// user's cache (verified). Throws lcte::Error saying where it looked and how
// to fetch it when it is in none.
std::string find_tiktoken_file(std::string_view name);

}  // namespace lcte::tokenizer
