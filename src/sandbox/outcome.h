// Turning what the harness observed about one sample (the judge's report
// frames, how the judge and the sample process ended, their usage) into
// exactly one Status. Kept apart from the process plumbing so the rules can
// be tested directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace lcte::sandbox::detail {

inline constexpr size_t kMaxReportBytes = 64u << 10;  // the judge sends one small frame

// How a process ended.
struct Ending {
  bool exited = false;  // exit(value) if true, else killed by signal `value`
  int value = 0;
  int stop_signal = 0;  // it stopped itself and was killed
  double cpu_seconds = 0;
  uint64_t peak_bytes = 0;
};

// "exit|signal VALUE CPU MAXRSS_KIB STOP" as the driver writes it; nullopt if
// the text is not of that form.
std::optional<Ending> parse_ending(const std::string& text);

struct Observation {
  std::vector<std::string> frames;           // payloads of the judge's frames, in order
  bool frames_malformed = false;             // bytes that do not form whole frames
  bool wall_timeout = false;                 // we killed it at the wall-clock limit
  bool output_overflow = false;              // we killed it for flooding stdout/stderr
  std::optional<Ending> judge;               // how the judge ended, when known
  std::optional<Ending> sample;              // how the sample process ended, when known
  double wall_seconds = 0, cpu_seconds = 0;  // cpu: judge and sample together
  uint64_t peak_bytes = 0;                   // of the sample, when known
  std::string stdout_text, stderr_text;
  bool output_truncated = false;
  std::string infrastructure_error;  // the sandbox itself failed (a worker died)
};

// Splits the channel's bytes into frames (u32 little-endian length, payload).
std::vector<std::string> parse_frames(const std::string& bytes, bool* malformed);

// The rules, in order: the sandbox's own failure; our own kills (wall clock,
// output flood); then the judge's single report (a pass needs the run's
// token and a judge that exited cleanly; "the sample ended" is classified by
// how the sample ended); without a report, how the judge ended.
Result classify(Observation seen, const Limits& limits, const std::string& token);

}  // namespace lcte::sandbox::detail
