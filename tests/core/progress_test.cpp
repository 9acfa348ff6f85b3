// The progress reporter with a hand-driven clock: rate and ETA by hand, the
// terminal and plain formats, throttling, and no '\r' in plain mode.
#include "core/progress.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"

namespace lcte {
namespace {

struct Harness {
  double now = 100;  // an arbitrary origin: only differences matter
  std::vector<std::string> writes;
  Progress make(bool tty, std::string unit = "tensors", double interval = 5) {
    ProgressStyle s;
    s.label = "quantize";
    s.unit = std::move(unit);
    s.tty = tty;
    s.interval_s = interval;
    return Progress(
        s, [this](std::string_view t) { writes.emplace_back(t); }, [this] { return now; });
  }
};

TEST(Progress, RateAndEtaByHand) {
  Harness h;
  Progress p = h.make(false);
  p.start(40);
  EXPECT_EQ(p.rate(), 0);
  EXPECT_LT(p.eta_s(), 0);  // unknown before the first unit
  h.now += 4;
  p.update(10);
  // 10 units in 4 s: 2.5 units/s; 30 left: 12 s.
  EXPECT_DOUBLE_EQ(p.rate(), 2.5);
  EXPECT_DOUBLE_EQ(p.eta_s(), 12.0);
  h.now += 6;
  p.update(15);
  // 15 in 10 s: 1.5/s; 25 left: 16.67 s.
  EXPECT_DOUBLE_EQ(p.rate(), 1.5);
  EXPECT_NEAR(p.eta_s(), 25 / 1.5, 1e-12);
}

TEST(Progress, ResumedUnitsCountTowardsTheFractionNotTheRate) {
  Harness h;
  Progress p = h.make(false);
  p.start(100, 60);
  h.now += 8;
  p.update(70);
  // 10 new units in 8 s: 1.25/s; 30 left: 24 s.
  EXPECT_DOUBLE_EQ(p.rate(), 1.25);
  EXPECT_DOUBLE_EQ(p.eta_s(), 24.0);
  EXPECT_NE(p.line().find("70/100 tensors (70%)"), std::string::npos) << p.line();
}

TEST(Progress, PlainLinesEveryIntervalWithoutCarriageReturns) {
  Harness h;
  Progress p = h.make(false, "tensors", 5);
  p.start(10);
  for (int i = 1; i <= 10; ++i) {
    h.now += 1;
    p.update(static_cast<uint64_t>(i), "blk." + std::to_string(i));
  }
  // Updates at t = 1..10 s; a line when 5 s have passed since the last (t =
  // 5), and the final line when the total is reached (t = 10), once.
  ASSERT_EQ(h.writes.size(), 2u);
  EXPECT_EQ(h.writes[0], "quantize: 5/10 tensors (50%), 1.00 tensors/s, elapsed 0:05, ETA 0:05, blk.5\n");
  EXPECT_EQ(h.writes[1], "quantize: 10/10 tensors (100%), 1.00 tensors/s, elapsed 0:10, blk.10\n");
  p.finish();
  ASSERT_EQ(h.writes.size(), 2u);
  for (const std::string& w : h.writes) {
    EXPECT_EQ(w.find('\r'), std::string::npos);
    EXPECT_EQ(w.find('\x1b'), std::string::npos);
    EXPECT_EQ(w.back(), '\n');
    EXPECT_EQ(w.find('\n'), w.size() - 1);  // one line per write
  }
  p.update(10);  // after the end: ignored
  EXPECT_EQ(h.writes.size(), 2u);
}

TEST(Progress, TerminalRedrawsOneLineAndEndsIt) {
  Harness h;
  Progress p = h.make(true);
  p.start(4);
  h.now += 2;
  p.update(1, "a-long-tensor-name");
  h.now += 2;
  p.update(2);
  ASSERT_EQ(h.writes.size(), 2u);
  // 1 of 4 after 2 s: 0.5/s, 3 left: 6 s. The bar is 20 wide, a quarter filled.
  EXPECT_EQ(h.writes[0],
            "\rquantize [#####...............] 1/4 tensors  25%  0.50 tensors/s  ETA 0:06  a-long-tensor-name");
  // The shorter line that follows blanks what is left of the longer one.
  const std::string second = "quantize [##########..........] 2/4 tensors  50%  0.50 tensors/s  ETA 0:04";
  EXPECT_EQ(h.writes[1], "\r" + second + std::string(h.writes[0].size() - 1 - second.size(), ' '));
  EXPECT_EQ(h.writes[1].find('\n'), std::string::npos);
  h.now += 4;
  p.update(4);  // the total: the final line, ended
  EXPECT_EQ(h.writes.size(), 3u);
  p.finish();
  EXPECT_EQ(h.writes.size(), 3u);
  EXPECT_EQ(h.writes.back().front(), '\r');
  EXPECT_EQ(h.writes.back().back(), '\n');
  EXPECT_NE(h.writes.back().find("4/4 tensors 100%  0.50 tensors/s  in 0:08"), std::string::npos) << h.writes.back();
}

TEST(Progress, TerminalThrottlesRedraws) {
  Harness h;
  Progress p = h.make(true);
  p.start(2000);
  for (int i = 1; i <= 1000; ++i) {
    h.now += 0.001;  // 1000 updates over 1 s
    p.update(static_cast<uint64_t>(i));
  }
  // At most one redraw per 0.1 s: 10 (floating-point steps may land one either side).
  EXPECT_GE(h.writes.size(), 9u);
  EXPECT_LE(h.writes.size(), 11u);
}

TEST(Progress, ClearLineBlanksTheTerminalLineAndTheNextUpdateRedraws) {
  Harness h;
  Progress p = h.make(true);
  p.start(10);
  h.now += 1;
  p.update(1);
  ASSERT_EQ(h.writes.size(), 1u);
  p.clear_line();
  ASSERT_EQ(h.writes.size(), 2u);
  EXPECT_EQ(h.writes[1], "\r" + std::string(h.writes[0].size() - 1, ' ') + "\r");
  p.update(2);  // no time has passed, yet it redraws
  ASSERT_EQ(h.writes.size(), 3u);
  EXPECT_EQ(h.writes[2].substr(0, 9), "\rquantize");

  Harness plain;
  Progress q = plain.make(false);
  q.start(10);
  q.clear_line();
  EXPECT_TRUE(plain.writes.empty());
}

TEST(Progress, BytesShowAsMebibytes) {
  Harness h;
  Progress p = h.make(false, "bytes");
  p.start(8u << 20);
  h.now += 2;
  p.update(2u << 20);
  // 2 MiB in 2 s: 1 MiB/s; 6 MiB left: 6 s.
  EXPECT_EQ(p.line(), "quantize: 2.0/8.0 MiB (25%), 1.00 MiB/s, elapsed 0:02, ETA 0:06");
}

TEST(Progress, UnknownTotalHasNoPercentOrEta) {
  Harness h;
  Progress p = h.make(false, "steps");
  p.start(0);
  h.now += 10;
  p.update(25);
  EXPECT_EQ(p.line(), "quantize: 25 steps, 2.50 steps/s, elapsed 0:10");
}

TEST(Progress, TerminalLineIsCutToTheWidth) {
  double now = 0;
  std::vector<std::string> writes;
  ProgressStyle s;
  s.label = "kld";
  s.unit = "chunks";
  s.tty = true;
  s.width = 30;
  Progress p(
      s, [&](std::string_view t) { writes.emplace_back(t); }, [&] { return now; });
  p.start(10);
  now = 1;
  p.update(1, "with a detail far too long for the terminal");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].size(), 1u + 29u);
}

TEST(ProgressFeed, OneLinePerTaskEndedAtItsTotal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ::setenv("LCTE_PROGRESS_INTERVAL", "0", 1);
  {
    ProgressFeed feed(f, "  ");
    feed({"quantize:a:Q8_0", "bytes", 0, 4u << 20, 0, ""});
    feed({"quantize:a:Q8_0", "bytes", 4u << 20, 4u << 20, 0, "output.weight"});
    feed({"eval:a:suite", "samples", 3, 10, 3, "passed 2"});
    feed({"eval:a:suite", "samples", 4, 10, 3, "passed 3"});
    feed.finish();
    feed.finish();  // twice: nothing more
  }
  ::unsetenv("LCTE_PROGRESS_INTERVAL");
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  std::fclose(f);
  std::vector<std::string> lines;
  for (size_t a = 0, b; (b = text.find('\n', a)) != std::string::npos; a = b + 1)
    lines.push_back(text.substr(a, b - a));
  // With no interval every event is a line: the start, the total, then the
  // resumed eval and one more sample, and finish() repeating its last state.
  ASSERT_EQ(lines.size(), 5u) << text;
  EXPECT_EQ(lines[0].rfind("  quantize:a:Q8_0: 0.0/4.0 MiB (0%)", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("  quantize:a:Q8_0: 4.0/4.0 MiB (100%)", 0), 0u) << lines[1];
  EXPECT_EQ(lines[1].find("ETA"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2].rfind("  eval:a:suite: 3/10 samples (30%)", 0), 0u) << lines[2];  // 3 already done
  EXPECT_EQ(lines[3].rfind("  eval:a:suite: 4/10 samples (40%)", 0), 0u) << lines[3];
  EXPECT_NE(lines[3].find("ETA"), std::string::npos) << lines[3];
  EXPECT_EQ(lines[4].rfind("  eval:a:suite: 4/10 samples (40%)", 0), 0u) << lines[4];
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(7.4), "0:07");
  EXPECT_EQ(format_duration(754), "12:34");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(1.0 / 0.0), "?");
}

TEST(Progress, IntervalFromTheEnvironment) {
  ::setenv("LCTE_PROGRESS_INTERVAL", "soon", 1);
  EXPECT_THROW(Progress::to_stream(stderr, "x", "items"), Error);
  ::setenv("LCTE_PROGRESS_INTERVAL", "-1", 1);
  EXPECT_THROW(Progress::to_stream(stderr, "x", "items"), Error);
  ::setenv("LCTE_PROGRESS_INTERVAL", "0", 1);
  EXPECT_NO_THROW(Progress::to_stream(stderr, "x", "items"));
  ::unsetenv("LCTE_PROGRESS_INTERVAL");
}

TEST(Progress, PlainModeOnAFile) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ::setenv("LCTE_PROGRESS_INTERVAL", "0", 1);
  Progress p = Progress::to_stream(f, "imatrix", "chunks");
  ::unsetenv("LCTE_PROGRESS_INTERVAL");
  p.start(3);
  for (uint64_t i = 1; i <= 3; ++i) p.update(i);
  p.finish();
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  std::fclose(f);
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_NE(text.find("imatrix: 1/3 chunks (33%)"), std::string::npos) << text;
  EXPECT_NE(text.find("imatrix: 3/3 chunks (100%)"), std::string::npos) << text;
}

}  // namespace
}  // namespace lcte
