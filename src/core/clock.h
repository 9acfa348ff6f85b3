// Wall-clock time as lcte records it in files, logs and the store: always UTC,
// in one format, so timestamps from any part sort and compare as text.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lcte {

// "2026-11-27T08:30:00.123Z": UTC with milliseconds, the format of the
// store's own defaults (SQLite's strftime('%Y-%m-%dT%H:%M:%fZ')).
std::string utc_iso8601(std::chrono::system_clock::time_point t);
std::string utc_now_iso8601();

// "20261127-083000": UTC, whole seconds, for names of files and runs.
std::string utc_compact_stamp(std::chrono::system_clock::time_point t);

// Milliseconds since the Unix epoch (MLflow's timestamps).
int64_t unix_millis(std::chrono::system_clock::time_point t);

}  // namespace lcte
