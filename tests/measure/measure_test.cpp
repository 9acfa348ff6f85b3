#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/test_data.h"
#include "core/error.h"
#include "measure/gpu.h"
#include "measure/proc_stats.h"
#include "measure/rapl.h"
#include "measure/sampler.h"

namespace lcte::measure {
namespace {

TEST(ProcStats, ParsesProcStatAndComputesUtilisation) {
  // user nice system idle iowait irq softirq steal guest guest_nice
  auto a = parse_proc_stat("cpu  100 0 50 800 50 0 0 0 10 0\ncpu0 1 2 3 4\n");
  auto b = parse_proc_stat("cpu  250 0 100 850 50 0 0 0 20 0\n");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->total, 1000u);
  EXPECT_EQ(a->busy, 150u);
  // Between them: busy +200, total +250.
  EXPECT_DOUBLE_EQ(system_cpu_utilisation(*a, *b), 200.0 / 250.0);
  EXPECT_FALSE(parse_proc_stat("intr 1 2 3"));
  EXPECT_FALSE(parse_proc_stat("cpu 1 2"));
}

TEST(ProcStats, ParsesMemoryFields) {
  auto m = parse_proc_status("Name:\tlcte\nVmPeak:\t  9000 kB\nVmHWM:\t    4096 kB\nVmRSS:\t    2048 kB\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rss_bytes, 2048u * 1024);
  EXPECT_EQ(m->peak_rss_bytes, 4096u * 1024);
  EXPECT_FALSE(parse_proc_status("Name: x\n"));
  auto s = parse_meminfo("MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   12000000 kB\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->total_bytes, 24000000ull * 1024);
  EXPECT_EQ(s->available_bytes, 12000000ull * 1024);
  auto live = read_process_memory();
  ASSERT_TRUE(live);
  EXPECT_GT(live->rss_bytes, 0u);
  EXPECT_GE(live->peak_rss_bytes, live->rss_bytes);
}

TEST(Gpu, ParsesNvidiaSmiCsvKeepingMissingFieldsAbsent) {
  auto r = parse_nvidia_smi_csv(
      "0, NVIDIA H100 80GB HBM3, 87, 1024, 81559, 312.45, 54\n"
      "1, Tesla T4, [N/A], 10, 15360, [N/A], 40\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_DOUBLE_EQ(*r[0].utilisation, 0.87);
  EXPECT_EQ(*r[0].memory_used_bytes, 1024ull * 1048576);
  EXPECT_DOUBLE_EQ(*r[0].power_watts, 312.45);
  EXPECT_DOUBLE_EQ(*r[0].temperature_c, 54);
  EXPECT_FALSE(r[1].utilisation.has_value());
  EXPECT_FALSE(r[1].power_watts.has_value());
  EXPECT_FALSE(r[1].energy_joules.has_value());
}

TEST(Gpu, MissingNvmlGivesAReasonNotAnError) {
  std::string why;
  EXPECT_EQ(open_nvml("/nonexistent/libnvidia-ml.so.1", &why), nullptr);
  EXPECT_NE(why.find("NVML not loaded"), std::string::npos) << why;
}

TEST(Gpu, FakeNvmlIsReadThroughDlopen) {
  std::string why;
  auto src = open_nvml(FAKE_NVML_PATH, &why);
  ASSERT_NE(src, nullptr) << why;
  EXPECT_NE(src->describe().find("2 GPUs"), std::string::npos);
  auto r = src->read();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "Fake H100");
  EXPECT_DOUBLE_EQ(*r[0].utilisation, 0.75);
  EXPECT_EQ(*r[0].memory_total_bytes, 80ull << 30);
  EXPECT_EQ(*r[1].memory_used_bytes, 2ull << 30);
  EXPECT_DOUBLE_EQ(*r[0].power_watts, 350.0);
  EXPECT_DOUBLE_EQ(*r[1].temperature_c, 61);
  ASSERT_TRUE(r[0].energy_joules.has_value());
  EXPECT_FALSE(r[1].energy_joules.has_value());
}

TEST(Sampler, IntegratesGpuEnergyFromCountersAndFromPower) {
  ResourceSampler::Options opt;
  opt.rate_hz = 20;
  opt.nvml_library = FAKE_NVML_PATH;
  ResourceSampler sampler(opt);
  EXPECT_NE(sampler.describe().find("NVML"), std::string::npos) << sampler.describe();
  sampler.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  sampler.stop();
  auto samples = sampler.samples();
  ASSERT_GE(samples.size(), 4u);
  // GPU 0's counter grows 1 J per reading: n readings span n-1 joules.
  const Sample& last = samples.back();
  ASSERT_EQ(last.gpu_energy_joules.size(), 2u);
  EXPECT_DOUBLE_EQ(last.gpu_energy_joules[0], static_cast<double>(samples.size() - 1));
  // GPU 1 draws a constant 200 W: energy = 200 W x the time between first and last reading.
  EXPECT_NEAR(last.gpu_energy_joules[1], 200.0 * (last.t_seconds - samples.front().t_seconds), 1e-9);
  EnergyTotals e = sampler.energy();
  ASSERT_TRUE(e.gpu_joules.has_value());
  EXPECT_NEAR(*e.gpu_joules, last.gpu_energy_joules[0] + last.gpu_energy_joules[1], 1e-9);
  EXPECT_EQ(e.gpu_source, "integrated power");  // one of the two GPUs has no counter
}

TEST(Sampler, RecordsCpuAndMemoryOfABusyProcess) {
  ResourceSampler::Options opt;
  opt.rate_hz = 20;
  opt.gpus = false;
  opt.power.watts_per_busy_core = 12.5;
  ResourceSampler sampler(opt);
  sampler.start();
  std::atomic<bool> stop{false};
  double busy_cpu = 0;  // the spinning thread's own CPU time, however loaded the machine is
  std::thread busy([&] {
    volatile double x = 0;
    while (!stop) x = x + 1.0;
    busy_cpu = thread_cpu_seconds();
  });
  std::vector<char> block(64 << 20, 1);  // touch 64 MiB
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  busy.join();
  sampler.stop();
  auto samples = sampler.samples();
  ASSERT_GE(samples.size(), 5u);
  EXPECT_GE(samples.back().peak_rss_bytes, 64ull << 20);
  EXPECT_TRUE(samples.back().gpus.empty());
  EnergyTotals e = sampler.energy();
  EXPECT_FALSE(e.gpu_joules.has_value());
  // The estimate is the process's CPU seconds x the model's watts, and the
  // process ran at least the busy thread's CPU seconds.
  double process_cpu = e.cpu_estimated_joules / 12.5;
  EXPECT_GE(process_cpu, 0.9 * busy_cpu);
  // The per-sample utilisation integrates to the same CPU seconds.
  double integrated = 0;
  for (size_t i = 1; i < samples.size(); ++i)
    integrated += samples[i].process_cpu_cores * (samples[i].t_seconds - samples[i - 1].t_seconds);
  EXPECT_NEAR(integrated, process_cpu, 0.02 + 0.05 * process_cpu);
  if (!e.cpu_measured_joules) {
    EXPECT_TRUE(e.estimated);
    EXPECT_DOUBLE_EQ(e.total_joules, e.cpu_estimated_joules);
  }
  EXPECT_NE(sampler.describe().find("GPU sampling off"), std::string::npos);
  SamplerOverhead o = sampler.overhead();
  EXPECT_GT(o.sampler_cpu_seconds, 0);
  EXPECT_LT(o.fraction_of_one_core, 0.05);  // 20 samples/s of /proc reads is cheap
  (void)block[0];
}

TEST(Sampler, RejectsRatesOutsideTheRange) {
  ResourceSampler::Options opt;
  opt.rate_hz = 50;
  EXPECT_THROW(ResourceSampler{opt}, Error);
  opt.rate_hz = 0;
  EXPECT_THROW(ResourceSampler{opt}, Error);
}

TEST(Rapl, ReadsPackageDomainsAndHandlesWrapAround) {
  std::string root = testing::temp_dir();
  std::string pkg = root + "/intel-rapl:0";
  std::filesystem::create_directories(pkg + "/intel-rapl:0:0");
  auto put = [](const std::string& path, const std::string& text) { std::ofstream(path) << text; };
  put(pkg + "/name", "package-0\n");
  put(pkg + "/max_energy_range_uj", "1000000\n");  // wraps at 1 J
  put(pkg + "/energy_uj", "900000\n");
  put(pkg + "/intel-rapl:0:0/name", "core\n");
  std::string why;
  auto rapl = RaplReader::open(root, &why);
  ASSERT_NE(rapl, nullptr) << why;
  put(pkg + "/energy_uj", "950000\n");
  EXPECT_NEAR(*rapl->joules_since_open(), 0.05, 1e-12);
  put(pkg + "/energy_uj", "100000\n");  // wrapped: +50000 to the top, +100000 after
  EXPECT_NEAR(*rapl->joules_since_open(), 0.2, 1e-12);
  EXPECT_EQ(RaplReader::open(root + "/nothing-here", &why), nullptr);
  EXPECT_NE(why.find("no readable RAPL"), std::string::npos);
}

}  // namespace
}  // namespace lcte::measure
