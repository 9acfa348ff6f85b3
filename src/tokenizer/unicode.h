// Unicode helpers for the tokenizers: UTF-8 decoding that treats bad input the
// way llama.cpp does, code point categories, lowercase and NFD tables, and the
// GPT-2 byte <-> character mapping used by byte-level BPE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::tokenizer {

// General category of a code point, one bit per major class (\p{N}, \p{L}...).
enum CpFlags : uint8_t {
  kCpNumber = 1 << 0,
  kCpLetter = 1 << 1,
  kCpSeparator = 1 << 2,
  kCpMark = 1 << 3,
  kCpPunctuation = 1 << 4,
  kCpSymbol = 1 << 5,
  kCpControl = 1 << 6,  // Cc, Cf, Cs, Co and unassigned (Cn)
};

constexpr uint32_t kReplacementChar = 0xFFFD;
constexpr uint32_t kMaxCodePoint = 0x10FFFF;

namespace unicode_data {
struct FlagRange {
  uint32_t start;
  uint8_t flags;
};
struct CpPair {
  uint32_t cp, to;
};
struct NfdRange {
  uint32_t first, last, nfd;
};
extern const FlagRange kFlagRanges[];
extern const size_t kFlagRangeCount;
extern const CpPair kLowercase[];
extern const size_t kLowercaseCount;
extern const NfdRange kNfdRanges[];
extern const size_t kNfdRangeCount;
}  // namespace unicode_data

// Category bits of `cp`; 0 above U+10FFFF.
uint8_t cp_flags(uint32_t cp);
// The Unicode White_Space property (25 code points).
bool cp_is_whitespace(uint32_t cp);
// First code point of the full lowercase mapping (what Python's str.lower gives).
uint32_t cp_to_lower(uint32_t cp);
// First code point of the canonical decomposition: accents are dropped.
uint32_t cp_nfd_first(uint32_t cp);

// Bytes in a UTF-8 sequence, from its first byte's high nibble (1 for a stray
// continuation byte), as llama.cpp splits text into symbols.
inline size_t utf8_seq_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes UTF-8 leniently, as llama.cpp does: overlong forms and surrogates are
// accepted; a byte that does not start a complete sequence becomes U+FFFD and
// decoding resumes at the next byte. (Sequences above U+10FFFF, which
// llama.cpp would reject with an exception later, also become U+FFFD here.)
std::vector<uint32_t> decode_utf8(std::string_view text);
// Strict UTF-8 (Unicode's Table 3-7: no overlong forms, no surrogates,
// nothing above U+10FFFF). Decodes all of `text` into `cps`, with
// `offsets[i]` the byte where cps[i] starts and a final entry text.size();
// false (outputs incomplete) at the first ill-formed sequence.
bool decode_utf8_strict(std::string_view text, std::vector<uint32_t>& cps, std::vector<uint32_t>& offsets);
// `text` with every maximal ill-formed subsequence replaced by U+FFFD, as
// Python's errors="replace" and the WHATWG decoder do.
std::string replace_invalid_utf8(std::string_view text);
// Appends the UTF-8 form of cp (surrogates are written as three bytes).
void append_utf8(std::string& out, uint32_t cp);
std::string cp_to_utf8(uint32_t cp);

// GPT-2's byte-level alphabet: every byte has a printable stand-in character
// (printable Latin-1 bytes stand for themselves, the others map to U+0100...).
uint32_t byte_to_cp(uint8_t byte);
// The byte a stand-in character represents, or -1 when cp is not one.
int cp_to_byte(uint32_t cp);

}  // namespace lcte::tokenizer
