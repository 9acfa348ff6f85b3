#include "core/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace lcte {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

bool in_bytes(const ProgressStyle& s) { return s.unit == "bytes"; }

std::string amount(const ProgressStyle& s, uint64_t n) {
  return in_bytes(s) ? fmt::format("{:.1f}", static_cast<double>(n) / kMiB) : std::to_string(n);
}

std::string rate_text(const ProgressStyle& s, double r) {
  if (in_bytes(s)) r /= kMiB;
  const std::string number = r >= 100  ? fmt::format("{:.0f}", r)
                             : r >= 10 ? fmt::format("{:.1f}", r)
                                       : fmt::format("{:.2f}", r);
  return number + " " + (in_bytes(s) ? "MiB" : s.unit) + "/s";
}

double interval_from_environment() {
  const char* text = std::getenv("LCTE_PROGRESS_INTERVAL");
  if (text == nullptr || *text == '\0') return 5;
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= 0) || !std::isfinite(v))
    fail("LCTE_PROGRESS_INTERVAL: '{}' is not a number of seconds >= 0", text);
  return v;
}

size_t terminal_width(int fd) {
  winsize w{};
  return ::ioctl(fd, TIOCGWINSZ, &w) == 0 ? w.ws_col : 0;
}

}  // namespace

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds) || seconds > 1e9) return "?";
  const long t = std::lround(seconds);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}:{:02}", t / 60, t % 60);
}

Progress::Progress(ProgressStyle style, Write write, MonotonicClock clock)
    : style_(std::move(style)), write_(std::move(write)), clock_(std::move(clock)) {}

Progress Progress::to_stream(std::FILE* stream, std::string label, std::string unit) {
  ProgressStyle s;
  s.label = std::move(label);
  s.unit = std::move(unit);
  const int fd = ::fileno(stream);
  s.tty = ::isatty(fd) != 0;
  if (s.tty) s.width = terminal_width(fd);
  s.interval_s = interval_from_environment();
  return Progress(std::move(s), [stream](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stream);
    std::fflush(stream);
  });
}

void Progress::start(uint64_t total, uint64_t already_done) {
  started_ = true;
  finished_ = false;
  total_ = total;
  base_ = already_done;
  done_ = already_done;
  detail_.clear();
  drawn_ = 0;
  t0_ = clock_();
  last_write_ = t0_;
}

double Progress::elapsed_s() const { return started_ ? std::max(0.0, clock_() - t0_) : 0; }

double Progress::rate() const {
  const double t = elapsed_s();
  return done_ > base_ && t > 0 ? static_cast<double>(done_ - base_) / t : 0;
}

double Progress::eta_s() const {
  const double r = rate();
  if (total_ == 0 || r <= 0) return -1;
  return static_cast<double>(total_ - std::min(done_, total_)) / r;
}

std::string Progress::line() const {
  const ProgressStyle& s = style_;
  const bool known = total_ > 0;
  const double fraction = known ? std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_)) : 0;
  const std::string unit = in_bytes(s) ? "MiB" : s.unit;
  const std::string count =
      known ? fmt::format("{}/{} {}", amount(s, done_), amount(s, total_), unit) : amount(s, done_) + " " + unit;
  const bool complete = known && done_ >= total_;
  const std::string eta = complete ? "" : known ? "ETA " + format_duration(eta_s()) : "";
  std::string text;
  if (s.tty) {
    constexpr int kBar = 20;
    const int filled = static_cast<int>(fraction * kBar);
    text = s.label + " ";
    if (known) text += "[" + std::string(filled, '#') + std::string(kBar - filled, '.') + "] ";
    text += count;
    if (known) text += fmt::format(" {:3.0f}%", 100 * fraction);
    text += "  " + rate_text(s, rate());
    text += complete ? "  in " + format_duration(elapsed_s()) : eta.empty() ? "" : "  " + eta;
    if (!detail_.empty()) text += "  " + detail_;
  } else {
    text = s.label + ": " + count;
    if (known) text += fmt::format(" ({:.0f}%)", 100 * fraction);
    text += ", " + rate_text(s, rate()) + ", elapsed " + format_duration(elapsed_s());
    if (!eta.empty()) text += ", " + eta;
    if (!detail_.empty()) text += ", " + detail_;
  }
  return text;
}

void Progress::update(uint64_t done, std::string_view detail) {
  if (!started_ || finished_) return;
  done_ = done;
  detail_ = detail;
  if (total_ > 0 && done_ >= total_) {
    finish();
    return;
  }
  const double now = clock_();
  if (now - last_write_ < (style_.tty ? style_.tty_interval_s : style_.interval_s)) return;
  last_write_ = now;
  write_line(false);
}

void Progress::finish(std::string_view detail) {
  if (!started_ || finished_) return;
  if (!detail.empty()) detail_ = detail;
  write_line(true);
  finished_ = true;
}

void Progress::clear_line() {
  if (!style_.tty || drawn_ == 0 || finished_) return;
  std::string blank(drawn_ + 2, ' ');  // built in place: GCC 12 warns (-Wrestrict) about "\r" + string
  blank.front() = blank.back() = '\r';
  write_(blank);
  drawn_ = 0;
  last_write_ = -1e300;  // the next update redraws at once
}

void Progress::write_line(bool final) {
  std::string text = line();
  if (!style_.tty) {
    write_(text + "\n");
    return;
  }
  // Cut to the terminal, since a wrapped line cannot be redrawn by '\r'.
  if (style_.width > 1 && text.size() > style_.width - 1) text.resize(style_.width - 1);
  const size_t length = text.size();
  if (length < drawn_) text += std::string(drawn_ - length, ' ');
  drawn_ = length;
  text.insert(text.begin(), '\r');
  if (final) text += '\n';
  write_(text);
}

ProgressFeed::ProgressFeed(std::FILE* stream, std::string prefix) : stream_(stream), prefix_(std::move(prefix)) {}

void ProgressFeed::operator()(const ProgressEvent& e) {
  if (!current_ || e.task != task_) {
    finish();
    task_ = e.task;
    current_ = std::make_unique<Progress>(Progress::to_stream(stream_, prefix_ + e.task, e.unit));
    current_->start(e.total, e.already_done);
  }
  current_->update(e.done, e.detail);
  if (e.total > 0 && e.done >= e.total) current_.reset();
}

void ProgressFeed::finish() {
  if (current_) current_->finish();
  current_.reset();
}

}  // namespace lcte
