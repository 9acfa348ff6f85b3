// Small, dependency-free SVG charts for self-contained reports: every chart
// has a title, labelled axes with units, ticks at round numbers and a legend.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lcte::report {

struct Axis {
  std::string label;               // with the unit, e.g. "latency (s)"
  std::optional<double> min, max;  // fixed range; otherwise from the data
};

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category; NaN leaves a gap
};

// Grouped vertical bars: one group per category, one bar per series.
std::string bar_chart(const std::string& title, const std::vector<std::string>& categories,
                      const std::vector<BarSeries>& series, const Axis& y);

struct LineSeries {
  std::string name;
  std::vector<double> x, y;
  bool step = false;  // draw as a step function
  bool markers = true;
};
std::string line_chart(const std::string& title, const std::vector<LineSeries>& series, const Axis& x, const Axis& y);

struct ScatterPoint {
  std::string label;
  double x = 0, y = 0;
  std::string group;  // legend entry; points of a group share a colour
};
// Points labelled on the chart; `front` (indices, sorted by x) is drawn as
// the Pareto front.
std::string scatter_chart(const std::string& title, const std::vector<ScatterPoint>& points,
                          const std::vector<size_t>& front, const Axis& x, const Axis& y);

struct BoxStats {
  std::string name;
  double p10 = 0, p25 = 0, p50 = 0, p75 = 0, p90 = 0, mean = 0;
  size_t n = 0;
};
// Horizontal box plots (whiskers at p10/p90, a dot at the mean).
std::string box_chart(const std::string& title, const std::vector<BoxStats>& boxes, const Axis& x);

// Percentile (linear interpolation) of unsorted values; NaNs are ignored.
double percentile(std::vector<double> values, double p);
BoxStats box_stats(const std::string& name, const std::vector<double>& values);

std::string html_escape(const std::string& s);
// Round tick values covering [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
std::string format_number(double v);

}  // namespace lcte::report
