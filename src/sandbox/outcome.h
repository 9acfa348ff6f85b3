// Turning what the harness observed about one sample (the driver's report
// frames, how the interpreter ended, its usage) into exactly one Status.
// Kept apart from the process plumbing so the rules can be tested directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace lcte::sandbox::detail {

inline constexpr size_t kMaxReportBytes = 64u << 10;  // the driver sends one small frame

struct Observation {
  std::vector<std::string> frames;  // payloads of the driver's frames, in order
  bool frames_malformed = false;    // bytes that do not form whole frames
  bool wall_timeout = false;        // we killed it at the wall-clock limit
  bool output_overflow = false;     // we killed it for flooding stdout/stderr
  bool ended = false;               // we know how the interpreter ended:
  bool exited = false;              //   exit(value) if true, else killed by signal `value`
  int value = 0;
  int stop_signal = 0;              // it stopped itself and was killed
  double wall_seconds = 0, cpu_seconds = 0;
  uint64_t peak_bytes = 0;
  std::string stdout_text, stderr_text;
  bool output_truncated = false;
  std::string infrastructure_error;  // the sandbox itself failed (a worker died)
};

// Splits the channel's bytes into frames (u32 little-endian length, payload).
std::vector<std::string> parse_frames(const std::string& bytes, bool* malformed);

// The rules, in order: our own kills (wall clock, output flood) decide first;
// then the driver's single report (a pass needs the run's token and a clean
// exit); without a report, how the interpreter ended.
Result classify(Observation seen, const Limits& limits, const std::string& token);

}  // namespace lcte::sandbox::detail
