#include "measure/proc_stats.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace lcte::measure {

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

std::optional<SystemCpuTimes> parse_proc_stat(const std::string& text) {
  std::istringstream in(text);
  std::string label;
  in >> label;
  if (label != "cpu") return std::nullopt;
  // user nice system idle iowait irq softirq steal [guest guest_nice]; guest
  // time is already counted in user, so only the first eight fields add up.
  uint64_t fields[8] = {};
  for (int i = 0; i < 8; ++i) {
    if (!(in >> fields[i])) {
      if (i < 4) return std::nullopt;
      break;
    }
  }
  SystemCpuTimes t;
  for (uint64_t f : fields) t.total += f;
  uint64_t idle = fields[3] + fields[4];
  t.busy = t.total - idle;
  return t;
}

std::optional<SystemCpuTimes> read_system_cpu_times() {
  auto text = read_small_file("/proc/stat");
  return text ? parse_proc_stat(*text) : std::nullopt;
}

double system_cpu_utilisation(const SystemCpuTimes& before, const SystemCpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return 0;
  return static_cast<double>(after.busy - before.busy) / static_cast<double>(after.total - before.total);
}

namespace {

// Value in kB of a "Key:   123 kB" line, converted to bytes.
std::optional<uint64_t> kb_field(const std::string& text, const std::string& key) {
  size_t at = text.find(key + ":");
  if (at == std::string::npos || (at != 0 && text[at - 1] != '\n')) return std::nullopt;
  std::istringstream in(text.substr(at + key.size() + 1));
  uint64_t kb = 0;
  if (!(in >> kb)) return std::nullopt;
  return kb * 1024;
}

}  // namespace

std::optional<ProcessMemory> parse_proc_status(const std::string& text) {
  auto rss = kb_field(text, "VmRSS");
  auto hwm = kb_field(text, "VmHWM");
  if (!rss || !hwm) return std::nullopt;
  return ProcessMemory{*rss, *hwm};
}

std::optional<ProcessMemory> read_process_memory() {
  auto text = read_small_file("/proc/self/status");
  return text ? parse_proc_status(*text) : std::nullopt;
}

std::optional<SystemMemory> parse_meminfo(const std::string& text) {
  auto total = kb_field(text, "MemTotal");
  auto avail = kb_field(text, "MemAvailable");
  if (!total || !avail) return std::nullopt;
  return SystemMemory{*total, *avail};
}

std::optional<SystemMemory> read_system_memory() {
  auto text = read_small_file("/proc/meminfo");
  return text ? parse_meminfo(*text) : std::nullopt;
}

namespace {
double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6; }
}  // namespace

ProcessCpu read_process_cpu() {
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  return {seconds(self.ru_utime) + seconds(self.ru_stime), seconds(children.ru_utime) + seconds(children.ru_stime)};
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

}  // namespace lcte::measure
