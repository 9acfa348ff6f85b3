// A study reports progress inside its quantize steps (source tensor bytes)
// and eval steps (samples) through StudyOptions::step_progress, each event
// named by its step: counts from 0 (or what a resumed run had) up to the
// total, never backwards.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <vector>

#include "common/test_data.h"
#include "demo/synthetic_model.h"
#include "eval/fake_executor.h"
#include "study/study.h"

namespace lcte::study {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Events per task, in order.
std::map<std::string, std::vector<ProgressEvent>> collect(const StudySpec& spec, eval::Executor* executor,
                                                          const std::string& stop_after_kind) {
  std::map<std::string, std::vector<ProgressEvent>> events;
  StudyOptions o;
  o.executor = executor;
  o.print = [](const std::string&) {};
  o.step_progress = [&](const ProgressEvent& e) { events[e.task].push_back(e); };
  o.after_step = [&](const Step& s) {
    if (s.kind == stop_after_kind) throw std::runtime_error("stop");
  };
  EXPECT_THROW(run_study(spec, o), std::runtime_error);
  return events;
}

void expect_counts_up(const std::vector<ProgressEvent>& events, uint64_t total, const std::string& unit) {
  ASSERT_FALSE(events.empty());
  uint64_t last = 0;
  for (const ProgressEvent& e : events) {
    EXPECT_EQ(e.unit, unit);
    EXPECT_EQ(e.total, total);
    EXPECT_GE(e.done, last);
    last = e.done;
  }
  EXPECT_EQ(events.front().done, 0u);
  EXPECT_EQ(events.back().done, total);
}

TEST(StudyProgress, QuantizeStepCountsSourceBytes) {
  const std::string dir = lcte::testing::temp_dir();
  demo::SyntheticModelSpec ms;
  demo::write_synthetic_model(ms, dir + "/base.gguf");
  std::ofstream(dir + "/suite.jsonl") << json{{"task_id", "t/1"},
                                              {"prompt", "def f():\n"},
                                              {"tests", "assert f()\n"},
                                              {"entry_point", "f"},
                                              {"reference", "    return 'PASS'\n"}}
                                             .dump()
                                      << "\n";
  std::ofstream(dir + "/q.toml") << "[study]\nname = \"q\"\noutput = \"" << dir << "/qout\"\nstore = \"" << dir
                                 << "/store.sqlite\"\nregistry = \"" << dir << "/registry\"\n"
                                 << "[[model]]\nname = \"base\"\npath = \"" << dir << "/base.gguf\"\ncost = 2\n"
                                 << "[[compress]]\nmodel = \"base\"\ntypes = [\"Q8_0\"]\n"
                                 << "[eval]\nsuites = [\"" << dir
                                 << "/suite.jsonl\"]\n[routing]\ntokenizer = \"base\"\n";
  const StudySpec spec = load_study(dir + "/q.toml");
  const auto events = collect(spec, nullptr, "quantize");
  ASSERT_EQ(events.size(), 1u);
  ASSERT_EQ(events.count("quantize:base:Q8_0"), 1u);
  // The total is every tensor's bytes in the source: less than the file (its header), more than half of it.
  const uint64_t file_bytes = fs::file_size(dir + "/base.gguf");
  const auto& q = events.at("quantize:base:Q8_0");
  EXPECT_LT(q.front().total, file_bytes);
  EXPECT_GT(q.front().total, file_bytes / 2);
  expect_counts_up(q, q.front().total, "bytes");
}

TEST(StudyProgress, EvalStepCountsSamples) {
  const std::string dir = lcte::testing::temp_dir();
  std::ofstream suite(dir + "/suite.jsonl");
  for (const char* id : {"t/1", "t/2", "t/3"})
    suite << json{{"task_id", id},
                  {"prompt", "def f():\n"},
                  {"tests", "assert f()\n"},
                  {"entry_point", "f"},
                  {"reference", "    return 'PASS'\n"}}
                 .dump()
          << "\n";
  suite.close();
  demo::write_synthetic_model({}, dir + "/vocab.gguf");
  std::ofstream(dir + "/s.toml") << "[study]\nname = \"s\"\noutput = \"" << dir << "/out\"\nstore = \"" << dir
                                 << "/store.sqlite\"\nregistry = \"" << dir << "/registry\"\n"
                                 << "[[model]]\nname = \"strong\"\nbackend = \"canonical\"\ntier = 1\ncost = 3\n"
                                 << "[eval]\nsuites = [\"" << dir << "/suite.jsonl\"]\nn = 2\nk = [1]\nworkers = 2\n"
                                 << "[routing]\ntokenizer = \"" << dir
                                 << "/vocab.gguf\"\n[measure]\nsample_rate_hz = 0\n";
  const StudySpec spec = load_study(dir + "/s.toml");
  eval::testing::FakeExecutor executor;
  const auto events = collect(spec, &executor, "eval");
  ASSERT_EQ(events.size(), 1u);
  const auto& [task, list] = *events.begin();
  EXPECT_EQ(task.rfind("eval:strong:", 0), 0u) << task;
  expect_counts_up(list, 6, "samples");  // 3 tasks x 2 samples
  EXPECT_EQ(list.back().detail, "passed 6");
}

}  // namespace
}  // namespace lcte::study
