#include "measure/machine.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace lcte::measure {
namespace {

std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// The value of the first "key : value" line of a /proc file.
std::string proc_field(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon != std::string::npos && trim(line.substr(0, colon)) == key) return trim(line.substr(colon + 1));
  }
  return {};
}

}  // namespace

nlohmann::json describe_machine() {
  nlohmann::json m = nlohmann::json::object();
  std::string cpu = proc_field("/proc/cpuinfo", "model name");
  if (!cpu.empty()) m["cpu_model"] = cpu;
  if (unsigned n = std::thread::hardware_concurrency(); n > 0) m["logical_cpus"] = n;
  std::string mem = proc_field("/proc/meminfo", "MemTotal");  // "24615712 kB"
  if (!mem.empty()) {
    try {
      m["memory_bytes"] = std::stoull(mem) * 1024ULL;
    } catch (const std::exception&) {}
  }
  struct utsname u {};
  if (::uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) m["hostname"] = host;
  return m;
}

}  // namespace lcte::measure
