#include "sandbox/outcome.h"

#include <signal.h>

#include <cstring>
#include <sstream>

#include <fmt/format.h>

namespace lcte::sandbox::detail {
namespace {

std::vector<std::string> split_nul(const std::string& payload) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    size_t end = payload.find('\0', start);
    fields.push_back(payload.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return fields;
    start = end + 1;
  }
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string signal_text(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? fmt::format("signal {} (SIG{})", sig, name) : fmt::format("signal {}", sig);
}

void set_error(Result& r, Status status, std::string type, std::string message) {
  r.status = status;
  r.error_type = std::move(type);
  r.error_message = std::move(message);
}

// Limits a process can hit by itself: CPU and memory. True if `end` says one was.
bool classify_exhaustion(const Ending& end, const Limits& limits, const std::string& stderr_text, const char* who,
                         Result& r) {
  if (end.exited) return false;
  int sig = end.value;
  if (sig == SIGXCPU || (sig == SIGKILL && end.cpu_seconds >= limits.cpu_seconds)) {
    set_error(r, Status::Timeout, "CpuLimit", fmt::format("{}: CPU limit of {} s exceeded", who, limits.cpu_seconds));
    return true;
  }
  // Python under RLIMIT_AS mostly raises MemoryError; when an allocation
  // fails where it cannot, it aborts or crashes instead.
  bool memory_like = sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS || sig == SIGKILL;
  bool near_limit = end.peak_bytes >= limits.memory_bytes / 2 || stderr_text.find("MemoryError") != std::string::npos ||
                    stderr_text.find("Cannot allocate memory") != std::string::npos;
  if (memory_like && near_limit) {
    set_error(
        r, Status::OutOfMemory, "MemoryLimit",
        fmt::format("{}: killed by {} near the memory limit of {} bytes", who, signal_text(sig), limits.memory_bytes));
    return true;
  }
  return false;
}

// The judge reported that the sample process ended before the tests did.
void classify_sample_end(const Observation& seen, const Limits& limits, const std::string& reason, Result& r) {
  if (!seen.sample) {
    set_error(r, Status::Error, "NoResult", reason + "; how it ended is unknown");
    return;
  }
  const Ending& end = *seen.sample;
  if (end.stop_signal != 0) {
    set_error(r, Status::Killed, "Stopped",
              fmt::format("the sample stopped itself with {} and was killed", signal_text(end.stop_signal)));
    r.signal = end.stop_signal;
    return;
  }
  if (classify_exhaustion(end, limits, seen.stderr_text, "the sample", r)) return;
  if (end.exited) {
    set_error(r, Status::Error, "EarlyExit",
              fmt::format("the sample exited with code {} before the tests ended", end.value));
    return;
  }
  set_error(r, Status::Killed, "Signal", "the sample was killed by " + signal_text(end.value));
}

// The judge ended without a report.
void classify_judge_end(const Observation& seen, const Limits& limits, Result& r) {
  if (!seen.judge) {
    set_error(r, Status::Error, "NoResult", "the judge ended without a status");
    return;
  }
  if (classify_exhaustion(*seen.judge, limits, "", "the tests", r)) return;
  const Ending& end = *seen.judge;
  set_error(r, Status::Error, "JudgeError",
            end.exited ? fmt::format("the judge exited with code {} without a verdict", end.value)
                       : "the judge was killed by " + signal_text(end.value) + " before a verdict");
}

bool sample_is_gone(const std::string& reason) { return reason.starts_with("the sample process "); }

}  // namespace

std::optional<Ending> parse_ending(const std::string& text) {
  std::istringstream in(text);
  std::string kind;
  Ending e;
  long long kib = 0;
  if (!(in >> kind >> e.value >> e.cpu_seconds >> kib >> e.stop_signal) || (kind != "exit" && kind != "signal"))
    return std::nullopt;
  e.exited = kind == "exit";
  e.peak_bytes = static_cast<uint64_t>(std::max(0LL, kib)) * 1024;
  return e;
}

std::vector<std::string> parse_frames(const std::string& bytes, bool* malformed) {
  std::vector<std::string> frames;
  size_t pos = 0;
  *malformed = false;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4) {
      *malformed = true;
      break;
    }
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[pos + i])) << (8 * i);
    if (bytes.size() - pos - 4 < n) {
      *malformed = true;
      break;
    }
    frames.push_back(bytes.substr(pos + 4, n));
    pos += 4 + n;
  }
  if (bytes.size() >= kMaxReportBytes) *malformed = true;
  return frames;
}

Result classify(Observation seen, const Limits& limits, const std::string& token) {
  // kind, first (token, type or reason), message, notes, end
  std::vector<std::string> fields;
  if (seen.frames.size() == 1) fields = split_nul(seen.frames[0]);
  fields.resize(std::max<size_t>(fields.size(), 5));
  if (!seen.sample && !fields[4].empty()) {  // once mode: the judge reaped the sample itself
    seen.sample = parse_ending(fields[4]);
    if (seen.sample) seen.peak_bytes = seen.sample->peak_bytes;
  }

  Result r;
  r.stdout_text = std::move(seen.stdout_text);
  r.stderr_text = std::move(seen.stderr_text);
  r.output_truncated = seen.output_truncated;
  r.wall_seconds = seen.wall_seconds;
  r.cpu_seconds = seen.cpu_seconds;
  r.peak_memory_bytes = seen.peak_bytes;
  if (seen.sample) (seen.sample->exited ? r.exit_code : r.signal) = seen.sample->value;

  if (!seen.infrastructure_error.empty()) {
    set_error(r, Status::Error, "SandboxError", seen.infrastructure_error);
    return r;
  }
  if (seen.wall_timeout) {
    set_error(r, Status::Timeout, "WallLimit", fmt::format("wall-clock limit of {} s exceeded", limits.wall_seconds));
    return r;
  }
  if (seen.output_overflow) {
    set_error(r, Status::Killed, "OutputLimit", "killed for writing more output than the sandbox drains");
    r.signal = SIGKILL;
    return r;
  }
  if (seen.frames.size() > 1 || seen.frames_malformed) {
    set_error(r, Status::Error, "ProtocolViolation",
              fmt::format("the report channel carried {} frame(s){}; the judge sends exactly one", seen.frames.size(),
                          seen.frames_malformed ? " and stray bytes" : ""));
    return r;
  }
  if (seen.frames.empty()) {
    classify_judge_end(seen, limits, r);
    return r;
  }

  const std::string& kind = fields[0];
  const std::string& first = fields[1];
  const std::string& message = fields[2];
  if (fields[3].starts_with("redefined=")) r.redefined_helpers = split_commas(fields[3].substr(10));
  if (kind == "P") {
    if (first != token) {
      set_error(r, Status::Error, "ProtocolViolation", "a pass report without this run's token");
    } else if (!(seen.judge && seen.judge->exited && seen.judge->value == 0)) {
      classify_judge_end(seen, limits, r);  // reported, then died: trust how it ended
    } else {
      r.status = Status::Passed;
    }
    return r;
  }
  if (kind == "G") {
    if (sample_is_gone(first)) {
      classify_sample_end(seen, limits, first, r);
    } else if (first.starts_with("the sample raised ")) {  // SystemExit and the like, in a call
      std::string name = first.substr(18, first.find(' ', 18) - 18);
      set_error(r, Status::Error, name, first);
    } else {
      set_error(r, Status::Error, "ProtocolViolation", first);
    }
    return r;
  }
  if (kind == "S")
    set_error(r, Status::SyntaxError, first, message);
  else if (kind == "F")
    set_error(r, Status::Failed, first, message);
  else if (kind == "E")
    set_error(r, Status::Error, first, message);
  else if (kind == "M")
    set_error(r, Status::OutOfMemory, first, message);
  else if (kind == "T")
    set_error(r, Status::Timeout, first, message);
  else
    set_error(r, Status::Error, "ProtocolViolation", "unknown report kind '" + kind.substr(0, 8) + "'");
  return r;
}

}  // namespace lcte::sandbox::detail
