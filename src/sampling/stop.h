// Stop strings for streaming generation.
//
// The engine decodes one token at a time into a text piece and feeds it here.
// The matcher answers with the text that is safe to show now and keeps back
//   - the longest tail that is the beginning of some stop string (it may yet
//     become a stop, so it must not be shown), and
//   - an incomplete UTF-8 character at the end (a token can end half-way
//     through a multi-byte character; showing half of it prints garbage).
// When a stop string appears, the matcher reports it with the text before it
// and emits nothing more. The result does not depend on how the text was cut
// into pieces: among several stops it picks the one whose occurrence ends
// first (the one a byte-by-byte stream would see first), and among those
// ending at the same byte, the one starting first (the longer one).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::sampling {

struct StopResult {
  std::string text;      // new text that may be shown now
  bool stopped = false;  // a stop string matched; `text` ends right before it
  int stop_index = -1;   // which stop string (index into the list), when stopped
};

class StopMatcher {
 public:
  // An empty stop string throws lcte::Error (it would match everywhere).
  explicit StopMatcher(std::vector<std::string> stops);

  // Feeds the next piece of generated text. After a stop, further pieces are
  // ignored and the result stays {"", true, index}.
  StopResult feed(std::string_view piece);

  // End of generation without a stop (EOS, length limit): returns the text
  // held back, as raw bytes, even if it ends in an incomplete UTF-8 character.
  std::string finish();

  bool stopped() const { return stop_index_ >= 0; }
  int stop_index() const { return stop_index_; }
  // Everything emitted so far (by feed and finish): the generated text up to
  // and excluding the stop string.
  const std::string& output() const { return output_; }
  // Bytes currently held back.
  size_t held() const { return held_.size(); }
  const std::vector<std::string>& stops() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  std::string output_;
  int stop_index_ = -1;
};

// Length of the longest suffix of `text` that is a proper prefix of one of
// `stops` (0 if none).
size_t stop_prefix_tail(std::string_view text, const std::vector<std::string>& stops);

// The largest end <= `end` such that text[0, end) does not finish with an
// incomplete (but so far well-formed) UTF-8 sequence. Invalid bytes are not
// held: they would never complete.
size_t utf8_complete_end(std::string_view text, size_t end);

}  // namespace lcte::sampling
