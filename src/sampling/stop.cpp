#include "sampling/stop.h"

#include <algorithm>

#include "core/error.h"

namespace lcte::sampling {

namespace {

bool is_continuation(unsigned char b) { return (b & 0xC0u) == 0x80u; }

// Bytes in the sequence a lead byte starts; 0 for bytes that cannot start one
// (continuations, C0/C1 overlong leads, F5..FF beyond U+10FFFF).
size_t sequence_length(unsigned char b) {
  if (b < 0x80u) return 1;
  if (b >= 0xC2u && b <= 0xDFu) return 2;
  if (b >= 0xE0u && b <= 0xEFu) return 3;
  if (b >= 0xF0u && b <= 0xF4u) return 4;
  return 0;
}

struct Match {
  size_t begin = std::string::npos;
  size_t end = std::string::npos;
  int index = -1;
};

// The stop occurrence a byte-by-byte stream would see first: the earliest
// end, and among equal ends the earliest begin.
Match first_match(std::string_view text, const std::vector<std::string>& stops) {
  Match best;
  for (size_t i = 0; i < stops.size(); ++i) {
    const size_t pos = text.find(stops[i]);
    if (pos == std::string_view::npos) continue;
    const size_t end = pos + stops[i].size();
    if (best.index < 0 || end < best.end || (end == best.end && pos < best.begin))
      best = {pos, end, static_cast<int>(i)};
  }
  return best;
}

}  // namespace

size_t stop_prefix_tail(std::string_view text, const std::vector<std::string>& stops) {
  size_t longest = 0;
  for (const std::string& stop : stops) {
    const size_t max_len = std::min(stop.size() - 1, text.size());
    for (size_t len = max_len; len > longest; --len) {
      if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

size_t utf8_complete_end(std::string_view text, size_t end) {
  // Walk back over at most three continuation bytes to the lead byte.
  size_t q = end;
  size_t continuations = 0;
  while (q > 0 && continuations < 4) {
    --q;
    const auto b = static_cast<unsigned char>(text[q]);
    if (!is_continuation(b)) {
      const size_t need = sequence_length(b);
      // Hold it only if it is a valid start still waiting for bytes.
      return need > 1 && continuations < need - 1 ? q : end;
    }
    ++continuations;
  }
  return end;
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (size_t i = 0; i < stops_.size(); ++i)
    if (stops_[i].empty()) fail("stop strings: stop string {} is empty", i);
}

StopResult StopMatcher::feed(std::string_view piece) {
  if (stopped()) return {"", true, stop_index_};
  held_.append(piece);

  const Match m = first_match(held_, stops_);
  if (m.index >= 0) {
    StopResult r{held_.substr(0, m.begin), true, m.index};
    stop_index_ = m.index;
    held_.clear();
    output_ += r.text;
    return r;
  }

  size_t emit_end = held_.size() - stop_prefix_tail(held_, stops_);
  emit_end = utf8_complete_end(held_, emit_end);
  StopResult r{held_.substr(0, emit_end), false, -1};
  held_.erase(0, emit_end);
  output_ += r.text;
  return r;
}

std::string StopMatcher::finish() {
  if (stopped()) return "";
  std::string rest = std::move(held_);
  held_.clear();
  output_ += rest;
  return rest;
}

}  // namespace lcte::sampling
