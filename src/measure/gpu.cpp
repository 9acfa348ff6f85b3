#include "measure/gpu.h"

#include <dlfcn.h>

#include <array>
#include <cstdio>
#include <sstream>

#include <fmt/format.h>

namespace lcte::measure {
namespace {

// The few NVML types and entry points lcte uses, declared from NVML's public
// API so that no NVIDIA header is needed at build time.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr int NVML_TEMPERATURE_GPU = 0;

struct NvmlApi {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*device_count)(unsigned int*) = nullptr;
  nvmlReturn_t (*device_by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*utilisation)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned int*) = nullptr;
  nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long*) = nullptr;
};

class NvmlSource : public GpuSource {
 public:
  NvmlSource(void* handle, NvmlApi api, std::string library, std::vector<nvmlDevice_t> devices)
      : handle_(handle), api_(api), library_(std::move(library)), devices_(std::move(devices)) {}
  ~NvmlSource() override {
    api_.shutdown();
    dlclose(handle_);
  }

  std::vector<GpuReading> read() override {
    std::vector<GpuReading> out;
    for (size_t i = 0; i < devices_.size(); ++i) {
      nvmlDevice_t d = devices_[i];
      GpuReading r;
      r.index = static_cast<int>(i);
      std::array<char, 96> name{};
      if (api_.name(d, name.data(), name.size()) == NVML_SUCCESS) r.name = name.data();
      nvmlUtilization_t u{};
      if (api_.utilisation && api_.utilisation(d, &u) == NVML_SUCCESS) r.utilisation = u.gpu / 100.0;
      nvmlMemory_t m{};
      if (api_.memory && api_.memory(d, &m) == NVML_SUCCESS) {
        r.memory_used_bytes = m.used;
        r.memory_total_bytes = m.total;
      }
      unsigned int mw = 0;
      if (api_.power && api_.power(d, &mw) == NVML_SUCCESS) r.power_watts = mw / 1000.0;
      unsigned int temp = 0;
      if (api_.temperature && api_.temperature(d, NVML_TEMPERATURE_GPU, &temp) == NVML_SUCCESS) r.temperature_c = temp;
      unsigned long long mj = 0;
      if (api_.energy && api_.energy(d, &mj) == NVML_SUCCESS) r.energy_joules = mj / 1000.0;
      out.push_back(std::move(r));
    }
    return out;
  }

  std::string describe() const override {
    return fmt::format("NVML ({}), {} GPU{}", library_, devices_.size(), devices_.size() == 1 ? "" : "s");
  }

 private:
  void* handle_;
  NvmlApi api_;
  std::string library_;
  std::vector<nvmlDevice_t> devices_;
};

template <class F>
bool bind(void* handle, const char* symbol, F*& out) {
  out = reinterpret_cast<F*>(dlsym(handle, symbol));
  return out != nullptr;
}

}  // namespace

std::unique_ptr<GpuSource> open_nvml(const std::string& library, std::string* why) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    if (why) *why = fmt::format("NVML not loaded ({}: {})", library, dlerror());
    return nullptr;
  }
  NvmlApi api;
  bool required = bind(handle, "nvmlInit_v2", api.init) && bind(handle, "nvmlShutdown", api.shutdown) &&
                  bind(handle, "nvmlDeviceGetCount_v2", api.device_count) &&
                  bind(handle, "nvmlDeviceGetHandleByIndex_v2", api.device_by_index) &&
                  bind(handle, "nvmlDeviceGetName", api.name);
  // The readings are optional: older drivers lack the energy counter.
  bind(handle, "nvmlDeviceGetUtilizationRates", api.utilisation);
  bind(handle, "nvmlDeviceGetMemoryInfo", api.memory);
  bind(handle, "nvmlDeviceGetPowerUsage", api.power);
  bind(handle, "nvmlDeviceGetTemperature", api.temperature);
  bind(handle, "nvmlDeviceGetTotalEnergyConsumption", api.energy);
  if (!required) {
    if (why) *why = fmt::format("{} lacks the NVML entry points lcte needs", library);
    dlclose(handle);
    return nullptr;
  }
  if (api.init() != NVML_SUCCESS) {
    if (why) *why = fmt::format("nvmlInit failed ({})", library);
    dlclose(handle);
    return nullptr;
  }
  unsigned int count = 0;
  std::vector<nvmlDevice_t> devices;
  if (api.device_count(&count) == NVML_SUCCESS) {
    for (unsigned int i = 0; i < count; ++i) {
      nvmlDevice_t d = nullptr;
      if (api.device_by_index(i, &d) == NVML_SUCCESS) devices.push_back(d);
    }
  }
  if (devices.empty()) {
    if (why) *why = fmt::format("NVML ({}) reports no GPU", library);
    api.shutdown();
    dlclose(handle);
    return nullptr;
  }
  return std::make_unique<NvmlSource>(handle, api, library, std::move(devices));
}

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::optional<double> number(const std::string& field) {
  std::string f = trim(field);
  if (f.empty() || f.front() == '[' || f == "N/A") return std::nullopt;
  try {
    size_t used = 0;
    double v = std::stod(f, &used);
    return used == f.size() ? std::optional<double>(v) : std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<GpuReading> parse_nvidia_smi_csv(const std::string& text) {
  std::vector<GpuReading> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (trim(line).empty()) continue;
    std::vector<std::string> f;
    std::stringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) f.push_back(cell);
    if (f.size() < 7) continue;
    GpuReading r;
    r.index = static_cast<int>(number(f[0]).value_or(static_cast<double>(out.size())));
    r.name = trim(f[1]);
    if (auto u = number(f[2])) r.utilisation = *u / 100.0;
    if (auto m = number(f[3])) r.memory_used_bytes = static_cast<uint64_t>(*m * 1048576.0);  // MiB
    if (auto m = number(f[4])) r.memory_total_bytes = static_cast<uint64_t>(*m * 1048576.0);
    if (auto p = number(f[5])) r.power_watts = *p;
    if (auto t = number(f[6])) r.temperature_c = *t;
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

constexpr const char* kSmiCommand =
    "nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu "
    "--format=csv,noheader,nounits 2>/dev/null";

std::optional<std::string> run_smi() {
  FILE* p = popen(kSmiCommand, "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  if (status != 0) return std::nullopt;
  return out;
}

class SmiSource : public GpuSource {
 public:
  explicit SmiSource(size_t n) : n_(n) {}
  std::vector<GpuReading> read() override {
    auto text = run_smi();
    return text ? parse_nvidia_smi_csv(*text) : std::vector<GpuReading>{};
  }
  std::string describe() const override { return fmt::format("nvidia-smi, {} GPU{}", n_, n_ == 1 ? "" : "s"); }

 private:
  size_t n_;
};

}  // namespace

std::unique_ptr<GpuSource> open_nvidia_smi(std::string* why) {
  auto text = run_smi();
  if (!text) {
    if (why) *why = "nvidia-smi not available";
    return nullptr;
  }
  auto readings = parse_nvidia_smi_csv(*text);
  if (readings.empty()) {
    if (why) *why = "nvidia-smi reports no GPU";
    return nullptr;
  }
  return std::make_unique<SmiSource>(readings.size());
}

std::unique_ptr<GpuSource> open_gpu_source(std::string* why) {
  std::string nvml_why, smi_why;
  if (auto s = open_nvml("libnvidia-ml.so.1", &nvml_why)) return s;
  if (auto s = open_nvidia_smi(&smi_why)) return s;
  if (why) *why = nvml_why + "; " + smi_why;
  return nullptr;
}

}  // namespace lcte::measure
