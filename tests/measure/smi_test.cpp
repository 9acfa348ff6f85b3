// The nvidia-smi fallback, end to end: a fake `nvidia-smi` (fake-bin/, fixed
// readings of two GPUs in the real `--format=csv,noheader,nounits` layout)
// first on PATH, NVML absent. The sampler must run it and record its fields;
// without it on PATH, there is no GPU and a reason says why.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "measure/gpu.h"
#include "measure/sampler.h"

namespace lcte::measure {
namespace {

// Sets PATH for one test and puts the old one back.
class PathFirst {
 public:
  explicit PathFirst(const std::string& dir, bool keep_rest = true) {
    const char* old = std::getenv("PATH");
    had_ = old != nullptr;
    if (had_) old_ = old;
    std::string path = keep_rest && had_ ? dir + ":" + old_ : dir;
    setenv("PATH", path.c_str(), 1);
  }
  ~PathFirst() {
    if (had_)
      setenv("PATH", old_.c_str(), 1);
    else
      unsetenv("PATH");
  }

 private:
  bool had_ = false;
  std::string old_;
};

constexpr const char* kNoNvml = "/nonexistent/libnvidia-ml.so.1";

TEST(NvidiaSmi, FakeOnPathIsFound) {
  PathFirst path(FAKE_SMI_DIR);
  std::string why;
  auto src = open_nvidia_smi(&why);
  ASSERT_NE(src, nullptr) << why;
  EXPECT_EQ(src->describe(), "nvidia-smi, 2 GPUs");
  auto r = src->read();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].index, 1);
  EXPECT_EQ(r[1].name, "NVIDIA A100-SXM4-40GB");
}

TEST(NvidiaSmi, AbsentMeansNoGpuWithAReason) {
  std::string empty = (std::filesystem::temp_directory_path() / "lcte-no-smi").string();
  std::filesystem::create_directories(empty);
  PathFirst path(empty, /*keep_rest=*/false);
  std::string why;
  EXPECT_EQ(open_nvidia_smi(&why), nullptr);
  EXPECT_EQ(why, "nvidia-smi not available");
  ResourceSampler::Options o;
  o.nvml_library = kNoNvml;
  ResourceSampler sampler(o);
  EXPECT_NE(sampler.describe().find("GPUs: none"), std::string::npos) << sampler.describe();
}

TEST(NvidiaSmi, SamplerRecordsTheGpuFields) {
  PathFirst path(FAKE_SMI_DIR);
  ResourceSampler::Options o;
  o.rate_hz = 20;
  o.nvml_library = kNoNvml;  // even on a machine with NVML, the fallback is what is tested
  ResourceSampler sampler(o);
  EXPECT_NE(sampler.describe().find("GPUs: nvidia-smi, 2 GPUs"), std::string::npos) << sampler.describe();
  sampler.start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sampler.samples().size() < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  sampler.stop();
  auto samples = sampler.samples();
  ASSERT_GE(samples.size(), 4u);
  for (const Sample& s : samples) {
    ASSERT_EQ(s.gpus.size(), 2u);
    const GpuReading& a = s.gpus[0];
    EXPECT_EQ(a.name, "NVIDIA H100 80GB HBM3");
    EXPECT_DOUBLE_EQ(*a.utilisation, 0.37);
    EXPECT_EQ(*a.memory_used_bytes, 1024ull << 20);
    EXPECT_EQ(*a.memory_total_bytes, 81559ull << 20);
    EXPECT_DOUBLE_EQ(*a.power_watts, 123.45);
    EXPECT_DOUBLE_EQ(*a.temperature_c, 41);
    EXPECT_FALSE(a.energy_joules.has_value());  // nvidia-smi is not asked for the counter
    const GpuReading& b = s.gpus[1];
    EXPECT_DOUBLE_EQ(*b.utilisation, 0.12);
    EXPECT_FALSE(b.power_watts.has_value());  // "[N/A]"
  }
  // A constant 123.45 W integrated over the readings' span; the GPU without
  // a power reading adds nothing.
  const Sample& last = samples.back();
  double span = last.t_seconds - samples.front().t_seconds;
  ASSERT_EQ(last.gpu_energy_joules.size(), 2u);
  EXPECT_NEAR(last.gpu_energy_joules[0], 123.45 * span, 1e-9);
  EXPECT_EQ(last.gpu_energy_joules[1], 0.0);
  EnergyTotals e = sampler.energy();
  ASSERT_TRUE(e.gpu_joules.has_value());
  EXPECT_NEAR(*e.gpu_joules, 123.45 * span, 1e-9);
  EXPECT_EQ(e.gpu_source, "integrated power");
}

}  // namespace
}  // namespace lcte::measure
