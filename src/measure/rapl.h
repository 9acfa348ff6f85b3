// CPU package energy from the Linux powercap interface (Intel RAPL, and AMD
// where the kernel exposes it the same way). Usually root-only to read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lcte::measure {

class RaplReader {
 public:
  // Package domains under `root` (default /sys/class/powercap); nullptr with
  // the reason in *why when none is readable.
  static std::unique_ptr<RaplReader> open(const std::string& root, std::string* why);

  // Joules consumed by all packages since open(), counter wrap-around handled.
  // Must be called more often than the counter wraps (minutes at full load).
  std::optional<double> joules_since_open();
  std::string describe() const;

 private:
  struct Domain {
    std::string energy_path;
    uint64_t max_range_uj = 0;
    uint64_t last_uj = 0;
    double accumulated_j = 0;
  };
  std::vector<Domain> domains_;
};

}  // namespace lcte::measure
