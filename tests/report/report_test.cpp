#include "report/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/test_data.h"
#include "core/error.h"
#include "report/svg_chart.h"

namespace lcte::report {
namespace {

size_t occurrences(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

TEST(SvgChart, TicksPercentilesAndEscaping) {
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(nice_ticks(0, 97, 5), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  EXPECT_EQ(nice_ticks(3, 3.9, 4), (std::vector<double>{3, 3.25, 3.5, 3.75, 4}));
  EXPECT_EQ(nice_ticks(-0.3, 0.3, 3), (std::vector<double>{-0.4, -0.2, 0, 0.2, 0.4}));
  // Linear interpolation between order statistics: 1 2 3 4 -> p50 = 2.5, p90 = 3.7.
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 90), 3.7);
  EXPECT_DOUBLE_EQ(percentile({NAN, 5}, 50), 5);
  EXPECT_TRUE(std::isnan(percentile({}, 50)));
  EXPECT_EQ(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  BoxStats b = box_stats("m", {1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(b.p50, 3);
  EXPECT_DOUBLE_EQ(b.mean, 3);
  EXPECT_EQ(b.n, 5u);
}

TEST(SvgChart, ChartsHaveTitleAxesAndLegend) {
  std::string bar = bar_chart("pass@k <by> model", {"a", "b"}, {{"pass@1", {0.5, 0.25}}, {"pass@5", {0.75, NAN}}},
                              {"pass@k", 0.0, 1.0});
  EXPECT_NE(bar.find("pass@k &lt;by&gt; model"), std::string::npos);
  EXPECT_EQ(occurrences(bar, "<rect"), 3u + 2u);  // three bars (one NaN gap) and two legend keys
  EXPECT_NE(bar.find(">pass@5</text>"), std::string::npos);
  std::string line = line_chart("t", {{"s", {0, 1, 2}, {1, 2, 3}, false, true}}, {"x (s)", {}, {}}, {"y (J)", {}, {}});
  EXPECT_EQ(occurrences(line, "<circle"), 3u);
  EXPECT_NE(line.find("x (s)"), std::string::npos);
  EXPECT_NE(line.find("y (J)"), std::string::npos);
}

store::StoredSample sample(const std::string& task, int i, bool passed, double latency) {
  store::StoredSample s;
  s.suite = "humaneval";
  s.task_id = task;
  s.model = "m";
  s.sample_index = i;
  s.status = passed ? "passed" : "failed";
  s.passed = passed;
  s.latency_s = latency;
  s.completion_tokens = 10;
  return s;
}

TEST(Report, TwoRunsGiveChartsTablesAndCsv) {
  std::string dir = testing::temp_dir();
  store::Store st(dir + "/lcte.sqlite");
  // Run A passes HumanEval/2 and /10; run B only /2; both fail /3.
  struct Spec {
    const char* id;
    const char* model;
    bool p2, p3, p10;
    double energy;
  };
  for (Spec s :
       {Spec{"run-a", "teacher", true, false, true, 30.0}, Spec{"run-b", "student-q4", true, false, false, 6.0}}) {
    store::RunRecord r;
    r.id = s.id;
    r.kind = "eval";
    r.model_name = s.model;
    r.started_at = "2026-11-27T08:00:00Z";
    st.begin_run(r);
    st.add_sample(s.id, sample("HumanEval/10", 0, s.p10, 2.0));
    st.add_sample(s.id, sample("HumanEval/2", 0, s.p2, 1.0));
    st.add_sample(s.id, sample("HumanEval/3", 0, s.p3, 3.0));
    double p1 = (s.p2 + s.p3 + s.p10) / 3.0;
    st.add_metrics(s.id, {{"peak_rss_bytes", 0, 0, 50e6}, {"peak_rss_bytes", 1, 1, 80e6}});
    st.finish_run(s.id, "finished",
                  {{"suite", "humaneval"},
                   {"pass_at_k", {{"pass@1", p1}}},
                   {"energy", {{"total_joules", s.energy}, {"estimated", true}}}});
  }
  ReportFiles f = write_report(st, {"run-a", "run-b"}, dir + "/report", "Teacher vs student");
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::string html = read(f.html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(occurrences(html, "<svg"), 5u);  // pass@k, latency, energy, memory, accuracy-cost
  EXPECT_EQ(occurrences(html, "<svg"), occurrences(html, "</svg>"));
  EXPECT_NE(html.find("<td>0.667</td>"), std::string::npos);  // teacher pass@1 = 2/3
  EXPECT_NE(html.find("<td>0.333</td>"), std::string::npos);
  EXPECT_NE(html.find("Accuracy against cost"), std::string::npos);
  EXPECT_EQ(html.find("http://") == std::string::npos || html.find("http://www.w3.org/2000/svg") != std::string::npos,
            true);
  EXPECT_EQ(html.find("<script src"), std::string::npos);  // self-contained
  // Agreement: both pass /2, both fail /3, differ on /10 -> 2/3.
  EXPECT_NE(html.find("<td>0.67</td>"), std::string::npos);
  std::string md = read(f.markdown);
  EXPECT_NE(md.find("| run-a | teacher | humaneval | 3 | 0.667 |"), std::string::npos) << md;
  EXPECT_NE(md.find("30.0 (estimate)"), std::string::npos);
  std::string summary = read(f.summary_csv);
  EXPECT_NE(summary.find("run_id,label,suite,samples,passed,pass@1,latency_p50_s"), std::string::npos);
  // Teacher: energy per 1000 tokens = 30 J * 1000 / 30 tokens = 1000; per pass = 15.
  EXPECT_NE(summary.find("run-a,teacher,humaneval,3,2,0.666667,2,2.8,2.98,,30,1,1000,15,80000000"), std::string::npos)
      << summary;
  std::string per_task = read(f.per_task_csv);
  // Natural task order: 2, 3, 10.
  EXPECT_LT(per_task.find("HumanEval/2,"), per_task.find("HumanEval/3,"));
  EXPECT_LT(per_task.find("HumanEval/3,"), per_task.find("HumanEval/10,"));
  EXPECT_NE(per_task.find("HumanEval/10,1,1,0,1"), std::string::npos);
  EXPECT_EQ(occurrences(read(f.samples_csv), "\n"), 7u);  // header + 6 samples
  EXPECT_THROW(write_report(st, {"nope"}, dir + "/r2"), Error);
}

}  // namespace
}  // namespace lcte::report
