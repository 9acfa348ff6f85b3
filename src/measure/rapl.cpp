#include "measure/rapl.h"

#include <filesystem>

#include <fmt/format.h>

#include "measure/proc_stats.h"

namespace lcte::measure {
namespace {

std::optional<uint64_t> read_u64(const std::string& path) {
  auto text = read_small_file(path);
  if (!text) return std::nullopt;
  try {
    return std::stoull(*text);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::unique_ptr<RaplReader> RaplReader::open(const std::string& root, std::string* why) {
  namespace fs = std::filesystem;
  auto reader = std::unique_ptr<RaplReader>(new RaplReader());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::string dir = entry.path().string();
    auto name = read_small_file(dir + "/name");
    // Top-level package domains only ("package-0"); sub-domains (core, dram)
    // are inside the package figure.
    if (!name || name->rfind("package", 0) != 0) continue;
    auto now = read_u64(dir + "/energy_uj");
    auto range = read_u64(dir + "/max_energy_range_uj");
    if (!now || !range) continue;
    reader->domains_.push_back({dir + "/energy_uj", *range, *now, 0});
  }
  if (reader->domains_.empty()) {
    if (why) *why = fmt::format("no readable RAPL package domain under {}", root);
    return nullptr;
  }
  return reader;
}

std::optional<double> RaplReader::joules_since_open() {
  double total = 0;
  for (Domain& d : domains_) {
    auto now = read_u64(d.energy_path);
    if (!now) return std::nullopt;
    uint64_t delta = *now >= d.last_uj ? *now - d.last_uj : d.max_range_uj - d.last_uj + *now;
    d.accumulated_j += static_cast<double>(delta) * 1e-6;
    d.last_uj = *now;
    total += d.accumulated_j;
  }
  return total;
}

std::string RaplReader::describe() const {
  return fmt::format("RAPL powercap, {} package domain{}", domains_.size(), domains_.size() == 1 ? "" : "s");
}

}  // namespace lcte::measure
