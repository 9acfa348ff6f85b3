#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace lcte::report {
namespace {

// Colour-blind-safe palette (Okabe-Ito).
const char* colour(size_t i) {
  static const char* p[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
  return p[i % 8];
}

constexpr double kWidth = 640, kHeight = 360;
constexpr double kLeft = 70, kRight = 20, kTop = 40, kBottom = 60;

struct Frame {
  double x0, x1, y0, y1;  // data range
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
  double py(double y) const { return kHeight - kBottom - (y - y0) / (y1 - y0) * (kHeight - kTop - kBottom); }
};

std::pair<double, double> range_of(const std::vector<double>& v, const Axis& a, bool include_zero) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : v)
    if (std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (include_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (a.min) lo = *a.min;
  if (a.max) hi = *a.max;
  if (hi - lo < 1e-12) hi = lo + 1;
  return {lo, hi};
}

std::string open_svg(const std::string& title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" "
      "role=\"img\" aria-label=\"{}\" font-family=\"system-ui, sans-serif\" font-size=\"12\">\n"
      "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"600\">{}</text>\n",
      kWidth, kHeight, kWidth, kHeight, html_escape(title), kWidth / 2, html_escape(title));
}

std::string y_axis(const Frame& f, const Axis& a, const std::vector<double>& ticks) {
  std::string s;
  for (double t : ticks) {
    double y = f.py(t);
    s += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", kLeft,
                     kWidth - kRight, y, y);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\n",
                     kLeft - 6, y, format_number(t));
  }
  s += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#333\"/>\n", kLeft, kTop,
                   kHeight - kBottom);
  s += fmt::format("<text transform=\"translate(16 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   (kTop + kHeight - kBottom) / 2, html_escape(a.label));
  return s;
}

std::string x_axis(const Frame& f, const Axis& a, const std::vector<double>& ticks) {
  std::string s;
  for (double t : ticks) {
    double x = f.px(t);
    s += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#eee\"/>\n", x, kTop,
                     kHeight - kBottom);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x, kHeight - kBottom + 16,
                     format_number(t));
  }
  s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#333\"/>\n", kLeft, kWidth - kRight,
                   kHeight - kBottom);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", (kLeft + kWidth - kRight) / 2,
                   kHeight - 22, html_escape(a.label));
  return s;
}

std::string legend(const std::vector<std::string>& names) {
  std::string s;
  double x = kLeft;
  for (size_t i = 0; i < names.size(); ++i) {
    s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"10\" height=\"10\" fill=\"{}\"/>\n", x, kHeight - 12,
                     colour(i));
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x + 14, kHeight - 3, html_escape(names[i]));
    x += 24 + 7.0 * static_cast<double>(names[i].size());
  }
  return s;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_number(double v) {
  if (v == 0) return "0";
  double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-3) return fmt::format("{:.2g}", v);
  if (a >= 100) return fmt::format("{:.0f}", v);
  std::string s = fmt::format("{:.3f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  double raw = (hi - lo) / std::max(1, target);
  int exponent = static_cast<int>(std::floor(std::log10(raw)));
  double mag = std::pow(10.0, exponent);
  double m = 1;
  for (double c : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    m = c;
    if (c * mag >= raw) break;
  }
  // Ticks cover [lo, hi]: from the last round value at or below lo to the
  // first at or above hi. They are k * m * 10^exponent; dividing by 10^-exponent when it is
  // negative keeps them the nearest doubles to the round decimals (0.6, not 0.6000000000000001).
  auto value = [&](double k) { return exponent >= 0 ? k * m * mag : k * m / std::pow(10.0, -exponent); };
  double step = m * mag;
  std::vector<double> ticks;
  for (double k = std::floor(lo / step + 1e-9); value(k - 1) < hi - step * 1e-9; k += 1)
    ticks.push_back(value(k) == 0 ? 0 : value(k));
  return ticks;
}

double percentile(std::vector<double> v, double p) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  size_t i = static_cast<size_t>(pos);
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (pos - static_cast<double>(i)) * (v[i + 1] - v[i]);
}

BoxStats box_stats(const std::string& name, const std::vector<double>& values) {
  BoxStats b;
  b.name = name;
  double sum = 0;
  for (double x : values)
    if (std::isfinite(x)) sum += x, ++b.n;
  b.mean = b.n ? sum / static_cast<double>(b.n) : std::numeric_limits<double>::quiet_NaN();
  b.p10 = percentile(values, 10);
  b.p25 = percentile(values, 25);
  b.p50 = percentile(values, 50);
  b.p75 = percentile(values, 75);
  b.p90 = percentile(values, 90);
  return b;
}

std::string bar_chart(const std::string& title, const std::vector<std::string>& categories,
                      const std::vector<BarSeries>& series, const Axis& y) {
  std::vector<double> all;
  for (const BarSeries& s : series) all.insert(all.end(), s.values.begin(), s.values.end());
  auto [lo, hi] = range_of(all, y, true);
  auto ticks = nice_ticks(lo, hi);
  Frame f{0, static_cast<double>(std::max<size_t>(categories.size(), 1)), ticks.front(), ticks.back()};
  std::string s = open_svg(title) + y_axis(f, y, ticks);
  double group = (f.px(1) - f.px(0));
  double bar = group * 0.8 / static_cast<double>(std::max<size_t>(series.size(), 1));
  for (size_t c = 0; c < categories.size(); ++c) {
    double gx = f.px(static_cast<double>(c)) + group * 0.1;
    for (size_t k = 0; k < series.size(); ++k) {
      if (c >= series[k].values.size() || !std::isfinite(series[k].values[c])) continue;
      double v = series[k].values[c];
      double top = f.py(std::max(v, 0.0)), base = f.py(std::min(v, 0.0));
      s += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{} / {}: "
          "{}</title></rect>\n",
          gx + bar * static_cast<double>(k), top, std::max(bar - 1, 1.0), std::max(base - top, 0.5), colour(k),
          html_escape(series[k].name), html_escape(categories[c]), format_number(v));
    }
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                     f.px(static_cast<double>(c) + 0.5), kHeight - kBottom + 16, html_escape(categories[c]));
  }
  s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n", kLeft,
                   kWidth - kRight, f.py(0));
  std::vector<std::string> names;
  for (const BarSeries& b : series) names.push_back(b.name);
  return s + legend(names) + "</svg>\n";
}

std::string line_chart(const std::string& title, const std::vector<LineSeries>& series, const Axis& x, const Axis& y) {
  std::vector<double> xs, ys;
  for (const LineSeries& l : series) {
    xs.insert(xs.end(), l.x.begin(), l.x.end());
    ys.insert(ys.end(), l.y.begin(), l.y.end());
  }
  auto [x0, x1] = range_of(xs, x, false);
  auto [y0, y1] = range_of(ys, y, false);
  auto xt = nice_ticks(x0, x1), yt = nice_ticks(y0, y1);
  Frame f{xt.front(), xt.back(), yt.front(), yt.back()};
  std::string s = open_svg(title) + y_axis(f, y, yt) + x_axis(f, x, xt);
  std::vector<std::string> names;
  for (size_t k = 0; k < series.size(); ++k) {
    const LineSeries& l = series[k];
    names.push_back(l.name);
    std::string d;
    double prev_y = 0;
    for (size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
      if (!std::isfinite(l.x[i]) || !std::isfinite(l.y[i])) continue;
      if (d.empty())
        d += fmt::format("M{:.1f},{:.1f}", f.px(l.x[i]), f.py(l.y[i]));
      else if (l.step)
        d += fmt::format(" L{:.1f},{:.1f} L{:.1f},{:.1f}", f.px(l.x[i]), f.py(prev_y), f.px(l.x[i]), f.py(l.y[i]));
      else
        d += fmt::format(" L{:.1f},{:.1f}", f.px(l.x[i]), f.py(l.y[i]));
      prev_y = l.y[i];
    }
    s += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", d, colour(k));
    if (l.markers)
      for (size_t i = 0; i < l.x.size() && i < l.y.size(); ++i)
        if (std::isfinite(l.x[i]) && std::isfinite(l.y[i]))
          s += fmt::format(
              "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{}: ({}, {})</title></circle>\n",
              f.px(l.x[i]), f.py(l.y[i]), colour(k), html_escape(l.name), format_number(l.x[i]), format_number(l.y[i]));
  }
  return s + legend(names) + "</svg>\n";
}

std::string scatter_chart(const std::string& title, const std::vector<ScatterPoint>& points,
                          const std::vector<size_t>& front, const Axis& x, const Axis& y) {
  std::vector<double> xs, ys;
  std::vector<std::string> groups;
  for (const ScatterPoint& p : points) {
    xs.push_back(p.x);
    ys.push_back(p.y);
    if (std::find(groups.begin(), groups.end(), p.group) == groups.end()) groups.push_back(p.group);
  }
  auto [x0, x1] = range_of(xs, x, false);
  auto [y0, y1] = range_of(ys, y, false);
  double xpad = (x1 - x0) * 0.08, ypad = (y1 - y0) * 0.08;
  if (!x.min) x0 -= xpad;
  if (!x.max) x1 += xpad;
  if (!y.min) y0 -= ypad;
  if (!y.max) y1 += ypad;
  auto xt = nice_ticks(x0, x1), yt = nice_ticks(y0, y1);
  Frame f{xt.front(), xt.back(), yt.front(), yt.back()};
  std::string s = open_svg(title) + y_axis(f, y, yt) + x_axis(f, x, xt);
  if (front.size() > 1) {
    std::string d;
    for (size_t i : front)
      d += fmt::format("{}{:.1f},{:.1f}", d.empty() ? "M" : " L", f.px(points[i].x), f.py(points[i].y));
    s += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#888\" stroke-dasharray=\"5 4\" stroke-width=\"1.5\"/>\n",
                     d);
  }
  for (size_t i = 0; i < points.size(); ++i) {
    const ScatterPoint& p = points[i];
    size_t g = static_cast<size_t>(std::find(groups.begin(), groups.end(), p.group) - groups.begin());
    bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    s += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\" stroke=\"#000\" stroke-width=\"{}\"><title>{}: ({}, "
        "{})</title></circle>\n",
        f.px(p.x), f.py(p.y), on_front ? 6 : 4.5, colour(g), on_front ? 1.5 : 0, html_escape(p.label),
        format_number(p.x), format_number(p.y));
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", f.px(p.x) + 8, f.py(p.y) - 6,
                     html_escape(p.label));
  }
  if (front.size() > 1) groups.push_back("Pareto front (dashed)");
  return s + legend(groups) + "</svg>\n";
}

std::string box_chart(const std::string& title, const std::vector<BoxStats>& boxes, const Axis& x) {
  std::vector<double> all;
  for (const BoxStats& b : boxes) all.insert(all.end(), {b.p10, b.p90, b.mean});
  auto [x0, x1] = range_of(all, x, true);
  auto ticks = nice_ticks(x0, x1);
  Frame f{ticks.front(), ticks.back(), 0, static_cast<double>(std::max<size_t>(boxes.size(), 1))};
  std::string s = open_svg(title) + x_axis(f, x, ticks);
  for (size_t i = 0; i < boxes.size(); ++i) {
    const BoxStats& b = boxes[i];
    double cy = f.py(static_cast<double>(boxes.size() - i) - 0.5), h = 0.5 * (f.py(0) - f.py(1));
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\n",
                     kLeft - 6, cy, html_escape(b.name.substr(0, 10)));
    if (b.n == 0) continue;
    s += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\"/>\n", f.px(b.p10),
                     f.px(b.p90), cy, cy, colour(i));
    s += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" fill-opacity=\"0.35\" "
        "stroke=\"{}\">"
        "<title>{}: n={} p10={} p25={} p50={} p75={} p90={} mean={}</title></rect>\n",
        f.px(b.p25), cy - h / 2, std::max(f.px(b.p75) - f.px(b.p25), 1.0), h, colour(i), colour(i), html_escape(b.name),
        b.n, format_number(b.p10), format_number(b.p25), format_number(b.p50), format_number(b.p75),
        format_number(b.p90), format_number(b.mean));
    s += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#000\" stroke-width=\"2\"/>\n",
        f.px(b.p50), cy - h / 2, cy + h / 2);
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"#000\"/>\n", f.px(b.mean), cy);
  }
  s += legend({"box: p25-p75, line: median, whiskers: p10-p90, dot: mean"});
  return s + "</svg>\n";
}

}  // namespace lcte::report
