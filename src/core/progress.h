// Progress of a long command, for the CLI: units done of a total, the rate,
// the time left. On a terminal it is one line redrawn with '\r'; on anything
// else (a log file, a pipe) it is a plain line every few seconds, with no
// '\r' and no escape codes, so a log reads line by line.
//
// Library code never prints: it reports counts through a callback, and the
// CLI feeds them to a Progress (see docs/commands.md, "Progress").
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace lcte {

// Seconds on a monotonic clock. Tests inject their own.
using MonotonicClock = std::function<double()>;
double steady_seconds();

// "0:07", "12:34", "1:02:03"; "?" for a negative, infinite or NaN value.
std::string format_duration(double seconds);

struct ProgressStyle {
  std::string label;            // what is running: "quantize", "kld"
  std::string unit = "items";   // "tensors", "chunks", "samples"; "bytes" shows MiB
  bool tty = false;             // redraw one line (a terminal) or print plain lines
  double interval_s = 5;        // plain lines: seconds between two lines
  double tty_interval_s = 0.1;  // terminal: the most redraws per second is its inverse
  size_t width = 0;             // terminal: the line is cut to width - 1 columns; 0: not cut
};

// What library code reports (it never prints): units of a task done of a
// total. The CLI draws the events with a ProgressFeed.
struct ProgressEvent {
  std::string task;  // "quantize:teacher:Q8_0", "train teacher"
  std::string unit;  // as ProgressStyle::unit
  uint64_t done = 0, total = 0;
  uint64_t already_done = 0;  // done before this process (a resumed run): not in the rate
  std::string detail;
};
using ProgressCallback = std::function<void(const ProgressEvent&)>;

// Not thread-safe: callers that report from several threads hold a lock.
class Progress {
 public:
  using Write = std::function<void(std::string_view)>;

  Progress(ProgressStyle style, Write write, MonotonicClock clock = steady_seconds);

  // Writing to `stream`: a terminal when isatty() says so (its width from
  // the terminal), the plain interval from $LCTE_PROGRESS_INTERVAL (seconds,
  // default 5). Throws lcte::Error when that variable is not a number >= 0.
  static Progress to_stream(std::FILE* stream, std::string label, std::string unit);

  // (Re)starts the clock. `already_done` units were done before (a resumed
  // run): they count towards the fraction but not towards the rate.
  void start(uint64_t total, uint64_t already_done = 0);
  // Records `done` units; writes a line when the interval has passed, and
  // the final line (as finish()) when `done` reaches the total.
  void update(uint64_t done, std::string_view detail = {});
  // Writes the final line (always), ending the terminal line with '\n'.
  // Further updates are ignored until the next start().
  void finish(std::string_view detail = {});

  // Terminal: blanks the drawn line so that another message can be printed
  // on a clean line; the next update draws it again. Plain: does nothing.
  void clear_line();

  bool started() const { return started_; }
  bool tty() const { return style_.tty; }
  uint64_t done() const { return done_; }
  uint64_t total() const { return total_; }
  double elapsed_s() const;
  // Units per second over the units done since start() (0 before the first).
  double rate() const;
  // Seconds left at the current rate; negative when unknown (no rate, no total).
  double eta_s() const;
  // The line as it would be written now, without '\r' or '\n'.
  std::string line() const;

 private:
  void write_line(bool final);

  ProgressStyle style_;
  Write write_;
  MonotonicClock clock_;
  bool started_ = false, finished_ = false;
  uint64_t total_ = 0, base_ = 0, done_ = 0;
  double t0_ = 0, last_write_ = 0;
  std::string detail_;
  size_t drawn_ = 0;  // terminal: length of the line on screen, to blank what a shorter one leaves
};

// Draws ProgressEvents on a stream (as Progress::to_stream), one line per
// task: the first event of a task starts its line (and ends the previous
// task's), the event that reaches its total ends it.
class ProgressFeed {
 public:
  explicit ProgressFeed(std::FILE* stream, std::string prefix = "");
  void operator()(const ProgressEvent& e);
  // Ends the line of the task in progress, if any.
  void finish();

 private:
  std::FILE* stream_;
  std::string prefix_, task_;
  std::unique_ptr<Progress> current_;
};

}  // namespace lcte
