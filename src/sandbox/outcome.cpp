#include "sandbox/outcome.h"

#include <signal.h>

#include <cstring>

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

std::string signal_text(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? fmt::format("signal {} (SIG{})", sig, name) : fmt::format("signal {}", sig);
}

void set_error(Result& r, Status status, std::string type, std::string message) {
  r.status = status;
  r.error_type = std::move(type);
  r.error_message = std::move(message);
}

// How the interpreter ended when the driver did not report.
void classify_unreported(const Observation& seen, const Limits& limits, Result& r) {
  if (seen.stop_signal != 0) {
    set_error(r, Status::Killed, "Stopped",
              fmt::format("the sample stopped itself with {} and was killed", signal_text(seen.stop_signal)));
    r.signal = seen.stop_signal;
    return;
  }
  if (!seen.ended) {
    set_error(r, Status::Error, "NoResult", "the interpreter ended without a status");
    return;
  }
  if (seen.exited) {
    set_error(r, Status::Error, "EarlyExit",
              fmt::format("the interpreter exited with code {} before the tests ended", seen.value));
    return;
  }
  int sig = seen.value;
  bool cpu_exhausted = sig == SIGXCPU || (sig == SIGKILL && seen.cpu_seconds >= limits.cpu_seconds);
  if (cpu_exhausted) {
    set_error(r, Status::Timeout, "CpuLimit", fmt::format("CPU limit of {} s exceeded", limits.cpu_seconds));
    return;
  }
  // Python under RLIMIT_AS mostly raises MemoryError; when an allocation
  // fails where it cannot, it aborts or crashes instead.
  bool memory_like = sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS || sig == SIGKILL;
  bool near_limit = seen.peak_bytes >= limits.memory_bytes / 2 ||
                    seen.stderr_text.find("MemoryError") != std::string::npos ||
                    seen.stderr_text.find("Cannot allocate memory") != std::string::npos;
  if (memory_like && near_limit) {
    set_error(r, Status::OutOfMemory, "MemoryLimit",
              fmt::format("killed by {} near the memory limit of {} bytes", signal_text(sig), limits.memory_bytes));
    return;
  }
  set_error(r, Status::Killed, "Signal", "killed by " + signal_text(sig));
}

}  // namespace

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
  Result r;
  r.stdout_text = std::move(seen.stdout_text);
  r.stderr_text = std::move(seen.stderr_text);
  r.output_truncated = seen.output_truncated;
  r.wall_seconds = seen.wall_seconds;
  r.cpu_seconds = seen.cpu_seconds;
  r.peak_memory_bytes = seen.peak_bytes;
  if (seen.ended) (seen.exited ? r.exit_code : r.signal) = seen.value;

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
              fmt::format("the report channel carried {} frame(s){}; the driver sends exactly one",
                          seen.frames.size(), seen.frames_malformed ? " and stray bytes" : ""));
    return r;
  }
  if (seen.frames.empty()) {
    classify_unreported(seen, limits, r);
    return r;
  }

  std::vector<std::string> fields = split_nul(seen.frames[0]);
  const std::string& kind = fields[0];
  std::string type = fields.size() > 1 ? fields[1] : "";
  std::string message = fields.size() > 2 ? fields[2] : "";
  if (kind == "P") {
    bool genuine = fields.size() == 2 && fields[1] == token;
    if (!genuine) {
      set_error(r, Status::Error, "ProtocolViolation", "a pass report without this run's token");
    } else if (!(seen.ended && seen.exited && seen.value == 0)) {
      classify_unreported(seen, limits, r);  // reported, then died: trust how it ended
    } else {
      r.status = Status::Passed;
    }
    return r;
  }
  if (kind == "S") set_error(r, Status::SyntaxError, type, message);
  else if (kind == "F") set_error(r, Status::Failed, type, message);
  else if (kind == "E") set_error(r, Status::Error, type, message);
  else if (kind == "M") set_error(r, Status::OutOfMemory, type, message);
  else set_error(r, Status::Error, "ProtocolViolation", "unknown report kind '" + kind.substr(0, 8) + "'");
  return r;
}

}  // namespace lcte::sandbox::detail
