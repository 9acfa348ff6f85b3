// A two-run report opened in headless Chromium: it renders (the screenshot
// holds the charts, not a blank page), the DOM Chromium built has every chart,
// and the page logs no JavaScript or loading errors. The screenshot is kept
// in <build>/test-artifacts/. Skips, saying so, when Chromium is absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/run_command.h"
#include "common/test_data.h"
#include "report/report.h"

namespace lcte::report {
namespace {
namespace fs = std::filesystem;

std::string chromium() {
  if (const char* env = std::getenv("LCTE_CHROMIUM"); env && *env) return env;
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (fs::exists(p)) return p;
  return {};
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

std::string two_run_report(const std::string& dir) {
  store::Store st(dir + "/lcte.sqlite");
  const char* tasks[] = {"HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/3"};
  for (int run = 0; run < 2; ++run) {
    store::RunRecord r;
    r.id = run == 0 ? "teacher-run" : "student-run";
    r.kind = "eval";
    r.model_name = run == 0 ? "teacher-f16" : "student-q4_k_m";
    st.begin_run(r);
    int passed = 0;
    for (int t = 0; t < 4; ++t) {
      store::StoredSample s;
      s.suite = "humaneval";
      s.task_id = tasks[t];
      s.model = r.model_name;
      s.passed = run == 0 ? t != 3 : t < 2;
      s.status = s.passed ? "passed" : "failed";
      s.latency_s = 0.4 * (t + 1) / (run + 1);
      s.exec_s = 0.05;
      s.completion_tokens = 40;
      passed += s.passed;
      st.add_sample(r.id, s);
    }
    st.add_metrics(r.id, {{"peak_rss_bytes", 0, 0, 120e6 / (run + 1)}});
    st.finish_run(r.id, "finished",
                  {{"suite", "humaneval"},
                   {"pass_at_k", {{"pass@1", passed / 4.0}}},
                   {"energy", {{"total_joules", 40.0 / (run + 1)}, {"estimated", true}}}});
  }
  return write_report(st, {"teacher-run", "student-run"}, dir + "/report", "Teacher against student").html;
}

TEST(ReportInBrowser, RendersChartsWithoutConsoleErrors) {
  std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "chromium not found (/usr/bin/chromium; or set LCTE_CHROMIUM)";
  std::string dir = testing::temp_dir();
  std::string html = two_run_report(dir);
  std::string artifacts = std::string(LCTE_BINARY_DIR) + "/test-artifacts";
  fs::create_directories(artifacts);
  std::string shot = artifacts + "/report-two-runs.png";
  fs::remove(shot);
  const std::vector<std::string> common = {browser,
                                           "--headless=new",
                                           "--no-sandbox",
                                           "--disable-gpu",
                                           "--enable-logging=stderr",
                                           "--v=0",
                                           "--window-size=1280,2400",
                                           "--user-data-dir=" + dir + "/profile"};
  std::vector<std::string> args = common;
  args.push_back("--screenshot=" + shot);
  args.push_back("file://" + html);
  auto r = testing::run_command(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string png = read(shot);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  // A blank page of this size compresses to a few kB; charts and tables do not.
  EXPECT_GT(png.size(), 30000u) << "the screenshot looks blank";
  EXPECT_EQ(r.err.find("Uncaught"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("ERR_FILE_NOT_FOUND"), std::string::npos) << r.err;

  args = common;
  args.push_back("--dump-dom");
  args.push_back("file://" + html);
  auto dom = testing::run_command(args, dir);
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_EQ(count(dom.out, "<svg"), count(read(html), "<svg"));
  EXPECT_GE(count(dom.out, "<svg"), 5u);
  EXPECT_NE(dom.out.find("teacher-f16"), std::string::npos);
}

}  // namespace
}  // namespace lcte::report
