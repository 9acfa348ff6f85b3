// An eval published to the store as it runs: rows, readings, energy, the
// report; a crashed run marked failed and its resumption published once.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/test_data.h"
#include "eval/fake_executor.h"
#include "experiment/eval_run.h"
#include "kernels/kernels.h"
#include "measure/proc_stats.h"

namespace lcte::experiment {
namespace {
namespace fs = std::filesystem;
using eval::testing::FakeExecutor;
using nlohmann::json;

// Three tasks and nine samples; the fake executor passes code containing PASS.
struct Fixture {
  std::string dir = lcte::testing::temp_dir();
  std::string suite_path = dir + "/suite.jsonl";
  std::string samples_path = dir + "/samples.jsonl";
  std::string store_path = dir + "/store.sqlite";
  Fixture() {
    std::ofstream suite(suite_path);
    for (const char* id : {"t/a", "t/b", "t/c"})
      suite << json{{"task_id", id},
                    {"prompt", "def f():\n"},
                    {"tests", "assert f()\n"},
                    {"entry_point", "f"},
                    {"reference", "    return 'PASS'\n"}}
                   .dump()
            << "\n";
    std::ofstream samples(samples_path);
    const char* lines[][2] = {{"t/a", "    return 'PASS'"}, {"t/b", "    return 0"}, {"t/a", "    return 1"},
                              {"t/c", "    return 'PASS'"}, {"t/b", "    return 2"}, {"t/a", "    return 'PASS'"},
                              {"t/c", "    return 'PASS'"}, {"t/c", "    SYNTAX("},  {"t/b", "    return 3"}};
    for (auto& l : lines) samples << json{{"task_id", l[0]}, {"completion", l[1]}}.dump() << "\n";
  }
  eval::EvalConfig config() const {
    eval::EvalConfig c;
    c.suite = suite_path;
    c.backend = "file";
    c.samples_file = samples_path;
    c.k = {1, 2};
    return c;
  }
  eval::SessionOptions session(eval::Executor* executor) const {
    eval::SessionOptions o;
    o.out_dir = dir + "/runs";
    o.executor = executor;
    o.workers = 2;
    o.where = {};
    return o;
  }
  EvalExperimentOptions publish() const {
    EvalExperimentOptions o;
    o.store_path = store_path;
    o.experiment = "unit";
    o.recorder.sample_rate_hz = 20;
    return o;
  }
};

std::map<std::string, int> passes_per_task(const std::vector<store::StoredSample>& samples) {
  std::map<std::string, int> out;
  for (const auto& s : samples) out[s.task_id] += s.passed;
  return out;
}

TEST(EvalExperiment, PublishesRunSamplesReadingsEnergyAndReport) {
  Fixture fx;
  FakeExecutor executor;
  eval::SessionOptions session = fx.session(&executor);
  session.run_id = "r1";
  EvalExperimentResult r = run_eval_experiment(fx.config(), session, fx.publish());

  store::Store store(fx.store_path);
  auto run = store.find_run("r1");
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, "finished");
  EXPECT_EQ(run->kind, "eval");
  EXPECT_EQ(run->experiment, "unit");
  EXPECT_FALSE(run->model_sha256.empty());  // the samples file's content identifies the "model"
  EXPECT_TRUE(run->machine.contains("logical_cpus"));
  EXPECT_EQ(run->machine.value("lcte_kernels", ""), kernels::isa_name(kernels::best_isa()));

  // Every row the run directory holds is in the store, with the same verdicts.
  auto samples = store.samples("r1");
  ASSERT_EQ(samples.size(), 9u);
  std::map<std::string, int> expected = {{"t/a", 2}, {"t/b", 0}, {"t/c", 2}};
  EXPECT_EQ(passes_per_task(samples), expected);

  // Resource readings: memory at least what this process holds now is implausible
  // to exceed, and at least a megabyte is implausible to undercut.
  auto peak = store.metrics("r1", "peak_rss_bytes");
  ASSERT_FALSE(peak.empty());
  auto mem = measure::read_process_memory();
  ASSERT_TRUE(mem);
  EXPECT_GT(peak.back().value, 1e6);
  EXPECT_LE(peak.back().value, static_cast<double>(mem->peak_rss_bytes));
  bool gpu_series = false;
  for (const auto& m : store.metrics("r1")) gpu_series = gpu_series || m.name.rfind("gpu", 0) == 0;
  const json& summary = r.session.summary;
  ASSERT_TRUE(summary.contains("resources"));
  // No GPU here: the absence is noted, never recorded as zeros.
  if (summary["resources"].contains("gpu_note")) {
    EXPECT_FALSE(gpu_series);
  }

  const json& energy = summary["energy"];
  EXPECT_GE(energy["total_joules"].get<double>(), 0.0);
  if (!energy.contains("cpu_measured_joules")) {
    EXPECT_TRUE(energy["estimated"].get<bool>());
  }
  EXPECT_NEAR(energy["joules_per_problem"].get<double>(), energy["total_joules"].get<double>() / 3, 1e-9);
  EXPECT_NEAR(energy["joules_per_pass"].get<double>(), energy["total_joules"].get<double>() / 4, 1e-9);
  EXPECT_EQ(run->summary["energy"], energy);

  // The file summary carries the same figures, and the report was written.
  std::ifstream f(fs::path(r.session.run_dir) / "summary.json");
  EXPECT_EQ(json::parse(f)["energy"], energy);
  ASSERT_FALSE(r.report_dir.empty());
  std::ifstream html(r.report_dir + "/report.html");
  std::string text((std::istreambuf_iterator<char>(html)), {});
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_EQ(store.artifacts("r1").size(), 2u);
}

TEST(EvalExperiment, CrashedRunIsFailedAndItsResumptionPublishesEachSampleOnce) {
  Fixture fx;
  FakeExecutor crashing(/*fail_after=*/4);
  eval::SessionOptions session = fx.session(&crashing);
  session.run_id = "crashy";
  EXPECT_THROW(run_eval_experiment(fx.config(), session, fx.publish()), std::runtime_error);
  {
    store::Store store(fx.store_path);
    auto run = store.find_run("crashy");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->status, "failed");
    EXPECT_NE(run->summary.value("error", "").find("broken on purpose"), std::string::npos);
    EXPECT_EQ(store.samples("crashy").size(), 4u);  // published as they were made
  }

  FakeExecutor good;
  session.executor = &good;
  EvalExperimentResult r = run_eval_experiment(fx.config(), session, fx.publish(), "crashy");
  EXPECT_EQ(good.calls(), 5);
  store::Store store(fx.store_path);
  EXPECT_EQ(store.list_runs().size(), 1u);
  EXPECT_EQ(store.find_run("crashy")->status, "finished");
  auto samples = store.samples("crashy");
  ASSERT_EQ(samples.size(), 9u);
  std::map<std::string, int> expected = {{"t/a", 2}, {"t/b", 0}, {"t/c", 2}};
  EXPECT_EQ(passes_per_task(samples), expected);
  EXPECT_EQ(r.session.summary["pass_at_k"], store.find_run("crashy")->summary["pass_at_k"]);
}

TEST(EvalExperiment, ARunNameTheStoreAlreadyHasGetsItsOwnRow) {
  Fixture fx;
  FakeExecutor executor;
  eval::SessionOptions first = fx.session(&executor);
  first.run_id = "same";
  EXPECT_EQ(run_eval_experiment(fx.config(), first, fx.publish()).store_run_id, "same");
  eval::SessionOptions second = first;
  second.out_dir = fx.dir + "/elsewhere";
  EvalExperimentResult r = run_eval_experiment(fx.config(), second, fx.publish());
  EXPECT_EQ(r.store_run_id, "same-2");
  store::Store store(fx.store_path);
  EXPECT_EQ(store.list_runs().size(), 2u);
  EXPECT_EQ(store.samples("same-2").size(), 9u);
  EXPECT_EQ(store.find_run("same-2")->run_dir, fs::absolute(r.session.run_dir).lexically_normal().string());
}

TEST(EvalExperiment, WithoutAStoreNothingIsPublished) {
  Fixture fx;
  FakeExecutor executor;
  EvalExperimentOptions none;
  EvalExperimentResult r = run_eval_experiment(fx.config(), fx.session(&executor), none);
  EXPECT_TRUE(r.report_dir.empty());
  EXPECT_FALSE(r.session.summary.contains("energy"));
  EXPECT_FALSE(fs::exists(fx.store_path));
}

TEST(MetricPoints, GpuSeriesExistOnlyForFieldsThatWereRead) {
  measure::Sample s;
  s.t_seconds = 2.5;
  s.process_cpu_cores = 1.5;
  s.rss_bytes = 100;
  s.peak_rss_bytes = 200;
  s.cpu_energy_estimate_joules = 30;
  auto names = [](const std::vector<store::MetricPoint>& points) {
    std::map<std::string, double> out;
    for (const auto& p : points) out[p.name] = p.value;
    return out;
  };
  auto plain = names(metric_points(s, 10));
  EXPECT_EQ(plain.size(), 4u);
  EXPECT_EQ(plain["process_cpu_cores"], 1.5);
  EXPECT_EQ(plain.count("system_cpu"), 0u);
  EXPECT_EQ(metric_points(s, 10).front().t, 12.5);  // a resumed run's axis continues

  measure::GpuReading g;
  g.index = 1;
  g.utilisation = 0.5;
  g.power_watts = 250;
  s.gpus = {g};
  s.gpu_energy_joules = {75};
  auto with_gpu = names(metric_points(s, 0));
  EXPECT_EQ(with_gpu["gpu1_utilisation"], 0.5);
  EXPECT_EQ(with_gpu["gpu1_power_w"], 250);
  EXPECT_EQ(with_gpu["gpu1_energy_j"], 75);
  EXPECT_EQ(with_gpu.count("gpu1_temperature_c"), 0u);
  EXPECT_EQ(with_gpu.count("gpu1_memory_used_bytes"), 0u);
}

}  // namespace
}  // namespace lcte::experiment
