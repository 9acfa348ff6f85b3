#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace lcte::tokenizer {

uint8_t cp_flags(uint32_t cp) {
  if (cp > kMaxCodePoint) return 0;
  using unicode_data::kFlagRanges;
  const auto* end = kFlagRanges + unicode_data::kFlagRangeCount;
  // The last range starting at or before cp.
  const auto* it =
      std::upper_bound(kFlagRanges, end, cp, [](uint32_t c, const unicode_data::FlagRange& r) { return c < r.start; });
  return (it - 1)->flags;
}

bool cp_is_whitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return cp >= 0x2000 && cp <= 0x200A;
  }
}

uint32_t cp_to_lower(uint32_t cp) {
  using unicode_data::kLowercase;
  const auto* end = kLowercase + unicode_data::kLowercaseCount;
  const auto* it =
      std::lower_bound(kLowercase, end, cp, [](const unicode_data::CpPair& p, uint32_t c) { return p.cp < c; });
  return it != end && it->cp == cp ? it->to : cp;
}

uint32_t cp_nfd_first(uint32_t cp) {
  using unicode_data::kNfdRanges;
  const auto* end = kNfdRanges + unicode_data::kNfdRangeCount;
  const auto* it =
      std::upper_bound(kNfdRanges, end, cp, [](uint32_t c, const unicode_data::NfdRange& r) { return c < r.first; });
  if (it == kNfdRanges) return cp;
  --it;
  return cp <= it->last ? it->nfd : cp;
}

std::vector<uint32_t> decode_utf8(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  auto cont = [&](size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    uint8_t b = s[i];
    if (b < 0x80) {
      out.push_back(b);
      i += 1;
    } else if ((b & 0xE0) == 0xC0 && cont(i + 1)) {
      out.push_back((uint32_t(b & 0x1F) << 6) | (s[i + 1] & 0x3F));
      i += 2;
    } else if ((b & 0xF0) == 0xE0 && cont(i + 1) && cont(i + 2)) {
      out.push_back((uint32_t(b & 0x0F) << 12) | (uint32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F));
      i += 3;
    } else if ((b & 0xF8) == 0xF0 && cont(i + 1) && cont(i + 2) && cont(i + 3) &&
               ((uint32_t(b & 0x07) << 18) | (uint32_t(s[i + 1] & 0x3F) << 12)) <= kMaxCodePoint) {
      out.push_back((uint32_t(b & 0x07) << 18) | (uint32_t(s[i + 1] & 0x3F) << 12) | (uint32_t(s[i + 2] & 0x3F) << 6) |
                    (s[i + 3] & 0x3F));
      i += 4;
    } else {
      out.push_back(kReplacementChar);
      i += 1;
    }
  }
  return out;
}

namespace {

// The well-formed sequence at p (n > 0 bytes available): its length, with the
// code point in `cp`; or minus the length of the maximal ill-formed subpart
// there (at least 1), which one U+FFFD replaces.
int strict_sequence(const uint8_t* p, size_t n, uint32_t& cp) {
  const uint8_t b = p[0];
  if (b < 0x80) {
    cp = b;
    return 1;
  }
  int len = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2, cp = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3, cp = b & 0x0F;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4, cp = b & 0x07;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  for (int i = 1; i < len; ++i) {
    if (size_t(i) >= n) return -i;
    const uint8_t c = p[i];
    if (c < (i == 1 ? lo : 0x80) || c > (i == 1 ? hi : 0xBF)) return -i;
    cp = (cp << 6) | (c & 0x3F);
  }
  return len;
}

}  // namespace

bool decode_utf8_strict(std::string_view text, std::vector<uint32_t>& cps, std::vector<uint32_t>& offsets) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  cps.reserve(cps.size() + n);
  offsets.reserve(offsets.size() + n + 1);
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x80) {  // ASCII, the common case
      cps.push_back(s[i]);
      offsets.push_back(uint32_t(i));
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const int len = strict_sequence(s + i, n - i, cp);
    if (len < 0) return false;
    cps.push_back(cp);
    offsets.push_back(uint32_t(i));
    i += size_t(len);
  }
  offsets.push_back(uint32_t(n));
  return true;
}

std::string replace_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const int len = strict_sequence(s + i, text.size() - i, cp);
    if (len > 0) {
      out.append(text.substr(i, size_t(len)));
      i += size_t(len);
    } else {
      append_utf8(out, kReplacementChar);
      i += size_t(-len);
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp <= 0x7F) {
    out.push_back(static_cast<char>(cp));
  } else if (cp <= 0x7FF) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0xFFFF) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string cp_to_utf8(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

namespace {

bool byte_is_printable(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

struct ByteTables {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 512> from_cp{};  // stand-ins are all below U+0200
  ByteTables() {
    from_cp.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      to_cp[b] = byte_is_printable(b) ? uint32_t(b) : next++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& byte_tables() {
  static const ByteTables t;  // immutable after construction
  return t;
}

}  // namespace

uint32_t byte_to_cp(uint8_t byte) { return byte_tables().to_cp[byte]; }

int cp_to_byte(uint32_t cp) { return cp < 512 ? byte_tables().from_cp[cp] : -1; }

}  // namespace lcte::tokenizer
