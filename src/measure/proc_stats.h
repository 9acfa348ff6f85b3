// CPU and memory figures of this process and of the machine, read from /proc
// and getrusage. Parsers take the file text so tests can feed them fixtures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lcte::measure {

// Cumulative CPU time of the whole machine, in clock ticks (from /proc/stat).
struct SystemCpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};
std::optional<SystemCpuTimes> parse_proc_stat(const std::string& text);
std::optional<SystemCpuTimes> read_system_cpu_times();

// Utilisation in [0, 1] between two readings of /proc/stat.
double system_cpu_utilisation(const SystemCpuTimes& before, const SystemCpuTimes& after);

struct ProcessMemory {
  uint64_t rss_bytes = 0;       // VmRSS
  uint64_t peak_rss_bytes = 0;  // VmHWM
};
std::optional<ProcessMemory> parse_proc_status(const std::string& text);
std::optional<ProcessMemory> read_process_memory();

struct SystemMemory {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
};
std::optional<SystemMemory> parse_meminfo(const std::string& text);
std::optional<SystemMemory> read_system_memory();

// CPU seconds (user + system) of this process's threads, and of the children
// it has waited for (the sandboxed programs).
struct ProcessCpu {
  double self_seconds = 0;
  double children_seconds = 0;
};
ProcessCpu read_process_cpu();

// CPU time of the calling thread, for measuring the sampler's own cost.
double thread_cpu_seconds();

// Reads a whole small file (those under /proc and /sys); nullopt if unreadable.
std::optional<std::string> read_small_file(const std::string& path);

}  // namespace lcte::measure
