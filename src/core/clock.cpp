#include "core/clock.h"

#include <ctime>

#include <fmt/format.h>

namespace lcte {
namespace {

std::tm utc_fields(std::chrono::system_clock::time_point t) {
  // Floor to the second, so a time before the epoch does not round up.
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

}  // namespace

std::string utc_iso8601(std::chrono::system_clock::time_point t) {
  const std::tm tm = utc_fields(t);
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t) - std::chrono::floor<std::chrono::seconds>(t);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms.count()));
}

std::string utc_now_iso8601() { return utc_iso8601(std::chrono::system_clock::now()); }

std::string utc_compact_stamp(std::chrono::system_clock::time_point t) {
  const std::tm tm = utc_fields(t);
  return fmt::format("{:04d}{:02d}{:02d}-{:02d}{:02d}{:02d}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

int64_t unix_millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace lcte
