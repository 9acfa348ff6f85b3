// The streaming stop-string matcher: what it emits, what it holds back, and
// that the outcome does not depend on how the text is cut into pieces.
#include "sampling/stop.h"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace lcte::sampling {
namespace {

// Feeds the pieces; returns the concatenated emitted text, and whether and
// which stop matched (finish() is called when none did).
struct Outcome {
  std::string text;
  int stop = -1;
  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) { *os << "{\"" << o.text << "\", stop " << o.stop << "}"; }

Outcome run(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Outcome o;
  for (const std::string& p : pieces) {
    const StopResult r = m.feed(p);
    o.text += r.text;
    if (r.stopped) {
      o.stop = r.stop_index;
      EXPECT_EQ(m.output(), o.text);
      return o;
    }
  }
  o.text += m.finish();
  EXPECT_EQ(m.output(), o.text);
  return o;
}

std::vector<std::string> bytes_of(const std::string& s) {
  std::vector<std::string> v;
  for (char c : s) v.emplace_back(1, c);
  return v;
}

TEST(StopMatcher, NoStopPassesEverythingThrough) {
  StopMatcher m({"</s>"});
  EXPECT_EQ(m.feed("hello ").text, "hello ");
  EXPECT_EQ(m.feed("world").text, "world");
  EXPECT_EQ(m.finish(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopInsideOnePiece) {
  StopMatcher m({"\ndef "});
  const StopResult r = m.feed("return x\ndef foo():");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop_index, 0);
  EXPECT_EQ(r.text, "return x");
  EXPECT_EQ(m.output(), "return x");
  // Nothing after the stop gets out.
  const StopResult after = m.feed("more");
  EXPECT_TRUE(after.stopped);
  EXPECT_EQ(after.text, "");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, StopSpanningPiecesIsHeldThenDropped) {
  StopMatcher m({"<|im_end|>"});
  StopResult r = m.feed("x = 1<|im");
  EXPECT_EQ(r.text, "x = 1");  // "<|im" could begin the stop
  EXPECT_EQ(m.held(), 4u);
  r = m.feed("_en");
  EXPECT_EQ(r.text, "");
  r = m.feed("d|>tail");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(m.output(), "x = 1");
}

TEST(StopMatcher, FalseStartIsReleased) {
  StopMatcher m({"<|im_end|>"});
  EXPECT_EQ(m.feed("a <|i").text, "a ");
  EXPECT_EQ(m.feed("s").text, "<|is");  // no longer a prefix of the stop
  EXPECT_EQ(m.feed("<").text, "");
  EXPECT_EQ(m.finish(), "<");  // end of stream: held text comes out
}

// "abc" in "ababc": after "aba" the tail "a" is held, "ab" of the first try is
// released, and the stop is found at offset 2.
TEST(StopMatcher, OverlappingPrefix) {
  EXPECT_EQ(run({"abc"}, {"ababc"}), (Outcome{"ab", 0}));
  EXPECT_EQ(run({"abc"}, bytes_of("ababc")), (Outcome{"ab", 0}));
  StopMatcher m({"abc"});
  EXPECT_EQ(m.feed("a").text, "");
  EXPECT_EQ(m.feed("b").text, "");
  EXPECT_EQ(m.feed("a").text, "ab");
  EXPECT_EQ(m.feed("b").text, "");
  const StopResult r = m.feed("c");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(m.output(), "ab");
  // Self-overlapping stop: "aab" in "aaab".
  EXPECT_EQ(run({"aab"}, bytes_of("aaaab!")), (Outcome{"aa", 0}));
}

TEST(StopMatcher, SeveralStopsFirstToEndWins) {
  // "\n\n" ends before "\nclass" could: it wins.
  EXPECT_EQ(run({"\nclass", "\n\n"}, {"x\n\nclass"}), (Outcome{"x", 1}));
  // Same end: the longer (earlier-starting) one.
  EXPECT_EQ(run({"c", "abc"}, {"xxabcyy"}), (Outcome{"xx", 1}));
  EXPECT_EQ(run({"bc", "abc"}, {"xxabcyy"}), (Outcome{"xx", 1}));
  // Byte-by-byte gives the same answers.
  EXPECT_EQ(run({"\nclass", "\n\n"}, bytes_of("x\n\nclass")), (Outcome{"x", 1}));
  EXPECT_EQ(run({"bc", "abc"}, bytes_of("xxabcyy")), (Outcome{"xx", 1}));
}

TEST(StopMatcher, IncompleteUtf8IsHeld) {
  // "é" is C3 A9, "€" is E2 82 AC, "😀" is F0 9F 98 80.
  StopMatcher m({});
  EXPECT_EQ(m.feed("caf\xC3").text, "caf");
  EXPECT_EQ(m.held(), 1u);
  EXPECT_EQ(m.feed("\xA9 ").text, "\xC3\xA9 ");
  EXPECT_EQ(m.feed("\xE2\x82").text, "");
  EXPECT_EQ(m.feed("\xAC").text, "\xE2\x82\xAC");
  EXPECT_EQ(m.feed("\xF0").text, "");
  EXPECT_EQ(m.feed("\x9F\x98").text, "");
  EXPECT_EQ(m.feed("\x80!").text, "\xF0\x9F\x98\x80!");
  EXPECT_EQ(m.output(), "caf\xC3\xA9 \xE2\x82\xAC\xF0\x9F\x98\x80!");
}

TEST(StopMatcher, InvalidBytesAreNotHeldForever) {
  StopMatcher m({});
  // A stray continuation byte and an impossible lead byte pass through.
  EXPECT_EQ(m.feed("a\x80").text, "a\x80");
  EXPECT_EQ(m.feed("\xFF").text, "\xFF");
  // A complete sequence followed by extra continuation bytes: not waiting for anything.
  EXPECT_EQ(m.feed("\xC3\xA9\xA9").text, "\xC3\xA9\xA9");
  // An incomplete character at the very end comes out raw from finish().
  EXPECT_EQ(m.feed("\xE2\x82").text, "");
  EXPECT_EQ(m.finish(), "\xE2\x82");
}

TEST(StopMatcher, Utf8StopStrings) {
  // A stop made of multi-byte characters, split inside a character.
  const std::string stop =
      "\xE2\x80\x94"
      "end";  // "—end"
  EXPECT_EQ(run({stop}, {"x \xE2", "\x80", "\x94", "e", "nd y"}), (Outcome{"x ", 0}));
  // A character that shares a first byte with the stop but is another character.
  EXPECT_EQ(run({stop}, {"x \xE2\x80", "\x93 y"}), (Outcome{"x \xE2\x80\x93 y", -1}));
}

TEST(StopMatcher, HoldNeverExceedsLongestStopPlusUtf8Tail) {
  StopMatcher m({"###", "\n\n\n"});
  for (int i = 0; i < 100; ++i) {
    m.feed(i % 2 ? "#" : "a#");
    EXPECT_LE(m.held(), 2u);
  }
}

// Random texts over a small alphabet (so stops and near-misses are common),
// cut at random places: the outcome equals the one for the whole text, and
// equals a direct search for the first stop to end.
TEST(StopMatcher, OutcomeIndependentOfPieceBoundaries) {
  const std::vector<std::string> stops{"aba", "bb",
                                       "\xC3\xA9"
                                       "a",
                                       "cab"};
  const std::vector<std::string> alphabet{"a", "b", "c", "\xC3\xA9"};
  std::mt19937_64 rng(77);
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    const int len = static_cast<int>(rng() % 12);
    for (int i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    // Reference: the stop whose first occurrence ends first (ties: earlier start).
    Outcome expected{text, -1};
    size_t best_end = std::string::npos, best_begin = 0;
    for (size_t s = 0; s < stops.size(); ++s) {
      const size_t pos = text.find(stops[s]);
      if (pos == std::string::npos) continue;
      const size_t end = pos + stops[s].size();
      if (end < best_end || (end == best_end && pos < best_begin)) {
        best_end = end;
        best_begin = pos;
        expected = {text.substr(0, pos), static_cast<int>(s)};
      }
    }
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size();) {
      const size_t n = 1 + rng() % 4;
      pieces.push_back(text.substr(i, n));
      i += n;
    }
    EXPECT_EQ(run(stops, {text}), expected) << text;
    EXPECT_EQ(run(stops, pieces), expected) << text;
    EXPECT_EQ(run(stops, bytes_of(text)), expected) << text;
  }
}

TEST(StopMatcher, EmptyStopStringIsAnError) { EXPECT_THROW(StopMatcher({"ok", ""}), Error); }

TEST(StopMatcher, HelperFunctions) {
  EXPECT_EQ(stop_prefix_tail("xxab", {"abc"}), 2u);
  EXPECT_EQ(stop_prefix_tail("xxabc", {"abc"}), 0u);  // a whole stop is a match, not a prefix
  EXPECT_EQ(stop_prefix_tail("xa", {"abc", "xab"}), 2u);
  EXPECT_EQ(stop_prefix_tail("", {"abc"}), 0u);
  EXPECT_EQ(utf8_complete_end("ab\xE2\x82", 4), 2u);
  EXPECT_EQ(utf8_complete_end("ab\xE2\x82\xAC", 5), 5u);
  EXPECT_EQ(utf8_complete_end("ab\xE2\x82\xAC", 4), 2u);
  EXPECT_EQ(utf8_complete_end("\x80\x80\x80\x80\x80", 5), 5u);
}

}  // namespace
}  // namespace lcte::sampling
