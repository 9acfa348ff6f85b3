#include "eval/passk.h"

#include <algorithm>
#include <charconv>

#include "core/error.h"

namespace lcte::eval {

std::optional<double> pass_at_k(int n, int c, int k) {
  if (n < 0 || c < 0 || c > n) fail("pass@k: invalid counts n={} c={}", n, c);
  if (k < 1 || k > n) return std::nullopt;
  if (n - c < k) return 1.0;  // every draw of k samples contains a passing one
  double fail_all = 1.0;
  for (int i = n - c + 1; i <= n; i++) fail_all *= 1.0 - double(k) / double(i);
  return 1.0 - fail_all;
}

SuitePassAtK suite_pass_at_k(const std::vector<TaskCounts>& tasks, int k) {
  SuitePassAtK out;
  out.k = k;
  if (tasks.empty()) {
    out.reason = "no tasks";
    return out;
  }
  int short_tasks = 0, min_n = tasks.front().n;
  double sum = 0;
  for (const auto& task : tasks) {
    min_n = std::min(min_n, task.n);
    auto value = pass_at_k(task.n, task.c, k);
    if (!value) {
      short_tasks++;
      continue;
    }
    sum += *value;
  }
  if (short_tasks > 0) {
    out.reason = fmt::format("k={} > n for {} of {} tasks (smallest n={})", k, short_tasks, tasks.size(), min_n);
    return out;
  }
  out.tasks = int(tasks.size());
  out.value = sum / double(tasks.size());
  return out;
}

std::vector<int> parse_k_list(const std::string& text) {
  std::vector<int> ks;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    int k = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), k);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || k < 1)
      fail("--k: \"{}\" is not a positive integer (in \"{}\")", item, text);
    if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
    start = comma + 1;
  }
  std::sort(ks.begin(), ks.end());
  return ks;
}

}  // namespace lcte::eval
