// NVIDIA GPU readings. NVML is loaded at run time with dlopen, so lcte builds
// and runs on machines without it; `nvidia-smi` is the fallback. Machines with
// neither report no GPU fields at all (absent, with a note), never zeros.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lcte::measure {

struct GpuReading {
  int index = 0;
  std::string name;
  std::optional<double> utilisation;  // [0, 1]
  std::optional<uint64_t> memory_used_bytes;
  std::optional<uint64_t> memory_total_bytes;
  std::optional<double> power_watts;
  std::optional<double> temperature_c;
  std::optional<double> energy_joules;  // cumulative counter (since driver load), when the GPU has one
};

class GpuSource {
 public:
  virtual ~GpuSource() = default;
  virtual std::vector<GpuReading> read() = 0;
  virtual std::string describe() const = 0;  // e.g. "NVML (libnvidia-ml.so.1), 1 GPU"
};

// NVML from `library` (default "libnvidia-ml.so.1"). nullptr, with the reason
// in *why, when the library is absent or has no GPU.
std::unique_ptr<GpuSource> open_nvml(const std::string& library, std::string* why);

// Parses `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu
// --format=csv,noheader,nounits` output; "[N/A]" fields stay absent.
std::vector<GpuReading> parse_nvidia_smi_csv(const std::string& text);
std::unique_ptr<GpuSource> open_nvidia_smi(std::string* why);

// NVML, else nvidia-smi, else nullptr with the reasons in *why.
std::unique_ptr<GpuSource> open_gpu_source(std::string* why);

}  // namespace lcte::measure
