// The demo end to end at a tiny size: models trained, registered with their
// lineage, the study run on them, and a second run reusing every model and
// every study step.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/test_data.h"
#include "demo/pipeline.h"
#include "eval/executor.h"
#include "registry/registry.h"

using namespace lcte;
namespace fs = std::filesystem;

namespace {
demo::DemoOptions tiny(const std::string& dir) {
  demo::DemoOptions o;
  o.out_dir = dir;
  o.store = dir + "/store.sqlite";
  o.train_per_level = 60;
  o.test_per_level = 3;
  o.vocab_merges = 100;
  o.teacher = {32, 2, 2, 1, 64};
  o.teacher_steps = 3;
  o.student_steps = 2;
  o.batch = 4;
  o.seq = 96;
  o.threads = 1;
  o.public_suites = false;
  return o;
}
}  // namespace

TEST(DemoPipeline, TrainsRegistersStudiesAndReusesEverythingOnASecondRun) {
  if (!eval::have_sandbox()) GTEST_SKIP() << "this build has no sandbox library";
  std::string dir = (fs::path(lcte::testing::temp_dir()) / "demo").string();
  fs::remove_all(dir);
  std::vector<std::string> lines;
  auto print = [&](const std::string& l) { lines.push_back(l); };
  demo::DemoResult r = demo::run_demo(tiny(dir), print);

  // Both models, the study's four quantized versions and the online router
  // over student and teacher, evaluated on the 9 held-out tasks.
  EXPECT_TRUE(fs::exists(r.teacher));
  EXPECT_TRUE(fs::exists(r.student));
  ASSERT_TRUE(r.summary.contains("runs")) << r.summary.dump(2);
  const nlohmann::json& results = r.summary["runs"];
  EXPECT_EQ(results.size(), 7u) << results.dump(2);  // six models and the online router
  for (const auto& row : results) EXPECT_EQ(row.value("tasks", 0), 9) << row.dump();
  EXPECT_EQ(results.back().value("model", ""), "router-threshold") << results.dump(2);
  // The live router's requests per tier add up to the tasks, and its cost per
  // request lies between its two tiers' weights (at this tiny size the
  // default student is the larger model).
  int routed = 0;
  for (const auto& [tier, n] : results.back()["tier_requests"].items()) routed += n.get<int>();
  EXPECT_EQ(routed, 9) << results.back().dump();
  ASSERT_TRUE(results.back()["cost"].is_number()) << results.back().dump();
  const double student_cost = r.summary["models"][0].value("cost", 0.0), teacher_cost = 1.0;
  EXPECT_GE(results.back()["cost"].get<double>(), std::min(student_cost, teacher_cost) - 1e-9);
  EXPECT_LE(results.back()["cost"].get<double>(), std::max(student_cost, teacher_cost) + 1e-9);
  EXPECT_TRUE(fs::exists(r.report_dir + "/report.html"));

  // Fidelity of each compressed model against its source: the student against
  // the teacher, and each quantized file; Q4_0 drifts further than Q8_0.
  ASSERT_EQ(r.fidelity.size(), 5u) << r.fidelity.dump(2);
  std::map<std::string, double> kld;
  for (const auto& f : r.fidelity) {
    kld[f.value("model", "")] = f.value("kld_mean", -1.0);
    EXPECT_GE(f.value("kld_mean", -1.0), 0.0) << f.dump();
    EXPECT_GT(f.value("scored_tokens", 0), 0) << f.dump();
  }
  EXPECT_LT(kld["teacher-Q8_0"], kld["teacher-Q4_0"]);
  EXPECT_LT(kld["student-Q8_0"], kld["student-Q4_0"]);
  std::string table = demo::summary_text(r);
  for (const char* m : {"teacher", "student", "teacher-Q4_0", "student-Q8_0", "router-threshold"})
    EXPECT_NE(table.find(m), std::string::npos) << m << " missing from\n" << table;
  // Models this tiny may pass nothing; the routing table then says so instead.
  bool any_pass = false;
  for (const auto& row : results) any_pass = any_pass || row["pass_at_k"].value("pass@1", 0.0) > 0;
  for (const char* m : any_pass ? std::vector<const char*>{"threshold rule", "oracle"}
                                : std::vector<const char*>{"nothing for a router to gain"})
    EXPECT_NE(table.find(m), std::string::npos) << m << " missing from\n" << table;

  // The registry's lineage of the student names its teacher and the distillation settings.
  registry::Registry reg(dir + "/registry");
  registry::Manifest teacher = reg.find("demo-teacher");
  registry::Manifest student = reg.find("demo-student");
  ASSERT_EQ(student.lineage.parents.size(), 1u);
  EXPECT_EQ(student.lineage.parents[0], teacher.sha256);
  std::string settings = student.lineage.settings.dump();
  EXPECT_NE(settings.find("distill"), std::string::npos) << settings;
  EXPECT_NE(settings.find("\\\"alpha\\\":0.3"), std::string::npos) << settings;
  EXPECT_NE(settings.find("\"method\":\"distill\""), std::string::npos) << settings;
  EXPECT_NE(settings.find("fkl"), std::string::npos) << settings;

  // Second run: nothing trained or evaluated again, same results.
  lines.clear();
  demo::DemoResult again = demo::run_demo(tiny(dir), print);
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  EXPECT_NE(all.find("teacher: reused"), std::string::npos) << all;
  EXPECT_NE(all.find("student: reused"), std::string::npos) << all;
  EXPECT_EQ(all.find("[to run]"), std::string::npos) << all;
  EXPECT_EQ(again.summary["runs"], results);
}
